// Kernels of the compression solvers and their N-API entry points: mask selection for magnitude and
// Wanda pruning (per row, or N:M), column sums of squares of calibration inputs (Wanda), the layer
// Hessian's accumulation (symmetric rank-k update) and square transposes, and the column loop of one
// OBS block (SparseGPT; with pruning off it is GPTQ's loop).
//
// Selection order, everywhere: ascending score, ties broken by lower index first. A NaN score sorts as
// +inf (never pruned before a finite one).
#include "napi_args.h"
#include "kernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(COMPSAFE_OPENBLAS)
#include <cblas.h>
#elif defined(COMPSAFE_ACCELERATE)
#include <Accelerate/Accelerate.h>
#endif

static inline float clean(float s) { return s != s ? INFINITY : s; }

// The k-th smallest (0-based) of a[0..n), n >= 1, k < n. Reorders a. Wirth's selection with a
// median-of-three pivot value (present in the range, so the scans stop), O(n) expected.
static float kth_smallest(float *a, long long n, long long k) {
  long long l = 0, m = n - 1;
  while (l < m) {
    float x0 = a[l], x1 = a[l + (m - l) / 2], x2 = a[m];
    float x = x0 < x1 ? (x1 < x2 ? x1 : (x0 < x2 ? x2 : x0)) : (x0 < x2 ? x0 : (x1 < x2 ? x2 : x1));
    long long i = l, j = m;
    do {
      while (a[i] < x) i++;
      while (x < a[j]) j--;
      if (i <= j) { float t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
    } while (i <= j);
    if (j < k) l = i;
    if (k < i) m = j;
  }
  return a[k];
}

// Marks in `pruned` (n bytes, set to 0/1) the k smallest of scores[0..n) (ties: lower index first).
// tmp: n floats of scratch.
static void mark_k_smallest(const float *scores, long long n, long long k, uint8_t *pruned, float *tmp) {
  memset(pruned, 0, (size_t)n);
  if (k <= 0) return;
  if (k >= n) { memset(pruned, 1, (size_t)n); return; }
  memcpy(tmp, scores, sizeof(float) * (size_t)n);
  float t = kth_smallest(tmp, n, k - 1);
  long long below = 0;
  for (long long i = 0; i < n; i++) below += scores[i] < t;
  long long ties = k - below;  // how many scores equal to t are pruned, first ones first
  for (long long i = 0; i < n; i++) {
    float s = scores[i];
    if (s < t) pruned[i] = 1;
    else if (s == t && ties > 0) { pruned[i] = 1; ties--; }
  }
}

// Within one group of m scores: marks the m - keep smallest (ties: lower index first). idx: m ints.
static void mark_group(const float *s, int m, int keep, uint8_t *pruned, int *idx) {
  for (int j = 0; j < m; j++) { idx[j] = j; pruned[j] = 0; }
  // Insertion sort of indices by (score, index); groups are small (4, 8, ... a few dozen).
  for (int j = 1; j < m; j++) {
    int v = idx[j], p = j - 1;
    while (p >= 0 && (s[idx[p]] > s[v] || (s[idx[p]] == s[v] && idx[p] > v))) { idx[p + 1] = idx[p]; p--; }
    idx[p + 1] = v;
  }
  for (int j = 0; j < m - keep; j++) pruned[idx[j]] = 1;
}

// w (rows, cols), colScale (cols) or NULL -> for each row, zero the k weights with the smallest
// |w| * colScale[j]; mask (rows, cols) gets 1 where pruned when given. Returns 0, or -1 on no memory.
static int cs_prune_smallest(float *w, int rows, long long cols, const float *colScale, long long k, uint8_t *mask) {
  int failed = 0;
#pragma omp parallel if (rows > 1 && (long long)rows * cols >= 65536)
  {
    float *scores = (float *)malloc(sizeof(float) * (size_t)cols), *tmp = (float *)malloc(sizeof(float) * (size_t)cols);
    uint8_t *pr = (uint8_t *)malloc((size_t)cols);
    if (!scores || !tmp || !pr) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(static)
    for (int r = 0; r < rows; r++) {
      if (!scores || !tmp || !pr) continue;
      float *wr = w + (size_t)r * cols;
      for (long long j = 0; j < cols; j++) scores[j] = clean(fabsf(wr[j]) * (colScale ? colScale[j] : 1.f));
      mark_k_smallest(scores, cols, k, pr, tmp);
      for (long long j = 0; j < cols; j++) if (pr[j]) wr[j] = 0.f;
      if (mask) memcpy(mask + (size_t)r * cols, pr, (size_t)cols);
    }
    free(scores); free(tmp); free(pr);
  }
  return failed ? -1 : 0;
}

// N:M: in each row, within every group of m consecutive columns, zero the m - keep smallest.
static int cs_prune_nm(float *w, int rows, int cols, const float *colScale, int keep, int m, uint8_t *mask) {
  int failed = 0;
#pragma omp parallel if ((long long)rows * cols >= 65536)
  {
    float *s = (float *)malloc(sizeof(float) * (size_t)m);
    int *idx = (int *)malloc(sizeof(int) * (size_t)m);
    uint8_t *pr = (uint8_t *)malloc((size_t)m);
    if (!s || !idx || !pr) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(static)
    for (int r = 0; r < rows; r++) {
      if (!s || !idx || !pr) continue;
      float *wr = w + (size_t)r * cols;
      for (int g = 0; g < cols; g += m) {
        for (int j = 0; j < m; j++) s[j] = clean(fabsf(wr[g + j]) * (colScale ? colScale[g + j] : 1.f));
        mark_group(s, m, keep, pr, idx);
        for (int j = 0; j < m; j++) if (pr[j]) wr[g + j] = 0.f;
        if (mask) memcpy(mask + (size_t)r * cols + g, pr, (size_t)m);
      }
    }
    free(s); free(idx); free(pr);
  }
  return failed ? -1 : 0;
}

// x (rows, cols) -> out (cols) += sum over rows of x^2, in double. Columns are split across threads
// in fixed blocks, rows summed in order, so the result does not depend on the thread count.
static void cs_col_sum_squares(double *out, const float *x, int rows, int cols) {
  const int B = 64;
  int nb = (cols + B - 1) / B;
#pragma omp parallel for schedule(static) if ((long long)rows * cols >= 65536)
  for (int b = 0; b < nb; b++) {
    int j0 = b * B, j1 = j0 + B < cols ? j0 + B : cols;
    double acc[64];
    for (int j = j0; j < j1; j++) acc[j - j0] = 0.0;
    for (int r = 0; r < rows; r++) {
      const float *xr = x + (size_t)r * cols;
      for (int j = j0; j < j1; j++) acc[j - j0] += (double)xr[j] * xr[j];
    }
    for (int j = j0; j < j1; j++) out[j] += acc[j - j0];
  }
}

// C (n, n): upper triangle (diagonal included) += alpha * X^T X, X (rows, n). BLAS ssyrk does half the
// work of a GEMM; without BLAS the portable GEMM fills both triangles (the lower one is ignored).
static void cs_syrk_upper(float *C, const float *X, int rows, int n, float alpha) {
#if defined(COMPSAFE_OPENBLAS) || defined(COMPSAFE_ACCELERATE)
  cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, n, rows, alpha, X, n, 1.f, C, n);
#else
  cs_sgemm(1, 0, n, n, rows, alpha, X, n, X, n, 1.f, C, n);
#endif
}

