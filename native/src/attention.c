// Causal grouped-query attention over one sequence and its KV cache.
#include "kernels.h"
#include <float.h>
#include <math.h>
#include <stdlib.h>

#define QBLOCK 64

// q (qRows, nHeads*hd) ; k, v (start+qRows rows, stride kvStride) ; out (qRows, nHeads*hd)
// Prefill path: per head and block of query rows, S = Q K^T and O = P V through GEMM.
static void attention_gemm(float *out, const float *q, const float *k, const float *v, int qRows, int start,
                           int nHeads, int nKvHeads, int hd, int kvStride, float scale, int window, float *S) {
  int group = nHeads / nKvHeads, qStride = nHeads * hd;
  for (int h = 0; h < nHeads; h++) {
    int g = h / group;
    for (int r0 = 0; r0 < qRows; r0 += QBLOCK) {
      int rb = qRows - r0 < QBLOCK ? qRows - r0 : QBLOCK;
      int kvLen = start + r0 + rb;  // keys visible to the last row of the block
      // S (rb, kvLen) = scale * Q_blk (rb, hd) @ K_g^T (hd, kvLen)
      cs_sgemm(0, 1, rb, kvLen, hd, scale, q + (size_t)r0 * qStride + (size_t)h * hd, qStride,
               k + (size_t)g * hd, kvStride, 0.f, S, kvLen);
#pragma omp parallel for schedule(static) if (rb * kvLen >= 16384)
      for (int r = 0; r < rb; r++) {
        float *s = S + (size_t)r * kvLen;
        int visible = start + r0 + r + 1, lo = window > 0 && visible > window ? visible - window : 0;
        for (int j = 0; j < lo; j++) s[j] = 0.f;
        cs_softmax_inplace(s + lo, visible - lo);
        for (int j = visible; j < kvLen; j++) s[j] = 0.f;
      }
      // O_blk (rb, hd) = P (rb, kvLen) @ V_g (kvLen, hd)
      cs_sgemm(0, 0, rb, hd, kvLen, 1.f, S, kvLen, v + (size_t)g * hd, kvStride, 0.f,
               out + (size_t)r0 * qStride + (size_t)h * hd, qStride);
    }
  }
}

// Decode path (few query rows): direct loops, parallel over (row, head).
static void attention_direct(float *out, const float *q, const float *k, const float *v, int qRows, int start,
                             int nHeads, int nKvHeads, int hd, int kvStride, float scale, int window, float *scratch) {
  int group = nHeads / nKvHeads, qStride = nHeads * hd, maxLen = start + qRows;
#pragma omp parallel for schedule(static) if (maxLen * nHeads >= 4096)
  for (int t = 0; t < qRows * nHeads; t++) {
    int r = t / nHeads, h = t % nHeads, g = h / group, visible = start + r + 1;
    int lo = window > 0 && visible > window ? visible - window : 0;
    float *s = scratch + (size_t)t * maxLen;
    const float *qh = q + (size_t)r * qStride + (size_t)h * hd;
    for (int j = lo; j < visible; j++) {
      const float *kj = k + (size_t)j * kvStride + (size_t)g * hd;
      float d = 0.f;
#pragma omp simd reduction(+ : d)
      for (int i = 0; i < hd; i++) d += qh[i] * kj[i];
      s[j] = d * scale;
    }
    cs_softmax_inplace(s + lo, visible - lo);
    float *o = out + (size_t)r * qStride + (size_t)h * hd;
    for (int i = 0; i < hd; i++) o[i] = 0.f;
    for (int j = lo; j < visible; j++) {
      const float *vj = v + (size_t)j * kvStride + (size_t)g * hd;
      float p = s[j];
#pragma omp simd
      for (int i = 0; i < hd; i++) o[i] += p * vj[i];
    }
  }
}

void cs_attention(float *out, const float *q, const float *k, const float *v, int qRows, int start,
                  int nHeads, int nKvHeads, int headDim, int kvStride, float scale, int window) {
  if (qRows <= 0) return;
  int maxLen = start + qRows;
  if (qRows >= 16) {
    float *S = (float *)malloc(sizeof(float) * (size_t)QBLOCK * maxLen);
    if (S) {
      attention_gemm(out, q, k, v, qRows, start, nHeads, nKvHeads, headDim, kvStride, scale, window, S);
      free(S);
      return;
    }
  }
  float *scratch = (float *)malloc(sizeof(float) * (size_t)qRows * nHeads * maxLen);
  if (!scratch) return;  // addon.c pre-checks the size; an allocation failure leaves out untouched
  attention_direct(out, q, k, v, qRows, start, nHeads, nKvHeads, headDim, kvStride, scale, window, scratch);
  free(scratch);
}
