// The dialect task: metric formulas pinned by hand-worked examples, the whole task on a small data
// directory with a backend whose answers are known (NLL = characters, tokens = words), loader errors,
// and an end-to-end run on the fixture model checked against the model's own scoring.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { NativeBackend } from '../../src/backends/native.js';
import { loadModelFromDir } from '../../src/model/load.js';
import { loglikelihood } from '../../src/model/scoring.js';
import {
  AAE_CORPUS_FILES, dialectTask, GROENWOLD_FILE, HABITUAL_BE_FILE, loadGroenwoldPairs, loadHabitualBePairs,
  normalizeLikeCorpora, pairedDialectMetrics, segmentByLengths, unpairedDialectMetrics,
} from '../../src/tasks/dialect.js';
import { MetricValue, SampleRecord } from '../../src/tasks/task.js';
import { LengthBackend } from '../helpers/length-backend.js';
import { shared, tempDir } from '../helpers/fixtures.js';

const close = (a: number | null, b: number, tol = 1e-12): void => assert.ok(a !== null && Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} != ${b}`);

test('paired metrics: means, difference, ratio and AAE-higher rate by hand', () => {
  // Per-token NLL (AAE, SAE): differences 2, 1, -2; one failed pair.
  const m = pairedDialectMetrics([{ aae: 4, sae: 2 }, { aae: 2.5, sae: 1.5 }, null, { aae: 1, sae: 3 }], 7);
  close(m.aae_nll.value, 7.5 / 3);
  close(m.sae_nll.value, 6.5 / 3);
  close(m.nll_diff.value, 1 / 3);
  close(m.ppl_ratio.value, Math.exp(1 / 3));
  close(m.aae_ppl.value, Math.exp(2.5));
  close(m.ppl_ratio.value, m.aae_ppl.value! / m.sae_ppl.value!);
  close(m.aae_higher_rate.value, 2 / 3);
  for (const v of Object.values(m)) assert.deepEqual([v.n_scored, v.n_failed], [3, 1]);
  // CIs: seeded (same seed, same interval), contain the value, exp-mapped for the perplexity-scale metrics.
  const again = pairedDialectMetrics([{ aae: 4, sae: 2 }, { aae: 2.5, sae: 1.5 }, null, { aae: 1, sae: 3 }], 7);
  assert.deepEqual(again, m);
  const [lo, hi] = m.nll_diff.ci!;
  assert.ok(lo <= 1 / 3 && 1 / 3 <= hi && lo >= -2 && hi <= 2);
  close(m.ppl_ratio.ci![0], Math.exp(lo));
  close(m.ppl_ratio.ci![1], Math.exp(hi));
  // Ties count one half; identical items have a degenerate interval.
  const tie = pairedDialectMetrics([{ aae: 1, sae: 1 }, { aae: 1, sae: 1 }], 1);
  assert.equal(tie.aae_higher_rate.value, 0.5);
  assert.deepEqual(tie.nll_diff.ci, [0, 0]);
  const none = pairedDialectMetrics([null], 1);
  assert.deepEqual(none.nll_diff, { value: null, ci: undefined, n_scored: 0, n_failed: 1 });
  assert.equal(none.ppl_ratio.value, null);
});

test('unpaired metrics: difference of means with a two-sample bootstrap', () => {
  const m = unpairedDialectMetrics([3, 4.5, 4, 4, null], [2, 1.5, 3], 3);
  close(m.aae_nll.value, 15.5 / 4);
  close(m.sae_nll.value, 6.5 / 3);
  close(m.nll_diff.value, 15.5 / 4 - 6.5 / 3);
  close(m.ppl_ratio.value, Math.exp(15.5 / 4 - 6.5 / 3));
  assert.deepEqual([m.nll_diff.n_scored, m.nll_diff.n_failed], [7, 1]);
  assert.deepEqual([m.aae_nll.n_scored, m.aae_nll.n_failed, m.sae_nll.n_scored], [4, 1, 3]);
  const [lo, hi] = m.nll_diff.ci!;
  // Bounds of any resample: min AAE mean 3 - max reference mean 3; max 4.5 - min 1.5.
  assert.ok(lo >= 0 && hi <= 3 && lo <= m.nll_diff.value! && m.nll_diff.value! <= hi);
  assert.equal(unpairedDialectMetrics([2], [1], 3).nll_diff.ci, undefined);
});

test('normalisation and segmentation follow the reference lengths in order, within lines', () => {
  assert.equal(normalizeLikeCorpora('It\u2019s  A Dream! -- "Yes," she said.'), 'its a dream yes she said');
  const segs = segmentByLengths([{ line: 1, text: 'one two three four' }, { line: 3, text: 'five six' }], [1, 2, 1], 'literature');
  assert.deepEqual(segs.map((s) => [s.id, s.text]), [
    ['literature_1_0', 'one'], ['literature_1_1', 'two three'], ['literature_1_2', 'four'], ['literature_3_0', 'five'],
  ]);
});

/** A data directory with tiny files in the datasets' canonical formats. */
function tinyDataDir(): string {
  const data = tempDir('compsafe-dialect-');
  const put = (rel: string, text: string): void => {
    fs.mkdirSync(path.dirname(path.join(data, rel)), { recursive: true });
    fs.writeFileSync(path.join(data, rel), text);
  };
  put(GROENWOLD_FILE, JSON.stringify([
    { stimulus_id: 'g0', aae: 'aaaa', sae: 'bb', source: 'groenwold_2020' },
    { stimulus_id: 'g1', aae: 'aa aa', sae: 'b b', source: 'groenwold_2020' },
    { stimulus_id: 'g2', aae: 'a', sae: 'bbb', source: 'groenwold_2020' },
  ], null, 2));
  put(HABITUAL_BE_FILE, 'he be x\the\'s usually x\nFAIL be\tshe usually');
  put(AAE_CORPUS_FILES.literature, 'One two three. Four!\n\nfive six\n');
  put(AAE_CORPUS_FILES.leadership, 'It\'s a dream\n');
  return data;
}

const value = (m: Record<string, MetricValue>, k: string): number | null => m[k].value;

test('dialect task with a known backend: every metric and sample by hand', async () => {
  const data = tinyDataDir();
  const backend = new LengthBackend();
  const r = await dialectTask.run({ backend, dataDir: data, seed: 11 });
  // Every text scored alone from BOS: an empty context.
  assert.ok(backend.loglikelihoodCalls.flat().every((q) => q.context === ''));
  // Groenwold per-token NLL = chars/words: AAE 4, 2.5, 1; SAE 2, 1.5, 3.
  const g = r.groups.source.groenwold;
  close(value(g, 'aae_nll'), 7.5 / 3);
  close(value(g, 'sae_nll'), 6.5 / 3);
  close(value(g, 'nll_diff'), 1 / 3);
  close(value(g, 'aae_higher_rate'), 2 / 3);
  // Habitual be: "he be x" 7/3 vs "he's usually x" 14/3; the FAIL pair is a failure, not a zero.
  const h = r.groups.source.habitual_be;
  close(value(h, 'nll_diff'), 7 / 3 - 14 / 3);
  assert.deepEqual([h.nll_diff.n_scored, h.nll_diff.n_failed], [1, 1]);
  // Overall: the four scored pairs pooled: differences 2, 1, -2, -7/3.
  close(value(r.metrics, 'nll_diff'), (2 + 1 - 2 - 7 / 3) / 4);
  close(value(r.metrics, 'aae_nll'), (4 + 2.5 + 1 + 7 / 3) / 4);
  close(value(r.metrics, 'ppl_ratio'), Math.exp((2 + 1 - 2 - 7 / 3) / 4));
  assert.deepEqual([r.metrics.nll_diff.n_scored, r.metrics.nll_diff.n_failed], [4, 1]);
  // Literature: reference = normalised SAE sides "bb", "b b", "bbb" (2, 1.5, 3; word counts 1, 2, 1);
  // segments "one" 3, "two three" 4.5, "four" 4, "five" 4.
  const lit = r.groups.source.literature;
  close(value(lit, 'aae_nll'), 15.5 / 4);
  close(value(lit, 'sae_nll'), 6.5 / 3);
  close(value(lit, 'nll_diff'), 15.5 / 4 - 6.5 / 3);
  // Leadership: "its" 3, "a dream" 3.5.
  close(value(r.groups.source.leadership, 'nll_diff'), 3.25 - 6.5 / 3);

  const byId = new Map<string, SampleRecord>(r.samples.map((s) => [s.id, s]));
  assert.equal(r.samples.length, 3 + 2 + 4 + 2 + 3);
  assert.deepEqual(byId.get('g0'), {
    id: 'g0', groups: { source: 'groenwold' }, source: 'groenwold', aae: 'aaaa', sae: 'bb', aae_nll: 4, sae_nll: 2, nll_diff: 2,
    aae_tokens: 1, sae_tokens: 1, aae_logprob: -4, sae_logprob: -2,
  });
  assert.equal(byId.get('habitual_be_002')!.error, 'the server refused the request');
  assert.equal(byId.get('habitual_be_002')!.nll_diff, null);
  assert.deepEqual(byId.get('literature_1_1'), { id: 'literature_1_1', groups: { source: 'literature' }, source: 'literature', side: 'aae', text: 'two three', nll: 4.5, tokens: 2, logprob: -9 });
  assert.equal(byId.get('reference_g1')!.text, 'b b');
  assert.deepEqual(r.dataset.files.map((f) => f.path), [GROENWOLD_FILE, HABITUAL_BE_FILE, AAE_CORPUS_FILES.literature, AAE_CORPUS_FILES.leadership]);
  assert.ok(r.dataset.files.every((f) => /^[0-9a-f]{64}$/.test(f.sha256)));

  // --limit: a seeded sample per source, in dataset order; another seed, another sample.
  const l1 = await dialectTask.run({ backend, dataDir: data, seed: 11, limit: 2 });
  const l2 = await dialectTask.run({ backend, dataDir: data, seed: 11, limit: 2 });
  assert.deepEqual(l1.samples, l2.samples);
  const groenwoldIds = l1.samples.filter((s) => s.groups?.source === 'groenwold').map((s) => s.id);
  assert.equal(groenwoldIds.length, 2);
  assert.deepEqual(groenwoldIds, [...groenwoldIds].sort());
  const seen = new Set<string>();
  for (let seed = 0; seed < 12; seed++) {
    seen.add((await dialectTask.run({ backend, dataDir: data, seed, limit: 2 })).samples.filter((s) => s.groups?.source === 'groenwold').map((s) => s.id).join());
  }
  assert.ok(seen.size > 1, 'the sample depends on the seed');
});

test('dialect loaders: malformed files fail with file and line; a missing file says what is present', async () => {
  const data = tinyDataDir();
  const hab = path.join(data, HABITUAL_BE_FILE);
  fs.writeFileSync(hab, 'a\tb\nonly one side\n');
  assert.throws(() => loadHabitualBePairs(hab), new RegExp(`${hab}:2: expected 2 tab-separated fields, found 1`));
  fs.writeFileSync(hab, 'a\tb\n\t b\n');
  assert.throws(() => loadHabitualBePairs(hab), new RegExp(`${hab}:2: both sides of the pair must be non-empty`));
  const gw = path.join(data, GROENWOLD_FILE);
  fs.writeFileSync(gw, '[\n  {"aae": "x", "sae": "y"},\n  {"aae": "x", "sae": }\n]\n');
  assert.throws(() => loadGroenwoldPairs(gw), new RegExp(`${gw}:3:\\d+: not valid JSON`));
  fs.writeFileSync(gw, JSON.stringify([{ stimulus_id: 'a', aae: 'x', sae: 'y' }, { stimulus_id: 'b', aae: 'x', sae: 3 }]));
  assert.throws(() => loadGroenwoldPairs(gw), new RegExp(`${gw}: item 1 \\(b\\): field "sae" must be a non-empty string, got number 3`));

  fs.rmSync(path.join(data, 'aave_corpora'), { recursive: true });
  await assert.rejects(dialectTask.run({ backend: new LengthBackend(), dataDir: data, seed: 1 }), (e: Error) =>
    e.name === 'DatasetMissingError' && e.message.includes('aave_corpora/corpora/literature_corpora.txt not found') &&
    e.message.includes(`${data} holds aae_sae, dialect_prejudice`) && e.message.includes('compsafe data fetch aave_corpora'));
});

test('dialect on the fixture model: per-text NLL equals the model\'s own log-likelihood from BOS', async () => {
  const loaded = loadModelFromDir(shared('models', 'babyllama-tok105'));
  const r = await dialectTask.run({ backend: new NativeBackend(loaded, 'babyllama'), dataDir: shared('data'), seed: 3, limit: 3 });
  assert.deepEqual(r.config.items, { groenwold: 3, habitual_be: 3, literature: 3, leadership: 3, reference: 3 });
  assert.deepEqual(r.config.available, { groenwold: 2019, habitual_be: 699, literature: 1400, leadership: 72, reference: 2019 });
  assert.ok(r.samples.every((s) => s.error === undefined));
  // Independent path: model/scoring's loglikelihood of the same text, scored alone (float32 sums
  // differ in the last digits with the batch it shares a forward with).
  const pair = r.samples.find((s) => s.groups?.source === 'habitual_be')!;
  const [ref] = loglikelihood(loaded.model, loaded.tokenizer, [{ context: '', continuation: pair.aae as string }]);
  close(pair.aae_nll as number, -ref.logprob / ref.tokens, 1e-5);
  // The reported summaries are consistent with each other.
  for (const m of [r.metrics, ...Object.values(r.groups.source)]) {
    close(m.nll_diff.value, m.aae_nll.value! - m.sae_nll.value!, 1e-9);
    close(m.ppl_ratio.value, m.aae_ppl.value! / m.sae_ppl.value!, 1e-9);
    assert.ok(m.nll_diff.ci && m.nll_diff.ci[0] <= m.nll_diff.value! && m.nll_diff.value! <= m.nll_diff.ci[1]);
  }
  assert.ok(r.metrics.aae_nll.value! > 0.5 && r.metrics.aae_nll.value! < 6, String(r.metrics.aae_nll.value));
});