#define TILE 32
// out (n, n) = in^T, in tiles so both sides stay in cache. out and in do not overlap.
static void cs_transpose(float *out, const float *in, int n) {
#pragma omp parallel for schedule(static) if (n >= 512)
  for (int i0 = 0; i0 < n; i0 += TILE) {
    int i1 = i0 + TILE < n ? i0 + TILE : n;
    for (int j0 = 0; j0 < n; j0 += TILE) {
      int j1 = j0 + TILE < n ? j0 + TILE : n;
      for (int i = i0; i < i1; i++)
        for (int j = j0; j < j1; j++) out[(size_t)j * n + i] = in[(size_t)i * n + j];
    }
  }
}

// A (n, n): the strict lower triangle becomes the transpose of the strict upper one.
static void cs_mirror_upper(float *A, int n) {
#pragma omp parallel for schedule(dynamic, 1) if (n >= 512)
  for (int i0 = 0; i0 < n; i0 += TILE) {
    int i1 = i0 + TILE < n ? i0 + TILE : n;
    for (int j0 = 0; j0 <= i0; j0 += TILE) {
      int j1 = j0 + TILE < n ? j0 + TILE : n;
      for (int i = i0; i < i1; i++)
        for (int j = j0; j < j1 && j < i; j++) A[(size_t)i * n + j] = A[(size_t)j * n + i];
    }
  }
}

