// Uniform integer quantization grids shared by RTN, GPTQ and AWQ, following the GPTQ reference
// Quantizer: the range always includes 0; symmetric grids centre the zero point at (maxq+1)/2.

export interface QuantGrid {
  scale: number;
  zero: number;
  maxq: number;
}

/** Grid for the values x[start + i*stride], i < count. */
export function findGrid(x: ArrayLike<number>, start: number, count: number, stride: number, bits: number, symmetric: boolean): QuantGrid {
  const maxq = 2 ** bits - 1;
  let lo = 0, hi = 0;
  for (let i = 0; i < count; i++) {
    const v = x[start + i * stride];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (symmetric) {
    const m = Math.max(-lo, hi);
    lo = lo < 0 ? -m : lo;
    hi = m;
  }
  if (lo === 0 && hi === 0) { lo = -1; hi = 1; }
  const scale = (hi - lo) / maxq;
  const zero = symmetric ? (maxq + 1) / 2 : Math.round(-lo / scale);
  return { scale, zero, maxq };
}

/** The dequantized value of x on the grid: scale * (clamp(round(x/scale) + zero, 0, maxq) - zero). */
export function quantize(x: number, g: QuantGrid): number {
  const q = Math.min(Math.max(Math.round(x / g.scale) + g.zero, 0), g.maxq);
  return g.scale * (q - g.zero);
}
