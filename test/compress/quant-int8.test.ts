// LLM.int8(): the native int8 kernels and Int8Linear against a naive implementation of the definition,
// outlier columns exact in float, the method, and re-applying the mode when a compressed folder loads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { native } from '../../src/core/native.js';
import { roundHalfEven } from '../../src/compress/quantizer.js';
import { llmInt8 } from '../../src/compress/llm-int8.js';
import { Int8Linear, readLinearMode } from '../../src/model/int8-linear.js';
import { DenseLinear } from '../../src/model/linear.js';
import { loadModelFromDir } from '../../src/model/load.js';
import { randomArray, tempDir } from '../helpers/fixtures.js';
import { writeRandomModel } from '../helpers/random-model.js';
import { params } from './quant-helpers.js';

const f32 = Math.fround;

/** Row-wise absmax int8 of x (rows, cols) over the columns not in `outliers`. */
function naiveQuantRows(x: Float32Array, rows: number, cols: number, outliers: Set<number>): { q: number[]; scale: number[] } {
  const q: number[] = [], scale: number[] = [];
  for (let r = 0; r < rows; r++) {
    let a = 0;
    for (let j = 0; j < cols; j++) if (!outliers.has(j)) a = Math.max(a, Math.abs(x[r * cols + j]));
    const inv = a > 0 ? f32(127 / a) : 0;
    scale.push(f32(a / 127));
    for (let j = 0; j < cols; j++) q.push(outliers.has(j) ? 0 : Math.max(-127, Math.min(127, roundHalfEven(f32(x[r * cols + j] * inv)))));
  }
  return { q, scale };
}

/** The LLM.int8() product from its definition. */
function naiveInt8Linear(x: Float32Array, rows: number, W: Float32Array, bias: Float32Array | null, n: number, k: number, threshold: number): { out: Float64Array; outliers: Set<number> } {
  const outliers = new Set<number>();
  if (threshold > 0) for (let r = 0; r < rows; r++) for (let j = 0; j < k; j++) if (Math.abs(x[r * k + j]) > threshold) outliers.add(j);
  const xq = naiveQuantRows(x, rows, k, outliers), wq = naiveQuantRows(W, n, k, new Set());
  const out = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) for (let o = 0; o < n; o++) {
    let acc = 0;
    for (let j = 0; j < k; j++) acc += xq.q[r * k + j] * wq.q[o * k + j];
    let y = f32(f32(f32(acc) * xq.scale[r]) * wq.scale[o]);
    for (const j of outliers) y += x[r * k + j] * W[o * k + j];
    out[r * n + o] = y + (bias ? bias[o] : 0);
  }
  return { out, outliers };
}

test('int8QuantizeRows: vector-wise absmax, round half to even, masked columns zero', () => {
  const rows = 6, cols = 40, x = randomArray(rows * cols, 1, 3);
  // an exact tie: row 1 has absmax 25.4 (127/25.4 = 5 in float32) and 12.5 * 5 = 62.5 -> 62 (even); an all-zero row
  x[cols + 9] = -25.4; x[cols + 8] = 12.5;
  for (let j = 0; j < cols; j++) x[4 * cols + j] = 0;
  const mask = new Uint8Array(cols);
  mask[7] = 1; mask[30] = 1;
  for (const m of [null, mask]) {
    const q = new Int8Array(rows * cols), scale = new Float32Array(rows);
    native.int8QuantizeRows(q, scale, x, rows, cols, m);
    const want = naiveQuantRows(x, rows, cols, new Set(m ? [7, 30] : []));
    assert.deepEqual([...q], want.q);
    assert.deepEqual([...scale], want.scale);
    assert.equal(q[cols + 8], 62);
  }
});

