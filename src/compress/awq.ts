// AWQ: activation-aware weight quantization (Lin et al. 2024), after the reference `auto_scale` /
// `auto_clip`, one linear layer at a time:
//   s_x = mean |x| per input channel over the calibration rows (AwqStats);
//   for alpha = i / awqGrid, i < awqGrid: s = max(s_x^alpha, 1e-4), s /= sqrt(max(s) * min(s));
//       W' = Q(W diag(s)) diag(s)^-1 (group-wise grid of compress/quantizer.ts on the scaled weights);
//       err(alpha) = mean (X W^T - X W'^T)^2 over the kept calibration rows X;
//   keep the alpha of least err (alpha = 0 is plain RTN, so the choice is never worse than RTN on X);
//   --awq-clip (not for q/k projections, as the reference): per row and group, the clipping range
//       m0 * (1 - i/20), i < 10, of the scaled weights whose quantization error d minimises d^T G d
//       (G the group's Gram matrix of X: the reference's output error, over all kept rows);
//   W <- Q(clamp(W diag(s), -m, m)) diag(s)^-1, in place.
//
// Scales. The reference folds diag(s)^-1 into the preceding operation (the RMSNorm weight for q/k/v and
// gate/up, v_proj for o_proj, up_proj for down_proj) and stores Q(W s) with its grid. That needs one
// s shared by every linear reading the same input; here each linear gets its own s, and the layer keeps
// W' = Q(W s) / s as its effective dense weight. For a dense (dequantized) export this is the same
// function: x W'^T = (x / s) Q(W s)^T. A packed AWQ export would have to fold shared scales instead.
// The grid is GPTQ's (the range always includes 0), so that alpha = 0 reproduces RTN exactly; the
// reference's own grid is min/max without that constraint.
import { native } from '../core/native.js';
import { CompsafeError, UsageError } from '../core/errors.js';
import { Xoshiro128 } from '../model/sampling.js';
import { groupCount, groupLength, validateWeightQuantization } from './quantizer.js';
import { CompressionMethod, CompressionParams, LayerStats } from './types.js';
import { fractionZero } from './nm.js';

/** Calibration rows kept per input to measure output error (a uniform reservoir sample). */
export const AWQ_MAX_ROWS = 4096;
/** Clip search of the reference: ratios 1 - i/20 for i < 10 (max_shrink 0.5). */
const CLIP_GRID = 20, CLIP_STEPS = 10;

/** Mean |x| per input channel, and a bounded uniform sample of the input rows. */
export class AwqStats implements LayerStats {
  readonly absSum: Float64Array;
  /** Rows seen. */
  rows = 0;
  /** Kept rows (keptRows, columns), reservoir-sampled with the seed. */
  kept: Float32Array;
  private readonly rng: Xoshiro128;
  private gram: Float32Array | null = null;

  constructor(readonly columns: number, seed: number, readonly maxRows = AWQ_MAX_ROWS) {
    this.absSum = new Float64Array(columns);
    this.kept = new Float32Array(0);
    this.rng = new Xoshiro128(seed, 0x41575100);
  }

  get keptRows(): number {
    return Math.min(this.rows, this.maxRows);
  }

  // input (rows, columns)
  addBatch(input: Float32Array, rows: number): void {
    const k = this.columns;
    native.colAbsSum(this.absSum, input, rows, k);
    for (let i = 0; i < rows; i++) {
      const t = this.rows + i;
      // Algorithm R: row t replaces a uniformly chosen kept row with probability maxRows / (t + 1).
      const slot = t < this.maxRows ? t : Math.floor(this.uniform() * (t + 1));
      if (slot >= this.maxRows) continue;
      if ((slot + 1) * k > this.kept.length) this.grow(slot + 1);
      this.kept.set(input.subarray(i * k, (i + 1) * k), slot * k);
    }
    this.rows += rows;
    this.gram = null;
  }

