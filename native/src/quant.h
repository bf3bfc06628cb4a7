// Quantization kernels (quant.c): uniform grids, group-wise rounding, the GPTQ block solve, the AWQ
// clip search, and LLM.int8() vector-wise int8. Row-major float32 buffers; every function trusts its
// arguments — quant_addon.c validates sizes, offsets and aliasing before calling.
#ifndef COMPSAFE_QUANT_H
#define COMPSAFE_QUANT_H
#include <stddef.h>
#include <stdint.h>

// ---- uniform grids (GPTQ reference convention, float32 arithmetic, round half to even) ----
// Grid of a group with range [lo, hi] (lo <= 0 <= hi, i.e. the range includes 0):
//   symmetric:  m = max(-lo, hi), range [-m, m], zero = (maxq + 1) / 2
//   asymmetric: scale = (hi - lo) / maxq, zero = rint(-lo / scale)
//   an all-zero (or underflowing) range becomes [-1, 1].
// q(x) = clamp(rint(x / scale) + zero, 0, maxq); dequantized value scale * (q - zero).

// w (rows, cols) -> out (rows, cols). Groups are groupSize consecutive columns of a row (0 = the whole
// row; the last group of a row may be shorter). Per group: v = w * colScale[j] (colScale may be NULL),
// clamped to [-clip, clip] with clip = clip[r * nGroups + k] (clip may be NULL); the grid is that of the
// group's v; out = dequantized(v) / colScale[j], minus w[r][j] when `residual` (the quantization error).
// scaleOut/zeroOut (rows, nGroups) get the grids when non-NULL. out may be w (in place).
void cs_quantize_groups(float *out, const float *w, int rows, int cols, int groupSize, int bits, int symmetric,
                        const float *colScale, const float *clip, float *scaleOut, float *zeroOut, int residual);

// One GPTQ block: columns [i1, i2) of w (rows, cols), columns already in processing order.
// u (cols, cols): upper Cholesky factor of H^-1 (H^-1 = u^T u). For each column j in order, per row:
//   q = grid-rounded w[r][j]; err[r][j-i1] = (w[r][j] - q) / u[j][j];
//   w[r][j+1..i2) -= err[r][j-i1] * u[j][j+1..i2); w[r][j] = q.
// Grids: groupOf == NULL (dynamic groups): at each j with j % groupSize == 0 the grid of the current
// w[r][j .. min(j+groupSize, cols)) is computed and stored in scale/zero[r * nGroups + j / groupSize];
// the caller aligns blocks so that such a group lies inside [i1, i2). groupOf != NULL: column j uses
// the stored grid scale/zero[r * nGroups + groupOf[j]].
// err (rows, i2 - i1). Returns sum over the block of (w - q)^2 / u[j][j]^2 / 2 (the GPTQ loss).
double cs_gptq_block(float *w, int rows, int cols, int i1, int i2, const float *u, float *err,
                     float *scale, float *zero, int nGroups, int groupSize, const int32_t *groupOf, int bits, int symmetric);

// AWQ clip search (reference auto_clip, error through Gram matrices). For row r and group k with
// v = w[r][group] * s[group] and m0 = max |v|: for i < steps, m = m0 * (1 - i / nGrid),
// d = (dequantized(clamp(v, -m, m)) - v) / s (the group's weight error in input space),
// err = d^T G_k d with G_k (gk, gk) the group's Gram matrix of calibration inputs, stored at
// gram + k * groupSize * groupSize with leading dimension groupSize (groupSize = cols when 0).
// bestMax[r * nGroups + k] = the m of least err (the first one on ties). Returns 0, or -1 when scratch
// memory could not be allocated.
int cs_awq_clip_search(float *bestMax, const float *w, const float *s, const float *gram, int rows, int cols,
                        int groupSize, int bits, int symmetric, int nGrid, int steps);

// sums (cols) += sum over rows of |x[r][j]| (double accumulation). x (rows, cols).
void cs_col_abs_sum(double *sums, const float *x, int rows, int cols);

// ---- LLM.int8() ----
// mask (cols): 1 where any |x[r][j]| > threshold over the rows of x (rows, cols). Returns the count.
int cs_int8_outlier_columns(uint8_t *mask, const float *x, int rows, int cols, float threshold);
// Vector-wise absmax int8 of the rows of x (rows, cols), ignoring masked columns (mask may be NULL):
// a = max |x[r][j]| over unmasked j; scale[r] = a / 127; q[r][j] = clamp(rint(x[r][j] * (127 / a)), -127, 127),
// 0 in masked columns; a row with a = 0 gets scale 0 and q = 0.
void cs_int8_quantize_rows(int8_t *q, float *scale, const float *x, int rows, int cols, const uint8_t *mask);
// out (rows, n) = (float)(sum_j xq[r][j] * wq[o][j], accumulated in int32) * xScale[r] * wScale[o].
// xq (rows, k), wq (n, k); k <= 133144 keeps the int32 sum exact.
void cs_int8_gemm(float *out, const int8_t *xq, const float *xScale, const int8_t *wq, const float *wScale, int rows, int n, int k);
// out (rows, n) = q * scale of w (n, k) dequantized: out[o][j] = q[o][j] * scale[o].
void cs_int8_dequantize(float *out, const int8_t *q, const float *scale, int rows, int cols);
// The LLM.int8() linear: x (rows, k), weights wq (n, k) int8 with row scales wScale (n), wFp (n, k) the
// floating-point weights, bias (n) or NULL. Outlier columns O (|x| > threshold anywhere in x) are
// multiplied in float32 with wFp; the others through int8 (rows quantized without O). out (rows, n) =
// int8 part + x[:, O] wFp[:, O]^T + bias. maskOut (k) gets O when non-NULL. Returns |O|, or -1 when
// scratch memory could not be allocated.
int cs_int8_linear(float *out, const float *x, int rows, const int8_t *wq, const float *wScale, const float *wFp,
                   const float *bias, int n, int k, float threshold, uint8_t *maskOut);
#endif