test('LLM.int8() linear equals its definition up to float rounding; outliers are found per batch', () => {
  const rows = 9, k = 64, n = 20, W = randomArray(n * k, 2, 0.2), bias = randomArray(n, 3);
  const x = randomArray(rows * k, 4, 2);
  x[3 * k + 10] = 9; x[7 * k + 10] = -7; x[0 * k + 33] = 6.5; x[2 * k + 50] = 6;  // 6 is not > 6
  for (const threshold of [6, 0, 100]) {
    const lin = new Int8Linear(W, bias, n, k, threshold), out = new Float32Array(rows * n);
    lin.forward(x, rows, out);
    const want = naiveInt8Linear(x, rows, W, bias, n, k, threshold);
    assert.equal(lin.lastOutlierColumns, want.outliers.size);
    if (threshold === 6) assert.deepEqual([...want.outliers].sort((a, b) => a - b), [10, 33]);
    for (let i = 0; i < out.length; i++) assert.ok(Math.abs(out[i] - want.out[i]) <= 1e-5 * (1 + Math.abs(want.out[i])), `t=${threshold} out[${i}] ${out[i]} vs ${want.out[i]}`);
  }
  // the same rows in a batch without the outlier row: the decomposition follows the batch
  const lin = new Int8Linear(W, null, n, k, 6), one = new Float32Array(n);
  lin.forward(x.subarray(k, 2 * k), 1, one);
  assert.equal(lin.lastOutlierColumns, 0);
});

test('LLM.int8(): outlier columns are exact in floating point, the rest within int8 error', () => {
  const rows = 5, k = 32, n = 12, W = randomArray(n * k, 7);
  // inputs only in outlier columns: the int8 part is zero and the output is the float product
  const x = new Float32Array(rows * k);
  for (let r = 0; r < rows; r++) { x[r * k + 4] = 10 + r; x[r * k + 19] = -8 - r / 3; }
  const out = new Float32Array(rows * n);
  new Int8Linear(W, null, n, k).forward(x, rows, out);
  for (let r = 0; r < rows; r++) for (let o = 0; o < n; o++) {
    const want = x[r * k + 4] * W[o * k + 4] + x[r * k + 19] * W[o * k + 19];
    assert.ok(Math.abs(out[r * n + o] - want) <= 1e-6 * Math.abs(want) + 1e-6);
  }
  // regular inputs: close to the dense product (int8 relative error ~1%)
  const y = randomArray(rows * k, 8), dense = new Float32Array(rows * n), q = new Float32Array(rows * n);
  new DenseLinear(W, null, n, k).forward(y, rows, dense);
  new Int8Linear(W, null, n, k).forward(y, rows, q);
  let num = 0, den = 0;
  for (let i = 0; i < q.length; i++) { num += (q[i] - dense[i]) ** 2; den += dense[i] ** 2; }
  assert.ok(Math.sqrt(num / den) < 0.02, `relative error ${Math.sqrt(num / den)}`);
});

test('Int8Linear: the weight view is the dequantized int8 weight, and re-quantizing it is exact', () => {
  const n = 7, k = 24, W = randomArray(n * k, 9);
  const lin = new Int8Linear(W, null, n, k);
  for (let o = 0; o < n; o++) for (let j = 0; j < k; j++) assert.equal(lin.weight[o * k + j], f32(lin.weightInt8[o * k + j] * lin.rowScale[o]));
  const again = new Int8Linear(lin.weight.slice(), null, n, k);
  assert.deepEqual(again.weightInt8, lin.weightInt8);
  for (let o = 0; o < n; o++) assert.ok(Math.abs(again.rowScale[o] - lin.rowScale[o]) <= 1e-7 * lin.rowScale[o]);
  assert.equal(Math.max(...Array.from(lin.weightInt8, Math.abs)), 127);
});

test('the llm-int8 method swaps in Int8Linear and validates its parameters', () => {
  const W = randomArray(8 * 16, 10), linear = new DenseLinear(W, null, 8, 16);
  const p = params({ method: 'llm-int8', bits: 8, threshold: 6 });
  llmInt8.validate(p, [16]);
  const res = llmInt8.compressLayer({ layer: 0, name: 'mlp.up_proj', linear }, undefined, p);
  assert.ok(res.replacement instanceof Int8Linear);
  assert.equal(res.bits, 8);
  assert.equal((res.replacement as Int8Linear).fpWeight, W);
  assert.throws(() => llmInt8.validate(params({ method: 'llm-int8', bits: 4 }), [16]), /llm-int8 is 8-bit/);
  assert.throws(() => llmInt8.validate(params({ method: 'llm-int8', bits: 8, threshold: -1 }), [16]), /--threshold must be a non-negative number/);
  assert.throws(() => llmInt8.validate(params({ method: 'llm-int8', bits: 8 }), [200000]), /exceed 133144/);
});

