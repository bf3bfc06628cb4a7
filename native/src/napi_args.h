// Argument checking shared by every N-API file: types, integer ranges, typed-array kinds and lengths.
// A failed check throws a JS RangeError/TypeError naming the function and argument.
#ifndef COMPSAFE_NAPI_ARGS_H
#define COMPSAFE_NAPI_ARGS_H
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MAXARGS 20

typedef struct {
  napi_env env;
  const char *fn;
  size_t argc;
  napi_value argv[MAXARGS];
  int failed;
} Args;

static inline void fail(Args *a, const char *kind, const char *fmt, const char *arg, long long v1, long long v2) {
  if (a->failed) return;
  a->failed = 1;
  char msg[320], detail[200];
  snprintf(detail, sizeof detail, fmt, v1, v2);
  snprintf(msg, sizeof msg, "native.%s: argument '%s' %s", a->fn, arg, detail);
  if (strcmp(kind, "type") == 0) napi_throw_type_error(a->env, NULL, msg);
  else napi_throw_range_error(a->env, NULL, msg);
}

static inline int begin(Args *a, napi_env env, napi_callback_info info, const char *fn, size_t want) {
  a->env = env;
  a->fn = fn;
  a->failed = 0;
  a->argc = MAXARGS;
  napi_get_cb_info(env, info, &a->argc, a->argv, NULL, NULL);
  if (a->argc < want) {
    char msg[200];
    snprintf(msg, sizeof msg, "native.%s: expected %zu arguments, got %zu", fn, want, a->argc);
    napi_throw_type_error(env, NULL, msg);
    a->failed = 1;
    return 0;
  }
  return 1;
}

static inline int is_nullish(Args *a, size_t i) {
  if (i >= a->argc) return 1;
  napi_valuetype t;
  napi_typeof(a->env, a->argv[i], &t);
  return t == napi_null || t == napi_undefined;
}

// Integer in [lo, hi].
static inline long long get_int(Args *a, size_t i, const char *name, long long lo, long long hi) {
  if (a->failed) return 0;
  double d;
  if (napi_get_value_double(a->env, a->argv[i], &d) != napi_ok) { fail(a, "type", "must be a number%.0lld%.0lld", name, 0, 0); return 0; }
  if (d != d || d < (double)lo || d > (double)hi || d != (double)(long long)d) {
    fail(a, "range", "must be an integer in [%lld, %lld]", name, lo, hi);
    return 0;
  }
  return (long long)d;
}

static inline double get_num(Args *a, size_t i, const char *name) {
  if (a->failed) return 0;
  double d;
  if (napi_get_value_double(a->env, a->argv[i], &d) != napi_ok || d != d) { fail(a, "type", "must be a finite number%.0lld%.0lld", name, 0, 0); return 0; }
  return d;
}

// A typed array of the given type with at least `need` elements. Returns its data; *len gets its length.
static inline void *get_typed(Args *a, size_t i, const char *name, napi_typedarray_type want, size_t need, size_t *lenOut) {
  if (a->failed) return NULL;
  bool isTa = false;
  napi_is_typedarray(a->env, a->argv[i], &isTa);
  if (!isTa) { fail(a, "type", "must be a typed array%.0lld%.0lld", name, 0, 0); return NULL; }
  napi_typedarray_type type;
  size_t len;
  void *data;
  napi_get_typedarray_info(a->env, a->argv[i], &type, &len, &data, NULL, NULL);
  if (type != want) {
    const char *tn = want == napi_float32_array ? "a Float32Array" : want == napi_int32_array ? "an Int32Array"
                   : want == napi_uint16_array ? "a Uint16Array" : want == napi_float64_array ? "a Float64Array" : "a Uint8Array";
    char fmt[96];
    snprintf(fmt, sizeof fmt, "must be %s%%.0lld%%.0lld", tn);
    fail(a, "type", fmt, name, 0, 0);
    return NULL;
  }
  if (len < need) { fail(a, "range", "has %lld elements, needs at least %lld", name, (long long)len, (long long)need); return NULL; }
  if (lenOut) *lenOut = len;
  if (data == NULL && need > 0) { fail(a, "range", "is detached%.0lld%.0lld", name, 0, 0); return NULL; }
  return data;
}

#define F32(i, name, need) ((float *)get_typed(&a, i, name, napi_float32_array, (size_t)(need), NULL))
#define I32(i, name, need) ((int32_t *)get_typed(&a, i, name, napi_int32_array, (size_t)(need), NULL))
#define U16(i, name, need) ((uint16_t *)get_typed(&a, i, name, napi_uint16_array, (size_t)(need), NULL))
#define DIM(i, name) get_int(&a, i, name, 0, 2147483647LL)
#define DONE() if (a.failed) return NULL

static inline napi_value undef(napi_env env) { napi_value u; napi_get_undefined(env, &u); return u; }
static inline napi_value num(napi_env env, double d) { napi_value v; napi_create_double(env, d, &v); return v; }

// Elements a row-major (rows x cols) view with leading dimension ld needs.
static inline long long extent(long long rows, long long cols, long long ld) { return rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols; }

static inline int overlaps(const void *p, size_t pn, const void *q, size_t qn) {
  const char *a = (const char *)p, *b = (const char *)q;
  return pn && qn && a < b + qn && b < a + pn;
}

#define EXPORT(name, fn) { name, NULL, fn, NULL, NULL, NULL, napi_enumerable, NULL }

// Registration of the kernels in other files (each defines its own entry points).
void register_compress_kernels(napi_env env, napi_value exports);
void register_quant_kernels(napi_env env, napi_value exports);
void register_encoder_kernels(napi_env env, napi_value exports);
#endif
