// Kernels of quantized linear modes and quantization solvers (quant.c: uniform grids, GPTQ block,
// AWQ clip search, LLM.int8() vector-wise int8 with fp outliers) and their N-API entry points. Every
// size, offset, value range and aliasing is checked here; a bad call throws a RangeError/TypeError
// naming the argument and never reaches a kernel.
#include "napi_args.h"
#include "kernels.h"
#include "quant.h"
#include <math.h>

// A typed array of exactly the wanted kind (with a message naming that kind) and at least `need` elements.
static void *typed(Args *a, size_t i, const char *name, napi_typedarray_type want, const char *label, long long need) {
  if (a->failed) return NULL;
  bool isTa = false;
  napi_is_typedarray(a->env, a->argv[i], &isTa);
  napi_typedarray_type type = napi_int8_array;
  if (isTa) {
    size_t len;
    void *data;
    napi_get_typedarray_info(a->env, a->argv[i], &type, &len, &data, NULL, NULL);
  }
  if (!isTa || type != want) {
    char fmt[96];
    snprintf(fmt, sizeof fmt, "must be %s%%.0lld%%.0lld", label);
    fail(a, "type", fmt, name, 0, 0);
    return NULL;
  }
  return get_typed(a, i, name, want, (size_t)need, NULL);
}
#define I8(i, name, need) ((int8_t *)typed(&a, i, name, napi_int8_array, "an Int8Array", need))
#define U8(i, name, need) ((uint8_t *)typed(&a, i, name, napi_uint8_array, "a Uint8Array", need))
#define F64(i, name, need) ((double *)typed(&a, i, name, napi_float64_array, "a Float64Array", need))
#define OPT(i) (!is_nullish(&a, i))

// Memory spans of the arguments; the first `written` of them are written by the kernel.
typedef struct {
  const char *name;
  const void *p;
  size_t bytes;
} Span;

// Fails unless every written span is disjoint from every other span. `sameOk` (an index or -1) names
// the one span that may coincide exactly with span 0 (an in-place kernel).
static int disjoint(Args *a, const Span *s, int n, int written, int sameOk) {
  for (int i = 0; i < written; i++)
    for (int j = 0; j < n; j++) {
      if (i == j || !s[i].p || !s[j].p) continue;
      if (i == 0 && j == sameOk && s[i].p == s[j].p && s[i].bytes == s[j].bytes) continue;
      if (j == 0 && i == sameOk && s[i].p == s[j].p && s[i].bytes == s[j].bytes) continue;
      if (overlaps(s[i].p, s[i].bytes, s[j].p, s[j].bytes)) {
        char fmt[160];
        snprintf(fmt, sizeof fmt, "must not overlap '%s'%%.0lld%%.0lld", s[j].name);
        fail(a, "range", fmt, s[i].name, 0, 0);
        return 0;
      }
    }
  return 1;
}

static long long group_count(long long cols, long long groupSize) {
  if (cols == 0) return 0;
  return groupSize > 0 && groupSize < cols ? (cols + groupSize - 1) / groupSize : 1;
}
static long long group_len(long long cols, long long groupSize) { return groupSize > 0 && groupSize < cols ? groupSize : cols; }

// Every value of x[0..n) strictly positive and finite.
static int all_positive(Args *a, const float *x, long long n, const char *name) {
  if (a->failed) return 0;
  for (long long i = 0; i < n; i++)
    if (!(x[i] > 0.f) || isinf(x[i])) { fail(a, "range", "must hold positive finite values (index %lld)%.0lld", name, i, 0); return 0; }
  return 1;
}

