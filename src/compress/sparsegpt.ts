// SparseGPT (Frantar & Alistarh 2023): OBS reconstruction of each layer's output on the calibration
// inputs, as the reference `SparseGPT.fasterprune` does:
//   H = 2/n X^T X; dead columns (H_jj = 0) -> H_jj = 1 and W[:, j] = 0; H += percdamp * mean(diag H) * I;
//   U = upper Cholesky factor of H^-1.
//   For each block of `blockSize` columns [c0, c2):
//     mask: unstructured - the round(sparsity * rows * count) weights of the block with the smallest
//           w^2 / U_jj^2, chosen at the start of the block (the reference thresholds the flattened block
//           with <= at index int(numel * sparsity), which prunes one more and lets ties prune extra);
//           N:M - every M columns, per row, the M - N smallest of the next M columns of the updated row.
//     column loop (native.obsBlock): q = pruned ? 0 : w, quantized when --bits is set; err = (w - q) / U_jj;
//           the rest of the block -= err * U[j, j+1:c2]  (rank-1 updates).
//     lazy batch update: W[:, c2:] -= Err @ U[c0:c2, c2:]  (one sgemm).
// Joint quantization (--bits) follows the reference's quantizer branch: a per-row grid from the whole
// weight before pruning; with --group-size, GPTQ's group grids (found when the loop reaches a group,
// from the weight as it stands at the start of that block; --static-groups: all up front).
import { native } from '../core/native.js';
import { CompsafeError, UsageError } from '../core/errors.js';
import { HessianStats, PreparedHessian, prepareHessian } from './hessian.js';
import { findGrid } from './quantizer.js';
import { CompressionMethod, CompressionParams, LayerStats } from './types.js';
import { fractionZero, targetSparsity } from './nm.js';

export interface ObsSolveResult {
  /** Sum over rows of the reference's per-row loss, sum_j (w - q)^2 / U_jj^2 / 2. */
  loss: number;
  deadColumns: number;
}

/** Grids (rows, groups) of the quantized columns, filled as the solver reaches each group. */
interface Grids { scale: Float32Array; zero: Float32Array; groups: number; groupSize: number; maxq: number }

function fillGrid(g: Grids, W: Float32Array, rows: number, cols: number, group: number, c0: number, width: number, bits: number, symmetric: boolean): void {
  for (let r = 0; r < rows; r++) {
    const q = findGrid(W, r * cols + c0, width, 1, bits, symmetric);
    g.scale[r * g.groups + group] = q.scale;
    g.zero[r * g.groups + group] = q.zero;
  }
}

/**
 * Prunes (and optionally quantizes) W (rows, cols) in place against a prepared Hessian. Exposed for the
 * benchmark and for tests against a naive OBS.
 */
