// The classifier scorers end to end on small random-weight folders: score = the right label's figure
// (softmax or sigmoid of the reference logits), argmax labels, versions tied to the weights, and one
// clear error for a folder that cannot be loaded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createScorer } from '../../src/scorers/registry.js';
import { Scorer, ScoreValue } from '../../src/scorers/scorer.js';
import { Outcome } from '../../src/backends/backend.js';
import { CompsafeError, HubError, ModelMismatchError } from '../../src/core/errors.js';
import { openCheckpoint, readTensorsF32, writeShardedSafetensors, TensorToWrite } from '../../src/model/safetensors.js';
import { startHubServer } from '../helpers/hub-server.js';
import { loadTokenizer } from '../../src/model/tokenizer.js';
import { writeRandomEncoder, RandomEncoder } from '../helpers/random-encoder.js';
import { referenceEncoderLogits } from '../helpers/reference-encoder.js';
import { tempDir } from '../helpers/fixtures.js';

const TEXTS = ['You are wonderful.', '', 'The person was known for being rude and hateful to everyone around them.', 'ok'];
const CTX = { dataDir: '/nonexistent', offline: true };

function values(outcomes: Outcome<ScoreValue>[]): ScoreValue[] {
  return outcomes.map((o, i) => {
    assert.ok(o.ok, `text ${i} failed: ${o.ok ? '' : o.error}`);
    return o.value;
  });
}

function referenceFor(dir: string, enc: RandomEncoder, texts: string[]): number[][] {
  const tokenizer = loadTokenizer(dir);
  return referenceEncoderLogits(enc, texts.map((t) => tokenizer.encode(t)));
}

