// Dialect bias: how much more surprising a model finds African-American English (AAE) than
// Standard American English (SAE). Every text is scored alone, from BOS (log-likelihood with an
// empty context), as its per-token negative log-likelihood (nats).
//
// Sources (groups "source"):
// - groenwold:   2,019 intent-equivalent AAE tweet / SAE rewrite pairs (Groenwold et al. 2020)
// - habitual_be: 698 habitual-be pairs, "he be cracking" / "he's usually cracking" (Hofmann et al. 2024)
//   Paired: the same items on both sides.
// - literature, leadership: lines of AAE literature and speeches (aave_corpora), against a reference
//   of SAE text: the SAE side of the Groenwold pairs. The corpora are lower-cased with punctuation
//   stripped, so the reference is normalised the same way (normalizeLikeCorpora), and the corpora are
//   cut into segments whose word counts follow the reference texts' word counts (in order), so that
//   both sides have the same length distribution and per-token NLL is not confounded by length.
//   Unpaired: the difference is of means, with an independent (two-sample) bootstrap.
//
// Metrics (per source, and overall = the paired sources pooled, item-weighted): aae_nll and sae_nll
// (mean per-token NLL of each side over items), aae_ppl / sae_ppl = exp of those, nll_diff = mean of
// (AAE - SAE) per item (paired) or difference of the means (unpaired), ppl_ratio = exp(nll_diff)
// = aae_ppl / sae_ppl, aae_higher_rate (paired: share of items whose AAE side has the higher NLL,
// ties 1/2). CIs: seeded 95% percentile bootstrap over items; ppl CIs are exp of the NLL CIs.
// `--limit N` takes a seeded sample of N items per source (and N reference texts).
import fs from 'node:fs';
import { datasetFile, DatasetFormatError, describeValue, readJson, readTsvLines, sha256FileSync } from '../data/files.js';
import { LoglikelihoodRequest } from '../backends/backend.js';
import { mean, seededShuffle, statisticMetric, stratifiedBootstrapCI, streamId } from './stats.js';
import { DatasetFile, MetricValue, SampleRecord, Task, TaskContext, TaskResult } from './task.js';

export const DIALECT_TASK_VERSION = '1';
export const GROENWOLD_FILE = 'aae_sae/groenwold2020_pairs/dialect_pairs_groenwold.json';
export const HABITUAL_BE_FILE = 'dialect_prejudice/data/pairs/habitual.txt';
export const AAE_CORPUS_FILES = {
  literature: 'aave_corpora/corpora/literature_corpora.txt',
  leadership: 'aave_corpora/corpora/leadership_corpora.txt',
} as const;

type PairedSource = 'groenwold' | 'habitual_be';
type CorpusSource = keyof typeof AAE_CORPUS_FILES;

export interface DialectPair {
  id: string;
  source: PairedSource;
  aae: string;
  sae: string;
}

export interface CorpusText {
  id: string;
  /** The AAE corpus a segment comes from, or 'reference'. */
  source: CorpusSource | 'reference';
  text: string;
}

/** Per-token NLL of the AAE and SAE side of one pair. */
export interface PairScore {
  aae: number;
  sae: number;
}

// ---------------------------------------------------------------- loaders

/** dialect_pairs_groenwold.json: a JSON array of {stimulus_id?, aae, sae, source?}. */
export function loadGroenwoldPairs(file: string): DialectPair[] {
  const data = readJson(file);
  if (!Array.isArray(data)) throw new DatasetFormatError(`${file}: expected a JSON array of {aae, sae} pairs, got ${describeValue(data)}`);
  return data.map((rec, i) => {
    const where = `${file}: item ${i}`;
    if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) throw new DatasetFormatError(`${where}: expected an object, got ${describeValue(rec)}`);
    const r = rec as Record<string, unknown>;
    for (const side of ['aae', 'sae']) {
      if (typeof r[side] !== 'string' || (r[side] as string).trim() === '') {
        throw new DatasetFormatError(`${where}${typeof r.stimulus_id === 'string' ? ` (${r.stimulus_id})` : ''}: field "${side}" must be a non-empty string, got ${describeValue(r[side])}`);
      }
    }
    const id = typeof r.stimulus_id === 'string' ? r.stimulus_id : `groenwold_${String(i).padStart(4, '0')}`;
    return { id, source: 'groenwold', aae: (r.aae as string).trim(), sae: (r.sae as string).trim() };
  });
}

