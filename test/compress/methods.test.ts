// Each pruning method against a naive implementation of its own definition, on small random layers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native } from '../../src/core/native.js';
import { DenseLinear, LinearSite } from '../../src/model/linear.js';
import { magnitude } from '../../src/compress/magnitude.js';
import { wanda, ColumnNormStats } from '../../src/compress/wanda.js';
import { sparsegpt, sparseGptSolve } from '../../src/compress/sparsegpt.js';
import { HessianStats, prepareHessian } from '../../src/compress/hessian.js';
import { findNMViolation, parsePattern, pruneNM } from '../../src/compress/nm.js';
import { CompressionParams } from '../../src/compress/types.js';
import { UsageError } from '../../src/core/errors.js';
import { randomArray, rng } from '../helpers/fixtures.js';
import { columnNorms, invert, naiveMagnitude, naiveNM, naiveObs, naiveWanda } from './naive.js';

function params(o: Partial<CompressionParams> = {}): CompressionParams {
  return {
    method: 'test', pattern: 'unstructured', groupSize: 0, symmetric: false, actOrder: false, staticGroups: false, percdamp: 0.01,
    blockSize: 128, threshold: 6, awqClip: true, awqGrid: 20, seed: 0, ...o,
  };
}

function site(W: Float32Array, out: number, inp: number): LinearSite {
  return { layer: 0, name: 'mlp.up_proj', linear: new DenseLinear(W, null, out, inp) };
}

/** Non-zero halves in [-1.5, 1.5]: many exact ties, so tie-breaking is exercised. */
function tiedWeights(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => {
    const v = Math.floor(r() * 6) - 3;
    return (v >= 0 ? v + 1 : v) / 2;
  });
}

test('N:M patterns: parsing, errors, and the validator', () => {
  assert.deepEqual(parsePattern('2:4'), { n: 2, m: 4 });
  assert.deepEqual(parsePattern('4:8'), { n: 4, m: 8 });
  assert.equal(parsePattern('unstructured'), 'unstructured');
  for (const bad of ['4:4', '5:4', '0:4', '2-4', 'x', '2:']) assert.throws(() => parsePattern(bad), UsageError, bad);
  const W = new Float32Array([1, 0, 0, 2, 0, 3, 4, 0]);
  assert.equal(findNMViolation(W, 2, 4, { n: 2, m: 4 }), null);
  assert.equal(findNMViolation(W, 1, 8, { n: 2, m: 4 }), null);
  assert.deepEqual(findNMViolation(W, 2, 4, { n: 1, m: 4 }), { row: 0, group: 0, nonzeros: 2 });
  assert.deepEqual(findNMViolation(new Float32Array([1, 1, 1, 0]), 1, 4, { n: 2, m: 4 }), { row: 0, group: 0, nonzeros: 3 });
});

test('native selection kernels match a naive sort, ties broken by the lower index', () => {
  for (const [rows, cols, k] of [[1, 1, 0], [1, 1, 1], [3, 17, 5], [4, 64, 32], [1, 1000, 333], [7, 50, 50]]) {
    const W = tiedWeights(rows * cols, rows * 100 + cols);
    const scale = Float32Array.from({ length: cols }, (_, j) => 1 + (j % 3));
    const got = W.slice(), mask = new Uint8Array(rows * cols);
    native.pruneSmallest(got, rows, cols, scale, k, mask);
    const want = naiveWanda(W, rows, cols, Float64Array.from(scale), k / cols);
    assert.deepEqual([...got], [...want], `${rows}x${cols} k=${k}`);
    let masked = 0;
    for (let i = 0; i < W.length; i++) {
      masked += mask[i];
      if (mask[i]) assert.equal(got[i], 0);
      else assert.equal(got[i], W[i]);
    }
    assert.equal(masked, rows * k);
  }
  const W = tiedWeights(6 * 16, 9), nm = W.slice();
  pruneNM(nm, 6, 16, { n: 1, m: 4 });
  assert.deepEqual([...nm], [...naiveNM(W, 6, 16, 1, 4, (r, j) => Math.abs(W[r * 16 + j]))]);
  assert.throws(() => native.pruneNM(W.slice(), 6, 16, null, 4, 4, null), /keepN=4 must be smaller than m=4/);
  assert.throws(() => native.pruneNM(W.slice(), 6, 16, null, 2, 3, null), /not a multiple of m=3/);
  assert.throws(() => native.pruneSmallest(W.slice(), 6, 16, null, 17, null), /k=17 exceeds the row length 16/);
  assert.throws(() => native.pruneSmallest(W.slice(), 7, 16, null, 1, null), /'weight' has 96 elements, needs at least 112/);
  assert.throws(() => native.pruneSmallest(W.slice(), 6, 16, new Float32Array(3), 1, null), /'colScale' has 3 elements/);
});

