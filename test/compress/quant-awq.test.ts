// AWQ: its statistics, the scale search (the chosen alpha minimises the output error measured here,
// independently, over the grid) and the clip search, against naive float64 implementations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AwqStats, OutputErrorMeter, awq, awqSearchClip, awqSearchScales } from '../../src/compress/awq.js';
import { findGrid, quantize } from '../../src/compress/quantizer.js';
import { DenseLinear } from '../../src/model/linear.js';
import { randomArray, rng } from '../helpers/fixtures.js';
import { params } from './quant-helpers.js';

/** Calibration rows with a few salient input channels (large activations), as AWQ expects of LLMs. */
function activations(n: number, cols: number, seed: number): Float32Array {
  const X = randomArray(n * cols, seed), r = rng(seed + 1);
  const scale = Array.from({ length: cols }, (_, j) => ([3, 17, 40].includes(j % 64) ? 12 : 0.3 + r()));
  for (let t = 0; t < n; t++) for (let j = 0; j < cols; j++) X[t * cols + j] *= scale[j];
  return X;
}

function meanAbs(X: Float32Array, n: number, cols: number): Float64Array {
  const m = new Float64Array(cols);
  for (let t = 0; t < n; t++) for (let j = 0; j < cols; j++) m[j] += Math.abs(X[t * cols + j]) / n;
  return m;
}

function naiveScales(m: Float64Array, alpha: number): Float64Array {
  const s = m.map((v) => Math.max(v ** alpha, 1e-4));
  const norm = Math.sqrt(Math.max(...s) * Math.min(...s));
  return s.map((v) => v / norm);
}

/** W' = Q(clamp(W s, +-clip)) / s per group, in float64 except the grid (the definition under test elsewhere). */
function naiveScaledQuant(W: Float32Array, rows: number, cols: number, s: ArrayLike<number>, g: number, bits: number, clip?: Float32Array): Float64Array {
  const out = new Float64Array(W.length), groups = Math.ceil(cols / g);
  for (let r = 0; r < rows; r++) for (let k = 0; k < groups; k++) {
    const c = clip ? clip[r * groups + k] : Infinity;
    const js = Array.from({ length: Math.min(g, cols - k * g) }, (_, i) => k * g + i);
    const v = js.map((j) => Math.min(Math.max(W[r * cols + j] * s[j], -c), c));
    const grid = findGrid(v, 0, v.length, 1, bits, false);
    js.forEach((j, i) => { out[r * cols + j] = quantize(v[i], grid) / s[j]; });
  }
  return out;
}

function outputError(X: Float32Array, n: number, W0: Float32Array, W: ArrayLike<number>, rows: number, cols: number): number {
  let e = 0;
  for (let t = 0; t < n; t++) for (let r = 0; r < rows; r++) {
    let y = 0;
    for (let j = 0; j < cols; j++) y += X[t * cols + j] * (W0[r * cols + j] - W[r * cols + j]);
    e += y * y;
  }
  return e / (n * rows);
}

test('AwqStats: mean |x| per input channel, and a seeded uniform reservoir of the rows', () => {
  const cols = 12, X = randomArray(120 * cols, 1);
  const all = new AwqStats(cols, 0);
  for (let b = 0; b < 4; b++) all.addBatch(X.subarray(b * 30 * cols, (b + 1) * 30 * cols), 30);
  assert.equal(all.rows, 120);
  assert.equal(all.keptRows, 120);
  assert.deepEqual(all.kept.subarray(0, 120 * cols), X);
  const want = meanAbs(X, 120, cols), got = all.meanAbs();
  for (let j = 0; j < cols; j++) assert.ok(Math.abs(got[j] - want[j]) < 1e-6);
  const sample = (seed: number): Float32Array => {
    const st = new AwqStats(cols, seed, 50);
    for (let b = 0; b < 4; b++) st.addBatch(X.subarray(b * 30 * cols, (b + 1) * 30 * cols), 30);
    assert.equal(st.keptRows, 50);
    return st.kept.slice(0, 50 * cols);
  };
  const a = sample(7), b = sample(7), c = sample(8);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  const seen = new Set<number>();
  for (let i = 0; i < 50; i++) {
    const row = a.subarray(i * cols, (i + 1) * cols);
    const src = Array.from({ length: 120 }, (_, t) => t).find((t) => X.subarray(t * cols, (t + 1) * cols).every((v, j) => v === row[j]));
    assert.ok(src !== undefined && !seen.has(src), `kept row ${i} is not a distinct input row`);
    seen.add(src);
  }
  assert.ok([...seen].some((t) => t >= 50), 'later rows enter the reservoir');
});