  /** X^T X (columns, columns) of the kept rows, computed once (sites sharing this input reuse it). */
  keptGram(): Float32Array {
    if (!this.gram) {
      const k = this.columns;
      this.gram = new Float32Array(k * k);
      native.sgemm(1, 0, k, k, this.keptRows, 1, this.kept, k, this.kept, k, 0, this.gram, k);
    }
    return this.gram;
  }

  /** s_x: mean |x| per input channel. */
  meanAbs(): Float32Array {
    const m = new Float32Array(this.columns);
    for (let j = 0; j < this.columns; j++) m[j] = this.absSum[j] / this.rows;
    return m;
  }

  private uniform(): number {
    return (this.rng.nextU32() * 2 ** 21 + (this.rng.nextU32() >>> 11)) / 2 ** 53;
  }

  private grow(rowsNeeded: number): void {
    const rows = Math.min(this.maxRows, Math.max(rowsNeeded, 2 * (this.kept.length / this.columns), 64));
    const next = new Float32Array(rows * this.columns);
    next.set(this.kept);
    this.kept = next;
  }
}

/** The candidate scales for one alpha, as the reference: s = max(s_x^alpha, 1e-4) / sqrt(max * min). */
export function awqScales(meanAbs: Float32Array, alpha: number): Float32Array {
  const s = new Float32Array(meanAbs.length);
  let lo = Infinity, hi = 0;
  for (let j = 0; j < s.length; j++) {
    s[j] = Math.max(meanAbs[j] ** alpha, 1e-4);
    lo = Math.min(lo, s[j]);
    hi = Math.max(hi, s[j]);
  }
  const norm = Math.fround(Math.sqrt(Math.fround(hi * lo)));
  for (let j = 0; j < s.length; j++) s[j] /= norm;
  return s;
}

export interface AwqSearch {
  alphas: number[];
  /** Mean squared output error on the kept rows, per alpha. */
  errors: number[];
  best: number;
  scales: Float32Array;
}

interface QuantSpec { bits: number; groupSize: number; symmetric: boolean }

/**
 * Mean squared output error of a weight change D (rows, cols) on calibration inputs X (T, cols):
 * ||X D^T||^2 / (T * rows). When cols < T it goes through the Gram matrix G = X^T X as
 * sum(D * (D G)) (cols x cols per product instead of T x cols), otherwise through X D^T directly.
 */
export class OutputErrorMeter {
  private readonly gram: Float32Array | null;
  private readonly scratch: Float32Array;

  /** gram: X^T X when the caller has it (see AwqStats.keptGram). */
  constructor(private readonly X: Float32Array, private readonly T: number, private readonly rows: number, private readonly cols: number,
    gram?: () => Float32Array) {
    if (cols < T) {
      this.gram = gram ? gram() : new Float32Array(cols * cols);
      if (!gram) native.sgemm(1, 0, cols, cols, T, 1, X, cols, X, cols, 0, this.gram, cols);
    } else {
      this.gram = null;
    }
    this.scratch = new Float32Array(this.gram ? rows * cols : T * rows);
  }

  error(D: Float32Array): number {
    const { T, rows, cols, scratch } = this;
    if (T === 0 || rows === 0) return 0;
    if (this.gram) {
      native.sgemm(0, 0, rows, cols, cols, 1, D, cols, this.gram, cols, 0, scratch, cols);
      return native.dot(D, scratch, rows * cols) / (T * rows);
    }
    native.sgemm(0, 1, T, rows, cols, 1, this.X, cols, D, cols, 0, scratch, rows);
    return native.dot(scratch, scratch, T * rows) / (T * rows);
  }
}

/** Grid search of the scale exponent on W (rows, cols) with calibration rows X (T, cols). W is not modified. */
export function awqSearchScales(W: Float32Array, rows: number, cols: number, X: Float32Array, T: number, meanAbs: Float32Array, q: QuantSpec, grid: number,
  meter = new OutputErrorMeter(X, T, rows, cols)): AwqSearch {
  const D = new Float32Array(rows * cols);
  const alphas: number[] = [], errors: number[] = [];
  let best = 0, bestErr = Infinity, bestScales: Float32Array = new Float32Array(cols).fill(1);
  for (let i = 0; i < grid; i++) {
    const alpha = i / grid, s = awqScales(meanAbs, alpha);
    native.quantizeGroups(D, W, rows, cols, q.groupSize, q.bits, q.symmetric ? 1 : 0, s, null, null, null, 1);
    const err = meter.error(D);
    alphas.push(alpha);
    errors.push(err);
    if (err < bestErr) { bestErr = err; best = alpha; bestScales = s; }
  }
  return { alphas, errors, best, scales: bestScales };
}