// Number of exact zeros (+0 and -0) in x[0..n).
static long long cs_count_zeros(const float *x, long long n) {
  long long z = 0;
#pragma omp parallel for schedule(static) reduction(+ : z) if (n >= 1 << 20)
  for (long long i = 0; i < n; i++) z += x[i] == 0.f;
  return z;
}

// q = scale * (clamp(rint(x / scale) + zero, 0, maxq) - zero), rint rounding half to even as torch.round.
static inline float quant1(float x, float scale, float zero, float maxq) {
  float q = rintf(x / scale) + zero;
  q = q < 0.f ? 0.f : q > maxq ? maxq : q;
  return scale * (q - zero);
}

typedef struct {
  int rows, cols, c0, count;
  long long pruneCount;  // unstructured: weights of the block to prune (0: none)
  int keepN, m;          // N:M when m > 0
  const float *scale, *zero;  // quantization grids (rows, groups) when maxq > 0
  int groups;
  const int32_t *colGroup;    // (count): grid of each block column
  float maxq;
} ObsBlock;

// The column loop of one OBS block.
// W (rows, cols) row-major: columns [c0, c0+count) are replaced by their final values q (pruned and/or
// quantized); the other columns are not touched. U (cols, cols): upper Cholesky factor of H^-1.
// err (rows, count) out: (w - q) / U[j][j] per column, for the caller's lazy trailing update
// W[:, c0+count:] -= err @ U[c0:c0+count, c0+count:]. losses (rows) += (w - q)^2 / U[j][j]^2 / 2.
// Masks as in the SparseGPT reference: unstructured from the block at its start (score w^2 / U[j][j]^2,
// the pruneCount smallest of the whole block, ties by row-major index); N:M at every m-th column from the
// updated row (the m - keepN smallest of the next m columns). Rows are independent, so they run in
// parallel. Returns 0, or -1 when out of memory.
static int cs_obs_block(float *W, const float *U, float *err, double *losses, const ObsBlock *p) {
  const int rows = p->rows, cols = p->cols, c0 = p->c0, n = p->count;
  const size_t cells = (size_t)rows * n;
  float *W1 = (float *)malloc(sizeof(float) * cells);
  uint8_t *mask = (uint8_t *)calloc(cells, 1);
  float *dinv2 = (float *)malloc(sizeof(float) * (size_t)n);
  if (!W1 || !mask || !dinv2) { free(W1); free(mask); free(dinv2); return -1; }
  for (int j = 0; j < n; j++) {
    float d = U[(size_t)(c0 + j) * cols + c0 + j];
    dinv2[j] = 1.f / (d * d);
  }
#pragma omp parallel for schedule(static) if (cells >= 65536)
  for (int r = 0; r < rows; r++) memcpy(W1 + (size_t)r * n, W + (size_t)r * cols + c0, sizeof(float) * n);
  if (p->pruneCount > 0) {
    float *scores = (float *)malloc(sizeof(float) * cells), *tmp = (float *)malloc(sizeof(float) * cells);
    if (!scores || !tmp) { free(scores); free(tmp); free(W1); free(mask); free(dinv2); return -1; }
    for (size_t i = 0; i < cells; i++) {
      float w = W1[i];
      scores[i] = clean(w * w * dinv2[i % n]);
    }
    mark_k_smallest(scores, (long long)cells, p->pruneCount, mask, tmp);
    free(scores);
    free(tmp);
  }
  int failed = 0;
#pragma omp parallel if (cells >= 16384)
  {
    float *s = p->m > 0 ? (float *)malloc(sizeof(float) * (size_t)p->m) : NULL;
    int *idx = p->m > 0 ? (int *)malloc(sizeof(int) * (size_t)p->m) : NULL;
    if (p->m > 0 && (!s || !idx)) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(static)
    for (int r = 0; r < rows; r++) {
      if (p->m > 0 && (!s || !idx)) continue;
      float *w1 = W1 + (size_t)r * n, *e = err + (size_t)r * n;
      uint8_t *mk = mask + (size_t)r * n;
      double loss = 0.0;
      for (int i = 0; i < n; i++) {
        if (p->m > 0 && i % p->m == 0) {
          for (int j = 0; j < p->m; j++) s[j] = clean(w1[i + j] * w1[i + j] * dinv2[i + j]);
          mark_group(s, p->m, p->keepN, mk + i, idx);
        }
        float w = w1[i], q = mk[i] ? 0.f : w;
        if (p->maxq > 0.f) {
          size_t g = (size_t)r * p->groups + p->colGroup[i];
          q = quant1(q, p->scale[g], p->zero[g], p->maxq);
        }
        const float *urow = U + (size_t)(c0 + i) * cols + c0;
        float ei = (w - q) / urow[i];
        loss += (double)ei * ei / 2.0;
        e[i] = ei;
        w1[i] = q;
#pragma omp simd
        for (int j = i + 1; j < n; j++) w1[j] -= ei * urow[j];
      }
      losses[r] += loss;
      memcpy(W + (size_t)r * cols + c0, w1, sizeof(float) * n);
    }
    free(s);
    free(idx);
  }
  free(W1);
  free(mask);
  free(dinv2);
  return failed ? -1 : 0;
}

