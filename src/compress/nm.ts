// Sparsity patterns shared by the pruning methods. N:M semi-structured sparsity: in every group of M
// consecutive inputs of a row, N weights are kept (the contract of types.ts). The reference code names
// 2:4 and 4:8 by the number pruned instead (prunen); at N = M/2 both readings are the same pattern.
// Also: the unstructured target, the achieved fraction of zeros, and the prune-only parameter check.
import { UsageError } from '../core/errors.js';
import { native } from '../core/native.js';
import { CompressionParams, NMPattern } from './types.js';

/** Parses `--pattern`: "unstructured", or "N:M" with 1 <= N < M. */
export function parsePattern(text: string): CompressionParams['pattern'] {
  if (text === 'unstructured') return 'unstructured';
  const m = /^(\d+):(\d+)$/.exec(text.trim());
  if (!m) throw new UsageError(`--pattern must be "unstructured" or N:M (e.g. 2:4, 4:8), got "${text}"`);
  const n = Number(m[1]), mm = Number(m[2]);
  if (!(n >= 1 && n < mm) || mm > 65536) throw new UsageError(`--pattern ${text}: N:M needs 1 <= N < M <= 65536 (N weights kept of every M)`);
  return { n, m: mm };
}

export function formatPattern(p: CompressionParams['pattern']): string {
  return p === 'unstructured' ? p : `${p.n}:${p.m}`;
}

/** Sparsity an N:M pattern implies: 1 - N/M. */
export function nmSparsity(p: NMPattern): number {
  return 1 - p.n / p.m;
}

/** Every linear input width must be a multiple of M. */
export function checkNMDivisible(p: NMPattern, inFeatures: number[]): void {
  const bad = [...new Set(inFeatures)].filter((k) => k % p.m !== 0);
  if (bad.length) {
    throw new UsageError(`--pattern ${p.n}:${p.m}: in-features ${bad.join(', ')} ${bad.length > 1 ? 'are' : 'is'} not divisible by M=${p.m}; choose an M that divides every layer's input width`);
  }
}

/**
 * Zeroes, in each row of weight (rows, cols), the M-N weights of smallest score |w| * colScale[j] in every
 * group of M columns (ties: lower column first). Returns the mask (1 = pruned) when asked.
 */
export function pruneNM(weight: Float32Array, rows: number, cols: number, p: NMPattern, colScale: Float32Array | null = null, wantMask = false): Uint8Array | null {
  const mask = wantMask ? new Uint8Array(rows * cols) : null;
  native.pruneNM(weight, rows, cols, colScale, p.n, p.m, mask);
  return mask;
}

/** Checks that every group of M columns of every row holds at most N non-zeros; returns the first violation or null. */
export function findNMViolation(weight: Float32Array, rows: number, cols: number, p: NMPattern): { row: number; group: number; nonzeros: number } | null {
  if (cols % p.m !== 0) return { row: -1, group: -1, nonzeros: -1 };
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < cols; g += p.m) {
      let nz = 0;
      for (let j = 0; j < p.m; j++) if (weight[r * cols + g + j] !== 0) nz++;
      if (nz > p.n) return { row: r, group: g / p.m, nonzeros: nz };
    }
  }
  return null;
}

/** The fraction of weights a pruning method removes: 1 - N/M for N:M, else params.sparsity (0 when unset). */
export function targetSparsity(params: CompressionParams): number {
  return params.pattern === 'unstructured' ? params.sparsity ?? 0 : nmSparsity(params.pattern);
}

/** Fraction of exact zeros in a weight. */
export function fractionZero(w: Float32Array): number {
  return w.length ? native.countZeros(w, w.length) / w.length : 0;
}

/** Shared checks of the pruning methods that do not quantize: a sparsity or a pattern, and no --bits. */
export function validatePruneOnly(method: string, params: CompressionParams): void {
  if (params.bits !== undefined) {
    throw new UsageError(`--bits is not supported by ${method} (pruning only); use --method sparsegpt --bits B for joint pruning and quantization`);
  }
  if (params.pattern === 'unstructured' && params.sparsity === undefined) throw new UsageError(`${method} needs --sparsity R or an N:M --pattern`);
}
