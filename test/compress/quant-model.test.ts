// Quantization on the babyllama fixture: layer-output reconstruction on real calibration activations
// (GPTQ and AWQ against RTN), and perplexity on the TinyStories excerpt after each method run through
// the sequential pipeline, exported, and reloaded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { native } from '../../src/core/native.js';
import { loadModelFromDir, LoadedModel } from '../../src/model/load.js';
import { LayerwiseLM, isLayerwise } from '../../src/model/causal-lm.js';
import { DenseLinear, LinearSite } from '../../src/model/linear.js';
import { Int8Linear } from '../../src/model/int8-linear.js';
import { perplexity } from '../../src/model/scoring.js';
import { compressModel } from '../../src/compress/pipeline.js';
import { exportCompressedModel } from '../../src/compress/export.js';
import { METHODS } from '../../src/compress/registry.js';
import { resolveCalibrationSource, sampleCalibration } from '../../src/compress/calibration.js';
import { rtnQuantize } from '../../src/compress/rtn.js';
import { gptq } from '../../src/compress/gptq.js';
import { awq } from '../../src/compress/awq.js';
import { CompressionParams } from '../../src/compress/types.js';
import { shared, tempDir } from '../helpers/fixtures.js';
import { params } from './quant-helpers.js';

const babyDir = shared('models', 'babyllama-tok105');
const excerpt = fs.readFileSync(shared('data', 'tinystories', 'TinyStories-valid-excerpt.txt'), 'utf8');

function load(dir = babyDir): LoadedModel & { model: LayerwiseLM } {
  const m = loadModelFromDir(dir);
  assert.ok(isLayerwise(m.model));
  return m as LoadedModel & { model: LayerwiseLM };
}

const base = load();
const calibrationSet = sampleCalibration(base.tokenizer, resolveCalibrationSource('c4', shared('data')), { nsamples: 16, seqlen: 128, seed: 0 });

/** ||X (W0 - W)^T||_F^2 for X (rows, in). */
function outputError(X: Float32Array, rows: number, W0: Float32Array, W: Float32Array, out: number, inF: number): number {
  const D = new Float32Array(W0.length);
  for (let i = 0; i < D.length; i++) D[i] = W0[i] - W[i];
  const Y = new Float32Array(rows * out);
  native.sgemm(0, 1, rows, out, inF, 1, X, inF, D, inF, 0, Y, out);
  return native.dot(Y, Y, Y.length);
}

test('on real calibration activations, GPTQ and AWQ reconstruct every layer output at least as well as RTN (3 and 4 bits)', (t) => {
  // Inputs of every linear layer of the dense model on 4 calibration windows (512 rows).
  const inputs = new Map<string, { site: LinearSite; X: Float32Array; rows: number }>();
  base.model.forward(calibrationSet.samples.slice(0, 4).map((ids) => ({ ids })), {
    logits: 'none',
    hook: (site, input, rows) => { inputs.set(`${site.layer}.${site.name}`, { site, X: input.slice(0, rows * site.linear.inFeatures), rows }); },
  });
  assert.equal(inputs.size, 35);
  for (const [bits, groupSize] of [[3, 32], [4, 32], [4, 128]]) {
    const totals = { rtn: 0, gptq: 0, awq: 0 };
    for (const [key, { site, X, rows }] of inputs) {
      const { outFeatures: out, inFeatures: inF, weight: W0 } = site.linear;
      const p: CompressionParams = params({ bits, groupSize, awqClip: true });
      const r = W0.slice();
      rtnQuantize(r, out, inF, bits, groupSize, false);
      const errRtn = outputError(X, rows, W0, r, out, inF);
      const err: Record<'gptq' | 'awq', number> = { gptq: 0, awq: 0 };
      for (const method of [gptq, awq]) {
        const linear = new DenseLinear(W0.slice(), null, out, inF), s = { layer: site.layer, name: site.name, linear };
        method.validate(p, [inF]);
        const stats = method.newStats!(s, p);
        stats.addBatch(X, rows);
        method.compressLayer(s, stats, p);
        err[method.id as 'gptq' | 'awq'] = outputError(X, rows, W0, linear.weight, out, inF);
      }
      assert.ok(err.gptq <= errRtn, `${bits}-bit g${groupSize} ${key}: GPTQ ${err.gptq} > RTN ${errRtn}`);
      assert.ok(err.awq <= errRtn * (1 + 1e-6), `${bits}-bit g${groupSize} ${key}: AWQ ${err.awq} > RTN ${errRtn}`);
      totals.rtn += errRtn; totals.gptq += err.gptq; totals.awq += err.awq;
    }
    t.diagnostic(`${bits}-bit g${groupSize} summed output error: rtn ${totals.rtn.toPrecision(4)}, gptq ${totals.gptq.toPrecision(4)} ` +
      `(${(totals.gptq / totals.rtn).toFixed(3)}x), awq ${totals.awq.toPrecision(4)} (${(totals.awq / totals.rtn).toFixed(3)}x)`);
  }
});