// ---- N-API entry points ----

static napi_value out_of_memory(Args *a) {
  fail(a, "range", "could not be processed: out of memory%.0lld%.0lld", "weight", 0, 0);
  return NULL;
}

// pruneSmallest(weight, rows, cols, colScale|null, k, mask|null)
static napi_value js_prune_smallest(napi_env env, napi_callback_info info) {
  Args a;
  if (!begin(&a, env, info, "pruneSmallest", 6)) return NULL;
  long long rows = DIM(1, "rows"), cols = get_int(&a, 2, "cols", 0, 1LL << 40);
  long long k = get_int(&a, 4, "k", 0, 1LL << 40);
  DONE();
  if (k > cols) { fail(&a, "range", "k=%lld exceeds the row length %lld", "k", k, cols); return NULL; }
  if (rows > 0 && cols > (1LL << 50) / rows) { fail(&a, "range", "rows*cols=%lld*%lld is too large", "cols", rows, cols); return NULL; }
  float *w = F32(0, "weight", rows * cols);
  float *scale = is_nullish(&a, 3) ? NULL : F32(3, "colScale", cols);
  uint8_t *mask = is_nullish(&a, 5) ? NULL : (uint8_t *)get_typed(&a, 5, "mask", napi_uint8_array, (size_t)(rows * cols), NULL);
  DONE();
  if (rows == 0 || cols == 0) return undef(env);
  if (cs_prune_smallest(w, (int)rows, cols, scale, k, mask)) return out_of_memory(&a);
  return undef(env);
}

// pruneNM(weight, rows, cols, colScale|null, keepN, m, mask|null)
static napi_value js_prune_nm(napi_env env, napi_callback_info info) {
  Args a;
  if (!begin(&a, env, info, "pruneNM", 7)) return NULL;
  long long rows = DIM(1, "rows"), cols = DIM(2, "cols");
  long long m = get_int(&a, 5, "m", 1, 1 << 16), keep = get_int(&a, 4, "keepN", 0, 1 << 16);
  DONE();
  if (keep >= m) { fail(&a, "range", "keepN=%lld must be smaller than m=%lld", "keepN", keep, m); return NULL; }
  if (cols % m) { fail(&a, "range", "cols=%lld is not a multiple of m=%lld", "cols", cols, m); return NULL; }
  float *w = F32(0, "weight", rows * cols);
  float *scale = is_nullish(&a, 3) ? NULL : F32(3, "colScale", cols);
  uint8_t *mask = is_nullish(&a, 6) ? NULL : (uint8_t *)get_typed(&a, 6, "mask", napi_uint8_array, (size_t)(rows * cols), NULL);
  DONE();
  if (cs_prune_nm(w, (int)rows, (int)cols, scale, (int)keep, (int)m, mask)) return out_of_memory(&a);
  return undef(env);
}

