// Generation: the PRNG against a BigInt reference, sampling filters against their definitions,
// seeded determinism independent of batching, stop strings, EOS and token limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Xoshiro128, sampleToken, argmax } from '../../src/model/sampling.js';
import { generate } from '../../src/model/generate.js';
import { loadModelFromDir } from '../../src/model/load.js';
import { loglikelihood, loglikelihoodOfIds, splitContinuation } from '../../src/model/scoring.js';
import { CausalLM, ForwardOutput, SequenceInput, packSequences, selectLogitRows } from '../../src/model/causal-lm.js';
import { KVCache } from '../../src/model/kv-cache.js';
import { native } from '../../src/core/native.js';
import { shared } from '../helpers/fixtures.js';

test('xoshiro128** matches an independent BigInt implementation of the published algorithm', () => {
  const M = (1n << 32n) - 1n;
  const rotl = (x: bigint, k: bigint): bigint => ((x << k) | (x >> (32n - k))) & M;
  let s = [0x12345678n, 0x9abcdef0n, 0x0fedcba9n, 0x87654321n];
  const g = Xoshiro128.fromState(...(s.map(Number) as [number, number, number, number]));
  for (let i = 0; i < 1000; i++) {
    const result = (rotl((s[1] * 5n) & M, 7n) * 9n) & M;
    const t = (s[1] << 9n) & M;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 11n);
    s = s.map((x) => x & M);
    assert.equal(g.nextU32(), Number(result), `output ${i}`);
  }
  const a = new Xoshiro128(42, 3), b = new Xoshiro128(42, 3), c = new Xoshiro128(42, 4);
  const xa = Array.from({ length: 8 }, () => a.nextU32()), xb = Array.from({ length: 8 }, () => b.nextU32());
  assert.deepEqual(xa, xb);
  assert.notDeepEqual(xa, Array.from({ length: 8 }, () => c.nextU32()));
});

test('sampling frequencies follow temperature, top-k and top-p as defined', () => {
  const logits = Float32Array.from([2, 1, 0.5, 0, -1, 3]);
  const draws = 40000;
  const freq = (p: { temperature: number; topK: number; topP: number }): number[] => {
    const rng = new Xoshiro128(7), n = new Array(logits.length).fill(0);
    for (let i = 0; i < draws; i++) n[sampleToken(logits.slice(), p, rng)]++;
    return n.map((x) => x / draws);
  };
  const softmax = (xs: number[], T: number): number[] => {
    const e = xs.map((x) => Math.exp(x / T)), z = e.reduce((a, b) => a + b, 0);
    return e.map((x) => x / z);
  };
  const full = softmax([...logits], 0.7);
  freq({ temperature: 0.7, topK: 0, topP: 1 }).forEach((f, i) => assert.ok(Math.abs(f - full[i]) < 0.01, `T: ${i}`));
  // top-k 2 keeps ids 5 and 0 only, renormalised.
  const k2 = softmax([3, 2], 1);
  const fk = freq({ temperature: 1, topK: 2, topP: 1 });
  assert.ok(Math.abs(fk[5] - k2[0]) < 0.01 && Math.abs(fk[0] - k2[1]) < 0.01 && fk[1] === 0);
  // top-p 0.8 at T=1: sorted probs .50,.18,.11,.07,.07? -> smallest prefix reaching 0.8 (computed here).
  const p1 = softmax([...logits], 1), order = [...p1.keys()].sort((a, b) => p1[b] - p1[a]);
  let cum = 0, keep = 0;
  while (cum < 0.8) cum += p1[order[keep++]];
  const fp = freq({ temperature: 1, topK: 0, topP: 0.8 });
  order.forEach((id, j) => {
    if (j < keep) assert.ok(Math.abs(fp[id] - p1[id] / cum) < 0.01, `top-p kept ${id}`);
    else assert.equal(fp[id], 0, `top-p dropped ${id}`);
  });
  assert.equal(sampleToken(logits.slice(), { temperature: 0, topK: 0, topP: 1 }, new Xoshiro128(1)), argmax(logits));
});

test('seeded sampling is reproducible, differs across seeds and sample indices, and does not depend on batching', () => {
  const { model, tokenizer } = loadModelFromDir(shared('models', 'babyllama-tok105'));
  const req = { prompt: 'Once upon a time', maxNewTokens: 40, temperature: 1, topP: 0.9, seed: 11, samples: 3 };
  const a = generate(model, tokenizer, [req]);
  const b = generate(model, tokenizer, [req]);
  assert.deepEqual(a.map((s) => s.tokens), b.map((s) => s.tokens));
  assert.deepEqual(a.map((s) => s.sampleIndex), [0, 1, 2]);
  assert.notDeepEqual(a[0].tokens, a[1].tokens);
  // This model is very sure of itself under top-p 0.9; compare seeds on the full distribution.
  const wide = { ...req, topP: 1, samples: 1 };
  assert.notDeepEqual(generate(model, tokenizer, [{ ...wide, seed: 12 }])[0].tokens, generate(model, tokenizer, [wide])[0].tokens);
  // The same request inside a batch with another prompt gives the same samples.
  const batched = generate(model, tokenizer, [{ ...req, prompt: 'The dog ran', seed: 3 }, req], { batchSize: 8 });
  assert.deepEqual(batched.filter((s) => s.requestIndex === 1).map((s) => s.tokens), a.map((s) => s.tokens));
  for (const s of a) assert.equal(s.text, tokenizer.decode(s.tokens, { skipSpecialTokens: true }));
});