test('perplexity after RTN, GPTQ, AWQ (4-bit g32) and LLM.int8() through the pipeline; exported folders reload and score the same', (t) => {
  const t0 = Date.now();
  const dense = perplexity(base.model, base.tokenizer, excerpt, 256).perplexity;
  t.diagnostic(`dense perplexity ${dense.toFixed(4)}`);
  const probe = [base.tokenizer.encode(excerpt.slice(0, 200)), base.tokenizer.encode(excerpt.slice(1000, 1150))];
  const results: Record<string, number> = {};
  for (const id of ['rtn', 'gptq', 'awq', 'llm-int8']) {
    const ts = Date.now();
    const m = load(), method = METHODS[id];
    const p = params({ method: id, ...method.defaults, bits: id === 'llm-int8' ? 8 : 4, groupSize: id === 'llm-int8' ? 0 : 32, awqClip: true });
    const calib = method.needsCalibration ? calibrationSet : null;
    const report = compressModel(m.model, method, p, calib?.samples ?? null);
    const compressSeconds = (Date.now() - ts) / 1000;
    results[id] = perplexity(m.model, m.tokenizer, excerpt, 256).perplexity;
    // export and reload: weight-only methods give identical logits; llm-int8 rebuilds the int8 mode
    const out = path.join(tempDir(), id);
    exportCompressedModel({ outDir: out, sourceDir: babyDir, sourceSpec: babyDir, model: m.model, report, calibration: calib });
    const back = load(out);
    const want = m.model.forward(probe.map((ids) => ({ ids }))).logits, got = back.model.forward(probe.map((ids) => ({ ids }))).logits;
    if (id === 'llm-int8') {
      assert.ok(back.model.linearSites().every((s) => s.linear instanceof Int8Linear));
      let d = 0, mx = 0;
      for (let i = 0; i < got.length; i++) { d = Math.max(d, Math.abs(got[i] - want[i])); mx = Math.max(mx, Math.abs(want[i])); }
      assert.ok(d < 1e-2 * mx, `reloaded int8 logits differ by ${d}`);
    } else {
      assert.deepEqual(got, want, `${id}: reloaded logits differ`);
    }
    t.diagnostic(`${id}: perplexity ${results[id].toFixed(4)} (${((results[id] / dense - 1) * 100).toFixed(2)}% over dense), compress ${compressSeconds.toFixed(2)} s`);
  }
  assert.ok(Math.abs(results['llm-int8'] / dense - 1) < 0.01, `LLM.int8() perplexity ${results['llm-int8']} vs dense ${dense}`);
  for (const id of ['rtn', 'gptq', 'awq']) assert.ok(results[id] > dense * 0.99 && results[id] < dense * 1.25, `${id} perplexity ${results[id]}`);
  assert.ok(results.gptq <= results.rtn, `GPTQ ${results.gptq} vs RTN ${results.rtn}`);
  t.diagnostic(`total ${((Date.now() - t0) / 1000).toFixed(1)} s`);
});
