// config.json parsing: families, defaults, errors; RoPE frequencies with Llama 3.1 scaling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLlamaConfig, ropeInvFreq } from '../../src/model/architectures/llama-config.js';
import { architectureFor } from '../../src/model/architectures/index.js';

const base = { model_type: 'llama', hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32, num_attention_heads: 32,
  num_key_value_heads: 8, vocab_size: 128256, max_position_embeddings: 131072, rope_theta: 500000, rms_norm_eps: 1e-5 };

test('Llama 3.1 rope_scaling: short wavelengths kept, long ones divided by the factor, a smooth ramp between', () => {
  const cfg = parseLlamaConfig({ ...base, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } }, 'c');
  const inv = ropeInvFreq(cfg);
  assert.equal(inv.length, 64);
  const plain = (i: number): number => 1 / 500000 ** ((2 * i) / 128);
  for (let i = 0; i < 64; i++) {
    const wavelen = (2 * Math.PI) / plain(i);
    let want = plain(i);
    if (wavelen > 8192) want = plain(i) / 8;  // longer than original context / low_freq_factor
    else if (wavelen >= 2048) {              // between context/high_freq_factor and context/low_freq_factor
      const smooth = (8192 / wavelen - 1) / (4 - 1);
      want = (1 - smooth) * (plain(i) / 8) + smooth * plain(i);
    }
    assert.ok(Math.abs(inv[i] - want) / want < 1e-6, `i=${i}`);
  }
  assert.ok(Math.abs(inv[0] - 1) < 1e-7);
  assert.ok(Math.abs(inv[63] - plain(63) / 8) / inv[63] < 1e-6);
});

test('family defaults: qwen2 has q/k/v biases, mistral a sliding window, head_dim from hidden/heads', () => {
  const q = parseLlamaConfig({ ...base, model_type: 'qwen2' }, 'c');
  assert.deepEqual([q.qkvBias, q.oBias, q.headDim, q.slidingWindow], [true, false, 128, 0]);
  const m = parseLlamaConfig({ ...base, model_type: 'mistral', sliding_window: 4096 }, 'c');
  assert.equal(m.slidingWindow, 4096);
  const l = parseLlamaConfig({ ...base, attention_bias: true, rope_scaling: { type: 'linear', factor: 2 } }, 'c');
  assert.deepEqual([l.qkvBias, l.oBias], [true, true]);
  const want = 1 / 500000 ** (2 / 128) / 2;
  assert.ok(Math.abs(ropeInvFreq(l)[1] - want) / want < 1e-6);
});

test('bad configs are rejected with the field named', () => {
  assert.throws(() => parseLlamaConfig({ ...base, num_key_value_heads: 5 }, 'cfg.json'), /not a multiple of num_key_value_heads/);
  assert.throws(() => parseLlamaConfig({ ...base, hidden_size: 'big' }, 'cfg.json'), /cfg.json: "hidden_size" must be an integer/);
  assert.throws(() => parseLlamaConfig({ ...base, hidden_act: 'relu2' }, 'cfg.json'), /hidden_act "relu2" is not supported/);
  assert.throws(() => parseLlamaConfig({ ...base, rope_scaling: { type: 'yarn', factor: 4 } }, 'cfg.json'), /rope_scaling type "yarn"/);
  assert.throws(() => architectureFor({ model_type: 'gpt_neox' }), /model_type "gpt_neox" is not supported; supported: llama, mistral, qwen2/);
  assert.throws(() => architectureFor({}), /model_type undefined is not supported/);
});
