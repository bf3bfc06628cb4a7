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
