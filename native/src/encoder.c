// Bidirectional (non-causal) multi-head attention over packed sequences, for encoders (BERT, RoBERTa).
// Sequences are packed back to back without padding, so "masking the padding" is simply each query
// seeing the keys of its own sequence only.
#include "encoder.h"
#include "kernels.h"
#include <float.h>
#include <math.h>
#include <stdlib.h>

// Sequences at least this long go through GEMM (S = Q K^T, O = P V per head); shorter ones use direct loops.
#define GEMM_MIN_LEN 48

// One sequence of len rows starting at row r0, via GEMM. S (len, len) scratch.
static void seq_gemm(float *out, const float *q, const float *k, const float *v, int r0, int len, int nHeads,
                     int hd, int stride, float scale, float *S) {
  int outStride = nHeads * hd;
  for (int h = 0; h < nHeads; h++) {
    const float *qh = q + (size_t)r0 * stride + (size_t)h * hd;
    const float *kh = k + (size_t)r0 * stride + (size_t)h * hd;
    const float *vh = v + (size_t)r0 * stride + (size_t)h * hd;
    // S (len, len) = scale * Q_h (len, hd) @ K_h^T (hd, len)
    cs_sgemm(0, 1, len, len, hd, scale, qh, stride, kh, stride, 0.f, S, len);
#pragma omp parallel for schedule(static) if (len * len >= 16384)
    for (int r = 0; r < len; r++) cs_softmax_inplace(S + (size_t)r * len, len);
    // O_h (len, hd) = P (len, len) @ V_h (len, hd)
    cs_sgemm(0, 0, len, hd, len, 1.f, S, len, vh, stride, 0.f, out + (size_t)r0 * outStride + (size_t)h * hd, outStride);
  }
}

// One short sequence via direct loops, parallel over (row, head). scratch (len * nHeads * len).
static void seq_direct(float *out, const float *q, const float *k, const float *v, int r0, int len, int nHeads,
                       int hd, int stride, float scale, float *scratch) {
  int outStride = nHeads * hd;
#pragma omp parallel for schedule(static) if (len * len * nHeads >= 4096)
  for (int t = 0; t < len * nHeads; t++) {
    int r = t / nHeads, h = t % nHeads;
    float *s = scratch + (size_t)t * len;
    const float *qr = q + (size_t)(r0 + r) * stride + (size_t)h * hd;
    for (int j = 0; j < len; j++) {
      const float *kj = k + (size_t)(r0 + j) * stride + (size_t)h * hd;
      float d = 0.f;
#pragma omp simd reduction(+ : d)
      for (int i = 0; i < hd; i++) d += qr[i] * kj[i];
      s[j] = d * scale;
    }
    cs_softmax_inplace(s, len);
    float *o = out + (size_t)(r0 + r) * outStride + (size_t)h * hd;
    for (int i = 0; i < hd; i++) o[i] = 0.f;
    for (int j = 0; j < len; j++) {
      const float *vj = v + (size_t)(r0 + j) * stride + (size_t)h * hd;
      float p = s[j];
#pragma omp simd
      for (int i = 0; i < hd; i++) o[i] += p * vj[i];
    }
  }
}

int cs_encoder_attention(float *out, const float *q, const float *k, const float *v, const int32_t *seqStarts, int nSeqs,
                         int nHeads, int headDim, int stride, float scale) {
  // Scratch: len*len scores for a GEMM-path sequence (one head at a time), len*len per head for a direct one.
  size_t need = 0;
  for (int s = 0; s < nSeqs; s++) {
    size_t len = (size_t)(seqStarts[s + 1] - seqStarts[s]);
    size_t n = len * len * (len >= GEMM_MIN_LEN ? 1 : (size_t)nHeads);
    if (n > need) need = n;
  }
  if (need == 0) return 0;
  float *scratch = (float *)malloc(sizeof(float) * need);
  if (!scratch) return -1;
  for (int s = 0; s < nSeqs; s++) {
    int r0 = seqStarts[s], len = seqStarts[s + 1] - r0;
    if (len == 0) continue;
    if (len >= GEMM_MIN_LEN) seq_gemm(out, q, k, v, r0, len, nHeads, headDim, stride, scale, scratch);
    else seq_direct(out, q, k, v, r0, len, nHeads, headDim, stride, scale, scratch);
  }
  free(scratch);
  return 0;
}

// x (rows, dim) = tanh(x), in place. Used by the BERT pooler and the RoBERTa classification head.
void cs_tanh_inplace(float *x, size_t n) {
#pragma omp parallel for schedule(static) if (n >= 65536)
  for (size_t i = 0; i < n; i++) x[i] = tanhf(x[i]);
}