test('colSumSquares accumulates column sums of squares in double', () => {
  const X = randomArray(37 * 70, 4, 3), out = new Float64Array(70);
  native.colSumSquares(out, X, 20, 70);
  native.colSumSquares(out, X.subarray(20 * 70), 17, 70);
  const want = columnNorms(X, 37, 70).map((x) => x * x);
  for (let j = 0; j < 70; j++) assert.ok(Math.abs(out[j] - want[j]) < 1e-9 * want[j], `column ${j}`);
});

test('HessianStats sums X^T X over batches (both triangles); prepareHessian gives U with U^T U = (H + damp I)^-1', () => {
  const n = 45, X = randomArray(70 * n, 41);
  const stats = new HessianStats(n);
  stats.addBatch(X.subarray(0, 30 * n), 30);
  assert.equal(stats.sum[1 * n + 0], stats.sum[0 * n + 1], 'mirrored before reading');
  stats.addBatch(X.subarray(30 * n), 40);
  const want = new Float64Array(n * n);
  for (let r = 0; r < 70; r++) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) want[i * n + j] += X[r * n + i] * X[r * n + j];
  for (let i = 0; i < n * n; i++) assert.ok(Math.abs(stats.sum[i] - want[i]) < 1e-4 * (1 + Math.abs(want[i])), `sum[${i}]`);
  const H = stats.hessian();
  for (let i = 0; i < n * n; i++) assert.ok(Math.abs(H[i] - want[i] * 2 / 70) < 1e-5 * (1 + Math.abs(want[i])));
  const prep = prepareHessian(H.slice(), n, 0.01);
  const damped = Float64Array.from(H);
  let mean = 0;
  for (let i = 0; i < n; i++) mean += H[i * n + i] / n;
  for (let i = 0; i < n; i++) damped[i * n + i] += 0.01 * mean;
  const inv = invert(damped, n), U = prep.hinvUpper;
  let worst = 0, scale = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    if (i > j) assert.equal(U[i * n + j], 0, 'upper triangular');
    let s = 0;
    for (let k = 0; k < n; k++) s += U[k * n + i] * U[k * n + j];
    worst = Math.max(worst, Math.abs(s - inv[i * n + j]));
    scale = Math.max(scale, Math.abs(inv[i * n + j]));
  }
  assert.ok(worst < 1e-4 * scale, `U^T U vs inverse: ${worst / scale}`);
  const A = randomArray(37 * 37, 42), T = new Float32Array(37 * 37);
  native.transposeSquare(T, A, 37);
  for (let i = 0; i < 37; i++) for (let j = 0; j < 37; j++) assert.equal(T[j * 37 + i], A[i * 37 + j]);
  native.mirrorUpper(A, 37);
  for (let i = 0; i < 37; i++) for (let j = 0; j < 37; j++) assert.equal(A[i * 37 + j], A[j * 37 + i]);
  assert.throws(() => native.syrkUpper(new Float32Array(10), X, 70, n, 1), /'C' has 10 elements/);
});

test('magnitude: exactly round(s * numel) zeros per layer, the smallest |W|, ties by index; N:M groups valid', () => {
  for (const s of [0.5, 0.3, 0.9, 0]) {
    const W = tiedWeights(24 * 40, 3);
    const L = site(W.slice(), 24, 40);
    const r = magnitude.compressLayer(L, undefined, params({ sparsity: s }));
    assert.deepEqual([...L.linear.weight], [...naiveMagnitude(W, s)], `sparsity ${s}`);
    assert.equal(r.sparsity, Math.round(s * W.length) / W.length);
  }
  const W = randomArray(24 * 40, 5);
  for (const p of [{ n: 2, m: 4 }, { n: 4, m: 8 }, { n: 3, m: 8 }]) {
    const L = site(W.slice(), 24, 40);
    magnitude.compressLayer(L, undefined, params({ pattern: p }));
    assert.equal(findNMViolation(L.linear.weight, 24, 40, p), null);
    assert.deepEqual([...L.linear.weight], [...naiveNM(W, 24, 40, p.n, p.m, (r, j) => Math.abs(W[r * 40 + j]))]);
  }
});