test('AWQ: the chosen alpha minimises the output error over the grid, and beats RTN on salient inputs', () => {
  const rows = 16, cols = 64, n = 512, bits = 3, g = 16, grid = 20;
  const X = activations(n, cols, 21), W0 = randomArray(rows * cols, 22, 0.5);
  const m = meanAbs(X, n, cols);
  const naiveErrors = Array.from({ length: grid }, (_, i) => outputError(X, n, W0, naiveScaledQuant(W0, rows, cols, naiveScales(m, i / grid), g, bits), rows, cols));
  // the native search measures the same errors
  const search = awqSearchScales(W0, rows, cols, X, n, Float32Array.from(m), { bits, groupSize: g, symmetric: false }, grid);
  search.errors.forEach((e, i) => assert.ok(Math.abs(e - naiveErrors[i]) <= 1e-3 * naiveErrors[i], `alpha ${i / grid}: ${e} vs naive ${naiveErrors[i]}`));
  // through the method
  const linear = new DenseLinear(W0.slice(), null, rows, cols), site = { layer: 0, name: 'mlp.up_proj', linear };
  const p = params({ method: 'awq', bits, groupSize: g, awqGrid: grid, awqClip: false });
  awq.validate(p, [cols]);
  const stats = awq.newStats!(site, p);
  stats.addBatch(X, n);
  const res = awq.compressLayer(site, stats, p);
  const alpha = res.details!.alpha as number, best = Math.min(...naiveErrors);
  assert.ok(naiveErrors[Math.round(alpha * grid)] <= best * (1 + 1e-6), `alpha ${alpha}: error ${naiveErrors[Math.round(alpha * grid)]}, least ${best}`);
  assert.ok(alpha > 0, 'salient channels make a non-zero alpha worthwhile');
  assert.ok(naiveErrors[Math.round(alpha * grid)] < 0.9 * naiveErrors[0], `AWQ ${best} vs RTN ${naiveErrors[0]}`);
  assert.equal(res.details!.errorRtn, search.errors[0]);
  // the layer holds W' = Q(W s) / s at that alpha, at most 2^bits grid values per group once scaled back
  const s = naiveScales(m, alpha), want = naiveScaledQuant(W0, rows, cols, s, g, bits);
  for (let i = 0; i < W0.length; i++) assert.ok(Math.abs(linear.weight[i] - want[i]) <= 1e-5 * (Math.abs(want[i]) + 1e-3), `weight ${i}: ${linear.weight[i]} vs ${want[i]}`);
  for (let r = 0; r < rows; r++) for (let j0 = 0; j0 < cols; j0 += g) {
    const values = new Set<number>();
    for (let j = j0; j < j0 + g; j++) values.add(Number((linear.weight[r * cols + j] * s[j]).toPrecision(5)));
    assert.ok(values.size <= 2 ** bits);
  }
});