// quantizeGroups(out, w, rows, cols, groupSize, bits, symmetric, colScale|null, clip|null, scaleOut|null, zeroOut|null, residual?)
static napi_value js_quantize_groups(napi_env env, napi_callback_info info) {
  Args a;
  if (!begin(&a, env, info, "quantizeGroups", 11)) return NULL;
  long long rows = DIM(2, "rows"), cols = DIM(3, "cols"), groupSize = DIM(4, "groupSize");
  int bits = (int)get_int(&a, 5, "bits", 1, 16), sym = (int)get_int(&a, 6, "symmetric", 0, 1);
  DONE();
  long long nG = group_count(cols, groupSize), n = rows * cols;
  float *out = F32(0, "out", n), *w = F32(1, "w", n);
  float *cs = OPT(7) ? F32(7, "colScale", cols) : NULL, *clip = OPT(8) ? F32(8, "clip", rows * nG) : NULL;
  float *so = OPT(9) ? F32(9, "scaleOut", rows * nG) : NULL, *zo = OPT(10) ? F32(10, "zeroOut", rows * nG) : NULL;
  int residual = a.argc > 11 && OPT(11) ? (int)get_int(&a, 11, "residual", 0, 1) : 0;
  DONE();
  if (cs && !all_positive(&a, cs, cols, "colScale")) return NULL;
  for (long long i = 0; clip && i < rows * nG; i++)
    if (!(clip[i] >= 0.f)) { fail(&a, "range", "must hold non-negative values (index %lld)%.0lld", "clip", i, 0); return NULL; }
  Span s[] = { { "out", out, n * 4 }, { "scaleOut", so, rows * nG * 4 }, { "zeroOut", zo, rows * nG * 4 },
               { "w", w, n * 4 }, { "colScale", cs, cols * 4 }, { "clip", clip, rows * nG * 4 } };
  if (!disjoint(&a, s, 6, 3, 3)) return NULL;
  cs_quantize_groups(out, w, (int)rows, (int)cols, (int)groupSize, bits, sym, cs, clip, so, zo, residual);
  return undef(env);
}

// gptqBlock(w, rows, cols, i1, i2, hinvUpper, err, scale, zero, nGroups, groupSize, groupOf|null, bits, symmetric) -> loss
static napi_value js_gptq_block(napi_env env, napi_callback_info info) {
  Args a;
  if (!begin(&a, env, info, "gptqBlock", 14)) return NULL;
  long long rows = DIM(1, "rows"), cols = get_int(&a, 2, "cols", 1, 46340);
  long long i1 = DIM(3, "i1"), i2 = DIM(4, "i2");
  long long nGroups = get_int(&a, 9, "nGroups", 1, 2147483647LL), groupSize = DIM(10, "groupSize");
  int bits = (int)get_int(&a, 12, "bits", 1, 16), sym = (int)get_int(&a, 13, "symmetric", 0, 1);
  DONE();
  if (i1 >= cols) { fail(&a, "range", "i1=%lld must be below cols=%lld", "i1", i1, cols); return NULL; }
  if (i2 <= i1 || i2 > cols) { fail(&a, "range", "i2=%lld must be in (i1, cols=%lld]", "i2", i2, cols); return NULL; }
  long long count = i2 - i1;
  float *w = F32(0, "w", rows * cols), *u = F32(5, "hinvUpper", cols * cols), *err = F32(6, "err", rows * count);
  float *scale = F32(7, "scale", rows * nGroups), *zero = F32(8, "zero", rows * nGroups);
  int32_t *groupOf = OPT(11) ? I32(11, "groupOf", cols) : NULL;
  DONE();
  if (groupOf) {
    for (long long j = i1; j < i2; j++)
      if (groupOf[j] < 0 || groupOf[j] >= nGroups) { fail(&a, "range", "holds group %lld outside [0, nGroups=%lld)", "groupOf", groupOf[j], nGroups); return NULL; }
  } else {
    if (groupSize == 0) { fail(&a, "range", "must be positive when groupOf is null (dynamic groups)%.0lld%.0lld", "groupSize", 0, 0); return NULL; }
    if (nGroups < (cols + groupSize - 1) / groupSize) { fail(&a, "range", "nGroups=%lld is fewer than the %lld groups of a row", "nGroups", nGroups, (cols + groupSize - 1) / groupSize); return NULL; }
    if (i1 % groupSize != 0 || (i2 != cols && count % groupSize != 0)) {
      fail(&a, "range", "block [i1, i2) must start on a group boundary and hold whole groups (groupSize=%lld, i1=%lld)", "i2", groupSize, i1);
      return NULL;
    }
  }
  for (long long j = i1; j < i2; j++)
    if (!(u[j * cols + j] > 0.f)) { fail(&a, "range", "has a non-positive diagonal at %lld%.0lld", "hinvUpper", j, 0); return NULL; }
  Span s[] = { { "w", w, rows * cols * 4 }, { "err", err, rows * count * 4 }, { "scale", scale, rows * nGroups * 4 },
               { "zero", zero, rows * nGroups * 4 }, { "hinvUpper", u, cols * cols * 4 }, { "groupOf", groupOf, groupOf ? cols * 4 : 0 } };
  if (!disjoint(&a, s, 6, 4, -1)) return NULL;
  double loss = cs_gptq_block(w, (int)rows, (int)cols, (int)i1, (int)i2, u, err, scale, zero, (int)nGroups, (int)groupSize, groupOf, bits, sym);
  return num(env, loss);
}

