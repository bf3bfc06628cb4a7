// Generation tasks' shared machinery: metric formulas against hand-worked examples, and a whole run
// through a backend whose continuations are known, with a scorer that fails on some texts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backend, BackendInfo, GenerateRequest, GenerateValue, LoglikelihoodRequest, LoglikelihoodValue, Outcome, PerplexityResult } from '../../src/backends/backend.js';
import {
  DEFAULT_DECODING, expectedMaxToxicity, GenerationPrompt, negativeRegardRate, requestSeed, runGenerationTask, selectPrompts, toxicityProbability,
} from '../../src/tasks/generation.js';
import { distinctN, isDegenerate, isFluent, pooledPerplexity } from '../../src/tasks/generation-quality.js';
import { WordScorer } from './generation-fixtures.js';

const close = (a: number | null | undefined, b: number, tol = 1e-12): void => assert.ok(a !== null && a !== undefined && Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} != ${b}`);

test('expected max toxicity and toxicity probability by hand; prompts with a failed sample are skipped', () => {
  const perPrompt = [[0.1, 0.6], [0.3, 0.2], [0.9, null], [0.5, 0.0]];
  close(expectedMaxToxicity(perPrompt), (0.6 + 0.3 + 0.5) / 3);
  close(toxicityProbability(perPrompt), 2 / 3); // 0.6 and 0.5 reach the threshold; 0.3 does not
  close(toxicityProbability(perPrompt, 0.55), 1 / 3);
  assert.ok(Number.isNaN(expectedMaxToxicity([[null]])));
});

test('negative-regard rate: argmax label when given, else P(negative) >= 0.5; failures excluded', () => {
  close(negativeRegardRate([{ score: 0.2, label: 'negative' }, { score: 0.9, label: 'positive' }, { score: 0.7 }, null, { score: 0.1 }]), 2 / 4);
});

test('distinct-n, degeneracy, fluency and pooled perplexity by hand', () => {
  close(distinctN(['a b a', 'A b'], 1), 2 / 5);
  close(distinctN(['a b a', 'a b'], 2), 2 / 3); // "a b", "b a", "a b"
  assert.equal(distinctN(['', 'x'], 2), null);
  assert.equal(isDegenerate('the the the the'), true); // 1 distinct of 4 words
  assert.equal(isDegenerate('the cat sat down'), false);
  assert.equal(isDegenerate('!!! ... ???'), true); // no letter or digit
  assert.equal(isDegenerate('   '), false); // empty, not degenerate
  // 10 distinct of 16 words, but "go to bed" three times.
  assert.equal(isDegenerate('go to bed now go to bed then go to bed please fine ok sure yes'), true);
  assert.equal(isFluent('the cat sat down', 4.9), true);
  assert.equal(isFluent('the cat sat down', 5.1), false);
  assert.equal(isFluent('the cat sat down', null), null);
  assert.equal(isFluent('', null), false);
  close(pooledPerplexity([{ nll: 1, tokens: 1 }, { nll: 2, tokens: 3 }]), Math.exp(7 / 4));
});

test('selectPrompts: seeded, per stratum, in dataset order', () => {
  const items = Array.from({ length: 20 }, (_, i) => ({ i, s: i % 2 ? 'odd' : 'even' }));
  const a = selectPrompts(items, 3, 7, (t) => t.s);
  assert.deepEqual(a, selectPrompts(items, 3, 7, (t) => t.s));
  assert.equal(a.filter((t) => t.s === 'odd').length, 3);
  assert.deepEqual(a.map((t) => t.i), [...a.map((t) => t.i)].sort((x, y) => x - y));
  assert.notDeepEqual(a, selectPrompts(items, 3, 8, (t) => t.s));
  assert.equal(selectPrompts(items, undefined, 7), items);
});

/**
 * Continuations known in advance: prompt "P<n>" sample k gets CONTINUATIONS[n][k]; a null fails the
 * request. Log-likelihood: one token per word, NLL = characters (per-token NLL = chars / words).
 */
const CONTINUATIONS: Record<string, (string | null)[]> = {
  P0: [' bad cat', ' the dog'], // toxicity 1, 0.25
  P1: [' a cat ran', ' ERR x'], // 0, scorer fails
  P2: [' so so so so', null], // degenerate 0, generation fails
  P3: [' nice', ' bad'], // 0, 1
};

class KnownBackend implements Backend {
  readonly info: BackendInfo = { kind: 'known', model: 'known', maxPositions: 1024 };
  readonly requests: GenerateRequest[] = [];
  async generate(requests: GenerateRequest[]): Promise<Outcome<GenerateValue>[]> {
    this.requests.push(...requests);
    return requests.map((r) => {
      const t = CONTINUATIONS[r.prompt][r.sampleIndex];
      return t === null ? { ok: false, error: 'server error' } : { ok: true, value: { text: t, tokens: 1, finishReason: 'length' } };
    });
  }
  async loglikelihood(requests: LoglikelihoodRequest[]): Promise<Outcome<LoglikelihoodValue>[]> {
    return requests.map((r) => {
      const words = r.continuation.split(/\s+/).filter(Boolean).length;
      return { ok: true, value: { logprob: -r.continuation.length, greedy: false, tokens: words, chars: r.continuation.length, bytes: r.continuation.length } };
    });
  }
  async perplexity(): Promise<PerplexityResult> { throw new Error('not used'); }
}

test('a generation run by hand: metrics, failures counted, groups, spread, sample lines', async () => {
  const backend = new KnownBackend();
  const tox = new WordScorer('wordtox'), regard = new WordScorer('wordregard', 'regard'), senti = new WordScorer('wordsent', 'sentiment');
  const prompts: GenerationPrompt[] = ['P0', 'P1', 'P2', 'P3'].map((p, i) => ({ id: `item${i}`, prompt: p, groups: { side: i < 2 ? 'A' : 'B' } }));
  const r = await runGenerationTask({ backend, dataDir: '/none', seed: 5, samples: 2, scorers: [tox, regard, senti] }, {
    task: 'known', version: '1', prompts, axes: ['side'], files: [], complete: true, config: {},
  });
  // Requests: defaults, explicit sample index, per-item seed shared by the item's samples.
  assert.equal(backend.requests.length, 8);
  assert.deepEqual(backend.requests[1], { prompt: 'P0', ...DEFAULT_DECODING, seed: requestSeed(5, 'item0'), sampleIndex: 1 });
  assert.notEqual(requestSeed(5, 'item0'), requestSeed(5, 'item1'));
  assert.notEqual(requestSeed(5, 'item0'), requestSeed(6, 'item0'));
  // Scorers see the continuations alone (7 generated).
  assert.deepEqual(tox.calls[0], [' bad cat', ' the dog', ' a cat ran', ' ERR x', ' so so so so', ' nice', ' bad']);

  const m = r.metrics;
  // Samples scored: 1, .25, 0, 0, 0, 1 (ERR failed, one generation failed).
  close(m['wordtox/mean'].value, 2.25 / 6);
  assert.deepEqual([m['wordtox/mean'].n_scored, m['wordtox/mean'].n_failed], [6, 2]);
  close(m['wordtox/rate'].value, 2 / 6);
  // Prompts complete: item0 (max 1) and item3 (max 1); item1, item2 have a failed sample.
  close(m['wordtox/expected_max'].value, 1);
  close(m['wordtox/probability'].value, 1);
  assert.deepEqual([m['wordtox/expected_max'].n_scored, m['wordtox/expected_max'].n_failed], [2, 2]);
  // Fluent: per-token NLL = chars/words <= 5 and not degenerate:
  // " bad cat" 8/2 yes, " the dog" 8/2 yes, " a cat ran" 10/3 yes, " ERR x" 6/2 yes (score failed),
  // " so so so so" degenerate, " nice" 5/1 yes, " bad" 4/1 yes.
  close(m['wordtox/fluent_mean'].value, (1 + 0.25 + 0 + 0 + 1) / 5);
  assert.deepEqual([m['wordtox/fluent_mean'].n_scored, m['wordtox/fluent_mean'].n_failed], [5, 2]);
  close(m['wordregard/negative_rate'].value, 2 / 6);
  close(m['wordsent/negative_share'].value, 2 / 6);
  close(m['wordsent/positive_share'].value, 0);
  close(m['quality/degenerate_rate'].value, 1 / 7);
  assert.deepEqual([m['quality/degenerate_rate'].n_scored, m['quality/degenerate_rate'].n_failed], [7, 1]);
  close(m['quality/empty_rate'].value, 0);
  close(m['quality/fluent_rate'].value, 6 / 7);
  close(m['quality/perplexity'].value, Math.exp((8 + 8 + 10 + 6 + 12 + 5 + 4) / (2 + 2 + 3 + 2 + 4 + 1 + 1)));
  // distinct-1 over all words: bad cat the dog a cat ran err x so so so so nice bad = 15 words,
  // distinct {bad, cat, the, dog, a, ran, err, x, so, nice} = 10.
  close(m['quality/distinct_1'].value, 10 / 15);

  // Groups: A = item0, item1; B = item2, item3.
  close(r.groups.side.A['wordtox/mean'].value, 1.25 / 3);
  close(r.groups.side.B['wordtox/mean'].value, 1 / 3);
  assert.deepEqual(r.spread!.side['wordtox/mean'].max, { group: 'A', value: 1.25 / 3 });
  assert.deepEqual(r.spread!.side['wordtox/mean'].min, { group: 'B', value: 1 / 3 });
  close(r.spread!.side['wordtox/mean'].range, 0.25 / 3);

  // Sample lines: ids, seeds, prompt, continuation, scores with id + version, errors.
  assert.equal(r.samples.length, 8);
  const s1 = r.samples[3];
  assert.equal(s1.id, 'item1#1');
  assert.equal(s1.sample_index, 1);
  assert.equal(s1.seed, requestSeed(5, 'item1'));
  assert.equal(s1.prompt, 'P1');
  assert.equal(s1.continuation, ' ERR x');
  assert.deepEqual((s1.scores as Record<string, unknown>).wordtox, { version: 'test-1', kind: 'toxicity', score: null, error: 'scorer unavailable' });
  assert.match(s1.error!, /^scoring failed: wordtox: scorer unavailable/);
  assert.deepEqual(r.samples[0].scores, {
    wordtox: { version: 'test-1', kind: 'toxicity', score: 1 }, wordregard: { version: 'test-1', kind: 'regard', score: 1, label: 'negative' },
    wordsent: { version: 'test-1', kind: 'sentiment', score: -1 },
  });
  assert.deepEqual(r.samples[0].groups, { side: 'A' });
  assert.equal(r.samples[5].error, 'generation failed: server error');
  assert.equal(r.samples[5].continuation, null);
  assert.equal(r.samples[4].degenerate, true);
  assert.deepEqual(r.config.decoding, DEFAULT_DECODING);

  // A scorer that throws fails every text it was given, never zeros.
  const broken = { id: 'broken', version: '0', kind: 'toxicity' as const, description: '', score: async (): Promise<Outcome<{ score: number }>[]> => { throw new Error('boom'); } };
  const r2 = await runGenerationTask({ backend, dataDir: '/none', seed: 5, samples: 2, scorers: [broken], decoding: { temperature: 0 } }, {
    task: 'known', version: '1', prompts, axes: [], files: [], complete: true, config: {},
  });
  assert.deepEqual([r2.metrics['broken/mean'].value, r2.metrics['broken/mean'].n_scored, r2.metrics['broken/mean'].n_failed], [null, 0, 8]);
  assert.equal(backend.requests.at(-1)!.temperature, 0);
});

test('quality under a reference model: its log-likelihoods, not the evaluated model\'s', async () => {
  class DoubledBackend extends KnownBackend {
    override async loglikelihood(requests: LoglikelihoodRequest[]): Promise<Outcome<LoglikelihoodValue>[]> {
      return (await super.loglikelihood(requests)).map((o) => (o.ok ? { ok: true, value: { ...o.value, logprob: 2 * o.value.logprob } } : o));
    }
  }
  const backend = new KnownBackend(), reference = new DoubledBackend();
  const prompts: GenerationPrompt[] = [{ id: 'i', prompt: 'P0', groups: {} }];
  const r = await runGenerationTask({ backend, referenceBackend: reference, dataDir: '/none', seed: 1, samples: 2 }, {
    task: 'known', version: '1', prompts, axes: [], files: [], complete: true, config: {},
  });
  // " bad cat", " the dog": 16 characters over 4 words, doubled.
  close(r.metrics['quality/perplexity'].value, Math.exp(32 / 4));
  assert.equal(reference.requests.length, 0);
  assert.equal(r.samples[0].nll_per_token, 8);
  assert.equal(r.samples[0].fluent, false); // 8 nats per token > 5
  assert.equal((r.config.quality_reference as { model: string }).model, 'known');
});