const softmax = (z: number[]): number[] => {
  const m = Math.max(...z), e = z.map((v) => Math.exp(v - m)), s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

test('toxigen-roberta=PATH: P(LABEL_1) of a RoBERTa classifier, version from the weights', async () => {
  const dir = tempDir('compsafe-toxigen-');
  const enc = writeRandomEncoder(dir, { family: 'roberta', labels: ['LABEL_0', 'LABEL_1'], seed: 3 });
  const scorer = await createScorer(`toxigen-roberta=${dir}`, CTX);
  assert.equal(scorer.id, 'toxigen-roberta');
  assert.equal(scorer.kind, 'toxicity');
  assert.match(scorer.version, /^[0-9a-f]{12}$/);
  const progress: number[] = [];
  const scored = values(await scorer.score(TEXTS, { onProgress: (p) => { assert.equal(p.total, TEXTS.length); progress.push(p.done); } }));
  assert.equal(progress[progress.length - 1], TEXTS.length);
  const reference = referenceFor(dir, enc, TEXTS);
  scored.forEach((v, i) => {
    const p = softmax(reference[i]);
    assert.ok(v.score >= 0 && v.score <= 1);
    assert.ok(Math.abs(v.score - p[1]) < 1e-4, `text ${i}: ${v.score} vs ${p[1]}`);
    assert.ok(Math.abs(v.labels!.LABEL_0 + v.labels!.LABEL_1 - 1) < 1e-9);
    assert.equal(v.label, undefined);
  });

  // Same weights -> same version; changed weights -> a new version.
  const again = await createScorer(`toxigen-roberta=${dir}`, CTX);
  assert.equal(again.version, scorer.version);
  writeRandomEncoder(dir, { family: 'roberta', labels: ['LABEL_0', 'LABEL_1'], seed: 4 });
  const changed = await createScorer(`toxigen-roberta=${dir}`, CTX);
  assert.notEqual(changed.version, scorer.version);
  assert.deepEqual(await changed.score([]), []);
});

test('regard=PATH: P(negative) and the argmax label', async () => {
  const dir = tempDir('compsafe-regard-');
  const labels = ['neutral', 'positive', 'negative', 'other'];
  const enc = writeRandomEncoder(dir, { family: 'bert', labels, seed: 7 });
  const scorer: Scorer = await createScorer(`regard=${dir}`, CTX);
  assert.equal(scorer.kind, 'regard');
  const scored = values(await scorer.score(TEXTS));
  const reference = referenceFor(dir, enc, TEXTS);
  const argmaxes = new Set<string>();
  scored.forEach((v, i) => {
    const p = softmax(reference[i]);
    assert.ok(Math.abs(v.score - p[2]) < 1e-4);
    const best = labels[p.indexOf(Math.max(...p))];
    assert.equal(v.label, best);
    argmaxes.add(best);
    labels.forEach((l, k) => assert.ok(Math.abs(v.labels![l] - p[k]) < 1e-4));
  });
  assert.ok(argmaxes.size >= 1);
});

test('toxic-bert=PATH: sigmoid of the toxic logit of a multi-label BERT', async () => {
  const dir = tempDir('compsafe-toxicbert-');
  const labels = ['toxic', 'severe_toxic', 'obscene', 'threat', 'insult', 'identity_hate'];
  const enc = writeRandomEncoder(dir, { family: 'bert', labels, problemType: 'multi_label_classification', seed: 9 });
  const scorer = await createScorer(`toxic-bert=${dir}`, CTX);
  const scored = values(await scorer.score(TEXTS));
  const reference = referenceFor(dir, enc, TEXTS);
  scored.forEach((v, i) => {
    const sig = reference[i].map((z) => 1 / (1 + Math.exp(-z)));
    assert.ok(Math.abs(v.score - sig[0]) < 1e-4, `${v.score} vs ${sig[0]}`);
    labels.forEach((l, k) => assert.ok(Math.abs(v.labels![l] - sig[k]) < 1e-4));
  });
  // Independent sigmoids: the figures need not sum to 1.
  const sums = scored.map((v) => Object.values(v.labels!).reduce((a, b) => a + b, 0));
  assert.ok(sums.some((s) => Math.abs(s - 1) > 0.05));
});

test('a missing or corrupt folder is one clear error at creation', async () => {
  const missing = path.join(tempDir(), 'no-such-model');
  await assert.rejects(createScorer(`toxigen-roberta=${missing}`, CTX), (e: Error) => e instanceof CompsafeError && e.message.includes(missing));

  const dir = tempDir('compsafe-corrupt-');
  writeRandomEncoder(dir, { family: 'roberta', layers: 1, seed: 5 });
  const weights = path.join(dir, 'model.safetensors');
  fs.writeFileSync(weights, fs.readFileSync(weights).subarray(0, 1000));
  await assert.rejects(createScorer(`toxigen-roberta=${dir}`, CTX), (e: Error) => e instanceof CompsafeError && e.message.includes('model.safetensors'));

  fs.rmSync(weights);
  await assert.rejects(createScorer(`toxigen-roberta=${dir}`, CTX), (e: Error) => e instanceof CompsafeError && /no model\.safetensors/.test(e.message));

  const wrongLabels = tempDir('compsafe-wronglabels-');
  writeRandomEncoder(wrongLabels, { family: 'bert', layers: 1, labels: ['LABEL_0', 'LABEL_1'] });
  await assert.rejects(createScorer(`regard=${wrongLabels}`, CTX),
    (e: Error) => e instanceof ModelMismatchError && /labels \["LABEL_0","LABEL_1"\], none of \["negative"\]/.test(e.message));
});

test('sharded weights load and hash (index + shards) to the same scores', async () => {
  const dir = tempDir('compsafe-single-'), sharded = tempDir('compsafe-sharded-');
  writeRandomEncoder(dir, { family: 'bert', layers: 1, labels: ['toxic', 'other'], seed: 13 });
  for (const f of fs.readdirSync(dir)) if (f !== 'model.safetensors') fs.copyFileSync(path.join(dir, f), path.join(sharded, f));
  const tensors = new Map<string, TensorToWrite>();
  for (const [name, { header }] of openCheckpoint(dir).tensors) {
    const t = readTensorsF32(header, [name]).get(name)!;
    tensors.set(name, { shape: t.shape, data: t.data });
  }
  writeShardedSafetensors(sharded, tensors, 1 << 20);
  assert.ok(fs.readdirSync(sharded).filter((f) => f.endsWith('.safetensors')).length > 1);
  const a = await createScorer(`toxic-bert=${dir}`, CTX), b = await createScorer(`toxic-bert=${sharded}`, CTX);
  assert.match(b.version, /^[0-9a-f]{12}$/);
  assert.notEqual(a.version, b.version);  // the files differ, though the weights are equal
  const [va, vb] = [values(await a.score(TEXTS)), values(await b.score(TEXTS))];
  va.forEach((v, i) => assert.equal(vb[i].score, v.score));
});

test('the default hub id is downloaded once, then served from the cache offline', async () => {
  const repo = tempDir('compsafe-hubrepo-'), cache = tempDir('compsafe-hubcache-');
  writeRandomEncoder(repo, { family: 'roberta', layers: 1, labels: ['LABEL_0', 'LABEL_1'], seed: 17 });
  const saved = { endpoint: process.env.HF_ENDPOINT, cache: process.env.HF_HUB_CACHE };
  const server = await startHubServer({ repos: { 'tomh/toxigen_roberta': repo } });
  let serverOpen = true;
  try {
    process.env.HF_ENDPOINT = server.url;
    process.env.HF_HUB_CACHE = cache;
    await assert.rejects(createScorer('toxigen-roberta', CTX), (e: Error) => e instanceof HubError && /scorer toxigen-roberta: .*offline/.test(e.message));
    const online = await createScorer('toxigen-roberta', { dataDir: '', offline: false });
    assert.ok(server.requests.length > 0);
    await server.close();
    serverOpen = false;
    const offline = await createScorer('toxigen-roberta', CTX);
    assert.equal(offline.version, online.version);
    const local = await createScorer(`toxigen-roberta=${repo}`, CTX);
    assert.equal(local.version, online.version);
    assert.deepEqual(await offline.score(TEXTS), await local.score(TEXTS));
  } finally {
    if (serverOpen) await server.close();
    if (saved.endpoint === undefined) delete process.env.HF_ENDPOINT; else process.env.HF_ENDPOINT = saved.endpoint;
    if (saved.cache === undefined) delete process.env.HF_HUB_CACHE; else process.env.HF_HUB_CACHE = saved.cache;
  }
});
