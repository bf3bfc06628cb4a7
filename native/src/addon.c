// N-API surface of the native kernels. Every argument is checked here: types, non-negative sizes,
// and that each typed array view is long enough for the sizes given. A bad call throws a JS
// RangeError/TypeError naming the function and argument; it never reaches the kernel.
#include "napi_args.h"
#include "kernels.h"
#ifdef _OPENMP
#include <omp.h>
#endif


// sgemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, forceFallback?)
static napi_value js_sgemm(napi_env env, napi_callback_info info) {
  Args a;
  if (!begin(&a, env, info, "sgemm", 13)) return NULL;
  int ta = (int)get_int(&a, 0, "transA", 0, 1), tb = (int)get_int(&a, 1, "transB", 0, 1);
  long long M = DIM(2, "M"), N = DIM(3, "N"), K = DIM(4, "K");
  float alpha = (float)get_num(&a, 5, "alpha");
  long long lda = get_int(&a, 7, "lda", 1, 2147483647LL), ldb = get_int(&a, 9, "ldb", 1, 2147483647LL);
  float beta = (float)get_num(&a, 10, "beta");
  long long ldc = get_int(&a, 12, "ldc", 1, 2147483647LL);
  DONE();
  long long aRows = ta ? K : M, aCols = ta ? M : K, bRows = tb ? N : K, bCols = tb ? K : N;
  if (lda < aCols) { fail(&a, "range", "lda=%lld is smaller than the row length %lld", "lda", lda, aCols); return NULL; }
  if (ldb < bCols) { fail(&a, "range", "ldb=%lld is smaller than the row length %lld", "ldb", ldb, bCols); return NULL; }
  if (ldc < N) { fail(&a, "range", "ldc=%lld is smaller than N=%lld", "ldc", ldc, N); return NULL; }
  long long nA = extent(aRows, aCols, lda), nB = extent(bRows, bCols, ldb), nC = extent(M, N, ldc);
  float *A = F32(6, "A", nA), *B = F32(8, "B", nB), *C = F32(11, "C", nC);
  int fb = a.argc > 13 && !is_nullish(&a, 13) ? (int)get_int(&a, 13, "forceFallback", 0, 1) : 0;
  DONE();
  if (overlaps(C, nC * 4, A, nA * 4) || overlaps(C, nC * 4, B, nB * 4)) {
    fail(&a, "range", "must not overlap A or B%.0lld%.0lld", "C", 0, 0);
    return NULL;
  }
  if (fb) cs_sgemm_fallback(ta, tb, (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
  else cs_sgemm(ta, tb, (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
  return undef(env);
}

// cholesky(A, n, useLapack) -> info ; spdInverse(A, n, useLapack) -> info
static napi_value linalg_common(napi_env env, napi_callback_info info, const char *fn, int inverse) {
  Args a;
  if (!begin(&a, env, info, fn, 3)) return NULL;
  long long n = get_int(&a, 1, "n", 0, 46340);  // n*n must fit in int32 for LAPACK
  int lap = (int)get_int(&a, 2, "useLapack", 0, 1);
  float *A = F32(0, "A", n * n);
  DONE();
  int r = inverse ? cs_spd_inverse(A, (int)n, lap) : cs_cholesky(A, (int)n, lap);
  return num(env, r);
}
static napi_value js_cholesky(napi_env env, napi_callback_info info) { return linalg_common(env, info, "cholesky", 0); }
static napi_value js_spd_inverse(napi_env env, napi_callback_info info) { return linalg_common(env, info, "spdInverse", 1); }

// rmsnorm(out, x, w, rows, dim, eps)
static napi_value js_rmsnorm(napi_env env, napi_callback_info info) {
  Args a;
  if (!begin(&a, env, info, "rmsnorm", 6)) return NULL;
  long long rows = DIM(3, "rows"), dim = DIM(4, "dim");
  float eps = (float)get_num(&a, 5, "eps");
  float *out = F32(0, "out", rows * dim), *x = F32(1, "x", rows * dim), *w = F32(2, "w", dim);
  DONE();
  cs_rmsnorm(out, x, w, (int)rows, (int)dim, eps);
  return undef(env);
}

// rmsnormBackward(dx, dw|null, dout, x, w, rows, dim, eps)
static napi_value js_rmsnorm_backward(napi_env env, napi_callback_info info) {
  Args a;
  if (!begin(&a, env, info, "rmsnormBackward", 8)) return NULL;
  long long rows = DIM(5, "rows"), dim = DIM(6, "dim");
  float eps = (float)get_num(&a, 7, "eps");
  float *dx = F32(0, "dx", rows * dim), *dw = is_nullish(&a, 1) ? NULL : F32(1, "dw", dim);
  float *dout = F32(2, "dout", rows * dim), *x = F32(3, "x", rows * dim), *w = F32(4, "w", dim);
  DONE();
  cs_rmsnorm_backward(dx, dw, dout, x, w, (int)rows, (int)dim, eps);
  return undef(env);
}

// layernorm(out, x, w, b|null, rows, dim, eps)
static napi_value js_layernorm(napi_env env, napi_callback_info info) {
  Args a;
  if (!begin(&a, env, info, "layernorm", 7)) return NULL;
  long long rows = DIM(4, "rows"), dim = DIM(5, "dim");
  float eps = (float)get_num(&a, 6, "eps");
  float *out = F32(0, "out", rows * dim), *x = F32(1, "x", rows * dim), *w = F32(2, "w", dim);
  float *b = is_nullish(&a, 3) ? NULL : F32(3, "b", dim);
  DONE();
  cs_layernorm(out, x, w, b, (int)rows, (int)dim, eps);
  return undef(env);
}

// rope(x, pos, invFreq, rows, nHeads, headDim)
static napi_value js_rope(napi_env env, napi_callback_info info) {
  Args a;
  if (!begin(&a, env, info, "rope", 6)) return NULL;
  long long rows = DIM(3, "rows"), nh = get_int(&a, 4, "nHeads", 1, 65536), hd = get_int(&a, 5, "headDim", 2, 1024);
  DONE();
  if (hd % 2) { fail(&a, "range", "must be even, got %lld%.0lld", "headDim", hd, 0); return NULL; }
  float *x = F32(0, "x", rows * nh * hd), *f = F32(2, "invFreq", hd / 2);
  int32_t *pos = I32(1, "pos", rows);
  DONE();
  cs_rope(x, pos, f, (int)rows, (int)nh, (int)hd);
  return undef(env);
}

// unary(out, x, n)
static napi_value unary(napi_env env, napi_callback_info info, const char *fn, int kind) {
  Args a;
  if (!begin(&a, env, info, fn, 3)) return NULL;
  long long n = get_int(&a, 2, "n", 0, 1LL << 50);
  float *out = F32(0, "out", n), *x = F32(1, "x", n);
  int tanhApprox = kind == 1 && a.argc > 3 && !is_nullish(&a, 3) ? (int)get_int(&a, 3, "tanhApprox", 0, 1) : 0;
  DONE();
  if (kind == 0) cs_silu(out, x, (size_t)n);
  else cs_gelu(out, x, (size_t)n, tanhApprox);
  return undef(env);
}
static napi_value js_silu(napi_env env, napi_callback_info info) { return unary(env, info, "silu", 0); }
static napi_value js_gelu(napi_env env, napi_callback_info info) { return unary(env, info, "gelu", 1); }

// swiglu(out, gate, up, n) ; add(out, a, b, n)
static napi_value binary(napi_env env, napi_callback_info info, const char *fn, int kind) {
  Args a;
  if (!begin(&a, env, info, fn, 4)) return NULL;
  long long n = get_int(&a, 3, "n", 0, 1LL << 50);
  float *out = F32(0, "out", n), *x = F32(1, kind ? "a" : "gate", n), *y = F32(2, kind ? "b" : "up", n);
  DONE();
  if (kind == 0) cs_swiglu(out, x, y, (size_t)n);
  else cs_add(out, x, y, (size_t)n);
  return undef(env);
}
static napi_value js_swiglu(napi_env env, napi_callback_info info) { return binary(env, info, "swiglu", 0); }
static napi_value js_add(napi_env env, napi_callback_info info) { return binary(env, info, "add", 1); }

// swigluBackward(dgate, dup, dout, gate, up, n)
static napi_value js_swiglu_backward(napi_env env, napi_callback_info info) {
  Args a;
  if (!begin(&a, env, info, "swigluBackward", 6)) return NULL;
  long long n = get_int(&a, 5, "n", 0, 1LL << 50);
  float *dg = F32(0, "dgate", n), *du = F32(1, "dup", n), *dout = F32(2, "dout", n);
  float *g = F32(3, "gate", n), *u = F32(4, "up", n);
  DONE();
  cs_swiglu_backward(dg, du, dout, g, u, (size_t)n);
  return undef(env);
}

// dot(a, b, n) -> number
static napi_value js_dot(napi_env env, napi_callback_info info) {
  Args a;
  if (!begin(&a, env, info, "dot", 3)) return NULL;
  long long n = get_int(&a, 2, "n", 0, 1LL << 50);
  float *x = F32(0, "a", n), *y = F32(1, "b", n);
  DONE();
  return num(env, cs_dot(x, y, (size_t)n));
}

// addBias(x, b, rows, dim)
static napi_value js_add_bias(napi_env env, napi_callback_info info) {
  Args a;
  if (!begin(&a, env, info, "addBias", 4)) return NULL;
  long long rows = DIM(2, "rows"), dim = DIM(3, "dim");
  float *x = F32(0, "x", rows * dim), *b = F32(1, "b", dim);
  DONE();
  cs_add_bias(x, b, (int)rows, (int)dim);
  return undef(env);
}

// embedding(out, table, ids, n, dim, vocab)
static napi_value js_embedding(napi_env env, napi_callback_info info) {
  Args a;
  if (!begin(&a, env, info, "embedding", 6)) return NULL;
  long long n = DIM(3, "n"), dim = DIM(4, "dim"), vocab = DIM(5, "vocab");
  float *out = F32(0, "out", n * dim), *table = F32(1, "table", vocab * dim);
  int32_t *ids = I32(2, "ids", n);
  DONE();
  for (long long i = 0; i < n; i++)
    if (ids[i] < 0 || ids[i] >= vocab) { fail(&a, "range", "holds token id %lld outside the vocabulary of %lld", "ids", ids[i], vocab); return NULL; }
  cs_embedding(out, table, ids, (int)n, (int)dim);
  return undef(env);
}

// f16ToF32(out, in) / bf16ToF32(out, in) / f32ToF16(out, in) / f32ToBf16(out, in): n = in.length
static napi_value convert(napi_env env, napi_callback_info info, const char *fn, int kind) {
  Args a;
  if (!begin(&a, env, info, fn, 2)) return NULL;
  size_t n = 0;
  if (kind < 2) {
    uint16_t *in = (uint16_t *)get_typed(&a, 1, "in", napi_uint16_array, 0, &n);
    float *out = F32(0, "out", n);
    DONE();
    if (kind == 0) cs_f16_to_f32(out, in, n); else cs_bf16_to_f32(out, in, n);
  } else {
    float *in = (float *)get_typed(&a, 1, "in", napi_float32_array, 0, &n);
    uint16_t *out = U16(0, "out", n);
    DONE();
    if (kind == 2) cs_f32_to_f16(out, in, n); else cs_f32_to_bf16(out, in, n);
  }
  return undef(env);
}
static napi_value js_f16(napi_env env, napi_callback_info info) { return convert(env, info, "f16ToF32", 0); }
static napi_value js_bf16(napi_env env, napi_callback_info info) { return convert(env, info, "bf16ToF32", 1); }
static napi_value js_to_f16(napi_env env, napi_callback_info info) { return convert(env, info, "f32ToF16", 2); }
static napi_value js_to_bf16(napi_env env, napi_callback_info info) { return convert(env, info, "f32ToBf16", 3); }

// attention(out, q, k, v, qRows, start, nHeads, nKvHeads, headDim, kvStride, scale, window?)
static napi_value js_attention(napi_env env, napi_callback_info info) {
  Args a;
  if (!begin(&a, env, info, "attention", 11)) return NULL;
  long long qRows = DIM(4, "qRows"), start = DIM(5, "start");
  long long nh = get_int(&a, 6, "nHeads", 1, 65536), nkv = get_int(&a, 7, "nKvHeads", 1, 65536);
  long long hd = get_int(&a, 8, "headDim", 1, 4096), kvs = get_int(&a, 9, "kvStride", 1, 2147483647LL);
  float scale = (float)get_num(&a, 10, "scale");
  long long window = a.argc > 11 && !is_nullish(&a, 11) ? DIM(11, "window") : 0;
  DONE();
  if (nh % nkv) { fail(&a, "range", "nHeads=%lld is not a multiple of nKvHeads=%lld", "nKvHeads", nh, nkv); return NULL; }
  if (kvs < nkv * hd) { fail(&a, "range", "kvStride=%lld is smaller than nKvHeads*headDim=%lld", "kvStride", kvs, nkv * hd); return NULL; }
  if (start + qRows > 2147483647LL / 4) { fail(&a, "range", "start+qRows=%lld is too long%.0lld", "start", start + qRows, 0); return NULL; }
  long long kvNeed = extent(start + qRows, nkv * hd, kvs);
  float *out = F32(0, "out", qRows * nh * hd), *q = F32(1, "q", qRows * nh * hd);
  float *k = F32(2, "k", kvNeed), *v = F32(3, "v", kvNeed);
  DONE();
  cs_attention(out, q, k, v, (int)qRows, (int)start, (int)nh, (int)nkv, (int)hd, (int)kvs, scale, (int)window);
  return undef(env);
}

// nll(out Float64Array, greedy Uint8Array|null, logits, targets, rows, vocab)
static napi_value js_nll(napi_env env, napi_callback_info info) {
  Args a;
  if (!begin(&a, env, info, "nll", 6)) return NULL;
  long long rows = DIM(4, "rows"), vocab = get_int(&a, 5, "vocab", 1, 2147483647LL);
  double *out = (double *)get_typed(&a, 0, "out", napi_float64_array, (size_t)rows, NULL);
  uint8_t *greedy = is_nullish(&a, 1) ? NULL : (uint8_t *)get_typed(&a, 1, "greedy", napi_uint8_array, (size_t)rows, NULL);
  float *logits = F32(2, "logits", rows * vocab);
  int32_t *t = I32(3, "targets", rows);
  DONE();
  for (long long i = 0; i < rows; i++)
    if (t[i] < 0 || t[i] >= vocab) { fail(&a, "range", "holds token id %lld outside the vocabulary of %lld", "targets", t[i], vocab); return NULL; }
  cs_nll(out, greedy, logits, t, (int)rows, (int)vocab);
  return undef(env);
}

// logSoftmax(out, logits, rows, vocab)
static napi_value js_log_softmax(napi_env env, napi_callback_info info) {
  Args a;
  if (!begin(&a, env, info, "logSoftmax", 4)) return NULL;
  long long rows = DIM(2, "rows"), vocab = get_int(&a, 3, "vocab", 1, 2147483647LL);
  float *out = F32(0, "out", rows * vocab), *x = F32(1, "logits", rows * vocab);
  DONE();
  cs_log_softmax(out, x, (int)rows, (int)vocab);
  return undef(env);
}

static napi_value js_set_threads(napi_env env, napi_callback_info info) {
  Args a;
  if (!begin(&a, env, info, "setThreads", 1)) return NULL;
  int n = (int)get_int(&a, 0, "n", 1, 1024);
  DONE();
  cs_set_threads(n);
  return undef(env);
}

static napi_value js_info(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value o, v;
  napi_create_object(env, &o);
  napi_create_string_utf8(env, cs_blas_name(), NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, o, "blas", v);
  napi_get_boolean(env, cs_have_lapack() != 0, &v);
  napi_set_named_property(env, o, "lapack", v);
  napi_set_named_property(env, o, "threads", num(env, cs_get_threads()));
#ifdef _OPENMP
  napi_get_boolean(env, 1, &v);
#else
  napi_get_boolean(env, 0, &v);
#endif
  napi_set_named_property(env, o, "openmp", v);
  return o;
}


static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    EXPORT("sgemm", js_sgemm), EXPORT("cholesky", js_cholesky), EXPORT("spdInverse", js_spd_inverse),
    EXPORT("rmsnorm", js_rmsnorm), EXPORT("rmsnormBackward", js_rmsnorm_backward), EXPORT("layernorm", js_layernorm),
    EXPORT("rope", js_rope), EXPORT("silu", js_silu), EXPORT("gelu", js_gelu), EXPORT("swiglu", js_swiglu),
    EXPORT("swigluBackward", js_swiglu_backward), EXPORT("add", js_add), EXPORT("addBias", js_add_bias), EXPORT("dot", js_dot),
    EXPORT("embedding", js_embedding), EXPORT("f16ToF32", js_f16), EXPORT("bf16ToF32", js_bf16),
    EXPORT("f32ToF16", js_to_f16), EXPORT("f32ToBf16", js_to_bf16), EXPORT("attention", js_attention),
    EXPORT("nll", js_nll), EXPORT("logSoftmax", js_log_softmax), EXPORT("setThreads", js_set_threads),
    EXPORT("info", js_info),
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  register_compress_kernels(env, exports);
  register_quant_kernels(env, exports);
  register_encoder_kernels(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
