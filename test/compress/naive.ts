// Naive reference implementations of the pruning methods, written from their definitions in double
// precision, for the tests to compare the native-backed implementations against. No code shared with
// src/compress beyond the definitions.

/** Indices 0..n-1 sorted by (score ascending, index ascending). */
export function orderByScore(scores: ArrayLike<number>): number[] {
  return Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a] - scores[b] || a - b);
}

/** Magnitude, unstructured: the round(s * numel) smallest |w| of the layer (ties: lower flat index). */
export function naiveMagnitude(W: Float32Array, sparsity: number): Float32Array {
  const out = W.slice();
  const order = orderByScore(Array.from(W, Math.abs));
  const k = Math.round(sparsity * W.length);
  for (let i = 0; i < k; i++) out[order[i]] = 0;
  return out;
}

/** Column l2 norms of X (rows, cols), double. */
export function columnNorms(X: Float32Array, rows: number, cols: number): Float64Array {
  const n = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) n[j] += X[r * cols + j] ** 2;
  return n.map(Math.sqrt);
}

/** Wanda: per output row, prune the round(s * in) smallest |W_ij| * ||X_j|| (score rounded to float32 as the engine scores). */
export function naiveWanda(W: Float32Array, rows: number, cols: number, norms: Float64Array, sparsity: number): Float32Array {
  const out = W.slice();
  const k = Math.round(sparsity * cols);
  for (let r = 0; r < rows; r++) {
    const scores = Array.from({ length: cols }, (_, j) => Math.fround(Math.abs(W[r * cols + j]) * Math.fround(norms[j])));
    const order = orderByScore(scores);
    for (let i = 0; i < k; i++) out[r * cols + order[i]] = 0;
  }
  return out;
}

/** N:M with a score per weight: in every group of m of a row keep the n largest (prune the m - n smallest, ties lower first). */
export function naiveNM(W: Float32Array, rows: number, cols: number, n: number, m: number, score: (r: number, j: number) => number): Float32Array {
  const out = W.slice();
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < cols; g += m) {
      const order = orderByScore(Array.from({ length: m }, (_, t) => score(r, g + t)));
      for (let t = 0; t < m - n; t++) out[r * cols + g + order[t]] = 0;
    }
  }
  return out;
}

/** Inverse of a symmetric positive-definite n x n matrix by Gauss-Jordan elimination with partial pivoting. */
export function invert(A: Float64Array, n: number): Float64Array {
  const a = A.slice(), inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r * n + c]) > Math.abs(a[p * n + c])) p = r;
    if (p !== c) for (let j = 0; j < n; j++) {
      [a[c * n + j], a[p * n + j]] = [a[p * n + j], a[c * n + j]];
      [inv[c * n + j], inv[p * n + j]] = [inv[p * n + j], inv[c * n + j]];
    }
    const d = a[c * n + c];
    for (let j = 0; j < n; j++) { a[c * n + j] /= d; inv[c * n + j] /= d; }
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r * n + c];
      if (f === 0) continue;
      for (let j = 0; j < n; j++) { a[r * n + j] -= f * a[c * n + j]; inv[r * n + j] -= f * inv[c * n + j]; }
    }
  }
  return inv;
}

const roundHalfEven = (x: number): number => {
  const f = Math.floor(x), d = x - f;
  return d < 0.5 ? f : d > 0.5 ? f + 1 : (f % 2 === 0 ? f : f + 1);
};

/** The grid of compress/quantizer.ts written out: range including 0 (symmetric: [-m, m]), float32 scale, half-even zero point. */
export function naiveGrid(values: number[], bits: number, sym: boolean): { scale: number; zero: number; maxq: number } {
  const f32 = Math.fround, maxq = 2 ** bits - 1;
  let lo = f32(Math.min(0, ...values)), hi = f32(Math.max(0, ...values));
  if (sym) { const m = Math.max(-lo, hi); lo = -m; hi = m; }
  if (lo === 0 && hi === 0) { lo = -1; hi = 1; }
  const scale = f32(f32(hi - lo) / maxq);
  return { scale, zero: sym ? (maxq + 1) / 2 : roundHalfEven(f32(-lo / scale)), maxq };
}

/** Quantize as torch does in float32: x / scale rounded to float32, then half to even (a symmetric grid puts +-m exactly on a .5). */
export function naiveQuantize(x: number, g: { scale: number; zero: number; maxq: number }): number {
  const q = Math.min(Math.max(roundHalfEven(Math.fround(Math.fround(x) / g.scale)) + g.zero, 0), g.maxq);
  return g.scale * (q - g.zero);
}

export interface NaiveObsOptions {
  sparsity?: number;
  nm?: { n: number; m: number };
  bits?: number;
  symmetric?: boolean;
  groupSize?: number;
  staticGroups?: boolean;
  blockSize: number;
  percdamp: number;
}

