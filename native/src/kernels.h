// compsafe native kernels: plain C over float32 buffers, row-major.
// Every function here trusts its arguments; addon.c validates sizes and offsets before calling.
#ifndef COMPSAFE_KERNELS_H
#define COMPSAFE_KERNELS_H
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

// ---- gemm.c ----
// C[M,N] = alpha * op(A)[M,K] @ op(B)[K,N] + beta * C ; op(X) = X or X^T (row-major storage)
void cs_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);
// Portable blocked implementation (always compiled; used when no BLAS is linked, and by tests).
void cs_sgemm_fallback(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                       const float *B, int ldb, float beta, float *C, int ldc);
const char *cs_blas_name(void);
void cs_set_threads(int n);
int cs_get_threads(void);

// ---- linalg.c ----
// In-place Cholesky A (n,n) = L L^T, L in the lower triangle, upper zeroed. Returns 0, or k>0 when
// the leading minor of order k is not positive definite.
int cs_cholesky(float *A, int n, int use_lapack);
// In-place inverse of a symmetric positive-definite A (n,n). Returns as cs_cholesky.
int cs_spd_inverse(float *A, int n, int use_lapack);
int cs_have_lapack(void);

// ---- elementwise.c ----
// x (rows,dim), w (dim) -> out (rows,dim): out = x / sqrt(mean(x^2) + eps) * w
void cs_rmsnorm(float *out, const float *x, const float *w, int rows, int dim, float eps);
// backward: dx (rows,dim) += ..., dw (dim) += ... given dout; x and w as in forward
void cs_rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *w,
                         int rows, int dim, float eps);
// out = (x - mean) / sqrt(var + eps) * w + b ; b may be NULL
void cs_layernorm(float *out, const float *x, const float *w, const float *b, int rows, int dim, float eps);
// x (rows, nHeads*headDim) rotated in place, rotate-half convention; pos (rows); invFreq (headDim/2)
void cs_rope(float *x, const int32_t *pos, const float *invFreq, int rows, int nHeads, int headDim);
void cs_silu(float *out, const float *x, size_t n);
void cs_gelu(float *out, const float *x, size_t n, int tanhApprox);
// out = silu(gate) * up
void cs_swiglu(float *out, const float *gate, const float *up, size_t n);
// out = silu(gate) * up over interleaved halves is not used; backward of swiglu:
void cs_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, size_t n);
void cs_add(float *out, const float *a, const float *b, size_t n);
// table (vocab,dim), ids (n) -> out (n,dim)
void cs_embedding(float *out, const float *table, const int32_t *ids, int n, int dim);
void cs_f16_to_f32(float *out, const uint16_t *in, size_t n);
void cs_bf16_to_f32(float *out, const uint16_t *in, size_t n);
void cs_f32_to_f16(uint16_t *out, const float *in, size_t n);
void cs_f32_to_bf16(uint16_t *out, const float *in, size_t n);
// sum_i a[i] * b[i], accumulated in double per thread
double cs_dot(const float *a, const float *b, size_t n);
// out = x + b (bias broadcast over rows)
void cs_add_bias(float *x, const float *b, int rows, int dim);

// Softmax of s[0..n) in place, in float with a max shift (shared by the attention kernels).
static inline void cs_softmax_inplace(float *s, int n) {
  float m = -FLT_MAX;
  for (int j = 0; j < n; j++) m = s[j] > m ? s[j] : m;
  float sum = 0.f;
  for (int j = 0; j < n; j++) { s[j] = expf(s[j] - m); sum += s[j]; }
  float inv = 1.f / sum;
  for (int j = 0; j < n; j++) s[j] *= inv;
}

// ---- attention.c ----
// Causal attention of one sequence. q (qRows, nHeads*headDim) for positions start..start+qRows-1;
// k, v (start+qRows, nKvHeads*headDim) rows 0..start+qRows-1 (the KV cache, row stride kvStride);
// out (qRows, nHeads*headDim). Grouped-query: head h reads kv head h / (nHeads/nKvHeads).
// window > 0: sliding-window attention (Mistral), a query at position p sees keys p-window+1..p.
void cs_attention(float *out, const float *q, const float *k, const float *v, int qRows, int start,
                  int nHeads, int nKvHeads, int headDim, int kvStride, float scale, int window);

// ---- loss.c ----
// logits (rows,vocab); targets (rows). nll[r] = logsumexp(logits[r]) - logits[r][t];
// greedy[r] = 1 when t is the argmax (first max). Returns nothing; target validity checked by caller.
void cs_nll(double *nll, uint8_t *greedy, const float *logits, const int32_t *targets, int rows, int vocab);
// out (rows,vocab) = log_softmax(logits)
void cs_log_softmax(float *out, const float *logits, int rows, int vocab);
#endif
