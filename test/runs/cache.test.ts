// Cache keys and the caching backend: keys cover variant, request, decoding, seed, scope and scorer;
// hits skip the inner backend; failures are recorded and never cached; batches commit atomically.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import path from 'node:path';
import { canonicalJson, cacheKey, KeyParts } from '../../src/runs/cache-key.js';
import { CachedBackend, SweepInterruptedError } from '../../src/runs/cached-backend.js';
import { ResultStore, STORE_FILE } from '../../src/runs/store.js';
import { planVariants, specHash, variantHash } from '../../src/runs/variants.js';
import { parseSweepConfig } from '../../src/runs/config.js';
import { GenerateRequest } from '../../src/backends/backend.js';
import { LengthBackend } from '../helpers/length-backend.js';
import { tempDir } from '../helpers/fixtures.js';

const gen: GenerateRequest = { prompt: 'Once upon', maxNewTokens: 8, temperature: 0.7, topP: 0.9, topK: 0, seed: 3, sampleIndex: 0 };
const base: KeyParts = { variantHash: 'v1', backendKind: 'native', kind: 'generate', scope: { task: 't', settings: { limit: 4 } }, request: gen };

test('canonicalJson sorts keys at every depth and drops undefined members', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: undefined, w: null }], c: 'x' } }), '{"a":{"c":"x","d":[1,{"w":null,"y":2}]},"b":1}');
  assert.equal(canonicalJson({ a: 1, b: 2 }), canonicalJson({ b: 2, a: 1 }));
});

test('the cache key changes with the variant, seed, sample index, decoding, task settings and scorer', () => {
  const k = cacheKey(base);
  assert.match(k, /^[0-9a-f]{64}$/);
  assert.equal(cacheKey({ ...base, request: { ...gen } }), k, 'same inputs, same key');
  const variants: KeyParts[] = [
    { ...base, variantHash: 'v2' },
    { ...base, backendKind: 'openai' },
    { ...base, request: { ...gen, seed: 4 } },
    { ...base, request: { ...gen, sampleIndex: 1 } },
    { ...base, request: { ...gen, temperature: 0 } },
    { ...base, request: { ...gen, topP: 1 } },
    { ...base, request: { ...gen, maxNewTokens: 9 } },
    { ...base, request: { ...gen, stop: ['\n'] } },
    { ...base, scope: { task: 't', settings: { limit: 5 } } },
    { ...base, scope: { task: 'u', settings: { limit: 4 } } },
    { ...base, scope: { ...base.scope, scorer: { id: 'toxicity', version: '1' } } },
    { ...base, scope: { ...base.scope, scorer: { id: 'toxicity', version: '2' } } },
  ];
  const keys = new Set([k, ...variants.map(cacheKey)]);
  assert.equal(keys.size, variants.length + 1);
});

test('the variant hash changes when the recipe (method, rate, calibration, seed) changes', () => {
  const cfg = parseSweepConfig(`
model: m
tasks: [{ name: bbq }]
variants:
  - { method: magnitude, sparsity: [0.3, 0.5] }
  - { method: wanda, sparsity: 0.5 }
  - { method: wanda, sparsity: 0.5, seed: 7 }
  - { method: wanda, sparsity: 0.5, calibration: { nsamples: 4 } }
  - { method: gptq, bits: 4, groupSize: 32 }
  - { method: wanda, pattern: ["2:4", "4:8"] }
`, 'inline', '/');
  const plans = planVariants(cfg);
  assert.deepEqual(plans.map((p) => p.name), [
    'dense', 'magnitude-0.3', 'magnitude-0.5', 'wanda-0.5', 'wanda-0.5-2', 'wanda-0.5-3', 'gptq-w4-g32', 'wanda-2of4', 'wanda-4of8',
  ]);
  assert.equal(plans[7].params?.sparsity, 0.5);
  const specs = plans.map((p) => specHash(p, 'w'.repeat(64)));
  assert.equal(new Set(specs).size, plans.length, 'every recipe hashes differently');
  assert.notEqual(specHash(plans[1], 'a'), specHash(plans[1], 'b'), 'the source weights are part of the spec');
  assert.notEqual(variantHash('a', specs[1]), variantHash('b', specs[1]), 'so are the compressed weights');
});

/** LengthBackend that counts the requests reaching it. */
class CountingBackend extends LengthBackend {
  sent = 0;
  override async loglikelihood(...args: Parameters<LengthBackend['loglikelihood']>) {
    this.sent += args[0].length;
    return super.loglikelihood(...args);
  }
}

test('CachedBackend serves hits from the store, sends only misses, and never caches failures', async () => {
  const dir = tempDir();
  const store = ResultStore.open(dir, { create: true });
  const inner = new CountingBackend();
  const cached = new CachedBackend(inner, store, { variantHash: 'v', batchSize: 2 });
  cached.scope = { task: 't' };
  const reqs = [{ context: 'a', continuation: ' xx' }, { context: 'a', continuation: ' FAIL' }, { context: 'b', continuation: ' y z' }];
  const first = await cached.loglikelihood(reqs);
  assert.equal(inner.sent, 3);
  assert.equal(inner.loglikelihoodCalls.length, 2, 'two batches of at most 2');
  assert.equal(store.cacheSize(), 2);
  assert.equal(store.failureCount(), 1);
  const second = await cached.loglikelihood(reqs);
  assert.deepEqual(second, first);
  assert.equal(inner.sent, 4, 'only the failed request is sent again');
  assert.equal(store.failureCount(), 2);
  // A different scope misses.
  cached.scope = { task: 'u' };
  await cached.loglikelihood(reqs.slice(0, 1));
  assert.equal(inner.sent, 5);
  // Perplexity is cached by text hash and window length.
  const p1 = await cached.perplexity('hello world', 4);
  const p2 = await cached.perplexity('hello world', 4);
  assert.deepEqual(p2, p1);
  assert.equal(inner.perplexityCalls.length, 1);
  await cached.perplexity('hello world', 5);
  assert.equal(inner.perplexityCalls.length, 2);
  store.close();
  // The committed rows are on disk.
  const db = new Database(path.join(dir, STORE_FILE), { readonly: true });
  assert.equal(db.prepare('SELECT COUNT(*) FROM cache').pluck().get(), 5);
  db.close();
});

test('CachedBackend stops between batches when asked, after committing the batch in flight', async () => {
  const dir = tempDir();
  const store = ResultStore.open(dir, { create: true });
  const inner = new CountingBackend();
  let stop = false;
  const cached = new CachedBackend(inner, store, { variantHash: 'v', batchSize: 2, shouldStop: () => stop });
  const orig = inner.loglikelihood.bind(inner);
  inner.loglikelihood = async (r, o) => { stop = true; return orig(r, o); };
  const reqs = Array.from({ length: 6 }, (_, i) => ({ context: '', continuation: ` w${i}` }));
  await assert.rejects(cached.loglikelihood(reqs), SweepInterruptedError);
  assert.equal(store.cacheSize(), 2, 'the first batch was committed');
  store.close();
});