test('wanda: |W| * ||X_j|| per output row, exactly round(s * in) per row; N:M within groups', () => {
  const out = 12, inp = 48, n = 30;
  const X = randomArray(n * inp, 11);
  for (let r = 0; r < n; r++) for (let j = 0; j < inp; j++) X[r * inp + j] *= 1 + 4 * (j % 5 === 0 ? 1 : 0);  // outlier features
  const norms = columnNorms(X, n, inp);
  for (const W of [randomArray(out * inp, 12), tiedWeights(out * inp, 13)]) {
    for (const s of [0.5, 0.25, 0.75]) {
      const L = site(W.slice(), out, inp);
      const stats = wanda.newStats!(L, params()) as ColumnNormStats;
      stats.addBatch(X.subarray(0, 10 * inp), 10);
      stats.addBatch(X.subarray(10 * inp), n - 10);
      wanda.compressLayer(L, stats, params({ sparsity: s }));
      assert.deepEqual([...L.linear.weight], [...naiveWanda(W, out, inp, norms, s)], `sparsity ${s}`);
      for (let r = 0; r < out; r++) {
        let zeros = 0;
        for (let j = 0; j < inp; j++) if (L.linear.weight[r * inp + j] === 0) zeros++;
        assert.equal(zeros, Math.round(s * inp), `row ${r}`);
      }
    }
    const L = site(W.slice(), out, inp);
    const stats = wanda.newStats!(L, params()) as ColumnNormStats;
    stats.addBatch(X, n);
    wanda.compressLayer(L, stats, params({ pattern: { n: 2, m: 4 } }));
    assert.equal(findNMViolation(L.linear.weight, out, inp, { n: 2, m: 4 }), null);
    const score = (r: number, j: number): number => Math.fround(Math.abs(W[r * inp + j]) * Math.fround(norms[j]));
    assert.deepEqual([...L.linear.weight], [...naiveNM(W, out, inp, 2, 4, score)]);
  }
});

/** A Hessian 2/n X^T X of correlated inputs with one dead (never active) column. */
function hessianOf(rows: number, cols: number, seed: number, dead = 5): { H: Float32Array; stats: HessianStats } {
  const base = randomArray(rows * cols, seed);
  const X = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) {
    X[r * cols + j] = j === dead ? 0 : base[r * cols + j] + 0.5 * base[r * cols + ((j * 7 + 3) % cols)] * (1 + (j % 4));
  }
  const stats = new HessianStats(cols);
  stats.addBatch(X, rows);
  return { H: stats.hessian(), stats };
}

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0, scale = 0;
  for (let i = 0; i < a.length; i++) { m = Math.max(m, Math.abs(a[i] - b[i])); scale = Math.max(scale, Math.abs(b[i])); }
  return m / scale;
}

