// GPTQ (Frantar et al. 2023), as the reference `GPTQ.fasterquant`:
//   H = 2/n X^T X over the calibration inputs; dead columns (H_jj = 0) -> H_jj = 1 and W[:, j] = 0;
//   --act-order: columns processed in order of decreasing diag(H) (W and H permuted, un-permuted after);
//   H += percdamp * mean(diag H) * I; U = upper Cholesky factor of H^-1 (compress/hessian.ts).
//   For each block of `blockSize` columns [i1, i2) (native.gptqBlock, one thread per row):
//     for each column j: q = Q(w_j) on the row's grid; err_j = (w_j - q) / U_jj;
//                        the rest of the block -= err_j * U[j, j+1:i2]; loss += (w_j - q)^2 / U_jj^2 / 2
//   and then the lazy batch update W[:, i2:] -= Err @ U[i1:i2, i2:] as one sgemm.
// Grids: per channel (group size 0) one grid per row from the whole row, up front; with --group-size G a
// grid per G inputs of a row, found when the column loop reaches the group from the row's current
// weights (all updates so far applied); --static-groups: all group grids up front from the unmodified
// weights (grouped by original column index, also under --act-order).
//
// Where this differs from the reference, deliberately:
// - the reference finds a group's grid from W, which within a block lacks the block's own updates (its
//   column loop updates a clone); here blocks are aligned to whole groups and the grid sees every update,
//   so the result is that of plain column-by-column OBS and does not depend on the block size;
// - up-front grids (per channel, static groups) are found after dead columns are zeroed (the reference
//   finds the per-channel grid before), so never-active inputs do not widen a row's range.
import { native } from '../core/native.js';
import { CompsafeError, UsageError } from '../core/errors.js';
import { HessianStats, prepareHessian } from './hessian.js';
import { groupCount, validateWeightQuantization } from './quantizer.js';
import { CompressionMethod, CompressionParams, LayerStats } from './types.js';
import { fractionZero } from './nm.js';

/** H prepared for GPTQ: the processing order and the Cholesky factor of the permuted H^-1. */
export interface GptqHessian {
  /** perm[j] = original column processed j-th (act-order), or null for the natural order. */
  perm: Int32Array | null;
  /** Input columns (original indices) whose Hessian diagonal was zero. */
  deadColumns: number[];
  /** Upper Cholesky factor of H^-1 in processing order (cols, cols). */
  hinvUpper: Float32Array;
  damp: number;
}

/** Prepares H (cols, cols), which it modifies, for gptqSolve. */
export function prepareGptqHessian(H: Float32Array, cols: number, percdamp: number, actOrder: boolean): GptqHessian {
  const deadColumns: number[] = [];
  for (let j = 0; j < cols; j++) if (H[j * cols + j] === 0) { deadColumns.push(j); H[j * cols + j] = 1; }
  let perm: Int32Array | null = null, Hp = H;
  if (actOrder) {
    // Decreasing diag(H); ties keep the lower index first (a stable sort).
    perm = Int32Array.from({ length: cols }, (_, j) => j).sort((a, b) => H[b * cols + b] - H[a * cols + a] || a - b);
    Hp = new Float32Array(cols * cols);
    for (let a = 0; a < cols; a++) {
      const src = perm[a] * cols;
      for (let b = 0; b < cols; b++) Hp[a * cols + b] = H[src + perm[b]];
    }
  }
  const prep = prepareHessian(Hp, cols, percdamp);
  return { perm, deadColumns, hinvUpper: prep.hinvUpper, damp: prep.damp };
}

export interface GptqResult {
  /** Sum of the reference's loss (w - q)^2 / U_jj^2 / 2 over all weights. */
  loss: number;
  /** Block size used (aligned to whole groups for group-wise grids). */
  blockSize: number;
  groups: number;
}

type GptqParams = Pick<CompressionParams, 'groupSize' | 'symmetric' | 'staticGroups' | 'blockSize'> & { bits: number };

