// Cholesky factorisation and SPD inverse: LAPACK (spotrf/spotri) when linked, C otherwise.
#include "kernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(COMPSAFE_OPENBLAS)
void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info);
void spotri_(const char *uplo, const int *n, float *a, const int *lda, int *info);
#define HAVE_LAPACK 1
#elif defined(COMPSAFE_ACCELERATE)
#include <Accelerate/Accelerate.h>
#define HAVE_LAPACK 1
#else
#define HAVE_LAPACK 0
#endif

int cs_have_lapack(void) { return HAVE_LAPACK; }

static void zero_upper(float *A, int n) {
  for (int i = 0; i < n; i++) memset(A + (size_t)i * n + i + 1, 0, sizeof(float) * (size_t)(n - i - 1));
}

static void mirror_lower_to_upper(float *A, int n) {
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++) A[(size_t)i * n + j] = A[(size_t)j * n + i];
}

// Row-major lower Cholesky, column by column. L[i][j] = (A[i][j] - <L[i][:j], L[j][:j]>) / L[j][j];
// both rows are contiguous, so the inner product vectorises. Accumulates in double.
static int cholesky_c(float *A, int n) {
  for (int j = 0; j < n; j++) {
    float *rj = A + (size_t)j * n;
    double d = rj[j];
    for (int k = 0; k < j; k++) d -= (double)rj[k] * rj[k];
    if (!(d > 0.0) || !isfinite(d)) return j + 1;
    float ljj = (float)sqrt(d);
    rj[j] = ljj;
#pragma omp parallel for schedule(static) if (n - j > 256)
    for (int i = j + 1; i < n; i++) {
      float *ri = A + (size_t)i * n;
      double s = ri[j];
      for (int k = 0; k < j; k++) s -= (double)ri[k] * rj[k];
      ri[j] = (float)(s / ljj);
    }
  }
  zero_upper(A, n);
  return 0;
}

int cs_cholesky(float *A, int n, int use_lapack) {
  if (n == 0) return 0;
#if HAVE_LAPACK
  if (use_lapack) {
    int info = 0;
    // Row-major lower == column-major upper of the same symmetric matrix (see comment in linalg tests).
#if defined(COMPSAFE_ACCELERATE)
    char uplo = 'U';
    __CLPK_integer nn = n, lda = n, inf = 0;
    spotrf_(&uplo, &nn, A, &lda, &inf);
    info = (int)inf;
#else
    spotrf_("U", &n, A, &n, &info);
#endif
    if (info != 0) return info > 0 ? info : 1;
    zero_upper(A, n);
    return 0;
  }
#endif
  (void)use_lapack;
  return cholesky_c(A, n);
}

int cs_spd_inverse(float *A, int n, int use_lapack) {
  if (n == 0) return 0;
#if HAVE_LAPACK
  if (use_lapack) {
    int info = 0;
#if defined(COMPSAFE_ACCELERATE)
    char uplo = 'U';
    __CLPK_integer nn = n, lda = n, inf = 0;
    spotrf_(&uplo, &nn, A, &lda, &inf);
    if (inf == 0) spotri_(&uplo, &nn, A, &lda, &inf);
    info = (int)inf;
#else
    spotrf_("U", &n, A, &n, &info);
    if (info == 0) spotri_("U", &n, A, &n, &info);
#endif
    if (info != 0) return info > 0 ? info : 1;
    mirror_lower_to_upper(A, n);
    return 0;
  }
#endif
  int info = cholesky_c(A, n);
  if (info) return info;
  // Invert L in place (lower triangular): Linv[i][j] = -(sum_{k=j}^{i-1} L[i][k] Linv[k][j]) / L[i][i]
  float *Li = (float *)calloc((size_t)n * n, sizeof(float));
  if (!Li) return -1;
  for (int i = 0; i < n; i++) {
    float *li = Li + (size_t)i * n;
    const float *ai = A + (size_t)i * n;
    li[i] = 1.f / ai[i];
    for (int j = 0; j < i; j++) {
      double s = 0.0;
      for (int k = j; k < i; k++) s += (double)ai[k] * Li[(size_t)k * n + j];
      li[j] = (float)(-s / ai[i]);
    }
  }
  // A^-1 = Linv^T Linv : (i,j) = sum_{k>=max(i,j)} Linv[k][i] Linv[k][j]
#pragma omp parallel for schedule(dynamic, 8)
  for (int i = 0; i < n; i++) {
    for (int j = 0; j <= i; j++) {
      double s = 0.0;
      for (int k = i; k < n; k++) s += (double)Li[(size_t)k * n + i] * Li[(size_t)k * n + j];
      A[(size_t)i * n + j] = (float)s;
    }
  }
  mirror_lower_to_upper(A, n);
  free(Li);
  return 0;
}
