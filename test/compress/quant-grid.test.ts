// Quantization grids (compress/quantizer.ts), the native group-wise rounding against them, and RTN.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native } from '../../src/core/native.js';
import { findGrid, gridFromRange, groupCount, quantize, roundHalfEven } from '../../src/compress/quantizer.js';
import { rtn } from '../../src/compress/rtn.js';
import { DenseLinear } from '../../src/model/linear.js';
import { randomArray, rng } from '../helpers/fixtures.js';
import { params } from './quant-helpers.js';

/** Group-wise quantization written from the definition with the TypeScript grid. */
function naiveGroups(w: Float32Array, rows: number, cols: number, g: number, bits: number, sym: boolean): { out: Float32Array; scales: number[] } {
  const out = new Float32Array(w.length), scales: number[] = [];
  const len = g > 0 && g < cols ? g : cols;
  for (let r = 0; r < rows; r++) {
    for (let j0 = 0; j0 < cols; j0 += len) {
      const n = Math.min(len, cols - j0), grid = findGrid(w, r * cols + j0, n, 1, bits, sym);
      scales.push(grid.scale);
      for (let j = j0; j < j0 + n; j++) out[r * cols + j] = quantize(w[r * cols + j], grid);
    }
  }
  return { out, scales };
}

test('roundHalfEven rounds ties to the even integer, like torch.round and rintf', () => {
  const cases: [number, number][] = [[0.5, 0], [1.5, 2], [2.5, 2], [3.5, 4], [-0.5, -0], [-1.5, -2], [-2.5, -2], [-3.5, -4],
    [2.4999999, 2], [2.5000001, 3], [-2.5000001, -3], [7, 7], [1e20, 1e20], [-0.2, -0]];
  for (const [x, want] of cases) assert.ok(Object.is(roundHalfEven(x), want) || roundHalfEven(x) === want, `round(${x}) = ${roundHalfEven(x)}, want ${want}`);
});

test('the grid follows the GPTQ reference: range includes 0, centred symmetric zero point, float32 scale', () => {
  // asymmetric, 4 bits, range [-7.5, 7.5]: scale 1, zero round(7.5) = 8 (half to even)
  const g = gridFromRange(-7.5, 7.5, 4, false);
  assert.deepEqual(g, { scale: 1, zero: 8, maxq: 15 });
  // ties: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2 (Math.round would give 1, 2, 3)
  assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5].map((x) => quantize(x, g)), [0, 2, 2, 0, -2]);
  // a positive-only range still includes 0; the scale is a float32 value
  const p = findGrid([0.3, 0.7, 0.9], 0, 3, 1, 3, false);
  assert.equal(p.scale, Math.fround(Math.fround(0.9) / 7));
  assert.equal(p.zero, 0);
  // symmetric groups with no negative value are still [-m, m] (the reference would clamp above ~m/2)
  const s = findGrid([0.1, 0.5, 1.0], 0, 3, 1, 4, true);
  assert.equal(s.zero, 8);
  assert.equal(s.scale, Math.fround(2 / 15));
  assert.ok(Math.abs(quantize(1.0, s) - 1.0) <= s.scale / 2);
  // all-zero group -> [-1, 1]; zero stays exactly 0
  const z = findGrid([0, 0], 0, 2, 1, 4, false);
  assert.equal(quantize(0, z), 0);
});

test('native quantizeGroups equals the TypeScript grid bit for bit (bits 2..8, groups, ragged last group, ties)', () => {
  const rows = 7, cols = 100;
  const w = randomArray(rows * cols, 11, 2);
  // Values on exact grid ties: row 0 spans [-7.5, 7.5] with halves, so 4-bit asymmetric scale is 1.
  for (let j = 0; j < cols; j++) w[j] = ((j % 31) - 15) / 2;
  // An all-positive row and an all-zero group.
  for (let j = 0; j < cols; j++) w[cols + j] = Math.abs(w[cols + j]);
  for (let j = 0; j < 16; j++) w[2 * cols + j] = 0;
  for (const bits of [2, 3, 4, 5, 8]) {
    for (const sym of [false, true]) {
      for (const g of [0, 16, 32, 48, 100, 256]) {
        const want = naiveGroups(w, rows, cols, g, bits, sym);
        const out = new Float32Array(w.length), nG = groupCount(cols, g);
        const scale = new Float32Array(rows * nG), zero = new Float32Array(rows * nG);
        native.quantizeGroups(out, w, rows, cols, g, bits, sym ? 1 : 0, null, null, scale, zero);
        assert.deepEqual(out, want.out, `bits=${bits} sym=${sym} g=${g}`);
        assert.deepEqual([...scale], want.scales.map(Math.fround));
        // in place gives the same
        const inPlace = w.slice();
        native.quantizeGroups(inPlace, inPlace, rows, cols, g, bits, sym ? 1 : 0, null, null, null, null);
        assert.deepEqual(inPlace, want.out);
      }
    }
  }
});

