// Quantization kernels; see quant.h for the definition each one implements. Float32 arithmetic with
// round-half-to-even (rintf under the default rounding mode), the same operations in the same order as
// src/compress/quantizer.ts, so a value rounds identically here and there. The build uses -std=c11,
// under which GCC does not contract a*b+c into an FMA, which would change the rounding.
#include "quant.h"
#include "kernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

typedef struct {
  float scale, zero, maxq;
} Grid;

// Grid of a group whose values span [lo, hi] (lo <= 0 <= hi).
static inline Grid grid_from_range(float lo, float hi, int maxq, int sym) {
  if (sym) {
    float m = -lo > hi ? -lo : hi;
    lo = -m;
    hi = m;
  }
  if (lo == 0.f && hi == 0.f) { lo = -1.f; hi = 1.f; }
  float scale = (hi - lo) / (float)maxq;
  if (!(scale > 0.f) || isinf(scale)) { lo = -1.f; hi = 1.f; scale = 2.f / (float)maxq; }
  Grid g = { scale, sym ? (float)((maxq + 1) / 2) : rintf(-lo / scale) + 0.f, (float)maxq };
  return g;
}

// Dequantized grid value of x.
static inline float qdq(float x, Grid g) {
  float q = rintf(x / g.scale) + g.zero;
  q = q < 0.f ? 0.f : q;
  q = q > g.maxq ? g.maxq : q;
  return g.scale * (q - g.zero);
}

static inline float clampf(float v, float c) { return v < -c ? -c : (v > c ? c : v); }

static inline int group_len(int groupSize, int cols) { return groupSize > 0 && groupSize < cols ? groupSize : cols; }

// w (rows, cols) -> out (rows, cols), per (row, group): v = clamp(w * colScale, +-clip), out = Q(v) / colScale (- w)
void cs_quantize_groups(float *out, const float *w, int rows, int cols, int groupSize, int bits, int sym,
                        const float *colScale, const float *clip, float *scaleOut, float *zeroOut, int residual) {
  if (rows == 0 || cols == 0) return;
  const int g = group_len(groupSize, cols), nGroups = (cols + g - 1) / g, maxq = (1 << bits) - 1;
#pragma omp parallel for schedule(static) if ((size_t)rows * cols >= 65536)
  for (int r = 0; r < rows; r++) {
    const float *wr = w + (size_t)r * cols;
    float *outr = out + (size_t)r * cols;
    for (int k = 0; k < nGroups; k++) {
      const int j0 = k * g, j1 = j0 + g < cols ? j0 + g : cols;
      const float c = clip ? clip[(size_t)r * nGroups + k] : INFINITY;
      float lo = 0.f, hi = 0.f;
      for (int j = j0; j < j1; j++) {
        float v = clampf(colScale ? wr[j] * colScale[j] : wr[j], c);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
      }
      const Grid gr = grid_from_range(lo, hi, maxq, sym);
      if (scaleOut) scaleOut[(size_t)r * nGroups + k] = gr.scale;
      if (zeroOut) zeroOut[(size_t)r * nGroups + k] = gr.zero;
      for (int j = j0; j < j1; j++) {
        float v = clampf(colScale ? wr[j] * colScale[j] : wr[j], c);
        float d = qdq(v, gr);
        if (colScale) d = d / colScale[j];
        outr[j] = residual ? d - wr[j] : d;
      }
    }
  }
}

// w (rows, cols), u (cols, cols) upper, err (rows, i2-i1); rows are independent, one thread each.
double cs_gptq_block(float *w, int rows, int cols, int i1, int i2, const float *u, float *err,
                     float *scale, float *zero, int nGroups, int g, const int32_t *groupOf, int bits, int sym) {
  const int count = i2 - i1, maxq = (1 << bits) - 1;
  double loss = 0;
#pragma omp parallel for schedule(static) reduction(+ : loss) if ((size_t)rows * count * count >= 262144)
  for (int r = 0; r < rows; r++) {
    float *wr = w + (size_t)r * cols, *er = err + (size_t)r * count;
    float *sr = scale + (size_t)r * nGroups, *zr = zero + (size_t)r * nGroups;
    Grid gr = { 1.f, 0.f, (float)maxq };
    double rowLoss = 0;
    for (int j = i1; j < i2; j++) {
      if (groupOf) {
        gr.scale = sr[groupOf[j]];
        gr.zero = zr[groupOf[j]];
      } else if (j % g == 0) {
        // A new group starts: its grid from the current (already updated) weights of this row.
        const int j1 = j + g < cols ? j + g : cols;
        float lo = 0.f, hi = 0.f;
        for (int t = j; t < j1; t++) {
          lo = wr[t] < lo ? wr[t] : lo;
          hi = wr[t] > hi ? wr[t] : hi;
        }
        gr = grid_from_range(lo, hi, maxq, sym);
        sr[j / g] = gr.scale;
        zr[j / g] = gr.zero;
      }
      const float *uj = u + (size_t)j * cols;
      const float x = wr[j], q = qdq(x, gr), d = uj[j], e = (x - q) / d;
      wr[j] = q;
      er[j - i1] = e;
      rowLoss += (double)(x - q) * (double)(x - q) / ((double)d * (double)d) / 2;
#pragma omp simd
      for (int t = j + 1; t < i2; t++) wr[t] -= e * uj[t];
    }
    loss += rowLoss;
  }
  return loss;
}