/**
 * Dense sequential OBS (no Cholesky, no lazy updates): column i is fixed to q and every later column of
 * the row absorbs the error through the exact inverse of H restricted to columns >= i:
 *   Hi = inv(H[i:, i:]); W[:, j] -= (w_i - q_i) / Hi[0][0] * Hi[0][j - i]   (j > i).
 * Masks as SparseGPT defines them: saliency w^2 / Hi_jj[0][0]; unstructured - the round(s * rows * count)
 * smallest of each block of columns at the block's start (ties: row-major order); N:M - every M columns
 * from the current row. Quantization grids: per row from the weight before pruning, or per group of
 * columns from the weight as it stands at the start of the block where the group begins (static groups:
 * from the weight before any column is solved, dead columns zeroed).
 */
export function naiveObs(W0: Float32Array, rows: number, cols: number, H0: Float32Array, o: NaiveObsOptions): { W: Float64Array; loss: number } {
  const W = Float64Array.from(W0), H = Float64Array.from(H0);
  const G = o.groupSize ?? 0;
  let grids: { scale: number; zero: number; maxq: number }[][] = [];  // [row][group]
  if (o.bits !== undefined && G === 0) {
    grids = Array.from({ length: rows }, (_, r) => [naiveGrid(Array.from(W.subarray(r * cols, (r + 1) * cols)), o.bits!, o.symmetric ?? false)]);
  } else if (o.bits !== undefined) grids = Array.from({ length: rows }, () => []);
  let mean = 0;
  for (let j = 0; j < cols; j++) {
    if (H[j * cols + j] === 0) { H[j * cols + j] = 1; for (let r = 0; r < rows; r++) W[r * cols + j] = 0; }
    mean += H[j * cols + j] / cols;
  }
  for (let j = 0; j < cols; j++) H[j * cols + j] += o.percdamp * mean;
  if (o.bits !== undefined && G > 0 && o.staticGroups) {
    for (let r = 0; r < rows; r++) for (let g0 = 0; g0 < cols; g0 += G) grids[r][g0 / G] = naiveGrid(Array.from(W.subarray(r * cols + g0, r * cols + g0 + G)), o.bits, o.symmetric ?? false);
  }
  // Hinv row 0 of H[j:, j:] for every j.
  const hrow: Float64Array[] = [];
  for (let j = 0; j < cols; j++) {
    const n = cols - j, sub = new Float64Array(n * n);
    for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) sub[a * n + b] = H[(j + a) * cols + j + b];
    hrow.push(invert(sub, n).subarray(0, n));
  }
  const pruned = new Uint8Array(rows * cols);
  let loss = 0;
  for (let c0 = 0; c0 < cols; c0 += o.blockSize) {
    const c2 = Math.min(cols, c0 + o.blockSize), count = c2 - c0;
    const atStart = W.slice();
    if (o.bits !== undefined && G > 0 && !o.staticGroups) {
      for (let g0 = Math.ceil(c0 / G) * G; g0 < c2; g0 += G) {
        for (let r = 0; r < rows; r++) grids[r][g0 / G] = naiveGrid(Array.from(atStart.subarray(r * cols + g0, r * cols + g0 + G)), o.bits, o.symmetric ?? false);
      }
    }
    if (!o.nm && (o.sparsity ?? 0) > 0) {
      const scores: number[] = [];
      for (let r = 0; r < rows; r++) for (let j = c0; j < c2; j++) scores.push(W[r * cols + j] ** 2 / hrow[j][0]);
      const order = orderByScore(scores), k = Math.round(o.sparsity! * rows * count);
      for (let t = 0; t < k; t++) pruned[Math.floor(order[t] / count) * cols + c0 + (order[t] % count)] = 1;
    }
    for (let i = c0; i < c2; i++) {
      const h = hrow[i], d = h[0];
      for (let r = 0; r < rows; r++) {
        if (o.nm && (i - c0) % o.nm.m === 0) {
          const order = orderByScore(Array.from({ length: o.nm.m }, (_, t) => W[r * cols + i + t] ** 2 / hrow[i + t][0]));
          for (let t = 0; t < o.nm.m - o.nm.n; t++) pruned[r * cols + i + order[t]] = 1;
        }
        const w = W[r * cols + i];
        let q = pruned[r * cols + i] ? 0 : w;
        if (o.bits !== undefined) q = naiveQuantize(q, grids[r][G > 0 ? Math.floor(i / G) : 0]);
        const e = (w - q) / d;
        loss += (w - q) ** 2 / d / 2;
        for (let j = i + 1; j < cols; j++) W[r * cols + j] -= e * h[j - i];
        W[r * cols + i] = q;
      }
    }
  }
  return { W, loss };
}
