// Wanda (Sun et al. 2023): score |W_ij| * ||X_j||_2, the weight times the l2 norm of its input feature
// over every calibration row, compared within each output row (unstructured: exactly
// round(sparsity * in) per row, ties by lower column) or within each group of M inputs (N:M).
import { native } from '../core/native.js';
import { CompsafeError } from '../core/errors.js';
import { CompressionMethod, LayerStats } from './types.js';
import { fractionZero, pruneNM, targetSparsity, validatePruneOnly } from './nm.js';

/** Sum over calibration rows of x_j^2 for every input feature j (double precision). */
export class ColumnNormStats implements LayerStats {
  readonly sumSquares: Float64Array;
  rows = 0;

  constructor(readonly columns: number) {
    this.sumSquares = new Float64Array(columns);
  }

  // input (rows, columns)
  addBatch(input: Float32Array, rows: number): void {
    native.colSumSquares(this.sumSquares, input, rows, this.columns);
    this.rows += rows;
  }

  /** ||X_j||_2 as float32, the per-column factor of the Wanda score. */
  norms(): Float32Array {
    return Float32Array.from(this.sumSquares, Math.sqrt);
  }
}

export const wanda: CompressionMethod = {
  id: 'wanda',
  kind: 'prune',
  needsCalibration: true,
  statsPerInput: true,

  validate(params) {
    validatePruneOnly('wanda', params);
  },

  newStats(site) {
    return new ColumnNormStats(site.linear.inFeatures);
  },

  compressLayer(site, stats, params) {
    if (!(stats instanceof ColumnNormStats) || stats.rows === 0) {
      throw new CompsafeError(`wanda: no calibration rows reached layer ${site.layer} ${site.name}`);
    }
    const { weight, outFeatures: rows, inFeatures: cols } = site.linear;
    const norms = stats.norms();
    if (params.pattern === 'unstructured') {
      native.pruneSmallest(weight, rows, cols, norms, Math.round(targetSparsity(params) * cols), null);
    } else {
      pruneNM(weight, rows, cols, params.pattern, norms);
    }
    return { sparsity: fractionZero(weight) };
  },
};
