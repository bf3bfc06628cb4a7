// The layer Hessian of SparseGPT and GPTQ: H = 2/n * sum X^T X over the n calibration rows of a
// linear layer's input (accumulated with a symmetric rank-k update: half a GEMM's work), then
// dampening and the upper Cholesky factor of H^-1 that both solvers use.
import { native } from '../core/native.js';
import { CompsafeError } from '../core/errors.js';
import { LayerStats } from './types.js';

export class HessianStats implements LayerStats {
  private readonly acc: Float32Array;
  /** Whether the lower triangle of `acc` lags the upper one (addBatch updates the upper triangle only). */
  private lowerStale = false;
  rows = 0;

  constructor(readonly columns: number) {
    this.acc = new Float32Array(columns * columns);
  }

  /** Running sum of X^T X (columns x columns), both triangles. */
  get sum(): Float32Array {
    if (this.lowerStale) {
      native.mirrorUpper(this.acc, this.columns);
      this.lowerStale = false;
    }
    return this.acc;
  }

  // input (rows, columns): sum += input^T input, one symmetric rank-k update (half a GEMM) per batch
  addBatch(input: Float32Array, rows: number): void {
    native.syrkUpper(this.acc, input, rows, this.columns, 1);
    this.lowerStale = true;
    this.rows += rows;
  }

  /** H = 2/n * sum (a copy). */
  hessian(): Float32Array {
    if (this.rows === 0) throw new CompsafeError('no calibration rows reached this layer; the Hessian is undefined');
    const H = this.sum.slice(), f = 2 / this.rows;
    for (let i = 0; i < H.length; i++) H[i] *= f;
    return H;
  }
}

export class HessianNotPositiveDefiniteError extends CompsafeError {}

export interface PreparedHessian {
  /** Upper Cholesky factor U of H^-1 (H^-1 = U^T U), row-major (columns x columns). */
  hinvUpper: Float32Array;
  /** Input columns whose Hessian diagonal was zero (never active): their weights are zeroed. */
  deadColumns: number[];
  /** The dampening added to the diagonal. */
  damp: number;
}

/**
 * Prepares H for the OBS solvers as the reference implementations do: dead columns (H_ii = 0) get
 * H_ii = 1 and their weights zeroed by the caller; percdamp * mean(diag H) is added to the diagonal;
 * H^-1 through Cholesky; then the upper Cholesky factor of H^-1. If a factorisation fails the
 * dampening is multiplied by 10 and retried (up to 5 times) before giving up with a clear error.
 */
export function prepareHessian(H: Float32Array, columns: number, percdamp: number): PreparedHessian {
  const n = columns, deadColumns: number[] = [];
  let meanDiag = 0;
  for (let i = 0; i < n; i++) {
    if (H[i * n + i] === 0) { deadColumns.push(i); H[i * n + i] = 1; }
    meanDiag += H[i * n + i];
  }
  meanDiag /= n;
  const lapack: 0 | 1 = native.info().lapack ? 1 : 0;
  let damp = percdamp * meanDiag;
  for (let attempt = 0; attempt < 6; attempt++) {
    const A = H.slice();
    for (let i = 0; i < n; i++) A[i * n + i] += damp;
    if (native.spdInverse(A, n, lapack) === 0 && native.cholesky(A, n, lapack) === 0) {
      // A holds lower L (upper zeroed) with H^-1 = L L^T; the solvers want U = L^T (upper), H^-1 = U^T U.
      const U = new Float32Array(n * n);
      native.transposeSquare(U, A, n);
      return { hinvUpper: U, deadColumns, damp };
    }
    damp = damp > 0 ? damp * 10 : 1e-6 * Math.max(meanDiag, 1e-8);
  }
  throw new HessianNotPositiveDefiniteError(
    `layer Hessian (${n}x${n}) is not positive definite even with dampening ${damp.toExponential(2)}; use more calibration samples or a larger --percdamp`,
  );
}