export function sparseGptSolve(W: Float32Array, rows: number, cols: number, prep: PreparedHessian, params: CompressionParams): ObsSolveResult {
  if (W.length !== rows * cols || prep.hinvUpper.length !== cols * cols) throw new RangeError(`sparsegpt: W is not ${rows}x${cols} or H^-1 is not ${cols}x${cols}`);
  const U = prep.hinvUpper, bs = params.blockSize, sparsity = targetSparsity(params);
  const nm = params.pattern === 'unstructured' ? null : params.pattern;
  let grids: Grids | null = null;
  const bits = params.bits;
  if (bits !== undefined) {
    const G = params.groupSize;
    const groups = G > 0 ? Math.ceil(cols / G) : 1;
    grids = { scale: new Float32Array(rows * groups), zero: new Float32Array(rows * groups), groups, groupSize: G, maxq: 2 ** bits - 1 };
    if (G === 0) fillGrid(grids, W, rows, cols, 0, 0, cols, bits, params.symmetric);  // before dead columns are zeroed, as the reference
  }
  for (const j of prep.deadColumns) for (let r = 0; r < rows; r++) W[r * cols + j] = 0;
  if (grids && grids.groupSize > 0 && params.staticGroups) {
    for (let g = 0; g < grids.groups; g++) fillGrid(grids, W, rows, cols, g, g * grids.groupSize, Math.min(grids.groupSize, cols - g * grids.groupSize), bits!, params.symmetric);
  }
  const err = new Float32Array(rows * Math.min(bs, cols)), losses = new Float64Array(rows);
  const colGroup = new Int32Array(Math.min(bs, cols));
  for (let c0 = 0; c0 < cols; c0 += bs) {
    const count = Math.min(bs, cols - c0), c2 = c0 + count;
    if (grids && grids.groupSize > 0) {
      const G = grids.groupSize;
      if (!params.staticGroups) {
        for (let g0 = Math.ceil(c0 / G) * G; g0 < c2; g0 += G) fillGrid(grids, W, rows, cols, g0 / G, g0, Math.min(G, cols - g0), bits!, params.symmetric);
      }
      for (let j = 0; j < count; j++) colGroup[j] = Math.floor((c0 + j) / G);
    }
    const pruneCount = nm ? 0 : Math.round(sparsity * rows * count);
    native.obsBlock(W, rows, cols, c0, count, U, err, losses, pruneCount, nm ? nm.n : 0, nm ? nm.m : 0,
      grids?.scale ?? null, grids?.zero ?? null, grids?.groups ?? 0, grids ? colGroup : null, grids?.maxq ?? 0);
    if (c2 < cols) {
      // W[:, c2:] -= err (rows, count) @ U[c0:c2, c2:]
      native.sgemm(0, 0, rows, cols - c2, count, -1, err, count, U.subarray(c0 * cols + c2), cols, 1, W.subarray(c2), cols);
    }
  }
  let loss = 0;
  for (const l of losses) loss += l;
  return { loss, deadColumns: prep.deadColumns.length };
}

// Sites fed the same input (q/k/v, gate/up) share one HessianStats; its H^-1 factor is computed once.
const prepared = new WeakMap<HessianStats, { percdamp: number; prep: PreparedHessian }>();

function preparedFor(stats: HessianStats, percdamp: number): PreparedHessian {
  const hit = prepared.get(stats);
  if (hit && hit.percdamp === percdamp) return hit.prep;
  const prep = prepareHessian(stats.hessian(), stats.columns, percdamp);
  prepared.set(stats, { percdamp, prep });
  return prep;
}

export const sparsegpt: CompressionMethod = {
  id: 'sparsegpt',
  kind: 'prune',
  needsCalibration: true,
  statsPerInput: true,

  validate(params) {
    if (params.pattern === 'unstructured' && params.sparsity === undefined && params.bits === undefined) {
      throw new UsageError('sparsegpt needs --sparsity R, an N:M --pattern, or --bits B');
    }
    if (params.actOrder) throw new UsageError('--act-order is not supported by sparsegpt (its masks follow the column order); use --method gptq for act-order quantization');
    if (params.staticGroups && !(params.bits !== undefined && params.groupSize > 0)) throw new UsageError('--static-groups needs --bits B and --group-size G');
    if (!Number.isInteger(params.blockSize) || params.blockSize < 1) throw new UsageError(`--block-size must be a positive integer, got ${params.blockSize}`);
    if (params.pattern !== 'unstructured' && params.blockSize % params.pattern.m !== 0) {
      throw new UsageError(`--block-size ${params.blockSize} is not a multiple of M=${params.pattern.m}; N:M groups must not straddle blocks`);
    }
  },

  newStats(site) {
    return new HessianStats(site.linear.inFeatures);
  },

  compressLayer(site, stats: LayerStats | undefined, params) {
    if (!(stats instanceof HessianStats)) throw new CompsafeError(`sparsegpt: layer ${site.layer} ${site.name} has no Hessian statistics`);
    const { weight, outFeatures: rows, inFeatures: cols } = site.linear;
    const prep = preparedFor(stats, params.percdamp);
    const r = sparseGptSolve(weight, rows, cols, prep, params);
    return {
      sparsity: fractionZero(weight),
      ...(params.bits !== undefined ? { bits: params.bits } : {}),
      details: { loss: r.loss, deadColumns: r.deadColumns, damp: prep.damp },
    };
  },
};