// Per (row, group): shrink the clipping range in steps, keep the one whose output error d^T G d is least.
int cs_awq_clip_search(float *bestMax, const float *w, const float *s, const float *gram, int rows, int cols,
                       int groupSize, int bits, int sym, int nGrid, int steps) {
  if (rows == 0 || cols == 0) return 0;
  const int g = group_len(groupSize, cols), nGroups = (cols + g - 1) / g, maxq = (1 << bits) - 1;
  int threads = 1;
#ifdef _OPENMP
  threads = omp_get_max_threads();
#endif
  float *scratch = (float *)malloc((size_t)threads * 2 * g * sizeof(float));
  if (!scratch) return -1;
  const long long tasks = (long long)rows * nGroups;
#pragma omp parallel num_threads(threads) if ((size_t)rows * cols * g * steps >= 1000000)
  {
    int tid = 0;
#ifdef _OPENMP
    tid = omp_get_thread_num();
#endif
    float *v = scratch + (size_t)tid * 2 * g, *d = v + g;
#pragma omp for schedule(dynamic, 16)
    for (long long task = 0; task < tasks; task++) {
      const int r = (int)(task / nGroups), k = (int)(task % nGroups);
      const int j0 = k * g, gk = (j0 + g < cols ? j0 + g : cols) - j0;
      const float *wr = w + (size_t)r * cols + j0, *sk = s + j0, *G = gram + (size_t)k * g * g;
      float m0 = 0.f;
      for (int j = 0; j < gk; j++) {
        v[j] = wr[j] * sk[j];
        float a = fabsf(v[j]);
        m0 = a > m0 ? a : m0;
      }
      float best = m0;
      double minErr = INFINITY;
      for (int i = 0; i < steps; i++) {
        const float m = m0 * (float)(1.0 - (double)i / (double)nGrid);
        float lo = 0.f, hi = 0.f;
        for (int j = 0; j < gk; j++) {
          float c = clampf(v[j], m);
          lo = c < lo ? c : lo;
          hi = c > hi ? c : hi;
        }
        const Grid gr = grid_from_range(lo, hi, maxq, sym);
        for (int j = 0; j < gk; j++) d[j] = (qdq(clampf(v[j], m), gr) - v[j]) / sk[j];
        double e = 0;
        for (int a = 0; a < gk; a++) {
          const float *Ga = G + (size_t)a * g;
          float t = 0.f;
#pragma omp simd reduction(+ : t)
          for (int b = 0; b < gk; b++) t += Ga[b] * d[b];
          e += (double)d[a] * (double)t;
        }
        if (e < minErr) { minErr = e; best = m; }
      }
      bestMax[task] = best;
    }
  }
  free(scratch);
  return 0;
}

void cs_col_abs_sum(double *sums, const float *x, int rows, int cols) {
#pragma omp parallel for schedule(static) if ((size_t)rows * cols >= 262144)
  for (int c0 = 0; c0 < cols; c0 += 64) {
    const int c1 = c0 + 64 < cols ? c0 + 64 : cols;
    double acc[64] = { 0 };
    for (int r = 0; r < rows; r++) {
      const float *xr = x + (size_t)r * cols;
      for (int j = c0; j < c1; j++) acc[j - c0] += fabsf(xr[j]);
    }
    for (int j = c0; j < c1; j++) sums[j] += acc[j - c0];
  }
}

// ---- LLM.int8() ----

// A column is an outlier when any of its values exceeds the threshold in magnitude (NaN counts, so that
// it propagates through the float path). threshold <= 0 disables the decomposition (as bitsandbytes).
int cs_int8_outlier_columns(uint8_t *mask, const float *x, int rows, int cols, float threshold) {
  memset(mask, 0, (size_t)cols);
  if (!(threshold > 0.f)) return 0;
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * cols;
    for (int j = 0; j < cols; j++) mask[j] |= (uint8_t)!(fabsf(xr[j]) <= threshold);
  }
  int count = 0;
  for (int j = 0; j < cols; j++) count += mask[j];
  return count;
}

static inline int8_t to_i8(float v) {
  v = v > 127.f ? 127.f : v;
  v = v < -127.f ? -127.f : v;
  return v == v ? (int8_t)v : 0;
}

