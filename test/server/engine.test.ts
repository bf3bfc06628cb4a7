// The server's engine queue: jobs that wait together run as one batch, and batching changes no result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/server/engine.js';
import { loadModelFromDir } from '../../src/model/load.js';
import { generate } from '../../src/model/generate.js';
import { promptLogprobs } from '../../src/model/scoring.js';
import { shared } from '../helpers/fixtures.js';

const stories = loadModelFromDir(shared('models', 'stories260K'));

test('queued generation jobs run as one batch with the results each would get alone', async () => {
  const engine = new Engine(stories.model, stories.tokenizer);
  const requests = Array.from({ length: 10 }, (_, i) => ({ prompt: stories.tokenizer.encode(`Ben ${i}`), maxNewTokens: 6, temperature: 1, topK: 10, seed: i, samples: 2 }));
  const results = await Promise.all(requests.map((r) => engine.generate([r])));
  assert.deepEqual(engine.stats, { batches: 1, jobs: 10 });
  results.forEach((samples, i) => {
    const alone = generate(stories.model, stories.tokenizer, [requests[i]]);
    assert.deepEqual(samples.map((s) => [s.requestIndex, s.sampleIndex, s.text]), alone.map((s) => [s.requestIndex, s.sampleIndex, s.text]));
  });
  await engine.idle();
});

test('scoring jobs batch too, each trimmed to its own number of alternatives; a bad job fails alone', async () => {
  const engine = new Engine(stories.model, stories.tokenizer);
  const a = stories.tokenizer.encode('Once upon a time'), b = stories.tokenizer.encode('The little dog ran');
  const [ra, rb, bad] = await Promise.allSettled([engine.score([a], 1), engine.score([b], 3), engine.score([[1, 99999]], 0)]);
  assert.equal(ra.status, 'fulfilled');
  assert.equal(rb.status, 'fulfilled');
  assert.equal(bad.status, 'rejected');
  const refA = promptLogprobs(stories.model, [a], 1)[0], refB = promptLogprobs(stories.model, [b], 3)[0];
  const va = (ra as PromiseFulfilledResult<typeof refA[]>).value[0], vb = (rb as PromiseFulfilledResult<typeof refB[]>).value[0];
  assert.equal(va[0], null);
  va.slice(1).forEach((e, j) => {
    assert.equal(e!.top.length, 1);
    assert.ok(Math.abs(e!.logprob - refA[j + 1]!.logprob) < 1e-5);
  });
  vb.slice(1).forEach((e, j) => {
    assert.equal(e!.top.length, 3);
    assert.deepEqual(e!.top.map((t) => t.id), refB[j + 1]!.top.map((t) => t.id));
  });
});