// colSumSquares(out Float64Array, x, rows, cols)
static napi_value js_col_sum_squares(napi_env env, napi_callback_info info) {
  Args a;
  if (!begin(&a, env, info, "colSumSquares", 4)) return NULL;
  long long rows = DIM(2, "rows"), cols = DIM(3, "cols");
  double *out = (double *)get_typed(&a, 0, "out", napi_float64_array, (size_t)cols, NULL);
  float *x = F32(1, "x", rows * cols);
  DONE();
  cs_col_sum_squares(out, x, (int)rows, (int)cols);
  return undef(env);
}

// obsBlock(W, rows, cols, c0, count, U, err, losses, pruneCount, keepN, m, scale|null, zero|null, groups, colGroup|null, maxq)
static napi_value js_obs_block(napi_env env, napi_callback_info info) {
  Args a;
  if (!begin(&a, env, info, "obsBlock", 16)) return NULL;
  ObsBlock p;
  long long rows = DIM(1, "rows"), cols = get_int(&a, 2, "cols", 1, 46340);
  long long c0 = DIM(3, "c0"), count = get_int(&a, 4, "count", 1, 46340);
  long long pruneCount = get_int(&a, 8, "pruneCount", 0, 1LL << 40);
  long long keep = get_int(&a, 9, "keepN", 0, 1 << 16), m = get_int(&a, 10, "m", 0, 1 << 16);
  long long groups = get_int(&a, 13, "groups", 0, 1 << 24), maxq = get_int(&a, 15, "maxq", 0, 65535);
  DONE();
  if (c0 + count > cols) { fail(&a, "range", "c0+count=%lld exceeds cols=%lld", "count", c0 + count, cols); return NULL; }
  if (pruneCount > rows * count) { fail(&a, "range", "pruneCount=%lld exceeds the block's %lld weights", "pruneCount", pruneCount, rows * count); return NULL; }
  if (m > 0 && (keep >= m || count % m)) { fail(&a, "range", "N:M needs keepN < m and count a multiple of m (m=%lld, count=%lld)", "m", m, count); return NULL; }
  if (m > 0 && pruneCount > 0) { fail(&a, "range", "unstructured pruneCount=%lld and N:M m=%lld are exclusive", "pruneCount", pruneCount, m); return NULL; }
  if (maxq > 0 && groups < 1) { fail(&a, "range", "must be at least 1 when quantizing, got %lld%.0lld", "groups", groups, 0); return NULL; }
  float *W = F32(0, "W", rows * cols), *U = F32(5, "U", cols * cols), *err = F32(6, "err", rows * count);
  double *losses = (double *)get_typed(&a, 7, "losses", napi_float64_array, (size_t)rows, NULL);
  float *scale = NULL, *zero = NULL;
  int32_t *colGroup = NULL;
  if (maxq > 0) {
    scale = F32(11, "scale", rows * groups);
    zero = F32(12, "zero", rows * groups);
    colGroup = I32(14, "colGroup", count);
  }
  DONE();
  if (overlaps(W, (size_t)(rows * cols) * 4, err, (size_t)(rows * count) * 4) || overlaps(W, (size_t)(rows * cols) * 4, U, (size_t)(cols * cols) * 4)) {
    fail(&a, "range", "must not overlap U or err%.0lld%.0lld", "W", 0, 0);
    return NULL;
  }
  for (long long j = 0; j < count; j++) {
    float d = U[(size_t)(c0 + j) * cols + c0 + j];
    if (!(d > 0.f) || !isfinite(d)) { fail(&a, "range", "has a non-positive diagonal at column %lld%.0lld: not a Cholesky factor", "U", c0 + j, 0); return NULL; }
    if (colGroup && (colGroup[j] < 0 || colGroup[j] >= groups)) { fail(&a, "range", "holds group %lld outside [0, groups=%lld)", "colGroup", colGroup[j], groups); return NULL; }
  }
  // The grids this block uses (later groups may not be filled yet).
  if (scale) for (long long j = 0; j < count; j++) {
    if (j > 0 && colGroup[j] == colGroup[j - 1]) continue;
    for (long long r = 0; r < rows; r++) {
      size_t i = (size_t)(r * groups + colGroup[j]);
      if (!(scale[i] > 0.f) || !isfinite(scale[i]) || !isfinite(zero[i])) { fail(&a, "range", "holds a non-positive or non-finite grid for row %lld, group %lld", "scale", r, colGroup[j]); return NULL; }
    }
  }
  p.rows = (int)rows; p.cols = (int)cols; p.c0 = (int)c0; p.count = (int)count;
  p.pruneCount = pruneCount; p.keepN = (int)keep; p.m = (int)m;
  p.scale = scale; p.zero = zero; p.groups = (int)groups; p.colGroup = colGroup; p.maxq = (float)maxq;
  if (rows == 0) return undef(env);
  if (cs_obs_block(W, U, err, losses, &p)) return out_of_memory(&a);
  return undef(env);
}

