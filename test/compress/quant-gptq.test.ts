// GPTQ against a naive dense OBS quantization written from its definition (float64, explicit inverse
// Hessian downdated after every column), on small matrices: one block and several, act-order, groups.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native } from '../../src/core/native.js';
import { HessianStats } from '../../src/compress/hessian.js';
import { gptq, gptqSolve, prepareGptqHessian } from '../../src/compress/gptq.js';
import { QuantGrid, findGrid, quantize } from '../../src/compress/quantizer.js';
import { CompressionParams } from '../../src/compress/types.js';
import { DenseLinear } from '../../src/model/linear.js';
import { randomArray, rng } from '../helpers/fixtures.js';
import { params } from './quant-helpers.js';

function invert(A: Float64Array, n: number): Float64Array {
  const M = A.slice(), I = new Float64Array(n * n);
  for (let i = 0; i < n; i++) I[i * n + i] = 1;
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r * n + c]) > Math.abs(M[p * n + c])) p = r;
    for (let k = 0; k < n; k++) {
      [M[c * n + k], M[p * n + k]] = [M[p * n + k], M[c * n + k]];
      [I[c * n + k], I[p * n + k]] = [I[p * n + k], I[c * n + k]];
    }
    const d = M[c * n + c];
    for (let k = 0; k < n; k++) { M[c * n + k] /= d; I[c * n + k] /= d; }
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = M[r * n + c];
      if (f !== 0) for (let k = 0; k < n; k++) { M[r * n + k] -= f * M[c * n + k]; I[r * n + k] -= f * I[c * n + k]; }
    }
  }
  return I;
}

interface NaiveOpts { bits: number; sym: boolean; g: number; actOrder: boolean; staticGroups: boolean; percdamp: number }

/**
 * OBS quantization, one column at a time: quantize column j, spread its error over the columns not yet
 * quantized with the current inverse Hessian, remove j from the inverse (Hinv -= Hinv[:,j] Hinv[j,:] / Hinv[j,j]).
 */
function naiveGptq(W0: Float32Array, rows: number, cols: number, X: Float32Array, n: number, o: NaiveOpts): { W: Float64Array; loss: number } {
  const H = new Float64Array(cols * cols);
  for (let t = 0; t < n; t++) for (let a = 0; a < cols; a++) for (let b = 0; b < cols; b++) H[a * cols + b] += (2 / n) * X[t * cols + a] * X[t * cols + b];
  const W = Float64Array.from(W0);
  for (let j = 0; j < cols; j++) {
    if (H[j * cols + j] === 0) { H[j * cols + j] = 1; for (let r = 0; r < rows; r++) W[r * cols + j] = 0; }
  }
  let mean = 0;
  for (let j = 0; j < cols; j++) mean += H[j * cols + j] / cols;
  const order = Array.from({ length: cols }, (_, j) => j);
  if (o.actOrder) order.sort((a, b) => H[b * cols + b] - H[a * cols + a] || a - b);
  for (let j = 0; j < cols; j++) H[j * cols + j] += o.percdamp * mean;
  const Hinv = invert(H, cols);
  // grids[r][column] for up-front grids; dynamic grids are found as the loop reaches a group
  const upFront = o.g === 0 || o.staticGroups;
  const len = o.g > 0 ? o.g : cols;
  const gridOf: QuantGrid[][] = Array.from({ length: rows }, () => new Array(cols));
  if (upFront) {
    for (let r = 0; r < rows; r++) for (let j0 = 0; j0 < cols; j0 += len) {
      const grid = findGrid(W, r * cols + j0, Math.min(len, cols - j0), 1, o.bits, o.sym);
      for (let j = j0; j < Math.min(j0 + len, cols); j++) gridOf[r][j] = grid;
    }
  }
  let loss = 0;
  for (let t = 0; t < cols; t++) {
    const j = order[t], later = order.slice(t + 1);
    if (!upFront && t % o.g === 0) {
      const members = order.slice(t, t + o.g);
      for (let r = 0; r < rows; r++) {
        const grid = findGrid(members.map((c) => W[r * cols + c]), 0, members.length, 1, o.bits, o.sym);
        for (const c of members) gridOf[r][c] = grid;
      }
    }
    const d = Hinv[j * cols + j];
    for (let r = 0; r < rows; r++) {
      const w = W[r * cols + j], q = quantize(w, gridOf[r][j]), e = (w - q) / d;
      loss += (w - q) ** 2 / d / 2;
      for (const k of later) W[r * cols + k] -= e * Hinv[j * cols + k];
      W[r * cols + j] = q;
    }
    for (const a of later) for (const b of later) Hinv[a * cols + b] -= (Hinv[a * cols + j] * Hinv[j * cols + b]) / d;
  }
  return { W, loss };
}