test('AWQ clip search: per row and group, the clipping of least output error; q/k projections are not clipped', () => {
  const rows = 8, cols = 48, n = 256, bits = 3, g = 16, groups = 3;
  const X = activations(n, cols, 31), W0 = randomArray(rows * cols, 32, 0.5);
  for (let r = 0; r < rows; r++) W0[r * cols + 5] = 3;  // a weight outlier in every row's first group makes clipping pay
  const s = Float32Array.from(naiveScales(meanAbs(X, n, cols), 0.5));
  const clip = awqSearchClip(W0, rows, cols, X, n, s, { bits, groupSize: g, symmetric: false });
  let clippedGroups = 0;
  for (let r = 0; r < rows; r++) for (let k = 0; k < groups; k++) {
    const js = Array.from({ length: g }, (_, i) => k * g + i);
    const v = js.map((j) => Math.fround(W0[r * cols + j] * s[j]));
    const m0 = Math.max(...v.map(Math.abs));
    const errFor = (mx: number): number => {
      const c = v.map((x) => Math.min(Math.max(x, -mx), mx)), grid = findGrid(c, 0, g, 1, bits, false);
      const d = js.map((j, i) => (quantize(c[i], grid) - v[i]) / s[j]);
      let e = 0;
      for (let t = 0; t < n; t++) {
        let y = 0;
        js.forEach((j, i) => { y += X[t * cols + j] * d[i]; });
        e += y * y;
      }
      return e;
    };
    const candidates = Array.from({ length: 10 }, (_, i) => Math.fround(m0 * Math.fround(1 - i / 20)));
    const errors = candidates.map(errFor), least = Math.min(...errors);
    const chosen = clip[r * groups + k];
    assert.ok(candidates.includes(chosen), `clip ${chosen} is not a candidate of ${m0}`);
    assert.ok(errFor(chosen) <= least * (1 + 1e-4) + 1e-9, `row ${r} group ${k}: clip error ${errFor(chosen)} vs least ${least}`);
    if (chosen < m0) clippedGroups++;
  }
  assert.ok(clippedGroups > 0, 'some group is clipped');
  // through the method: up_proj is clipped, q_proj is not
  for (const name of ['mlp.up_proj', 'self_attn.q_proj']) {
    const linear = new DenseLinear(W0.slice(), null, rows, cols), site = { layer: 0, name, linear };
    const p = params({ method: 'awq', bits, groupSize: g, awqGrid: 10, awqClip: true });
    const stats = awq.newStats!(site, p);
    stats.addBatch(X, n);
    const res = awq.compressLayer(site, stats, p);
    assert.equal(res.details!.clipped, name === 'mlp.up_proj');
    const alpha = res.details!.alpha as number, sc = Float32Array.from(naiveScales(meanAbs(X, n, cols), alpha));
    const wantClip = name === 'mlp.up_proj' ? awqSearchClip(W0, rows, cols, X, n, sc, { bits, groupSize: g, symmetric: false }) : undefined;
    const want = naiveScaledQuant(W0, rows, cols, sc, g, bits, wantClip);
    for (let i = 0; i < W0.length; i++) assert.ok(Math.abs(linear.weight[i] - want[i]) <= 1e-5 * (Math.abs(want[i]) + 1e-3), `${name} weight ${i}`);
  }
});

test('the output error meter equals ||X D^T||^2 / (T * rows) through the Gram matrix (cols < T) and directly (cols >= T)', () => {
  const rows = 6, cols = 40, D = randomArray(rows * cols, 41, 0.1);
  for (const T of [200, 40, 13]) {
    const X = activations(T, cols, 42), zero = new Float32Array(rows * cols);
    const want = outputError(X, T, D, zero, rows, cols);
    const got = new OutputErrorMeter(X, T, rows, cols).error(D);
    assert.ok(Math.abs(got - want) <= 1e-5 * want, `T=${T}: ${got} vs ${want}`);
  }
});

test('AWQ rejects bad parameters and missing calibration', () => {
  assert.throws(() => awq.validate(params({ method: 'awq', awqGrid: 0 }), [8]), /--awq-grid must be an integer in 1\.\.1000/);
  assert.throws(() => awq.validate(params({ method: 'awq', bits: 10 }), [8]), /--bits must be an integer in 2\.\.8/);
  const linear = new DenseLinear(new Float32Array(4), null, 2, 2);
  assert.throws(() => awq.compressLayer({ layer: 0, name: 'x', linear }, undefined, params({ method: 'awq' })), /saw no calibration inputs/);
});