// awqClipSearch(bestMax, w, s, gram, rows, cols, groupSize, bits, symmetric, nGrid, steps)
static napi_value js_awq_clip_search(napi_env env, napi_callback_info info) {
  Args a;
  if (!begin(&a, env, info, "awqClipSearch", 11)) return NULL;
  long long rows = DIM(4, "rows"), cols = DIM(5, "cols"), groupSize = DIM(6, "groupSize");
  int bits = (int)get_int(&a, 7, "bits", 1, 16), sym = (int)get_int(&a, 8, "symmetric", 0, 1);
  long long nGrid = get_int(&a, 9, "nGrid", 1, 1000000), steps = get_int(&a, 10, "steps", 1, 1000000);
  DONE();
  if (steps > nGrid) { fail(&a, "range", "steps=%lld must not exceed nGrid=%lld", "steps", steps, nGrid); return NULL; }
  long long nG = group_count(cols, groupSize), g = group_len(cols, groupSize);
  if (g > 46340) { fail(&a, "range", "group length %lld makes a Gram matrix too large (max 46340)%.0lld", "groupSize", g, 0); return NULL; }
  float *best = F32(0, "bestMax", rows * nG), *w = F32(1, "w", rows * cols), *s = F32(2, "s", cols);
  float *gram = F32(3, "gram", nG * g * g);
  DONE();
  if (!all_positive(&a, s, cols, "s")) return NULL;
  Span sp[] = { { "bestMax", best, rows * nG * 4 }, { "w", w, rows * cols * 4 }, { "s", s, cols * 4 }, { "gram", gram, nG * g * g * 4 } };
  if (!disjoint(&a, sp, 4, 1, -1)) return NULL;
  if (cs_awq_clip_search(best, w, s, gram, (int)rows, (int)cols, (int)groupSize, bits, sym, (int)nGrid, (int)steps) != 0) {
    napi_throw_error(env, NULL, "native.awqClipSearch: out of memory for scratch buffers");
    return NULL;
  }
  return undef(env);
}

// colAbsSum(sums Float64Array, x, rows, cols): sums[j] += sum_r |x[r][j]|
static napi_value js_col_abs_sum(napi_env env, napi_callback_info info) {
  Args a;
  if (!begin(&a, env, info, "colAbsSum", 4)) return NULL;
  long long rows = DIM(2, "rows"), cols = DIM(3, "cols");
  double *sums = F64(0, "sums", cols);
  float *x = F32(1, "x", rows * cols);
  DONE();
  cs_col_abs_sum(sums, x, (int)rows, (int)cols);
  return undef(env);
}

// int8OutlierColumns(mask Uint8Array, x, rows, cols, threshold) -> count
static napi_value js_int8_outliers(napi_env env, napi_callback_info info) {
  Args a;
  if (!begin(&a, env, info, "int8OutlierColumns", 5)) return NULL;
  long long rows = DIM(2, "rows"), cols = DIM(3, "cols");
  float threshold = (float)get_num(&a, 4, "threshold");
  uint8_t *mask = U8(0, "mask", cols);
  float *x = F32(1, "x", rows * cols);
  DONE();
  return num(env, cs_int8_outlier_columns(mask, x, (int)rows, (int)cols, threshold));
}

// int8QuantizeRows(q Int8Array, scale, x, rows, cols, mask Uint8Array|null)
static napi_value js_int8_quantize_rows(napi_env env, napi_callback_info info) {
  Args a;
  if (!begin(&a, env, info, "int8QuantizeRows", 6)) return NULL;
  long long rows = DIM(3, "rows"), cols = DIM(4, "cols");
  int8_t *q = I8(0, "q", rows * cols);
  float *scale = F32(1, "scale", rows), *x = F32(2, "x", rows * cols);
  uint8_t *mask = OPT(5) ? U8(5, "mask", cols) : NULL;
  DONE();
  Span s[] = { { "q", q, rows * cols }, { "scale", scale, rows * 4 }, { "x", x, rows * cols * 4 }, { "mask", mask, mask ? cols : 0 } };
  if (!disjoint(&a, s, 4, 2, -1)) return NULL;
  cs_int8_quantize_rows(q, scale, x, (int)rows, (int)cols, mask);
  return undef(env);
}

