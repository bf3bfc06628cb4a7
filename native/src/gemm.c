// GEMM: BLAS when linked (OpenBLAS / Accelerate), portable blocked C otherwise.
#include "kernels.h"
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(COMPSAFE_OPENBLAS)
#include <cblas.h>
void openblas_set_num_threads(int);
int openblas_get_num_threads(void);
#elif defined(COMPSAFE_ACCELERATE)
#include <Accelerate/Accelerate.h>
#endif

static int g_threads = 0;  // 0 = library default

const char *cs_blas_name(void) {
#if defined(COMPSAFE_OPENBLAS)
  return "openblas";
#elif defined(COMPSAFE_ACCELERATE)
  return "accelerate";
#else
  return "fallback";
#endif
}

void cs_set_threads(int n) {
  if (n < 1) n = 1;
  g_threads = n;
#if defined(COMPSAFE_OPENBLAS)
  openblas_set_num_threads(n);
#endif
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
}

int cs_get_threads(void) {
  if (g_threads > 0) return g_threads;
#if defined(COMPSAFE_OPENBLAS)
  return openblas_get_num_threads();
#elif defined(_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

// Tile sizes of the fallback: a (KB x NB) panel of op(B) packed contiguously stays in L2,
// four rows of C (4 x NB) stay in L1 while K runs over the panel.
#define FB_KB 256
#define FB_NB 128

static inline float opA(const float *A, int lda, int transA, int i, int k) {
  return transA ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
}

// y (N) = alpha * W (N,K) x (K) + beta * y, W row-major with leading dimension ldw, x with stride incx.
// Streams W once; rows are split across threads, each row a vectorised dot product.
static void gemv_rows(int N, int K, float alpha, const float *W, int ldw, const float *x, int incx, float beta, float *y) {
  const float *xs = x;
  float *packed = NULL;
  if (incx != 1) {
    packed = (float *)malloc(sizeof(float) * (size_t)K);
    if (!packed) return;
    for (int k = 0; k < K; k++) packed[k] = x[(size_t)k * incx];
    xs = packed;
  }
  // Four rows per step: four independent accumulators hide FMA latency and x is loaded once for all four.
  int N4 = N / 4 * 4;
#pragma omp parallel for schedule(static) if ((size_t)N * K >= 65536)
  for (int n = 0; n < N4; n += 4) {
    const float *w0 = W + (size_t)n * ldw, *w1 = w0 + ldw, *w2 = w1 + ldw, *w3 = w2 + ldw;
    float s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
    for (int k = 0; k < K; k++) {
      float xv = xs[k];
      s0 += w0[k] * xv; s1 += w1[k] * xv; s2 += w2[k] * xv; s3 += w3[k] * xv;
    }
    float acc[4] = {s0, s1, s2, s3};
    for (int r = 0; r < 4; r++) y[n + r] = alpha * acc[r] + (beta == 0.f ? 0.f : beta * y[n + r]);
  }
  for (int n = N4; n < N; n++) {
    const float *w = W + (size_t)n * ldw;
    float s = 0.f;
#pragma omp simd reduction(+ : s)
    for (int k = 0; k < K; k++) s += w[k] * xs[k];
    y[n] = alpha * s + (beta == 0.f ? 0.f : beta * y[n]);
  }
  free(packed);
}

void cs_sgemm_fallback(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                       const float *B, int ldb, float beta, float *C, int ldc) {
  // C = beta * C first, so the panels below only accumulate.
  for (int i = 0; i < M; i++) {
    float *c = C + (size_t)i * ldc;
    if (beta == 0.f) memset(c, 0, sizeof(float) * (size_t)N);
    else if (beta != 1.f) for (int j = 0; j < N; j++) c[j] *= beta;
  }
  if (M == 0 || N == 0 || K == 0 || alpha == 0.f) return;
  if (M == 1 && transB) {  // decoding: stream W once instead of packing panels
    gemv_rows(N, K, alpha, B, ldb, A, transA ? lda : 1, 1.f, C);
    return;
  }
  float *panel = (float *)malloc(sizeof(float) * FB_KB * FB_NB);
  if (!panel) return;  // addon.c checks allocations up front for large calls; this is a last resort
  for (int j0 = 0; j0 < N; j0 += FB_NB) {
    int nb = N - j0 < FB_NB ? N - j0 : FB_NB;
    for (int k0 = 0; k0 < K; k0 += FB_KB) {
      int kb = K - k0 < FB_KB ? K - k0 : FB_KB;
      // panel[kk][jj] = alpha * op(B)[k0+kk][j0+jj]
      for (int kk = 0; kk < kb; kk++) {
        float *p = panel + (size_t)kk * FB_NB;
        if (transB) for (int jj = 0; jj < nb; jj++) p[jj] = alpha * B[(size_t)(j0 + jj) * ldb + k0 + kk];
        else {
          const float *b = B + (size_t)(k0 + kk) * ldb + j0;
          for (int jj = 0; jj < nb; jj++) p[jj] = alpha * b[jj];
        }
      }
#pragma omp parallel for schedule(static) if (M >= 8)
      for (int i0 = 0; i0 < M; i0 += 4) {
        int mb = M - i0 < 4 ? M - i0 : 4;
        if (mb == 4) {
          float *c0 = C + (size_t)i0 * ldc + j0, *c1 = c0 + ldc, *c2 = c1 + ldc, *c3 = c2 + ldc;
          for (int kk = 0; kk < kb; kk++) {
            const float *p = panel + (size_t)kk * FB_NB;
            float a0 = opA(A, lda, transA, i0, k0 + kk), a1 = opA(A, lda, transA, i0 + 1, k0 + kk);
            float a2 = opA(A, lda, transA, i0 + 2, k0 + kk), a3 = opA(A, lda, transA, i0 + 3, k0 + kk);
#pragma omp simd
            for (int jj = 0; jj < nb; jj++) {
              float b = p[jj];
              c0[jj] += a0 * b; c1[jj] += a1 * b; c2[jj] += a2 * b; c3[jj] += a3 * b;
            }
          }
        } else {
          for (int r = 0; r < mb; r++) {
            float *c = C + (size_t)(i0 + r) * ldc + j0;
            for (int kk = 0; kk < kb; kk++) {
              const float *p = panel + (size_t)kk * FB_NB;
              float a = opA(A, lda, transA, i0 + r, k0 + kk);
#pragma omp simd
              for (int jj = 0; jj < nb; jj++) c[jj] += a * p[jj];
            }
          }
        }
      }
    }
  }
  free(panel);
}

void cs_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc) {
#if defined(COMPSAFE_OPENBLAS) || defined(COMPSAFE_ACCELERATE)
  if (M == 0 || N == 0) return;
  if (K == 0) {  // BLAS leaves C untouched for K=0 only when beta=1; make it explicit
    cs_sgemm_fallback(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  if (M == 1) {
    // One row (decoding): GEMV streams the weight once and is threaded in OpenBLAS for this shape.
    // y (N) = alpha * op(B)^T-as-needed x + beta * y, with x = row 0 of op(A).
    int incx = transA ? lda : 1;
    // (OpenBLAS's threaded sgemv measured ~10% faster than gemv_rows for TinyLlama-sized decoding.)
    if (transB) cblas_sgemv(CblasRowMajor, CblasNoTrans, N, K, alpha, B, ldb, A, incx, beta, C, 1);
    else cblas_sgemv(CblasRowMajor, CblasTrans, K, N, alpha, B, ldb, A, incx, beta, C, 1);
    return;
  }
  cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
              M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#else
  cs_sgemm_fallback(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}