function calibration(n: number, cols: number, seed: number, deadColumn = -1): Float32Array {
  const X = randomArray(n * cols, seed), r = rng(seed + 1);
  const colScale = Array.from({ length: cols }, () => 0.2 + 2 * r());
  for (let t = 0; t < n; t++) for (let j = 0; j < cols; j++) X[t * cols + j] = j === deadColumn ? 0 : X[t * cols + j] * colScale[j];
  return X;
}

function runGptq(W0: Float32Array, rows: number, cols: number, X: Float32Array, n: number, p: CompressionParams): { W: Float32Array; loss: number } {
  const linear = new DenseLinear(W0.slice(), null, rows, cols);
  const stats = gptq.newStats!({ layer: 0, name: 'mlp.down_proj', linear }, p) as HessianStats;
  stats.addBatch(X, n);
  gptq.validate(p, [cols]);
  const res = gptq.compressLayer({ layer: 0, name: 'mlp.down_proj', linear }, stats, p);
  return { W: linear.weight, loss: res.details!.loss as number };
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('GPTQ equals a naive dense OBS quantization (one block, several blocks, act-order, groups, static groups)', () => {
  const rows = 8, cols = 32, n = 96;
  const cases: (Partial<CompressionParams> & { dead?: number })[] = [
    { groupSize: 0, blockSize: 128 },
    { groupSize: 0, blockSize: 8 },
    { groupSize: 0, blockSize: 8, actOrder: true },
    { groupSize: 0, blockSize: 5, actOrder: true, symmetric: true, bits: 3 },
    { groupSize: 8, blockSize: 8 },
    { groupSize: 8, blockSize: 32 },
    { groupSize: 8, blockSize: 16, actOrder: true },
    { groupSize: 8, blockSize: 8, staticGroups: true },
    { groupSize: 8, blockSize: 8, staticGroups: true, actOrder: true, symmetric: true },
    { groupSize: 12, blockSize: 8 },  // ragged last group (12, 12, 8); blocks align to 12
    { groupSize: 12, blockSize: 8, staticGroups: true, bits: 2 },
    { groupSize: 0, blockSize: 8, dead: 5 },
    { groupSize: 8, blockSize: 8, actOrder: true, dead: 30, bits: 3 },
  ];
  cases.forEach((c, i) => {
    const { dead, ...over } = c;
    const p = params({ method: 'gptq', bits: 4, ...over });
    const W0 = randomArray(rows * cols, 50 + i), X = calibration(n, cols, 70 + i, dead ?? -1);
    const got = runGptq(W0, rows, cols, X, n, p);
    const want = naiveGptq(W0, rows, cols, X, n, { bits: p.bits!, sym: p.symmetric, g: p.groupSize, actOrder: p.actOrder, staticGroups: p.staticGroups, percdamp: p.percdamp });
    const d = maxDiff(got.W, want.W);
    assert.ok(d < 1e-5, `case ${i} ${JSON.stringify(c)}: max |W - W_naive| = ${d}`);
    assert.ok(Math.abs(got.loss - want.loss) <= 1e-4 * want.loss + 1e-9, `case ${i}: loss ${got.loss} vs naive ${want.loss}`);
    if (dead !== undefined) for (let r = 0; r < rows; r++) assert.equal(got.W[r * cols + dead], 0);
  });
});

test('GPTQ with group grids does not depend on the block size, and is at most 2^bits values per group', () => {
  const rows = 16, cols = 64, n = 128, g = 16, bits = 3;
  const W0 = randomArray(rows * cols, 5), X = calibration(n, cols, 6);
  const results = [8, 16, 40, 128].map((blockSize) => runGptq(W0, rows, cols, X, n, params({ method: 'gptq', bits, groupSize: g, blockSize })).W);
  for (const W of results.slice(1)) assert.ok(maxDiff(W, results[0]) < 1e-6);
  for (let r = 0; r < rows; r++) for (let j0 = 0; j0 < cols; j0 += g) {
    const values = new Set(Array.from(results[0].subarray(r * cols + j0, r * cols + j0 + g)));
    assert.ok(values.size <= 2 ** bits, `${values.size} values in a ${bits}-bit group`);
  }
});

test('GPTQ reconstructs the layer output better than RTN on the calibration inputs', () => {
  const rows = 24, cols = 64, n = 256;
  const W0 = randomArray(rows * cols, 9), X = calibration(n, cols, 10);
  const outErr = (W: Float32Array): number => {
    let e = 0;
    for (let t = 0; t < n; t++) for (let r = 0; r < rows; r++) {
      let y = 0;
      for (let j = 0; j < cols; j++) y += X[t * cols + j] * (W[r * cols + j] - W0[r * cols + j]);
      e += y * y;
    }
    return e;
  };
  for (const bits of [3, 4]) for (const groupSize of [0, 16]) {
    const p = params({ method: 'gptq', bits, groupSize });
    const g = runGptq(W0, rows, cols, X, n, p).W;
    const r = W0.slice();
    const lin = new DenseLinear(r, null, rows, cols);
    const grid = (j0: number, len: number, row: number): QuantGrid => findGrid(W0, row * cols + j0, len, 1, bits, false);
    const len = groupSize || cols;
    for (let row = 0; row < rows; row++) for (let j0 = 0; j0 < cols; j0 += len) {
      const gr = grid(j0, len, row);
      for (let j = j0; j < j0 + len; j++) lin.weight[row * cols + j] = quantize(W0[row * cols + j], gr);
    }
    assert.ok(outErr(g) < outErr(r), `bits=${bits} g=${groupSize}: GPTQ ${outErr(g)} vs RTN ${outErr(r)}`);
  }
});

test('gptqBlock validates blocks, groups and the factor', () => {
  const rows = 2, cols = 8, w = new Float32Array(16), err = new Float32Array(16), s = new Float32Array(4), z = new Float32Array(4);
  const U = new Float32Array(64);
  for (let j = 0; j < cols; j++) U[j * cols + j] = 1;
  assert.throws(() => native.gptqBlock(w, rows, cols, 2, 6, U, err, s, z, 2, 4, null, 4, 0), /must start on a group boundary/);
  assert.throws(() => native.gptqBlock(w, rows, cols, 0, 8, U, err, s, z, 1, 4, null, 4, 0), /nGroups=1 is fewer than the 2 groups/);
  assert.throws(() => native.gptqBlock(w, rows, cols, 0, 8, U, err, s, z, 2, 0, null, 4, 0), /'groupSize' must be positive when groupOf is null/);
  assert.throws(() => native.gptqBlock(w, rows, cols, 0, 8, U, err, s, z, 2, 4, new Int32Array(8).fill(2), 4, 0), /holds group 2 outside \[0, nGroups=2\)/);
  assert.throws(() => native.gptqBlock(w, rows, cols, 0, 9, U, err, s, z, 2, 4, null, 4, 0), /i2=9 must be in/);
  assert.throws(() => native.gptqBlock(w, rows, cols, 0, 8, U, err.subarray(1), s, z, 2, 4, null, 4, 0), /'err' has 15 elements, needs at least 16/);
  assert.throws(() => native.gptqBlock(w, rows, cols, 0, 8, U, w, s, z, 2, 4, null, 4, 0), /'w' must not overlap 'err'/);
  U[3 * cols + 3] = 0;
  assert.throws(() => native.gptqBlock(w, rows, cols, 0, 8, U, err, s, z, 2, 4, null, 4, 0), /'hinvUpper' has a non-positive diagonal at 3/);
  assert.throws(() => gptq.validate(params({ method: 'gptq', staticGroups: true, groupSize: 0 }), [8]), /--static-groups needs --group-size/);
  assert.throws(() => gptq.validate(params({ method: 'gptq', blockSize: 0 }), [8]), /--block-size must be a positive integer/);
  assert.throws(() => gptq.compressLayer({ layer: 0, name: 'x', linear: new DenseLinear(new Float32Array(4), null, 2, 2) }, undefined, params()), /no Hessian statistics/);
  // a prepared Hessian can be reused for another weight of the same input (q/k/v share it)
  const H = new Float32Array(16);
  for (let j = 0; j < 4; j++) H[j * 4 + j] = 1 + j;
  const hess = prepareGptqHessian(H, 4, 0.01, true);
  assert.deepEqual([...hess.perm!], [3, 2, 1, 0]);
  const a = Float32Array.from([0.1, 0.2, 0.3, 0.4]);
  gptqSolve(a, 1, 4, hess, { bits: 8, groupSize: 0, symmetric: false, staticGroups: false, blockSize: 2 });
  assert.ok(maxDiff(a, [0.1, 0.2, 0.3, 0.4]) < 0.4 / 255);
});