#define INT8_MAX_K 133144  // 127 * 127 * k must fit in int32

// int8Gemm(out, xq, xScale, wq, wScale, rows, n, k)
static napi_value js_int8_gemm(napi_env env, napi_callback_info info) {
  Args a;
  if (!begin(&a, env, info, "int8Gemm", 8)) return NULL;
  long long rows = DIM(5, "rows"), n = DIM(6, "n"), k = get_int(&a, 7, "k", 0, INT8_MAX_K);
  float *out = F32(0, "out", rows * n), *xs = F32(2, "xScale", rows), *ws = F32(4, "wScale", n);
  int8_t *xq = I8(1, "xq", rows * k), *wq = I8(3, "wq", n * k);
  DONE();
  Span s[] = { { "out", out, rows * n * 4 }, { "xq", xq, rows * k }, { "xScale", xs, rows * 4 }, { "wq", wq, n * k }, { "wScale", ws, n * 4 } };
  if (!disjoint(&a, s, 5, 1, -1)) return NULL;
  cs_int8_gemm(out, xq, xs, wq, ws, (int)rows, (int)n, (int)k);
  return undef(env);
}

// int8Dequantize(out, q, scale, rows, cols)
static napi_value js_int8_dequantize(napi_env env, napi_callback_info info) {
  Args a;
  if (!begin(&a, env, info, "int8Dequantize", 5)) return NULL;
  long long rows = DIM(3, "rows"), cols = DIM(4, "cols");
  float *out = F32(0, "out", rows * cols), *scale = F32(2, "scale", rows);
  int8_t *q = I8(1, "q", rows * cols);
  DONE();
  Span s[] = { { "out", out, rows * cols * 4 }, { "q", q, rows * cols }, { "scale", scale, rows * 4 } };
  if (!disjoint(&a, s, 3, 1, -1)) return NULL;
  cs_int8_dequantize(out, q, scale, (int)rows, (int)cols);
  return undef(env);
}

// int8Linear(out, x, rows, wq, wScale, wFp, bias|null, n, k, threshold, maskOut|null) -> outlier count
static napi_value js_int8_linear(napi_env env, napi_callback_info info) {
  Args a;
  if (!begin(&a, env, info, "int8Linear", 11)) return NULL;
  long long rows = DIM(2, "rows"), n = DIM(7, "n"), k = get_int(&a, 8, "k", 0, INT8_MAX_K);
  float threshold = (float)get_num(&a, 9, "threshold");
  float *out = F32(0, "out", rows * n), *x = F32(1, "x", rows * k);
  int8_t *wq = I8(3, "wq", n * k);
  float *ws = F32(4, "wScale", n), *wFp = F32(5, "wFp", n * k), *bias = OPT(6) ? F32(6, "bias", n) : NULL;
  uint8_t *mask = OPT(10) ? U8(10, "maskOut", k) : NULL;
  DONE();
  Span s[] = { { "out", out, rows * n * 4 }, { "maskOut", mask, mask ? k : 0 }, { "x", x, rows * k * 4 }, { "wq", wq, n * k },
               { "wScale", ws, n * 4 }, { "wFp", wFp, n * k * 4 }, { "bias", bias, bias ? n * 4 : 0 } };
  if (!disjoint(&a, s, 7, 2, -1)) return NULL;
  int count = cs_int8_linear(out, x, (int)rows, wq, ws, wFp, bias, (int)n, (int)k, threshold, mask);
  if (count < 0) {
    napi_throw_error(env, NULL, "native.int8Linear: out of memory for scratch buffers");
    return NULL;
  }
  return num(env, count);
}

void register_quant_kernels(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    EXPORT("quantizeGroups", js_quantize_groups), EXPORT("gptqBlock", js_gptq_block),
    EXPORT("awqClipSearch", js_awq_clip_search), EXPORT("colAbsSum", js_col_abs_sum),
    EXPORT("int8OutlierColumns", js_int8_outliers), EXPORT("int8QuantizeRows", js_int8_quantize_rows),
    EXPORT("int8Gemm", js_int8_gemm), EXPORT("int8Dequantize", js_int8_dequantize), EXPORT("int8Linear", js_int8_linear),
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
