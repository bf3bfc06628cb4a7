// Fused element-wise kernels of a decoder layer. Row loops split across threads when large.
#include "kernels.h"
#include <math.h>
#include <string.h>

#define PAR_ROWS(rows, dim) if ((size_t)(rows) * (size_t)(dim) >= 65536)
#define PAR_N(n) if ((n) >= 131072)

// x (rows,dim), w (dim) -> out (rows,dim)
void cs_rmsnorm(float *out, const float *x, const float *w, int rows, int dim, float eps) {
#pragma omp parallel for schedule(static) PAR_ROWS(rows, dim)
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * dim;
    float *o = out + (size_t)r * dim;
    float ss = 0.f;
#pragma omp simd reduction(+ : ss)
    for (int i = 0; i < dim; i++) ss += xr[i] * xr[i];
    float inv = 1.f / sqrtf(ss / (float)dim + eps);
#pragma omp simd
    for (int i = 0; i < dim; i++) o[i] = xr[i] * inv * w[i];
  }
}

// Backward of out = x * inv * w, inv = (mean(x^2)+eps)^-1/2:
// dw += dout * x * inv ; dx += inv * (dout*w) - x * inv^3 / dim * sum(dout*w*x)
void cs_rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *w,
                         int rows, int dim, float eps) {
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * dim, *g = dout + (size_t)r * dim;
    float *dxr = dx + (size_t)r * dim;
    float ss = 0.f, dot = 0.f;
    for (int i = 0; i < dim; i++) { ss += xr[i] * xr[i]; dot += g[i] * w[i] * xr[i]; }
    float inv = 1.f / sqrtf(ss / (float)dim + eps);
    float c = dot * inv * inv * inv / (float)dim;
    for (int i = 0; i < dim; i++) {
      dxr[i] += inv * g[i] * w[i] - c * xr[i];
      if (dw) dw[i] += g[i] * xr[i] * inv;
    }
  }
}

void cs_layernorm(float *out, const float *x, const float *w, const float *b, int rows, int dim, float eps) {
#pragma omp parallel for schedule(static) PAR_ROWS(rows, dim)
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * dim;
    float *o = out + (size_t)r * dim;
    float mean = 0.f;
#pragma omp simd reduction(+ : mean)
    for (int i = 0; i < dim; i++) mean += xr[i];
    mean /= (float)dim;
    float var = 0.f;
#pragma omp simd reduction(+ : var)
    for (int i = 0; i < dim; i++) { float d = xr[i] - mean; var += d * d; }
    float inv = 1.f / sqrtf(var / (float)dim + eps);
    for (int i = 0; i < dim; i++) o[i] = (xr[i] - mean) * inv * w[i] + (b ? b[i] : 0.f);
  }
}

// Rotate-half RoPE (Hugging Face Llama): for i < d/2, (x_i, x_{i+d/2}) rotated by pos * invFreq[i].
void cs_rope(float *x, const int32_t *pos, const float *invFreq, int rows, int nHeads, int headDim) {
  int half = headDim / 2;
#pragma omp parallel for schedule(static) PAR_ROWS(rows, nHeads * headDim)
  for (int r = 0; r < rows; r++) {
    float p = (float)pos[r];
    float cs[512], sn[512];  // headDim <= 1024 is validated by the addon
    for (int i = 0; i < half; i++) {
      float a = p * invFreq[i];
      cs[i] = cosf(a);
      sn[i] = sinf(a);
    }
    float *xr = x + (size_t)r * nHeads * headDim;
    for (int h = 0; h < nHeads; h++) {
      float *xh = xr + (size_t)h * headDim;
      for (int i = 0; i < half; i++) {
        float a = xh[i], b = xh[i + half];
        xh[i] = a * cs[i] - b * sn[i];
        xh[i + half] = b * cs[i] + a * sn[i];
      }
    }
  }
}

void cs_silu(float *out, const float *x, size_t n) {
#pragma omp parallel for schedule(static) PAR_N(n)
  for (size_t i = 0; i < n; i++) out[i] = x[i] / (1.f + expf(-x[i]));
}

void cs_gelu(float *out, const float *x, size_t n, int tanhApprox) {
  if (tanhApprox) {
    const float k = 0.7978845608028654f;  // sqrt(2/pi)
#pragma omp parallel for schedule(static) PAR_N(n)
    for (size_t i = 0; i < n; i++) {
      float v = x[i];
      out[i] = 0.5f * v * (1.f + tanhf(k * (v + 0.044715f * v * v * v)));
    }
  } else {
#pragma omp parallel for schedule(static) PAR_N(n)
    for (size_t i = 0; i < n; i++) out[i] = 0.5f * x[i] * (1.f + erff(x[i] * 0.7071067811865476f));
  }
}