test('sparsegpt: blocked Cholesky solver equals a naive dense sequential OBS (masks, updated weights, loss)', () => {
  const rows = 16, cols = 32;
  const { H } = hessianOf(64, cols, 21);
  const cases: { name: string; p: Partial<CompressionParams> }[] = [
    { name: 'unstructured 50%', p: { sparsity: 0.5 } },
    { name: 'unstructured 30%', p: { sparsity: 0.3 } },
    { name: '2:4', p: { pattern: { n: 2, m: 4 }, sparsity: 0.5 } },
    { name: '1:4', p: { pattern: { n: 1, m: 4 }, sparsity: 0.75 } },
    { name: '50% + 4-bit per channel', p: { sparsity: 0.5, bits: 4 } },
    // (asymmetric: a symmetric grid puts the row's extreme exactly on a .5 step, where float noise decides the side)
    { name: '2:4 + 3-bit groups of 8', p: { pattern: { n: 2, m: 4 }, sparsity: 0.5, bits: 3, groupSize: 8 } },
    { name: '50% + 3-bit static groups of 16', p: { sparsity: 0.5, bits: 3, groupSize: 16, staticGroups: true } },
    { name: '4-bit only, groups of 16 (GPTQ loop)', p: { sparsity: 0, bits: 4, groupSize: 16 } },
  ];
  for (const { name, p } of cases) {
    const W0 = randomArray(rows * cols, 22);
    const full = params({ ...p, blockSize: 8 });
    const W = W0.slice();
    const prep = prepareHessian(H.slice(), cols, full.percdamp);
    const r = sparseGptSolve(W, rows, cols, prep, full);
    const want = naiveObs(W0, rows, cols, H, {
      sparsity: full.pattern === 'unstructured' ? full.sparsity : undefined, nm: full.pattern === 'unstructured' ? undefined : full.pattern,
      bits: full.bits, symmetric: full.symmetric, groupSize: full.groupSize, staticGroups: full.staticGroups, blockSize: 8, percdamp: full.percdamp,
    });
    for (let i = 0; i < W.length; i++) assert.equal(W[i] === 0, want.W[i] === 0, `${name}: mask differs at ${i} (${W[i]} vs ${want.W[i]})`);
    assert.ok(maxRelDiff(W, want.W) < 1e-5, `${name}: weights differ by ${maxRelDiff(W, want.W)}`);
    assert.ok(Math.abs(r.loss - want.loss) <= 1e-5 * want.loss, `${name}: loss ${r.loss} vs ${want.loss}`);
    for (let rr = 0; rr < rows; rr++) assert.equal(W[rr * cols + 5], 0, 'dead column zeroed');
    if (full.pattern !== 'unstructured') assert.equal(findNMViolation(W, rows, cols, full.pattern), null, name);
    if (full.bits !== undefined) {
      const G = full.groupSize || cols;
      for (let rr = 0; rr < rows; rr++) for (let g = 0; g < cols; g += G) {
        const distinct = new Set(Array.from(W.subarray(rr * cols + g, rr * cols + g + G)));
        assert.ok(distinct.size <= 2 ** full.bits, `${name}: ${distinct.size} values in a group`);
      }
    }
  }
});

test('sparsegpt through the method interface: shared Hessian prepared once, exact block sparsity, validation', () => {
  const rows = 24, cols = 64;
  const { stats } = hessianOf(200, cols, 31, -1);
  const W0 = randomArray(rows * cols, 32);
  const a = site(W0.slice(), rows, cols), b = site(W0.slice(), rows, cols);
  const p = params({ sparsity: 0.5, blockSize: 16 });
  const ra = sparsegpt.compressLayer(a, stats, p), rb = sparsegpt.compressLayer(b, stats, p);
  assert.deepEqual([...a.linear.weight], [...b.linear.weight]);
  assert.equal(ra.sparsity, 0.5);
  assert.equal(rb.details?.deadColumns, 0);
  assert.ok(typeof ra.details?.loss === 'number' && ra.details.loss > 0);
  assert.throws(() => sparsegpt.validate(params({ actOrder: true, sparsity: 0.5 }), [64]), /act-order/);
  assert.throws(() => sparsegpt.validate(params({ pattern: { n: 2, m: 4 }, blockSize: 6 }), [64]), /not a multiple of M=4/);
  assert.throws(() => sparsegpt.validate(params({ staticGroups: true, sparsity: 0.5 }), [64]), /static-groups/);
  assert.throws(() => magnitude.validate(params({ sparsity: 0.5, bits: 4 }), [64]), /--bits is not supported by magnitude/);
  assert.throws(() => native.obsBlock(new Float32Array(10), 2, 5, 3, 3, new Float32Array(25), new Float32Array(6), new Float64Array(2), 0, 0, 0, null, null, 0, null, 0),
    /c0\+count=6 exceeds cols=5/);
  assert.throws(() => native.obsBlock(new Float32Array(10), 2, 5, 0, 5, new Float32Array(25), new Float32Array(10), new Float64Array(2), 0, 0, 0, null, null, 0, null, 0),
    /non-positive diagonal/);
});
