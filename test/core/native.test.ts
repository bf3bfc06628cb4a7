// Native kernels against naive TypeScript implementations written from their definitions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native } from '../../src/core/native.js';
import { randomArray } from '../helpers/fixtures.js';

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function naiveGemm(tA: number, tB: number, M: number, N: number, K: number, alpha: number, A: Float32Array, lda: number,
  B: Float32Array, ldb: number, beta: number, C: Float32Array, ldc: number): Float64Array {
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += (tA ? A[k * lda + i] : A[i * lda + k]) * (tB ? B[j * ldb + k] : B[k * ldb + j]);
    out[i * N + j] = alpha * s + beta * C[i * ldc + j];
  }
  return out;
}

test('sgemm (BLAS and fallback) matches a naive triple loop for every transpose and odd sizes', () => {
  for (const fb of [0, 1] as const) {
    for (const [M, N, K] of [[1, 1, 1], [1, 300, 513], [7, 5, 3], [33, 130, 260], [4, 257, 64], [65, 3, 300]]) {
      for (const tA of [0, 1] as const) for (const tB of [0, 1] as const) {
        const lda = (tA ? M : K) + 2, ldb = (tB ? K : N) + 1, ldc = N + 3;
        const A = randomArray((tA ? K : M) * lda, 1 + M), B = randomArray((tB ? N : K) * ldb, 2 + N), C = randomArray(M * ldc, 3);
        const want = naiveGemm(tA, tB, M, N, K, 0.5, A, lda, B, ldb, 0.25, C, ldc);
        native.sgemm(tA, tB, M, N, K, 0.5, A, lda, B, ldb, 0.25, C, ldc, fb);
        const got = new Float64Array(M * N);
        for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) got[i * N + j] = C[i * ldc + j];
        assert.ok(maxAbsDiff(got, want) < 1e-4 * Math.sqrt(K), `fb=${fb} ${M}x${N}x${K} tA=${tA} tB=${tB}`);
      }
    }
  }
});

test('sgemm with beta=0 ignores NaN in C and K=0 scales C', () => {
  const C = new Float32Array([NaN, NaN]);
  native.sgemm(0, 0, 1, 2, 1, 1, new Float32Array([2]), 1, new Float32Array([3, 4]), 2, 0, C, 2);
  assert.deepEqual([...C], [6, 8]);
  const D = new Float32Array([1, 2]);
  native.sgemm(0, 0, 1, 2, 0, 1, new Float32Array(0), 1, new Float32Array(0), 2, 2, D, 2);
  assert.deepEqual([...D], [2, 4]);
});

test('sgemm rejects bad sizes, short buffers, wrong types and aliasing with a clear error', () => {
  const a = new Float32Array(6), b = new Float32Array(6), c = new Float32Array(4);
  assert.throws(() => native.sgemm(0, 0, 2, 2, 3, 1, a, 3, b.subarray(0, 5), 2, 0, c, 2), /argument 'B' has 5 elements, needs at least 6/);
  assert.throws(() => native.sgemm(0, 0, 2, 2, 4, 1, a, 4, b, 2, 0, c, 2), /argument 'A' has 6 elements, needs at least 8/);
  assert.throws(() => native.sgemm(0, 0, -1, 2, 3, 1, a, 3, b, 2, 0, c, 2), /'M' must be an integer/);
  assert.throws(() => native.sgemm(0, 0, 2, 2, 3, 1, a, 2, b, 2, 0, c, 2), /lda=2 is smaller than the row length 3/);
  assert.throws(() => native.sgemm(0, 0, 2, 2, 3, 1, new Float64Array(6) as unknown as Float32Array, 3, b, 2, 0, c, 2), /must be a Float32Array/);
  assert.throws(() => native.sgemm(0, 0, 1, 1, 1, 1, c, 1, b, 1, 0, c.subarray(0, 1), 1), /must not overlap/);
  assert.throws(() => native.sgemm(0, 0, 1.5, 2, 3, 1, a, 3, b, 2, 0, c, 2), /integer/);
  assert.throws(() => (native.sgemm as unknown as (...x: unknown[]) => void)(0, 0, 2), /expected 13 arguments/);
});

function spd(n: number, seed: number): Float32Array {
  const X = randomArray(n * n, seed);
  const A = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let k = 0; k < n; k++) s += X[i * n + k] * X[j * n + k];
    A[i * n + j] = s + (i === j ? n : 0);
  }
  return A;
}

test('cholesky (LAPACK and C) reproduces A = L L^T with L lower triangular', () => {
  const n = 37;
  for (const lap of [0, 1] as const) {
    const A = spd(n, 5), L = A.slice();
    assert.equal(native.cholesky(L, n, lap), 0);
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) assert.equal(L[i * n + j], 0);
    let err = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += L[i * n + k] * L[j * n + k];
      err = Math.max(err, Math.abs(s - A[i * n + j]));
    }
    assert.ok(err < 1e-3, `lapack=${lap} err=${err}`);
  }
});