test('stop strings cut the continuation; max new tokens ends with "length"', () => {
  const { model, tokenizer } = loadModelFromDir(shared('models', 'stories260K'));
  const [s] = generate(model, tokenizer, [{ prompt: 'Once upon a time', maxNewTokens: 60, stop: ['Lily'] }]);
  assert.equal(s.finishReason, 'stop');
  assert.equal(s.text, ', there was a little girl named ');
  const [t] = generate(model, tokenizer, [{ prompt: 'Once upon a time', maxNewTokens: 5 }]);
  assert.equal(t.finishReason, 'length');
  assert.equal(t.tokens.length, 5);
  const [z] = generate(model, tokenizer, [{ prompt: 'Once upon a time', maxNewTokens: 0 }]);
  assert.deepEqual([z.tokens, z.text, z.finishReason], [[], '', 'length']);
  assert.throws(() => generate(model, tokenizer, [{ prompt: 'x', maxNewTokens: 5, minNewTokens: 6 }]), /minNewTokens/);
  assert.throws(() => generate(model, tokenizer, [{ prompt: 'x', maxNewTokens: 5, topP: 0 }]), /topP/);
});

/** A model whose next-token logits always prefer EOS (2), then token 5: exercises the decode loop. */
class EosLovingLM implements CausalLM {
  readonly info = { modelType: 'test', vocabSize: 8, maxPositions: 64, numLayers: 1, hiddenSize: 1 };
  forward(seqs: SequenceInput[], opts: { logits?: 'all' | 'last' | 'none' | Int32Array } = {}): ForwardOutput {
    const batch = packSequences(seqs, 8, 64), rows = selectLogitRows(batch, opts.logits ?? 'all');
    for (const s of batch.seqs) if (s.cache) { s.cache.reserve(s.length); s.cache.length += s.length; }
    const logits = new Float32Array(rows.length * 8);
    for (let r = 0; r < rows.length; r++) { logits[r * 8 + 2] = 10; logits[r * 8 + 5] = 5; }
    return { logits, logitRows: rows, vocab: 8, rowStart: Int32Array.from(batch.seqs.map((s) => s.rowStart)) };
  }
  newCache(): KVCache { return new KVCache(1, 1, 64); }
  linearSites(): never[] { return []; }
  parameters(): Map<string, { shape: number[]; data: Float32Array }> { return new Map(); }
}

test('EOS ends generation unless min new tokens are still owed', () => {
  const { tokenizer } = loadModelFromDir(shared('models', 'babyllama-tok105'));
  const lm = new EosLovingLM();
  const [a] = generate(lm, tokenizer, [{ prompt: [1], maxNewTokens: 10 }]);
  assert.deepEqual([a.tokens, a.finishReason], [[], 'eos']);
  const [b] = generate(lm, tokenizer, [{ prompt: [1], maxNewTokens: 10, minNewTokens: 3 }]);
  assert.deepEqual([b.tokens, b.finishReason], [[5, 5, 5], 'eos']);
});

test('loglikelihood equals the log-softmax of a full forward at the continuation tokens', () => {
  const { model, tokenizer } = loadModelFromDir(shared('models', 'babyllama-tok105'));
  const reqs = [
    { context: 'Once upon a time there was a', continuation: ' little girl' },
    { context: 'The sun is ', continuation: 'hot.' },  // trailing space moves to the continuation
  ];
  const res = loglikelihood(model, tokenizer, reqs);
  reqs.forEach((r, i) => {
    const { context, continuation } = splitContinuation(tokenizer, r);
    if (i === 1) assert.deepEqual(continuation, tokenizer.encode(' hot.', { addSpecialTokens: false }).slice(-continuation.length));
    const ids = [...context, ...continuation];
    const out = model.forward([{ ids }], { logits: 'all' }), V = out.vocab;
    const ls = new Float32Array(out.logits.length);
    native.logSoftmax(ls, out.logits, ids.length, V);
    let sum = 0, greedy = true;
    for (let j = context.length; j < ids.length; j++) {
      sum += ls[(j - 1) * V + ids[j]];
      greedy &&= argmax(out.logits.subarray((j - 1) * V, j * V)) === ids[j];
    }
    assert.ok(Math.abs(res[i].logprob - sum) < 1e-4, `request ${i}: ${res[i].logprob} vs ${sum}`);
    assert.equal(res[i].greedy, greedy);
    assert.equal(res[i].tokens, continuation.length);
  });
  // A likely continuation scores higher than a garbled one.
  const [good, bad] = loglikelihood(model, tokenizer, [
    { context: 'Once upon a time, there was a little', continuation: ' girl' },
    { context: 'Once upon a time, there was a little', continuation: ' qzxj' },
  ]);
  assert.ok(good.logprob > bad.logprob + 5);
});

test('requests sharing a context (forked KV cache) score as their full sequences do', () => {
  const { model, tokenizer } = loadModelFromDir(shared('models', 'babyllama-tok105'));
  const context = tokenizer.encode('Once upon a time there was a little');
  const conts = [' girl', ' dog named Max', ' x', ' boy who liked to run'].map((c) => tokenizer.encode(c, { addSpecialTokens: false }));
  const together = loglikelihoodOfIds(model, conts.map((continuation) => ({ context, continuation })));
  conts.forEach((continuation, i) => {
    const [alone] = loglikelihoodOfIds(model, [{ context, continuation }]);  // a group of one: full-sequence path
    assert.ok(Math.abs(together[i].logprob - alone.logprob) < 1e-4, `${i}: ${together[i].logprob} vs ${alone.logprob}`);
    assert.equal(together[i].greedy, alone.greedy);
    assert.equal(together[i].tokens, continuation.length);
    together[i].tokenLogprobs.forEach((lp, j) => assert.ok(Math.abs(lp - alone.tokenLogprobs[j]) < 1e-4));
  });
});
