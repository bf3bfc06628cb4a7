// Uniform integer quantization grids shared by RTN, GPTQ and AWQ, following the GPTQ reference
// Quantizer: the range always includes 0; symmetric grids centre the zero point at (maxq+1)/2.
//
// Arithmetic is float32, as torch does it (each step rounded with Math.fround), and rounding is half to
// even, as torch.round: x.5 goes to the even neighbour where Math.round would go up. The native kernels
// (native/src/quant.c: quantizeGroups, gptqBlock, awqClipSearch) perform the same float32 operations in
// the same order, so a value quantizes identically in TypeScript and in C.
//
// Two deliberate differences from the reference, both only where it misbehaves:
// - symmetric grids are always [-m, m], m = max |x|. The reference keeps xmin = 0 for a group with no
//   negative value, so with the centred zero point every value above ~m/2 was clamped;
// - a range too small to give a positive float32 scale falls back to [-1, 1] (like an all-zero one)
//   instead of dividing by zero.
import { UsageError } from '../core/errors.js';
import { CompressionParams } from './types.js';

export interface QuantGrid {
  scale: number;
  zero: number;
  maxq: number;
}

const f32 = Math.fround;

/** Rounds to the nearest integer, ties to the even one (torch.round, C rintf). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);  // ties go up: x = k + 0.5 gives k + 1
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Grid of a group whose values span [lo, hi] with lo <= 0 <= hi. */
export function gridFromRange(lo: number, hi: number, bits: number, symmetric: boolean): QuantGrid {
  const maxq = 2 ** bits - 1;
  lo = f32(lo);
  hi = f32(hi);
  if (symmetric) {
    const m = Math.max(-lo, hi);
    lo = -m;
    hi = m;
  }
  if (lo === 0 && hi === 0) { lo = -1; hi = 1; }
  let scale = f32(f32(hi - lo) / maxq);
  if (!(scale > 0) || scale === Infinity) { lo = -1; hi = 1; scale = f32(2 / maxq); }
  // (+ 0 turns the -0 of an all-non-negative range into 0, as the native kernels do)
  const zero = symmetric ? (maxq + 1) / 2 : roundHalfEven(f32(-lo / scale)) + 0;
  return { scale, zero, maxq };
}

/** Grid for the values x[start + i*stride], i < count. */
export function findGrid(x: ArrayLike<number>, start: number, count: number, stride: number, bits: number, symmetric: boolean): QuantGrid {
  let lo = 0, hi = 0;
  for (let i = 0; i < count; i++) {
    const v = x[start + i * stride];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return gridFromRange(lo, hi, bits, symmetric);
}

/** The dequantized value of x on the grid: scale * (clamp(round(x/scale) + zero, 0, maxq) - zero). */
export function quantize(x: number, g: QuantGrid): number {
  const q = Math.min(Math.max(roundHalfEven(f32(x / g.scale)) + g.zero, 0), g.maxq);
  return f32(g.scale * (q - g.zero));
}

/** Groups per row: ceil(cols / groupSize), or 1 for per-channel (groupSize 0, or a group longer than the row). */
export function groupCount(cols: number, groupSize: number): number {
  if (cols === 0) return 0;
  return groupSize > 0 && groupSize < cols ? Math.ceil(cols / groupSize) : 1;
}

/** Length of a full group: groupSize, or the whole row for per-channel. */
export function groupLength(cols: number, groupSize: number): number {
  return groupSize > 0 && groupSize < cols ? groupSize : cols;
}

/**
 * Checks the weight-quantization parameters of RTN, GPTQ and AWQ. --bits is an integer 2..8 and
 * --group-size a non-negative integer (0 = per output channel). When a layer's in-features are not a
 * multiple of the group size, the last group of each row is shorter (the documented fallback, as the
 * GPTQ reference's column loop does); a group size above the in-features makes the row one group.
 */
export function validateWeightQuantization(params: CompressionParams, method: string): number {
  const bits = params.bits;
  if (bits === undefined) throw new UsageError(`${method} needs --bits B (2..8)`);
  if (!Number.isInteger(bits) || bits < 2 || bits > 8) throw new UsageError(`--bits must be an integer in 2..8 for ${method}, got ${bits}`);
  if (!Number.isInteger(params.groupSize) || params.groupSize < 0) {
    throw new UsageError(`--group-size must be a non-negative integer (0 = per output channel), got ${params.groupSize}`);
  }
  return bits;
}