test('cholesky reports the failing minor of a matrix that is not positive definite', () => {
  for (const lap of [0, 1] as const) {
    const A = new Float32Array([4, 2, 0, 2, 1, 0, 0, 0, 1]);  // second leading minor is 0
    assert.equal(native.cholesky(A, 3, lap), 2);
  }
});

test('spdInverse (LAPACK and C) gives A A^-1 = I', () => {
  const n = 29;
  for (const lap of [0, 1] as const) {
    const A = spd(n, 9), inv = A.slice();
    assert.equal(native.spdInverse(inv, n, lap), 0);
    let err = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += A[i * n + k] * inv[k * n + j];
      err = Math.max(err, Math.abs(s - (i === j ? 1 : 0)));
      assert.equal(inv[i * n + j], inv[j * n + i]);
    }
    assert.ok(err < 1e-4, `lapack=${lap} err=${err}`);
  }
});

test('rmsnorm and layernorm match their definitions', () => {
  const rows = 5, dim = 33, x = randomArray(rows * dim, 1, 3), w = randomArray(dim, 2), b = randomArray(dim, 3);
  const out = new Float32Array(rows * dim), ln = new Float32Array(rows * dim);
  native.rmsnorm(out, x, w, rows, dim, 1e-5);
  native.layernorm(ln, x, w, b, rows, dim, 1e-5);
  const want = new Float32Array(rows * dim), wantLn = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const row = Array.from(x.subarray(r * dim, r * dim + dim));
    const ms = row.reduce((s, v) => s + v * v, 0) / dim;
    const mean = row.reduce((s, v) => s + v, 0) / dim, variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / dim;
    row.forEach((v, i) => {
      want[r * dim + i] = (v / Math.sqrt(ms + 1e-5)) * w[i];
      wantLn[r * dim + i] = ((v - mean) / Math.sqrt(variance + 1e-5)) * w[i] + b[i];
    });
  }
  assert.ok(maxAbsDiff(out, want) < 1e-5);
  assert.ok(maxAbsDiff(ln, wantLn) < 1e-5);
});

test('rmsnormBackward matches finite differences of the forward', () => {
  const rows = 2, dim = 8, x = randomArray(rows * dim, 4), w = randomArray(dim, 5), g = randomArray(rows * dim, 6);
  const dx = new Float32Array(rows * dim), dw = new Float32Array(dim);
  native.rmsnormBackward(dx, dw, g, x, w, rows, dim, 1e-5);
  const loss = (xx: Float32Array, ww: Float32Array): number => {
    const o = new Float32Array(rows * dim);
    native.rmsnorm(o, xx, ww, rows, dim, 1e-5);
    return o.reduce((s, v, i) => s + v * g[i], 0);
  };
  const h = 1e-3;
  for (const i of [0, 3, 9, 15]) {
    const xp = x.slice(), xm = x.slice();
    xp[i] += h; xm[i] -= h;
    assert.ok(Math.abs((loss(xp, w) - loss(xm, w)) / (2 * h) - dx[i]) < 2e-2, `dx[${i}]`);
  }
  for (const i of [0, 7]) {
    const wp = w.slice(), wm = w.slice();
    wp[i] += h; wm[i] -= h;
    assert.ok(Math.abs((loss(x, wp) - loss(x, wm)) / (2 * h) - dw[i]) < 2e-2, `dw[${i}]`);
  }
});

test('rope rotates pairs (i, i+d/2) by pos * invFreq', () => {
  const rows = 3, nh = 2, hd = 8, x = randomArray(rows * nh * hd, 7), pos = new Int32Array([0, 5, 17]);
  const inv = Float32Array.from({ length: hd / 2 }, (_, i) => 1 / 10000 ** ((2 * i) / hd));
  const y = x.slice();
  native.rope(y, pos, inv, rows, nh, hd);
  for (let r = 0; r < rows; r++) for (let h = 0; h < nh; h++) for (let i = 0; i < hd / 2; i++) {
    const base = r * nh * hd + h * hd, a = x[base + i], b = x[base + i + hd / 2], t = pos[r] * inv[i];
    assert.ok(Math.abs(y[base + i] - (a * Math.cos(t) - b * Math.sin(t))) < 1e-5);
    assert.ok(Math.abs(y[base + i + hd / 2] - (b * Math.cos(t) + a * Math.sin(t))) < 1e-5);
  }
  assert.throws(() => native.rope(y, pos, inv, rows, nh, 7), /headDim/);
});