// syrkUpper(C, X, rows, n, alpha)
static napi_value js_syrk_upper(napi_env env, napi_callback_info info) {
  Args a;
  if (!begin(&a, env, info, "syrkUpper", 5)) return NULL;
  long long rows = DIM(2, "rows"), n = get_int(&a, 3, "n", 0, 46340);
  float alpha = (float)get_num(&a, 4, "alpha");
  float *C = F32(0, "C", n * n), *X = F32(1, "X", rows * n);
  DONE();
  if (overlaps(C, (size_t)(n * n) * 4, X, (size_t)(rows * n) * 4)) { fail(&a, "range", "must not overlap X%.0lld%.0lld", "C", 0, 0); return NULL; }
  if (n > 0) cs_syrk_upper(C, X, (int)rows, (int)n, alpha);
  return undef(env);
}

// countZeros(x, n) -> number
static napi_value js_count_zeros(napi_env env, napi_callback_info info) {
  Args a;
  if (!begin(&a, env, info, "countZeros", 2)) return NULL;
  long long n = get_int(&a, 1, "n", 0, 1LL << 50);
  float *x = F32(0, "x", n);
  DONE();
  return num(env, (double)cs_count_zeros(x, n));
}

// transposeSquare(out, in, n) ; mirrorUpper(A, n)
static napi_value js_transpose_square(napi_env env, napi_callback_info info) {
  Args a;
  if (!begin(&a, env, info, "transposeSquare", 3)) return NULL;
  long long n = get_int(&a, 2, "n", 0, 46340);
  float *out = F32(0, "out", n * n), *in = F32(1, "in", n * n);
  DONE();
  if (overlaps(out, (size_t)(n * n) * 4, in, (size_t)(n * n) * 4)) { fail(&a, "range", "must not overlap in%.0lld%.0lld", "out", 0, 0); return NULL; }
  cs_transpose(out, in, (int)n);
  return undef(env);
}

static napi_value js_mirror_upper(napi_env env, napi_callback_info info) {
  Args a;
  if (!begin(&a, env, info, "mirrorUpper", 2)) return NULL;
  long long n = get_int(&a, 1, "n", 0, 46340);
  float *A = F32(0, "A", n * n);
  DONE();
  cs_mirror_upper(A, (int)n);
  return undef(env);
}

void register_compress_kernels(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    EXPORT("pruneSmallest", js_prune_smallest), EXPORT("pruneNM", js_prune_nm),
    EXPORT("colSumSquares", js_col_sum_squares), EXPORT("obsBlock", js_obs_block),
    EXPORT("countZeros", js_count_zeros), EXPORT("syrkUpper", js_syrk_upper), EXPORT("transposeSquare", js_transpose_square), EXPORT("mirrorUpper", js_mirror_upper),
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