void cs_int8_quantize_rows(int8_t *q, float *scale, const float *x, int rows, int cols, const uint8_t *mask) {
#pragma omp parallel for schedule(static) if ((size_t)rows * cols >= 65536)
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * cols;
    int8_t *qr = q + (size_t)r * cols;
    float a = 0.f;
    for (int j = 0; j < cols; j++) {
      float v = mask && mask[j] ? 0.f : fabsf(xr[j]);
      a = v > a ? v : a;
    }
    const float inv = a > 0.f ? 127.f / a : 0.f;
    scale[r] = a / 127.f;
    for (int j = 0; j < cols; j++) qr[j] = mask && mask[j] ? 0 : to_i8(rintf(xr[j] * inv));
  }
}

static inline int32_t dot_i8(const int8_t *a, const int8_t *b, int k) {
  int32_t s = 0;
#pragma omp simd reduction(+ : s)
  for (int j = 0; j < k; j++) s += (int16_t)a[j] * (int16_t)b[j];
  return s;
}

// xq (rows, k), wq (n, k) -> out (rows, n). Four weight rows share each pass over an activation row.
void cs_int8_gemm(float *out, const int8_t *xq, const float *xs, const int8_t *wq, const float *ws, int rows, int n, int k) {
  const int nb = (n + 3) / 4;
#pragma omp parallel for schedule(static) collapse(2) if ((size_t)rows * n * k >= 262144)
  for (int r = 0; r < rows; r++) {
    for (int b = 0; b < nb; b++) {
      const int8_t *xr = xq + (size_t)r * k;
      const int o0 = b * 4, o1 = o0 + 4 < n ? o0 + 4 : n;
      float *outr = out + (size_t)r * n;
      if (o1 - o0 == 4) {
        const int8_t *w0 = wq + (size_t)o0 * k, *w1 = w0 + k, *w2 = w1 + k, *w3 = w2 + k;
        int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
        for (int j = 0; j < k; j++) {
          const int16_t xv = xr[j];
          s0 += xv * (int16_t)w0[j];
          s1 += xv * (int16_t)w1[j];
          s2 += xv * (int16_t)w2[j];
          s3 += xv * (int16_t)w3[j];
        }
        outr[o0] = (float)s0 * xs[r] * ws[o0];
        outr[o0 + 1] = (float)s1 * xs[r] * ws[o0 + 1];
        outr[o0 + 2] = (float)s2 * xs[r] * ws[o0 + 2];
        outr[o0 + 3] = (float)s3 * xs[r] * ws[o0 + 3];
      } else {
        for (int o = o0; o < o1; o++) outr[o] = (float)dot_i8(xr, wq + (size_t)o * k, k) * xs[r] * ws[o];
      }
    }
  }
}

void cs_int8_dequantize(float *out, const int8_t *q, const float *scale, int rows, int cols) {
#pragma omp parallel for schedule(static) if ((size_t)rows * cols >= 262144)
  for (int r = 0; r < rows; r++)
    for (int j = 0; j < cols; j++) out[(size_t)r * cols + j] = (float)q[(size_t)r * cols + j] * scale[r];
}

static void *alloc(size_t bytes) { return malloc(bytes ? bytes : 1); }

int cs_int8_linear(float *out, const float *x, int rows, const int8_t *wq, const float *wScale, const float *wFp,
                   const float *bias, int n, int k, float threshold, uint8_t *maskOut) {
  uint8_t *mask = (uint8_t *)alloc((size_t)k);
  int8_t *xq = (int8_t *)alloc((size_t)rows * k);
  float *xs = (float *)alloc((size_t)rows * sizeof(float));
  int count = -1;
  if (!mask || !xq || !xs) goto done;
  count = cs_int8_outlier_columns(mask, x, rows, k, threshold);
  cs_int8_quantize_rows(xq, xs, x, rows, k, mask);
  cs_int8_gemm(out, xq, xs, wq, wScale, rows, n, k);
  if (count > 0) {
    // Outlier columns in float32: out += x[:, O] wFp[:, O]^T
    int *idx = (int *)alloc((size_t)count * sizeof(int));
    float *xo = (float *)alloc((size_t)rows * count * sizeof(float)), *wo = (float *)alloc((size_t)n * count * sizeof(float));
    if (idx && xo && wo) {
      for (int j = 0, c = 0; j < k; j++) if (mask[j]) idx[c++] = j;
      for (int r = 0; r < rows; r++)
        for (int c = 0; c < count; c++) xo[(size_t)r * count + c] = x[(size_t)r * k + idx[c]];
      for (int o = 0; o < n; o++)
        for (int c = 0; c < count; c++) wo[(size_t)o * count + c] = wFp[(size_t)o * k + idx[c]];
      cs_sgemm(0, 1, rows, n, count, 1.f, xo, count, wo, count, 1.f, out, n);
    } else {
      count = -1;
    }
    free(idx);
    free(xo);
    free(wo);
  }
  if (count >= 0 && bias) cs_add_bias(out, bias, rows, n);
  if (count >= 0 && maskOut) memcpy(maskOut, mask, (size_t)k);
done:
  free(mask);
  free(xq);
  free(xs);
  return count;
}
