// Typed access to the native addon (native/src/addon.c). Every function validates its arguments in C
// and throws a RangeError/TypeError naming the argument; none of them allocates JS objects.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';

export interface NativeInfo {
  blas: 'openblas' | 'accelerate' | 'fallback';
  lapack: boolean;
  threads: number;
  openmp: boolean;
}

export interface NativeAddon {
  /** C[M,N] = alpha * op(A) @ op(B) + beta * C, row-major; op(X) = X^T when trans is 1. */
  sgemm(transA: 0 | 1, transB: 0 | 1, M: number, N: number, K: number, alpha: number, A: Float32Array, lda: number,
    B: Float32Array, ldb: number, beta: number, C: Float32Array, ldc: number, forceFallback?: 0 | 1): void;
  /** In place: A (n,n) -> lower L with A = L L^T. Returns 0 or k>0 (minor k not positive definite). */
  cholesky(A: Float32Array, n: number, useLapack: 0 | 1): number;
  /** In place inverse of symmetric positive-definite A (n,n). Returns as cholesky. */
  spdInverse(A: Float32Array, n: number, useLapack: 0 | 1): number;
  rmsnorm(out: Float32Array, x: Float32Array, w: Float32Array, rows: number, dim: number, eps: number): void;
  rmsnormBackward(dx: Float32Array, dw: Float32Array | null, dout: Float32Array, x: Float32Array, w: Float32Array,
    rows: number, dim: number, eps: number): void;
  layernorm(out: Float32Array, x: Float32Array, w: Float32Array, b: Float32Array | null, rows: number, dim: number, eps: number): void;
  /** Rotate-half RoPE in place; x (rows, nHeads*headDim), pos (rows), invFreq (headDim/2). */
  rope(x: Float32Array, pos: Int32Array, invFreq: Float32Array, rows: number, nHeads: number, headDim: number): void;
  silu(out: Float32Array, x: Float32Array, n: number): void;
  gelu(out: Float32Array, x: Float32Array, n: number, tanhApprox?: 0 | 1): void;
  /** out = silu(gate) * up */
  swiglu(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void;
  swigluBackward(dgate: Float32Array, dup: Float32Array, dout: Float32Array, gate: Float32Array, up: Float32Array, n: number): void;
  add(out: Float32Array, a: Float32Array, b: Float32Array, n: number): void;
  addBias(x: Float32Array, b: Float32Array, rows: number, dim: number): void;
  /** sum a[i]*b[i] over n elements (double accumulation across chunks). */
  dot(a: Float32Array, b: Float32Array, n: number): number;
  embedding(out: Float32Array, table: Float32Array, ids: Int32Array, n: number, dim: number, vocab: number): void;
  f16ToF32(out: Float32Array, input: Uint16Array): void;
  bf16ToF32(out: Float32Array, input: Uint16Array): void;
  f32ToF16(out: Uint16Array, input: Float32Array): void;
  f32ToBf16(out: Uint16Array, input: Float32Array): void;
  /** Causal GQA attention of one sequence; k/v hold rows 0..start+qRows-1 with row stride kvStride.
   *  window > 0 limits each query to the last `window` keys (sliding-window attention). */
  attention(out: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, qRows: number, start: number,
    nHeads: number, nKvHeads: number, headDim: number, kvStride: number, scale: number, window?: number): void;
  /** nll[r] = logsumexp(logits[r]) - logits[r][targets[r]]; greedy[r] = target is the (first) argmax. */
  nll(out: Float64Array, greedy: Uint8Array | null, logits: Float32Array, targets: Int32Array, rows: number, vocab: number): void;
  logSoftmax(out: Float32Array, logits: Float32Array, rows: number, vocab: number): void;
  setThreads(n: number): void;
  info(): NativeInfo;

  // ---- quantization kernels (native/src/quant_addon.c, quant.c) ----
  // Grids follow compress/quantizer.ts exactly (float32 arithmetic, round half to even). A group is
  // groupSize consecutive inputs of a row (0 = the whole row; the last group of a row may be shorter);
  // grids and per-group values are laid out (rows, groups).
  /** out (rows, cols) = per group: v = clamp(w * colScale, -clip, clip); grid of v; out = Q(v) / colScale, minus w when
   *  residual is 1 (the quantization error). colScale (cols) and clip (rows*groups) are optional; scaleOut/zeroOut
   *  (rows*groups) get the grids. out may be w. */
  quantizeGroups(out: Float32Array, w: Float32Array, rows: number, cols: number, groupSize: number, bits: number, symmetric: 0 | 1,
    colScale: Float32Array | null, clip: Float32Array | null, scaleOut: Float32Array | null, zeroOut: Float32Array | null, residual?: 0 | 1): void;
  /** GPTQ column loop over block [i1, i2) of w (rows, cols) in place (quantized values); err (rows, i2-i1) = (w - q) / U_jj for
   *  the caller's trailing update; groupOf null: a group's grid is found from the current weights when the loop reaches it
   *  (blocks must hold whole groups) and stored in scale/zero; else read from scale/zero[r*nGroups + groupOf[j]].
   *  Returns sum (w - q)^2 / U_jj^2 / 2. */
  gptqBlock(w: Float32Array, rows: number, cols: number, i1: number, i2: number, hinvUpper: Float32Array, err: Float32Array,
    scale: Float32Array, zero: Float32Array, nGroups: number, groupSize: number, groupOf: Int32Array | null, bits: number, symmetric: 0 | 1): number;
  /** AWQ clip search: bestMax (rows*groups) = the clipping max of least d^T G_k d over m0 * (1 - i/nGrid), i < steps,
   *  with d = (Q(clamp(w*s)) - w*s) / s and gram (groups, g, g) the per-group Gram matrices of the inputs (g = group length). */
  awqClipSearch(bestMax: Float32Array, w: Float32Array, s: Float32Array, gram: Float32Array, rows: number, cols: number,
    groupSize: number, bits: number, symmetric: 0 | 1, nGrid: number, steps: number): void;
  /** sums (cols) += sum over rows of |x| (double accumulation). */
  colAbsSum(sums: Float64Array, x: Float32Array, rows: number, cols: number): void;
  /** mask (cols) = 1 where any |x| > threshold (threshold <= 0: none). Returns the count. */
  int8OutlierColumns(mask: Uint8Array, x: Float32Array, rows: number, cols: number, threshold: number): number;
  /** Row-wise absmax int8: scale[r] = max |x[r, unmasked]| / 127, q = rint(x * 127 / max), 0 in masked columns. */
  int8QuantizeRows(q: Int8Array, scale: Float32Array, x: Float32Array, rows: number, cols: number, mask: Uint8Array | null): void;
  /** out (rows, n) = (int32 sum of xq (rows,k) . wq (n,k)) * xScale[r] * wScale[o]; k <= 133144. */
  int8Gemm(out: Float32Array, xq: Int8Array, xScale: Float32Array, wq: Int8Array, wScale: Float32Array, rows: number, n: number, k: number): void;
  /** out (rows, cols) = q * scale[r]. */
  int8Dequantize(out: Float32Array, q: Int8Array, scale: Float32Array, rows: number, cols: number): void;
  /** LLM.int8() linear: out (rows, n) = int8 product over non-outlier columns + float32 x[:, O] wFp[:, O]^T + bias.
   *  Returns the number of outlier columns; maskOut (k) gets them. */
  int8Linear(out: Float32Array, x: Float32Array, rows: number, wq: Int8Array, wScale: Float32Array, wFp: Float32Array,
    bias: Float32Array | null, n: number, k: number, threshold: number, maskOut: Uint8Array | null): number;
  // ---- end of quantization kernels ----

  // ---- compression kernels (native/src/compress_addon.c) ----
  // Selection order everywhere: ascending score, ties broken by the lower index; a NaN score sorts last.
  /** weight (rows, cols): in each row, zero the k weights of smallest |w| * colScale[j] (colScale null: |w|);
   *  mask (rows*cols) gets 1 where pruned, 0 elsewhere, when given. */
  pruneSmallest(weight: Float32Array, rows: number, cols: number, colScale: Float32Array | null, k: number, mask: Uint8Array | null): void;
  /** N:M: in each row, within every group of m consecutive columns, zero the m - keepN of smallest score (as pruneSmallest). */
  pruneNM(weight: Float32Array, rows: number, cols: number, colScale: Float32Array | null, keepN: number, m: number, mask: Uint8Array | null): void;
  /** out (cols) += column sums of x^2 over x (rows, cols), accumulated in double. */
  colSumSquares(out: Float64Array, x: Float32Array, rows: number, cols: number): void;
  /**
   * The column loop of one OBS block (SparseGPT; GPTQ with pruneCount 0 and m 0). W (rows, cols): columns
   * [c0, c0+count) are replaced by their final values q; U (cols, cols) is the upper Cholesky factor of H^-1;
   * err (rows, count) receives (w - q) / U[j][j] for the caller's trailing update W[:, c0+count:] -= err @ U[c0:c0+count, c0+count:];
   * losses (rows) += (w - q)^2 / U[j][j]^2 / 2. Pruning: pruneCount > 0 prunes that many weights of the block with the
   * smallest w^2 / U[j][j]^2 (chosen at block start); m > 0 keeps keepN of every m columns per row (chosen every m columns
   * from the updated row). Quantization when maxq > 0: grid (scale, zero)[r * groups + colGroup[j]], round half to even.
   */
  obsBlock(W: Float32Array, rows: number, cols: number, c0: number, count: number, U: Float32Array, err: Float32Array,
    losses: Float64Array, pruneCount: number, keepN: number, m: number, scale: Float32Array | null, zero: Float32Array | null,
    groups: number, colGroup: Int32Array | null, maxq: number): void;
  /** Number of exact zeros (+0 and -0) among x[0..n). */
  countZeros(x: Float32Array, n: number): number;
  /** C (n, n): upper triangle += alpha * X^T X for X (rows, n) (BLAS ssyrk; without BLAS a full GEMM). The strict lower triangle is not defined. */
  syrkUpper(C: Float32Array, X: Float32Array, rows: number, n: number, alpha: number): void;
  /** out (n, n) = in^T (tiled). */
  transposeSquare(out: Float32Array, input: Float32Array, n: number): void;
  /** A (n, n): strict lower triangle = transpose of the strict upper triangle. */
  mirrorUpper(A: Float32Array, n: number): void;
  // ---- end of compression kernels ----

  // ---- encoder kernels (native/src/encoder_addon.c, encoder.c) ----
  /** Bidirectional attention over packed sequences: sequence s is rows seqStarts[s] .. seqStarts[s+1]-1 (seqStarts
   *  (nSeqs+1), from 0 to rows); each query sees every key of its own sequence and none of the others. q, k, v
   *  (rows, >= nHeads*headDim) with row stride `stride` (subarrays of one fused QKV buffer: stride 3*hidden); out (rows, nHeads*headDim). */
  encoderAttention(out: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, rows: number, seqStarts: Int32Array,
    nSeqs: number, nHeads: number, headDim: number, stride: number, scale: number): void;
  /** x[0..n) = tanh(x), in place. */
  tanhInPlace(x: Float32Array, n: number): void;
  // ---- end of encoder kernels ----
}

function locate(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // dist/src/core -> repo root is three levels up; src/core (ts-node style) two.
  for (const up of ['../../..', '../..']) {
    for (const kind of ['Release', 'Debug']) {
      const p = path.resolve(here, up, 'build', kind, 'compsafe_native.node');
      if (fs.existsSync(p)) return p;
    }
  }
  throw new Error('compsafe native addon is not built: run `npm ci` (or `npm run install`) in the package folder');
}

// OpenMP threads must not spin between element-wise kernels: they would compete with OpenBLAS's own
// threads for the same cores (measured: prefill 105 -> 148 GFLOP/s on 2 cores). libgomp reads this
// when the addon loads, so it is set before the require; a user's explicit setting wins.
process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
const require = createRequire(import.meta.url);
export const native: NativeAddon = require(locate()) as NativeAddon;

let threadsApplied = false;
/** Applies --threads / COMPSAFE_THREADS once (explicit value wins). */
export function configureThreads(explicit?: number): void {
  const fromEnv = process.env.COMPSAFE_THREADS ? Number(process.env.COMPSAFE_THREADS) : undefined;
  const n = explicit ?? fromEnv;
  if (n !== undefined) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`threads must be a positive integer, got ${n}`);
    native.setThreads(n);
  }
  threadsApplied = true;
}
export function threadsConfigured(): boolean {
  return threadsApplied;
}
