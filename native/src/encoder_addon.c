// N-API entry points of the encoder kernels (encoder.c). Every size is checked before the kernel runs.
#include "napi_args.h"
#include "encoder.h"

// encoderAttention(out, q, k, v, rows, seqStarts, nSeqs, nHeads, headDim, stride, scale)
static napi_value js_encoder_attention(napi_env env, napi_callback_info info) {
  Args a;
  if (!begin(&a, env, info, "encoderAttention", 11)) return NULL;
  long long rows = DIM(4, "rows"), nSeqs = DIM(6, "nSeqs");
  long long nh = get_int(&a, 7, "nHeads", 1, 65536), hd = get_int(&a, 8, "headDim", 1, 4096);
  long long stride = get_int(&a, 9, "stride", 1, 2147483647LL);
  float scale = (float)get_num(&a, 10, "scale");
  DONE();
  long long width = nh * hd;
  if (stride < width) { fail(&a, "range", "stride=%lld is smaller than nHeads*headDim=%lld", "stride", stride, width); return NULL; }
  if (rows * width > 2147483647LL) { fail(&a, "range", "rows*nHeads*headDim=%lld exceeds %lld", "rows", rows * width, 2147483647LL); return NULL; }
  long long qkvNeed = extent(rows, width, stride);
  float *out = F32(0, "out", rows * width), *q = F32(1, "q", qkvNeed), *k = F32(2, "k", qkvNeed), *v = F32(3, "v", qkvNeed);
  int32_t *starts = I32(5, "seqStarts", nSeqs + 1);
  DONE();
  if (starts[0] != 0) { fail(&a, "range", "must start at 0, got %lld%.0lld", "seqStarts", starts[0], 0); return NULL; }
  for (long long s = 0; s < nSeqs; s++) {
    if (starts[s + 1] < starts[s]) { fail(&a, "range", "decreases at index %lld (value %lld)", "seqStarts", s + 1, starts[s + 1]); return NULL; }
    long long len = starts[s + 1] - starts[s];
    if (len > 46340) { fail(&a, "range", "holds a sequence of %lld rows; at most %lld", "seqStarts", len, 46340); return NULL; }
  }
  if (starts[nSeqs] != rows) { fail(&a, "range", "ends at %lld but rows=%lld", "seqStarts", starts[nSeqs], rows); return NULL; }
  if (overlaps(out, (size_t)(rows * width) * 4, q, (size_t)qkvNeed * 4) || overlaps(out, (size_t)(rows * width) * 4, k, (size_t)qkvNeed * 4) ||
      overlaps(out, (size_t)(rows * width) * 4, v, (size_t)qkvNeed * 4)) {
    fail(&a, "range", "must not overlap q, k or v%.0lld%.0lld", "out", 0, 0);
    return NULL;
  }
  if (cs_encoder_attention(out, q, k, v, starts, (int)nSeqs, (int)nh, (int)hd, (int)stride, scale) != 0) {
    napi_throw_error(env, NULL, "native.encoderAttention: out of memory for the attention scores");
    return NULL;
  }
  return undef(env);
}

// tanhInPlace(x, n)
static napi_value js_tanh_inplace(napi_env env, napi_callback_info info) {
  Args a;
  if (!begin(&a, env, info, "tanhInPlace", 2)) return NULL;
  long long n = DIM(1, "n");
  float *x = F32(0, "x", n);
  DONE();
  cs_tanh_inplace(x, (size_t)n);
  return undef(env);
}

void register_encoder_kernels(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    EXPORT("encoderAttention", js_encoder_attention), EXPORT("tanhInPlace", js_tanh_inplace),
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