/** dialect-prejudice pair files: one `AAE<TAB>SAE` pair per line. */
export function loadHabitualBePairs(file: string): DialectPair[] {
  return readTsvLines(file, 2).map(({ line, fields }) => {
    const [aae, sae] = fields.map((s) => s.trim());
    if (!aae || !sae) throw new DatasetFormatError(`${file}:${line}: both sides of the pair must be non-empty`);
    return { id: `habitual_be_${String(line).padStart(3, '0')}`, source: 'habitual_be', aae, sae };
  });
}

/** The aave_corpora text style: lower case, letters/digits/spaces only (apostrophes vanish), single spaces. */
export function normalizeLikeCorpora(text: string): string {
  return text.toLowerCase().replace(/['\u2019]/g, '').replace(/[^\p{L}\p{N}\s]+/gu, ' ').replace(/\s+/g, ' ').trim();
}

const words = (s: string): string[] => s.split(/\s+/).filter(Boolean);

/**
 * Cuts lines into segments of consecutive words whose lengths follow `lengths` in order (cycling);
 * segments never cross lines, and a line's rest shorter than the next length is dropped.
 */
export function segmentByLengths(lines: { line: number; text: string }[], lengths: number[], source: CorpusSource): CorpusText[] {
  const out: CorpusText[] = [];
  if (lengths.length === 0) return out;
  let k = 0;
  for (const { line, text } of lines) {
    const w = words(text);
    let at = 0, part = 0;
    for (let len = lengths[k % lengths.length]; at + len <= w.length; len = lengths[k % lengths.length]) {
      out.push({ id: `${source}_${line}_${part++}`, source, text: w.slice(at, at + len).join(' ') });
      at += len;
      k++;
    }
  }
  return out;
}

function readCorpusLines(file: string): { line: number; text: string }[] {
  return fs.readFileSync(file, 'utf8').split('\n')
    .map((raw, i) => ({ line: i + 1, text: normalizeLikeCorpora(raw) }))
    .filter((l) => l.text !== '');
}

// ---------------------------------------------------------------- metrics

const expMetric = (m: MetricValue): MetricValue => ({
  ...m,
  value: m.value === null ? null : Math.exp(m.value),
  ...(m.ci ? { ci: [Math.exp(m.ci[0]), Math.exp(m.ci[1])] as [number, number] } : {}),
});

/** Metrics of paired items (null = a pair with a failed side, counted in n_failed). */
export function pairedDialectMetrics(pairs: (PairScore | null)[], seed: number): Record<string, MetricValue> {
  const scored = pairs.filter((p): p is PairScore => p !== null), failed = pairs.length - scored.length;
  const aae = statisticMetric(scored, (s) => mean(s.map((p) => p.aae)), failed, seed);
  const sae = statisticMetric(scored, (s) => mean(s.map((p) => p.sae)), failed, seed);
  const diff = statisticMetric(scored, (s) => mean(s.map((p) => p.aae - p.sae)), failed, seed);
  const higher = statisticMetric(scored, (s) => mean(s.map((p) => (p.aae > p.sae ? 1 : p.aae === p.sae ? 0.5 : 0))), failed, seed);
  return {
    aae_nll: aae, sae_nll: sae, aae_ppl: expMetric(aae), sae_ppl: expMetric(sae),
    nll_diff: diff, ppl_ratio: expMetric(diff), aae_higher_rate: higher,
  };
}

/** Metrics of two independent samples (AAE texts vs reference texts; null = failed). */
export function unpairedDialectMetrics(aaeScores: (number | null)[], referenceScores: (number | null)[], seed: number): Record<string, MetricValue> {
  const a = aaeScores.filter((v): v is number => v !== null), r = referenceScores.filter((v): v is number => v !== null);
  const aFailed = aaeScores.length - a.length, rFailed = referenceScores.length - r.length;
  const aae = statisticMetric(a, mean, aFailed, seed);
  const sae = statisticMetric(r, mean, rFailed, seed);
  const d = a.length && r.length ? mean(a) - mean(r) : NaN;
  const diff: MetricValue = {
    value: Number.isFinite(d) ? d : null,
    ci: a.length >= 2 && r.length >= 2 ? stratifiedBootstrapCI([a, r], ([sa, sr]) => mean(sa) - mean(sr), seed) : undefined,
    n_scored: a.length + r.length, n_failed: aFailed + rFailed,
  };
  if (diff.ci === undefined) delete diff.ci;
  return { aae_nll: aae, sae_nll: sae, aae_ppl: expMetric(aae), sae_ppl: expMetric(sae), nll_diff: diff, ppl_ratio: expMetric(diff) };
}

// ---------------------------------------------------------------- the task

/** A seeded sample of at most `n` items, kept in dataset order. */
function sampleOf<T>(items: T[], n: number | undefined, seed: number, key: string): T[] {
  if (n === undefined || n >= items.length) return items;
  const picked = seededShuffle(items.map((_, i) => i), seed, streamId(`dialect:${key}`)).slice(0, n).sort((x, y) => x - y);
  return picked.map((i) => items[i]);
}

interface Scored {
  nll: number | null;
  tokens?: number;
  logprob?: number;
  error?: string;
}

async function scoreTexts(ctx: TaskContext, texts: string[]): Promise<Scored[]> {
  const requests: LoglikelihoodRequest[] = texts.map((t) => ({ context: '', continuation: t }));
  const out = await ctx.backend.loglikelihood(requests, {
    onProgress: (p) => ctx.onProgress?.({ task: 'dialect', done: p.done, total: p.total }),
  });
  return out.map((o) => {
    if (!o.ok) return { nll: null, error: o.error };
    if (o.value.tokens <= 0 || !Number.isFinite(o.value.logprob)) return { nll: null, error: `unusable score (${o.value.tokens} tokens, logprob ${o.value.logprob})` };
    return { nll: -o.value.logprob / o.value.tokens, tokens: o.value.tokens, logprob: o.value.logprob };
  });
}

export const dialectTask: Task = {
  name: 'dialect',
  description: 'per-token NLL of AAE vs SAE text: paired (Groenwold tweets, habitual be) and AAE literature vs an SAE reference',
  async run(ctx: TaskContext): Promise<TaskResult> {
    const groenwoldFile = datasetFile(ctx.dataDir, GROENWOLD_FILE);
    const habitualFile = datasetFile(ctx.dataDir, HABITUAL_BE_FILE);
    const corpusFiles = Object.fromEntries(Object.entries(AAE_CORPUS_FILES).map(([k, rel]) => [k, datasetFile(ctx.dataDir, rel)])) as Record<CorpusSource, string>;

    const groenwold = loadGroenwoldPairs(groenwoldFile);
    const habitual = loadHabitualBePairs(habitualFile);
    const reference: CorpusText[] = groenwold
      .map((p) => ({ id: `reference_${p.id}`, source: 'reference' as const, text: normalizeLikeCorpora(p.sae) }))
      .filter((t) => t.text !== '');
    const lengths = reference.map((t) => words(t.text).length);
    const corpora = (Object.keys(AAE_CORPUS_FILES) as CorpusSource[]).map((src) => ({ src, segments: segmentByLengths(readCorpusLines(corpusFiles[src]), lengths, src) }));

    const pairs = [...sampleOf(groenwold, ctx.limit, ctx.seed, 'groenwold'), ...sampleOf(habitual, ctx.limit, ctx.seed, 'habitual_be')];
    const corpusItems = [...corpora.flatMap((c) => sampleOf(c.segments, ctx.limit, ctx.seed, c.src)), ...sampleOf(reference, ctx.limit, ctx.seed, 'reference')];

    const scores = await scoreTexts(ctx, [...pairs.flatMap((p) => [p.aae, p.sae]), ...corpusItems.map((t) => t.text)]);
    const pairScores = pairs.map((_, i) => ({ aae: scores[2 * i], sae: scores[2 * i + 1] }));
    const corpusScores = scores.slice(2 * pairs.length);

    const samples: SampleRecord[] = [];
    const scoreOf = (s: { aae: Scored; sae: Scored }): PairScore | null => (s.aae.nll !== null && s.sae.nll !== null ? { aae: s.aae.nll, sae: s.sae.nll } : null);
    pairs.forEach((p, i) => {
      const s = pairScores[i], ps = scoreOf(s), error = s.aae.error ?? s.sae.error;
      samples.push({
        id: p.id, groups: { source: p.source }, source: p.source, aae: p.aae, sae: p.sae,
        aae_nll: s.aae.nll, sae_nll: s.sae.nll, nll_diff: ps ? ps.aae - ps.sae : null,
        aae_tokens: s.aae.tokens ?? null, sae_tokens: s.sae.tokens ?? null, aae_logprob: s.aae.logprob ?? null, sae_logprob: s.sae.logprob ?? null,
        ...(error !== undefined ? { error } : {}),
      });
    });
    corpusItems.forEach((t, i) => {
      const s = corpusScores[i];
      samples.push({
        id: t.id, groups: { source: t.source }, source: t.source, side: t.source === 'reference' ? 'sae' : 'aae', text: t.text,
        nll: s.nll, tokens: s.tokens ?? null, logprob: s.logprob ?? null, ...(s.error !== undefined ? { error: s.error } : {}),
      });
    });

    const pairedBy = (src: PairedSource): (PairScore | null)[] => pairs.flatMap((p, i) => (p.source === src ? [scoreOf(pairScores[i])] : []));
    const corpusBy = (src: CorpusText['source']): (number | null)[] => corpusItems.flatMap((t, i) => (t.source === src ? [corpusScores[i].nll] : []));
    const bySource: Record<string, Record<string, MetricValue>> = {
      groenwold: pairedDialectMetrics(pairedBy('groenwold'), ctx.seed),
      habitual_be: pairedDialectMetrics(pairedBy('habitual_be'), ctx.seed),
    };
    for (const { src } of corpora) bySource[src] = unpairedDialectMetrics(corpusBy(src), corpusBy('reference'), ctx.seed);

    const files: DatasetFile[] = [GROENWOLD_FILE, HABITUAL_BE_FILE, ...Object.values(AAE_CORPUS_FILES)].map((rel) => ({
      path: rel, sha256: sha256FileSync(datasetFile(ctx.dataDir, rel)),
    }));
    const count = (src: string): number => samples.filter((s) => s.groups?.source === src).length;
    return {
      task: 'dialect',
      version: DIALECT_TASK_VERSION,
      config: {
        scoring: 'per-token NLL of each text alone, given BOS (log-likelihood with an empty context)',
        overall: 'paired sources (groenwold, habitual_be) pooled, item-weighted',
        reference: 'SAE side of the Groenwold pairs, normalised like the corpora (lower case, punctuation stripped)',
        segmentation: 'corpus lines cut into segments with the word counts of the reference texts, in order',
        limit_per_source: ctx.limit ?? null,
        items: { groenwold: count('groenwold'), habitual_be: count('habitual_be'), literature: count('literature'), leadership: count('leadership'), reference: count('reference') },
        available: { groenwold: groenwold.length, habitual_be: habitual.length, ...Object.fromEntries(corpora.map((c) => [c.src, c.segments.length])), reference: reference.length },
      },
      dataset: {
        files,
        complete: false,
        note: `aave_corpora is a subset (literature and speeches)${ctx.limit !== undefined ? `; seeded sample of at most ${ctx.limit} items per source` : ''}`,
      },
      metrics: pairedDialectMetrics(pairs.map((_, i) => scoreOf(pairScores[i])), ctx.seed),
      groups: { source: bySource },
      samples,
    };
  },
};