/** Per (row, group) clipping maxima of the scaled weights W diag(s) (rows, groups). */
export function awqSearchClip(W: Float32Array, rows: number, cols: number, X: Float32Array, T: number, s: Float32Array, q: QuantSpec): Float32Array {
  const g = groupLength(cols, q.groupSize), groups = groupCount(cols, q.groupSize);
  const gram = new Float32Array(groups * g * g);
  for (let k = 0; k < groups; k++) {
    const j0 = k * g, gk = Math.min(g, cols - j0);
    // G_k (gk, gk) = X[:, j0:j0+gk]^T X[:, j0:j0+gk]
    native.sgemm(1, 0, gk, gk, T, 1, X.subarray(j0), cols, X.subarray(j0), cols, 0, gram.subarray(k * g * g), g);
  }
  const bestMax = new Float32Array(rows * groups);
  native.awqClipSearch(bestMax, W, s, gram, rows, cols, q.groupSize, q.bits, q.symmetric ? 1 : 0, CLIP_GRID, CLIP_STEPS);
  return bestMax;
}

/** The reference skips clipping for the query/key projections (their error passes through q.k^T). */
export function clipSkipped(siteName: string): boolean {
  return /(^|\.)(q_proj|k_proj|query|key)$/.test(siteName);
}

export const awq: CompressionMethod = {
  id: 'awq',
  kind: 'quantize',
  needsCalibration: true,
  statsPerInput: true,
  defaults: { bits: 4, groupSize: 128, awqGrid: 20, awqClip: true },

  validate(params: CompressionParams) {
    validateWeightQuantization(params, 'awq');
    if (!Number.isInteger(params.awqGrid) || params.awqGrid < 1 || params.awqGrid > 1000) {
      throw new UsageError(`--awq-grid must be an integer in 1..1000, got ${params.awqGrid}`);
    }
  },

  newStats(site, params) {
    return new AwqStats(site.linear.inFeatures, params.seed);
  },

  compressLayer(site, stats: LayerStats | undefined, params) {
    if (!(stats instanceof AwqStats) || stats.rows === 0) throw new CompsafeError(`awq: layer ${site.layer} ${site.name} saw no calibration inputs (it needs calibration data)`);
    const bits = validateWeightQuantization(params, 'awq');
    const { weight: W, outFeatures: rows, inFeatures: cols } = site.linear;
    const q: QuantSpec = { bits, groupSize: params.groupSize, symmetric: params.symmetric };
    const X = stats.kept, T = stats.keptRows, sym = q.symmetric ? 1 : 0;
    const meter = new OutputErrorMeter(X, T, rows, cols, () => stats.keptGram());
    const search = awqSearchScales(W, rows, cols, X, T, stats.meanAbs(), q, params.awqGrid, meter);
    const clip = params.awqClip && !clipSkipped(site.name) ? awqSearchClip(W, rows, cols, X, T, search.scales, q) : null;
    const D = new Float32Array(rows * cols);
    native.quantizeGroups(D, W, rows, cols, q.groupSize, bits, sym, search.scales, clip, null, null, 1);
    const error = meter.error(D);
    native.quantizeGroups(W, W, rows, cols, q.groupSize, bits, sym, search.scales, clip, null, null);
    return {
      sparsity: fractionZero(W),
      bits,
      details: {
        alpha: search.best, error, errorRtn: search.errors[0], errorScaled: search.errors[search.alphas.indexOf(search.best)],
        clipped: clip !== null, calibrationRows: stats.rows, keptRows: T, groups: groupCount(cols, q.groupSize),
      },
    };
  },
};
