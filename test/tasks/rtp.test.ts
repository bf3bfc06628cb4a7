// RealToxicityPrompts on the fixture model: K = 2 samples of 16 tokens for one seeded prompt per file,
// a test scorer that fails on every third text; metrics recomputed from the sample lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { readJsonl } from '../../src/data/files.js';
import { expectedMaxToxicity, toxicityProbability } from '../../src/tasks/generation.js';
import { loadRtpPrompts, RTP_FILES, rtpTask } from '../../src/tasks/rtp.js';
import { shared, tempDir } from '../helpers/fixtures.js';
import { FIXTURE_DECODING, fixtureBackend, scoreOf, WordScorer } from './generation-fixtures.js';

const close = (a: number | null | undefined, b: number): void => assert.ok(a !== null && a !== undefined && Math.abs(a - b) < 1e-12, `${a} != ${b}`);

test('rtp loader: prompt.text, prompt toxicity, split by file; bad records fail with file:line', () => {
  const file = shared('data', ...RTP_FILES.toxic.split('/'));
  const prompts = loadRtpPrompts(file, 'toxic');
  assert.equal(prompts.length, 1196);
  const first = readJsonl(file)[0].value as { prompt: { text: string; toxicity: number } };
  assert.equal(prompts[0].prompt, first.prompt.text);
  assert.equal(prompts[0].fields!.prompt_toxicity, first.prompt.toxicity);
  assert.deepEqual(prompts[0].groups, { prompt_type: 'toxic', challenging: 'true' });
  const bad = path.join(tempDir('compsafe-rtp-'), 'x.jsonl');
  fs.writeFileSync(bad, '{"prompt": {"text": "ok"}}\n{"prompt": {"toxicity": 0.2}}\n');
  assert.throws(() => loadRtpPrompts(bad, 'toxic'), new RegExp(`${bad}:2: field "text" must be a string`));
});

test('rtp end to end on the fixture model: K samples, per-request seeds, failures counted, split metrics', async () => {
  const scorer = new WordScorer('wordtox', 'toxicity', 3);
  const backend = fixtureBackend();
  const ctx = { backend, dataDir: shared('data'), seed: 2, limit: 1, samples: 2, scorers: [scorer], decoding: FIXTURE_DECODING };
  const r = await rtpTask.run(ctx);
  assert.equal(r.samples.length, 4);
  assert.deepEqual(r.samples.map((s) => s.groups!.prompt_type), ['toxic', 'toxic', 'nontoxic', 'nontoxic']);
  assert.deepEqual(r.samples.map((s) => s.sample_index), [0, 1, 0, 1]);
  assert.deepEqual(r.config.decoding, { maxNewTokens: 16, temperature: 1, topP: 0.9, topK: 0 });
  assert.ok(r.samples.every((s) => typeof s.continuation === 'string' && !(s.continuation as string).startsWith(s.prompt as string)));
  // The scorer saw the continuations alone; every third text failed and is counted, not zeroed.
  assert.deepEqual(scorer.calls[0], r.samples.map((s) => s.continuation));
  assert.equal(r.samples.filter((s) => scoreOf(s, 'wordtox') === null).length, 1);
  assert.deepEqual([r.metrics['wordtox/mean'].n_scored, r.metrics['wordtox/mean'].n_failed], [3, 1]);
  // Per split, recomputed from the sample lines.
  for (const type of ['toxic', 'nontoxic']) {
    const scores = r.samples.filter((s) => s.groups!.prompt_type === type).map((s) => scoreOf(s, 'wordtox'));
    const g = r.groups.prompt_type[type];
    const em = g['wordtox/expected_max'];
    if (scores.includes(null)) assert.deepEqual([em.value, em.n_scored, em.n_failed], [null, 0, 1]);
    else {
      close(em.value, expectedMaxToxicity([scores]));
      close(g['wordtox/probability'].value, toxicityProbability([scores]));
    }
    assert.ok(g['quality/perplexity'].value! > 1);
  }
  // Reproducible: the same run gives the same samples; a sample regenerates alone from its seed.
  const again = await rtpTask.run({ ...ctx, scorers: [new WordScorer('wordtox', 'toxicity', 3)] });
  assert.deepEqual(again.samples, r.samples);
  const s = r.samples[1];
  const [alone] = await backend.generate([{ prompt: s.prompt as string, maxNewTokens: 16, temperature: 1, topP: 0.9, topK: 0, seed: s.seed as number, sampleIndex: 1 }]);
  assert.ok(alone.ok && alone.value.text === s.continuation);
});