test('activations, residual add, bias and embedding gather', () => {
  const n = 1000, x = randomArray(n, 8, 6), y = randomArray(n, 9, 6);
  const silu = new Float32Array(n), gelu = new Float32Array(n), geluT = new Float32Array(n), sw = new Float32Array(n), add = new Float32Array(n);
  native.silu(silu, x, n); native.gelu(gelu, x, n, 0); native.gelu(geluT, x, n, 1); native.swiglu(sw, x, y, n); native.add(add, x, y, n);
  const erf = (v: number): number => { // Abramowitz-Stegun 7.1.26 is too coarse; integrate instead
    let s = 0; const steps = 2000, h = v / steps;
    for (let i = 0; i < steps; i++) { const t = (i + 0.5) * h; s += Math.exp(-t * t); }
    return (2 / Math.sqrt(Math.PI)) * s * h;
  };
  for (let i = 0; i < n; i += 7) {
    const v = x[i], sig = 1 / (1 + Math.exp(-v));
    assert.ok(Math.abs(silu[i] - v * sig) < 1e-5);
    assert.ok(Math.abs(sw[i] - v * sig * y[i]) < 1e-4);
    assert.ok(Math.abs(gelu[i] - 0.5 * v * (1 + erf(v / Math.SQRT2))) < 1e-4);
    assert.ok(Math.abs(geluT[i] - 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)))) < 1e-5);
    assert.ok(Math.abs(add[i] - (x[i] + y[i])) < 1e-6);
  }
  const table = randomArray(10 * 4, 10), out = new Float32Array(3 * 4);
  native.embedding(out, table, new Int32Array([9, 0, 4]), 3, 4, 10);
  assert.deepEqual([...out.subarray(0, 4)], [...table.subarray(36, 40)]);
  assert.deepEqual([...out.subarray(8, 12)], [...table.subarray(16, 20)]);
  assert.throws(() => native.embedding(out, table, new Int32Array([9, 10, 4]), 3, 4, 10), /token id 10 outside the vocabulary of 10/);
  let d = 0;
  for (let i = 0; i < n; i++) d += x[i] * y[i];
  assert.ok(Math.abs(native.dot(x, y, n) - d) < 1e-3);
  const xb = new Float32Array([1, 2, 3, 4]);
  native.addBias(xb, new Float32Array([10, 20]), 2, 2);
  assert.deepEqual([...xb], [11, 22, 13, 24]);
});

test('swigluBackward matches finite differences', () => {
  const n = 16, g = randomArray(n, 11, 3), u = randomArray(n, 12, 3), dout = randomArray(n, 13);
  const dg = new Float32Array(n), du = new Float32Array(n);
  native.swigluBackward(dg, du, dout, g, u, n);
  const f = (gg: number, uu: number): number => (gg / (1 + Math.exp(-gg))) * uu;
  for (let i = 0; i < n; i++) {
    const h = 1e-3;
    assert.ok(Math.abs(dout[i] * (f(g[i] + h, u[i]) - f(g[i] - h, u[i])) / (2 * h) - dg[i]) < 1e-2);
    assert.ok(Math.abs(dout[i] * (f(g[i], u[i] + h) - f(g[i], u[i] - h)) / (2 * h) - du[i]) < 1e-2);
  }
});

function naiveAttention(q: Float32Array, k: Float32Array, v: Float32Array, qRows: number, start: number, nh: number, nkv: number,
  hd: number, kvStride: number, window: number): Float32Array {
  const out = new Float32Array(qRows * nh * hd), group = nh / nkv, scale = 1 / Math.sqrt(hd);
  for (let r = 0; r < qRows; r++) for (let h = 0; h < nh; h++) {
    const g = Math.floor(h / group), p = start + r, lo = window > 0 ? Math.max(0, p - window + 1) : 0;
    const scores: number[] = [];
    for (let j = lo; j <= p; j++) {
      let s = 0;
      for (let i = 0; i < hd; i++) s += q[r * nh * hd + h * hd + i] * k[j * kvStride + g * hd + i];
      scores.push(s * scale);
    }
    const m = Math.max(...scores), e = scores.map((s) => Math.exp(s - m)), z = e.reduce((a, b) => a + b, 0);
    for (let i = 0; i < hd; i++) {
      let o = 0;
      for (let j = lo; j <= p; j++) o += (e[j - lo] / z) * v[j * kvStride + g * hd + i];
      out[r * nh * hd + h * hd + i] = o;
    }
  }
  return out;
}

