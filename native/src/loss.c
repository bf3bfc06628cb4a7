// Log-softmax and negative log-likelihood over the vocabulary.
#include "kernels.h"
#include <float.h>
#include <math.h>

static inline double row_logsumexp(const float *x, int n, int *argmax) {
  float m = -FLT_MAX;
  int am = 0;
  for (int j = 0; j < n; j++) if (x[j] > m) { m = x[j]; am = j; }
  double s = 0.0;
  for (int j = 0; j < n; j++) s += exp((double)x[j] - m);
  if (argmax) *argmax = am;
  return (double)m + log(s);
}

void cs_nll(double *nll, uint8_t *greedy, const float *logits, const int32_t *targets, int rows, int vocab) {
#pragma omp parallel for schedule(static) if ((size_t)rows * vocab >= 65536)
  for (int r = 0; r < rows; r++) {
    const float *x = logits + (size_t)r * vocab;
    int am;
    double lse = row_logsumexp(x, vocab, &am);
    nll[r] = lse - (double)x[targets[r]];
    if (greedy) greedy[r] = (uint8_t)(am == targets[r]);  // first maximum, as argmax does
  }
}

void cs_log_softmax(float *out, const float *logits, int rows, int vocab) {
#pragma omp parallel for schedule(static) if ((size_t)rows * vocab >= 65536)
  for (int r = 0; r < rows; r++) {
    const float *x = logits + (size_t)r * vocab;
    float *o = out + (size_t)r * vocab;
    double lse = row_logsumexp(x, vocab, NULL);
    for (int j = 0; j < vocab; j++) o[j] = (float)((double)x[j] - lse);
  }
}