test('native quantizeGroups with column scales and clipping: out = Q(clamp(w * s)) / s per group', () => {
  const rows = 5, cols = 24, g = 8, r = rng(3);
  const w = randomArray(rows * cols, 4), s = Float32Array.from({ length: cols }, () => 0.2 + 2 * r());
  const clip = Float32Array.from({ length: rows * 3 }, () => 0.3 + r());
  const out = new Float32Array(rows * cols);
  native.quantizeGroups(out, w, rows, cols, g, 3, 0, s, clip, null, null);
  for (let row = 0; row < rows; row++) {
    for (let k = 0; k < 3; k++) {
      const c = clip[row * 3 + k];
      const v = Array.from({ length: g }, (_, j) => Math.min(Math.max(Math.fround(w[row * cols + k * g + j] * s[k * g + j]), -c), c));
      const grid = findGrid(v, 0, g, 1, 3, false);
      for (let j = 0; j < g; j++) assert.equal(out[row * cols + k * g + j], Math.fround(quantize(v[j], grid) / s[k * g + j]));
    }
  }
});

test('RTN: at most 2^bits values per group, error within half a step, and the layer edited in place', () => {
  const rows = 16, cols = 96;
  for (const bits of [2, 3, 4, 8]) {
    for (const sym of [false, true]) {
      for (const g of [0, 32, 40]) {
        const w0 = randomArray(rows * cols, 100 + bits, 0.5);
        for (let j = 0; j < cols; j++) w0[3 * cols + j] = Math.abs(w0[3 * cols + j]);  // one all-positive row
        const linear = new DenseLinear(w0.slice(), null, rows, cols);
        const p = params({ bits, groupSize: g, symmetric: sym });
        rtn.validate(p, [cols]);
        const res = rtn.compressLayer({ layer: 0, name: 'mlp.up_proj', linear }, undefined, p);
        assert.equal(res.bits, bits);
        const len = g > 0 ? g : cols;
        for (let r = 0; r < rows; r++) {
          for (let j0 = 0; j0 < cols; j0 += len) {
            const n = Math.min(len, cols - j0), grid = findGrid(w0, r * cols + j0, n, 1, bits, sym);
            const values = new Set<number>();
            for (let j = j0; j < j0 + n; j++) {
              const q = linear.weight[r * cols + j];
              values.add(q);
              assert.ok(Math.abs(q - w0[r * cols + j]) <= grid.scale / 2 * (1 + 1e-6) + 1e-7, `error ${q - w0[r * cols + j]} > scale/2 = ${grid.scale / 2}`);
            }
            assert.ok(values.size <= 2 ** bits, `${values.size} distinct values in a ${bits}-bit group`);
          }
        }
      }
    }
  }
});

test('RTN and quantizeGroups reject bad parameters with clear errors', () => {
  const cols = 8;
  assert.throws(() => rtn.validate(params({ bits: 1 }), [cols]), /--bits must be an integer in 2\.\.8/);
  assert.throws(() => rtn.validate(params({ bits: 9 }), [cols]), /--bits must be an integer in 2\.\.8/);
  assert.throws(() => rtn.validate(params({ bits: undefined }), [cols]), /rtn needs --bits/);
  assert.throws(() => rtn.validate(params({ groupSize: -1 }), [cols]), /--group-size must be a non-negative integer/);
  const w = new Float32Array(16), out = new Float32Array(16);
  assert.throws(() => native.quantizeGroups(out, w, 2, 8, 0, 4, 0, new Float32Array([1, 1, 1, 0, 1, 1, 1, 1]), null, null, null), /'colScale' must hold positive finite values \(index 3\)/);
  assert.throws(() => native.quantizeGroups(out, w, 2, 8, 4, 4, 0, null, new Float32Array(3), null, null), /'clip' has 3 elements, needs at least 4/);
  assert.throws(() => native.quantizeGroups(w.subarray(1), w, 2, 7, 0, 4, 0, null, null, null, null), /'out' must not overlap 'w'/);
  assert.throws(() => native.quantizeGroups(out, w, 2, 8, 0, 17, 0, null, null, null, null), /'bits' must be an integer in \[1, 16\]/);
  assert.throws(() => native.quantizeGroups(out, w, 2, 8, 0, 4, 0, null, null, out.subarray(0, 2), null), /'out' must not overlap 'scaleOut'/);
});