/** Quantizes W (rows, cols) in place against a prepared Hessian. */
export function gptqSolve(W: Float32Array, rows: number, cols: number, hess: GptqHessian, params: GptqParams): GptqResult {
  if (W.length !== rows * cols || hess.hinvUpper.length !== cols * cols) throw new RangeError(`gptq: W is not ${rows}x${cols} or H^-1 is not ${cols}x${cols}`);
  const { bits } = params, { perm, hinvUpper: U } = hess;
  const sym: 0 | 1 = params.symmetric ? 1 : 0;
  const g = params.groupSize > 0 && params.groupSize < cols ? params.groupSize : 0;
  const nGroups = groupCount(cols, g);
  for (const j of hess.deadColumns) for (let r = 0; r < rows; r++) W[r * cols + j] = 0;

  const scale = new Float32Array(rows * nGroups), zero = new Float32Array(rows * nGroups);
  let groupOf: Int32Array | null = null;
  if (g === 0 || params.staticGroups) {
    // Grids up front, from the unpermuted weights (the rounded copy is not used).
    native.quantizeGroups(new Float32Array(rows * cols), W, rows, cols, g, bits, sym, null, null, scale, zero);
    groupOf = new Int32Array(cols);
    if (g > 0) for (let j = 0; j < cols; j++) groupOf[j] = Math.floor((perm ? perm[j] : j) / g);
  }

  // Work in processing order.
  let Wp = W;
  if (perm) {
    Wp = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) Wp[r * cols + j] = W[r * cols + perm[j]];
  }
  const bs = g > 0 && !params.staticGroups ? g * Math.max(1, Math.floor(params.blockSize / g)) : params.blockSize;
  const err = new Float32Array(rows * Math.min(bs, cols));
  let loss = 0;
  for (let i1 = 0; i1 < cols; i1 += bs) {
    const i2 = Math.min(i1 + bs, cols), count = i2 - i1;
    loss += native.gptqBlock(Wp, rows, cols, i1, i2, U, err, scale, zero, nGroups, g, groupOf, bits, sym);
    // W[:, i2:] -= Err (rows, count) @ U[i1:i2, i2:]
    if (i2 < cols) native.sgemm(0, 0, rows, cols - i2, count, -1, err, count, U.subarray(i1 * cols + i2), cols, 1, Wp.subarray(i2), cols);
  }
  if (perm) for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) W[r * cols + perm[j]] = Wp[r * cols + j];
  return { loss, blockSize: bs, groups: nGroups };
}

// Sites fed the same input (q/k/v, gate/up) share one HessianStats; its preparation is done once.
const prepared = new WeakMap<HessianStats, { key: string; hess: GptqHessian }>();

function preparedFor(stats: HessianStats, percdamp: number, actOrder: boolean): GptqHessian {
  const key = `${percdamp}/${actOrder}`, hit = prepared.get(stats);
  if (hit && hit.key === key) return hit.hess;
  const hess = prepareGptqHessian(stats.hessian(), stats.columns, percdamp, actOrder);
  prepared.set(stats, { key, hess });
  return hess;
}

export const gptq: CompressionMethod = {
  id: 'gptq',
  kind: 'quantize',
  needsCalibration: true,
  statsPerInput: true,
  defaults: { bits: 4 },

  validate(params: CompressionParams) {
    validateWeightQuantization(params, 'gptq');
    if (!Number.isInteger(params.blockSize) || params.blockSize < 1) throw new UsageError(`--block-size must be a positive integer, got ${params.blockSize}`);
    if (!Number.isFinite(params.percdamp) || params.percdamp < 0) throw new UsageError(`--percdamp must be a non-negative number, got ${params.percdamp}`);
    if (params.staticGroups && !(params.groupSize > 0)) throw new UsageError('--static-groups needs --group-size G (group grids to compute up front)');
  },

  newStats(site) {
    return new HessianStats(site.linear.inFeatures);
  },

  compressLayer(site, stats: LayerStats | undefined, params) {
    if (!(stats instanceof HessianStats)) throw new CompsafeError(`gptq: layer ${site.layer} ${site.name} has no Hessian statistics (it needs calibration data)`);
    const bits = validateWeightQuantization(params, 'gptq');
    const { weight, outFeatures: rows, inFeatures: cols } = site.linear;
    const hess = preparedFor(stats, params.percdamp, params.actOrder);
    const r = gptqSolve(weight, rows, cols, hess, { ...params, bits });
    return {
      sparsity: fractionZero(weight),
      bits,
      details: {
        loss: r.loss, damp: hess.damp, deadColumns: hess.deadColumns.length, blockSize: r.blockSize, groups: r.groups,
        actOrder: params.actOrder, staticGroups: params.staticGroups,
      },
    };
  },
};