test('int8 kernels validate types, sizes and aliasing', () => {
  const q = new Int8Array(8), s = new Float32Array(2), x = new Float32Array(8);
  assert.throws(() => native.int8QuantizeRows(new Uint8Array(8) as unknown as Int8Array, s, x, 2, 4, null), /'q' must be an Int8Array/);
  assert.throws(() => native.int8QuantizeRows(q, s, x.subarray(1), 2, 4, null), /'x' has 7 elements, needs at least 8/);
  assert.throws(() => native.int8Gemm(new Float32Array(4), q, s, q, s, 2, 2, 200000), /'k' must be an integer in \[0, 133144\]/);
  assert.throws(() => native.int8Linear(x, x, 2, q, s, x, null, 2, 4, 6, null), /'out' must not overlap 'x'/);
  assert.throws(() => native.int8Linear(new Float32Array(4), x, 2, q, s, x, new Float32Array(1), 2, 4, 6, null), /'bias' has 1 elements, needs at least 2/);
  assert.throws(() => native.int8OutlierColumns(new Uint8Array(3), x, 2, 4, 6), /'mask' has 3 elements/);
  assert.throws(() => native.int8Dequantize(new Float32Array(12), q, new Float32Array(3), 3, 4), /'q' has 8 elements, needs at least 12/);
});

test('a folder whose recipe records llm-int8 loads with the int8 mode on every decoder linear layer', () => {
  const dir = tempDir();
  writeRandomModel(dir, { hidden: 32, inter: 48, layers: 2 });
  const dense = loadModelFromDir(dir).model;
  const ids = [1, 5, 9, 14, 3, 7];
  const denseLogits = dense.forward([{ ids }]).logits;
  assert.equal(readLinearMode(dir), null);
  // what `compsafe compress --method llm-int8` writes: the method and its parameters
  fs.writeFileSync(path.join(dir, 'compsafe_recipe.json'), JSON.stringify({ method: 'llm-int8', parameters: { threshold: 4.5 } }));
  assert.deepEqual(readLinearMode(dir), { type: 'llm-int8', threshold: 4.5 });
  const loaded = loadModelFromDir(dir).model;
  const sites = loaded.linearSites();
  assert.equal(sites.length, 14);
  for (const s of sites) {
    assert.ok(s.linear instanceof Int8Linear, `${s.name} is not int8`);
    assert.equal((s.linear as Int8Linear).threshold, 4.5);
  }
  const logits = loaded.forward([{ ids }]).logits;
  let maxDiff = 0, maxAbs = 0;
  for (let i = 0; i < logits.length; i++) { maxDiff = Math.max(maxDiff, Math.abs(logits[i] - denseLogits[i])); maxAbs = Math.max(maxAbs, Math.abs(denseLogits[i])); }
  assert.ok(maxDiff > 0 && maxDiff < 0.05 * maxAbs, `int8 logits differ by ${maxDiff} (max |logit| ${maxAbs})`);
  // an explicit linear_mode wins; an unknown one is a clear error
  fs.writeFileSync(path.join(dir, 'compsafe_recipe.json'), JSON.stringify({ method: 'rtn', linear_mode: { type: 'llm-int8', threshold: 3 } }));
  assert.deepEqual(readLinearMode(dir), { type: 'llm-int8', threshold: 3 });
  fs.writeFileSync(path.join(dir, 'compsafe_recipe.json'), JSON.stringify({ method: 'rtn', linear_mode: { type: 'fp4' } }));
  assert.throws(() => loadModelFromDir(dir), /linear_mode \{"type":"fp4"\} is not supported/);
  fs.writeFileSync(path.join(dir, 'compsafe_recipe.json'), JSON.stringify({ method: 'gptq', parameters: { threshold: 6 } }));
  assert.equal(readLinearMode(dir), null);
});