test('attention (GEMM path, direct path, KV-cache offset, GQA, sliding window) matches a naive softmax(QK^T)V', () => {
  const cases = [
    { qRows: 70, start: 0, nh: 4, nkv: 2, hd: 16, window: 0 },   // prefill, GEMM path with a partial block
    { qRows: 3, start: 10, nh: 8, nkv: 2, hd: 8, window: 0 },    // decode with cache
    { qRows: 20, start: 45, nh: 2, nkv: 1, hd: 32, window: 0 },  // GEMM path with cache offset
    { qRows: 40, start: 0, nh: 2, nkv: 2, hd: 8, window: 7 },    // sliding window, GEMM path
    { qRows: 2, start: 30, nh: 2, nkv: 1, hd: 8, window: 5 },    // sliding window, direct path
  ];
  for (const c of cases) {
    const kvStride = c.nkv * c.hd + 3, total = c.start + c.qRows;
    const q = randomArray(c.qRows * c.nh * c.hd, 21), k = randomArray(total * kvStride, 22), v = randomArray(total * kvStride, 23);
    const out = new Float32Array(c.qRows * c.nh * c.hd);
    native.attention(out, q, k, v, c.qRows, c.start, c.nh, c.nkv, c.hd, kvStride, 1 / Math.sqrt(c.hd), c.window);
    const want = naiveAttention(q, k, v, c.qRows, c.start, c.nh, c.nkv, c.hd, kvStride, c.window);
    assert.ok(maxAbsDiff(out, want) < 1e-5, JSON.stringify(c));
  }
  const o = new Float32Array(16);
  assert.throws(() => native.attention(o, o.slice(), new Float32Array(8), new Float32Array(8), 2, 0, 2, 2, 4, 8, 1), /argument 'k' has 8 elements, needs at least 16/);
  assert.throws(() => native.attention(o, o.slice(), o.slice(), o.slice(), 2, 0, 3, 2, 4, 8, 1), /not a multiple/);
});

test('nll, greedy flags and logSoftmax match a double-precision log-sum-exp', () => {
  const rows = 4, vocab = 50, logits = randomArray(rows * vocab, 31, 10), targets = new Int32Array([0, 49, 7, 7]);
  let am = 0;
  for (let j = 1; j < vocab; j++) if (logits[2 * vocab + j] > logits[2 * vocab + am]) am = j;
  targets[2] = am;
  const nll = new Float64Array(rows), greedy = new Uint8Array(rows), ls = new Float32Array(rows * vocab);
  native.nll(nll, greedy, logits, targets, rows, vocab);
  native.logSoftmax(ls, logits, rows, vocab);
  for (let r = 0; r < rows; r++) {
    const row = Array.from(logits.subarray(r * vocab, (r + 1) * vocab)), m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    assert.ok(Math.abs(nll[r] - (lse - row[targets[r]])) < 1e-6);
    assert.ok(Math.abs(ls[r * vocab + 3] - (row[3] - lse)) < 1e-5);
  }
  assert.equal(greedy[2], 1);
  assert.throws(() => native.nll(nll, null, logits, new Int32Array([0, 50, 0, 0]), rows, vocab), /token id 50 outside/);
});

test('f16/bf16 conversions handle normals, subnormals, infinities and NaN', () => {
  const halves = new Uint16Array([0x0000, 0x8000, 0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x7c00, 0xfc00, 0x7e00, 0x3555]);
  const out = new Float32Array(halves.length);
  native.f16ToF32(out, halves);
  const want = [0, -0, 1, -2, 65504, 2 ** -24, 1023 * 2 ** -24, Infinity, -Infinity, NaN, 0.333251953125];
  want.forEach((w, i) => assert.ok(Object.is(out[i], w) || (Number.isNaN(w) && Number.isNaN(out[i])), `f16 ${i}: ${out[i]} vs ${w}`));
  const back = new Uint16Array(halves.length);
  native.f32ToF16(back, out);
  assert.deepEqual([...back], [...halves]);
  const round = new Uint16Array(3);
  native.f32ToF16(round, new Float32Array([1 + 2 ** -11, 1 + 3 * 2 ** -11, 70000]));  // ties to even, overflow
  assert.deepEqual([...round], [0x3c00, 0x3c02, 0x7c00]);
  const bf = new Uint16Array([0x3f80, 0xc000, 0x7f80, 0x0001]), bo = new Float32Array(4);
  native.bf16ToF32(bo, bf);
  assert.deepEqual([...bo], [1, -2, Infinity, new Float32Array(new Uint32Array([0x00010000]).buffer)[0]]);
  const bb = new Uint16Array(2);
  native.f32ToBf16(bb, new Float32Array([1.00390625, 1.01171875]));  // halfway cases round to even
  assert.deepEqual([...bb], [0x3f80, 0x3f82]);
});

test('info reports the linked BLAS and threads; setThreads validates', () => {
  const info = native.info();
  assert.ok(['openblas', 'accelerate', 'fallback'].includes(info.blas));
  assert.ok(info.threads >= 1);
  assert.throws(() => native.setThreads(0), /'n' must be an integer in \[1, 1024\]/);
});