void cs_swiglu(float *out, const float *gate, const float *up, size_t n) {
#pragma omp parallel for schedule(static) PAR_N(n)
  for (size_t i = 0; i < n; i++) {
    float g = gate[i];
    out[i] = g / (1.f + expf(-g)) * up[i];
  }
}

// d/dg [g*sigmoid(g)] = s * (1 + g*(1-s))
void cs_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, size_t n) {
#pragma omp parallel for schedule(static) PAR_N(n)
  for (size_t i = 0; i < n; i++) {
    float g = gate[i], s = 1.f / (1.f + expf(-g));
    dup[i] += dout[i] * g * s;
    dgate[i] += dout[i] * up[i] * s * (1.f + g * (1.f - s));
  }
}

void cs_add(float *out, const float *a, const float *b, size_t n) {
#pragma omp parallel for simd schedule(static) PAR_N(n)
  for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

double cs_dot(const float *a, const float *b, size_t n) {
  double total = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : total) PAR_N(n)
  for (size_t c = 0; c < n; c += 4096) {  // float partial sums over short chunks keep it vectorised
    size_t end = c + 4096 < n ? c + 4096 : n;
    float s = 0.f;
#pragma omp simd reduction(+ : s)
    for (size_t i = c; i < end; i++) s += a[i] * b[i];
    total += s;
  }
  return total;
}

void cs_add_bias(float *x, const float *b, int rows, int dim) {
  for (int r = 0; r < rows; r++) {
    float *xr = x + (size_t)r * dim;
#pragma omp simd
    for (int i = 0; i < dim; i++) xr[i] += b[i];
  }
}

void cs_embedding(float *out, const float *table, const int32_t *ids, int n, int dim) {
  for (int i = 0; i < n; i++) memcpy(out + (size_t)i * dim, table + (size_t)ids[i] * dim, sizeof(float) * (size_t)dim);
}

// IEEE half -> single, handling subnormals, infinities and NaN.
static inline float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
  if (exp == 0) {
    if (mant == 0) bits = sign;
    else {  // subnormal: normalise
      int e = -1;
      do { e++; mant <<= 1; } while (!(mant & 0x400));
      bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 31) bits = sign | 0x7f800000u | (mant << 13);
  else bits = sign | ((exp + 112) << 23) | (mant << 13);
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

void cs_f16_to_f32(float *out, const uint16_t *in, size_t n) {
#pragma omp parallel for schedule(static) PAR_N(n)
  for (size_t i = 0; i < n; i++) out[i] = half_to_float(in[i]);
}

void cs_bf16_to_f32(float *out, const uint16_t *in, size_t n) {
#pragma omp parallel for schedule(static) PAR_N(n)
  for (size_t i = 0; i < n; i++) {
    uint32_t bits = (uint32_t)in[i] << 16;
    memcpy(out + i, &bits, 4);
  }
}

// single -> half, round to nearest even, overflow to inf, NaN kept.
static inline uint16_t float_to_half(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000, absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) return (uint16_t)(sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 : 0));
  if (absx >= 0x477ff000u) return (uint16_t)(sign | 0x7c00);  // rounds to >= 65520 -> inf
  if (absx < 0x38800000u) {  // subnormal half or zero
    if (absx < 0x33000000u) return (uint16_t)sign;
    // value = mant * 2^(e-150); in units of the half subnormal step 2^-24 that is mant >> (126 - e)
    uint32_t e = absx >> 23, mant = (absx & 0x7fffff) | 0x800000;
    uint32_t rshift = 126 - e;
    uint32_t v = mant >> rshift;
    uint32_t rem = mant & ((1u << rshift) - 1), halfway = 1u << (rshift - 1);
    if (rem > halfway || (rem == halfway && (v & 1))) v++;
    return (uint16_t)(sign | v);
  }
  uint32_t v = ((absx - 0x38000000u) >> 13);
  uint32_t rem = absx & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (v & 1))) v++;
  return (uint16_t)(sign | v);
}

void cs_f32_to_f16(uint16_t *out, const float *in, size_t n) {
  for (size_t i = 0; i < n; i++) out[i] = float_to_half(in[i]);
}

void cs_f32_to_bf16(uint16_t *out, const float *in, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint32_t x;
    memcpy(&x, in + i, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) { out[i] = (uint16_t)((x >> 16) | 0x40); continue; }
    uint32_t lsb = (x >> 16) & 1;
    out[i] = (uint16_t)((x + 0x7fff + lsb) >> 16);
  }
}
