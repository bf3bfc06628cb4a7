// Linear-layer hooks: every linear layer's input, in forward order, with the values the layer sees;
// and the layer-by-layer API (embed -> layerForward -> head) that calibration builds on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModelFromDir } from '../../src/model/load.js';
import { LlamaModel } from '../../src/model/architectures/llama.js';
import { DenseLinear } from '../../src/model/linear.js';
import { shared } from '../helpers/fixtures.js';

const ORDER = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj'];

test('the hook sees each linear input once per layer, in order, with the right shape and values', () => {
  const { model, tokenizer, config } = loadModelFromDir(shared('models', 'babyllama-tok105'));
  const a = tokenizer.encode('Once upon a time'), b = tokenizer.encode('Tom ran.');
  const seen: { layer: number; name: string; rows: number; cols: number; copy: Float32Array }[] = [];
  model.forward([{ ids: a }, { ids: b }], {
    logits: 'none',
    hook: (site, input, rows) => { seen.push({ layer: site.layer, name: site.name, rows, cols: site.linear.inFeatures, copy: input.slice(0, rows * site.linear.inFeatures) }); },
  });
  assert.equal(seen.length, 7 * config.numLayers);
  seen.forEach((s, i) => {
    assert.equal(s.layer, Math.floor(i / 7));
    assert.equal(s.name, ORDER[i % 7]);
    assert.equal(s.rows, a.length + b.length);
    assert.equal(s.copy.length, s.rows * (s.name === 'mlp.down_proj' ? config.intermediateSize : config.hiddenSize));
  });
  // Layer 0's q_proj input is RMSNorm(embedding) computed by hand.
  const llama = model as LlamaModel, H = config.hiddenSize;
  const ids = [...a, ...b];
  for (let t = 0; t < ids.length; t++) {
    const e = llama.embed.subarray(ids[t] * H, ids[t] * H + H);
    const ms = e.reduce((s, v) => s + v * v, 0) / H;
    for (let i = 0; i < H; i += 17) {
      const want = (e[i] / Math.sqrt(ms + config.rmsNormEps)) * llama.layers[0].inputNorm[i];
      assert.ok(Math.abs(seen[0].copy[t * H + i] - want) < 1e-5);
    }
  }
  // q, k and v read the same normalised input.
  assert.deepEqual(seen[0].copy, seen[1].copy);
  assert.deepEqual(seen[0].copy, seen[2].copy);
});

test('layer-by-layer forward equals the whole forward, and a replaced linear layer is used', () => {
  const { model, tokenizer } = loadModelFromDir(shared('models', 'babyllama-tok105'));
  const llama = model as LlamaModel;
  const ids = tokenizer.encode('The little bird sang.');
  const whole = llama.forward([{ ids }], { logits: 'all' });
  const batch = llama.pack([{ ids }]);
  const h = llama.embedBatch(batch);
  for (let l = 0; l < llama.info.numLayers; l++) llama.layerForward(l, h, batch);
  const rows = Int32Array.from(ids.map((_, i) => i));
  assert.deepEqual(llama.head(h, rows), whole.logits);
  // Zeroing layer 4's down_proj through setLinear changes the logits; restoring it brings them back.
  const site = llama.linearSites().find((s) => s.layer === 4 && s.name === 'mlp.down_proj')!;
  const original = site.linear;
  llama.setLinear(4, 'mlp.down_proj', new DenseLinear(new Float32Array(original.weight.length), null, original.outFeatures, original.inFeatures));
  const changed = llama.forward([{ ids }], { logits: 'all' }).logits;
  assert.notDeepEqual(changed, whole.logits);
  llama.setLinear(4, 'mlp.down_proj', original);
  assert.deepEqual(llama.forward([{ ids }], { logits: 'all' }).logits, whole.logits);
  assert.throws(() => llama.setLinear(4, 'mlp.down_proj', new DenseLinear(new Float32Array(4), null, 2, 2)), /shape mismatch/);
  // Parameters are live views: editing a weight in place changes the output.
  const w = llama.parameters().get('model.layers.0.self_attn.q_proj.weight')!;
  assert.deepEqual(w.shape, [128, 128]);
  assert.equal(w.data, llama.layers[0].q.weight);
});
