// UnQover (Li et al. 2020): underspecified questions generated from the allenai/unqover word lists
// (slot templates x subject pairs x activities), asked of a causal LM in both subject orders and
// both polarities, scored by log-likelihood; metrics in unqover-metrics.ts.
//
// What is built, per dimension (the QA templates, `*_noact`; the `*_lm` ones are for masked LMs):
//   gender     slots/gender_noact    x nouns/subjects/female x male (one name of each gender per pair)
//                                    x activities/occupation_rev1 (70 occupations)
//   country    slots/country_noact   x nouns/subjects/country (countries; demonyms where the slot says
//                                    [subjN:dem]) x activities/biased_country
//   ethnicity  slots/ethnicity_noact x nouns/subjects/ethnicity x activities/biased_ethnicity
//   religion   slots/religion_noact  x nouns/subjects/religion  x activities/biased_religion
// As in templates/underspecified_templates.py: a template line is "context<TAB>question<TAB>negated
// question"; [subj1]/[subj2] (or [subjN:form]) take the subjects' forms, [type]/[type:neg] an activity
// and its negation (aligned by position); "a" before a vowel becomes "an"; an activity's identity is
// its plural base form ([p_act] for [p_act-single]), so the singular and plural templates pool.
//
// Causal-LM adaptation: the paper scores QA spans; here each subject is a continuation ` {subject}`
// of `Context: {context}\nQuestion: {question}\nAnswer:` and the two subjects' likelihoods are
// normalised into S(x1|τ) = p1 / (p1 + p2), from summed log-probs (primary) and per-character
// log-probs (the `_norm` metrics). One example = (template, unordered pair, activity): 8 requests.
// The reference code (scripts/generate_questions.sh) asks the full cross product (1.37M gender
// examples alone); here each dimension's examples are a seeded sample without replacement, 10,000
// per dimension by default, or `--limit N` in all split evenly over the dimensions (`--subsets`
// picks dimensions). A dimension's sample at a smaller size is a prefix of its sample at a larger one.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { LoglikelihoodRequest } from '../backends/backend.js';
import { UsageError } from '../core/errors.js';
import { DatasetFormatError, datasetFile } from '../data/files.js';
import { Xoshiro128 } from '../core/random.js';
import { streamId } from './stats.js';
import { DatasetFile, SampleRecord, Task, TaskContext, TaskResult } from './task.js';
import {
  aggregateUnqover, attributiveError, DimensionGrouping, pairProbability, positionalError, subjectBias, UnitOutcome, UnitProbabilities,
} from './unqover-metrics.js';

export const UNQOVER_VERSION = '1';
export const DEFAULT_EXAMPLES_PER_DIMENSION = 10_000;
export const PROMPT_FORMAT = 'Context: {context}\nQuestion: {question}\nAnswer:';

export interface DimensionSpec extends DimensionGrouping {
  name: string;
  slots: string;
  /** One list (pairs within it) or two (each pair takes one subject from each, first list first). */
  subjects: string[];
  activities: string;
}

export const DIMENSIONS: DimensionSpec[] = [
  {
    name: 'gender', slots: 'gender_noact', subjects: ['female', 'male'], activities: 'occupation_rev1',
    clusterAxis: 'gender', clusterActivityAxis: 'gender_occupation',
  },
  { name: 'country', slots: 'country_noact', subjects: ['country'], activities: 'biased_country' },
  { name: 'ethnicity', slots: 'ethnicity_noact', subjects: ['ethnicity'], activities: 'biased_ethnicity' },
  { name: 'religion', slots: 'religion_noact', subjects: ['religion'], activities: 'biased_religion' },
];

export interface Subject {
  /** The [subj] form: the subject's identity. */
  id: string;
  /** The label before "|" ("female", "male"), or "None". */
  cluster: string;
  /** Form name ("subj", "subj:dem") -> text. */
  forms: Record<string, string>;
}

export interface Activity {
  type: string;
  index: number;
  /** The plural base form's text, shared by the singular and plural types. */
  id: string;
  /** The attribute class before "|" ("rude", "crime", ...), or "None". */
  cluster: string;
  text: string;
  negated: string;
}

export interface SlotTemplate {
  /** Position among the file's templates (blank and # lines skipped), as in the reference code. */
  tid: number;
  file: string;
  line: number;
  context: string;
  question: string;
  negated: string;
  /** The subject forms the two slots take ("subj", "subj:dem"). */
  slotForms: [string, string];
  activityType: string;
}

interface ContentLine { text: string; line: number }

/** Non-blank lines that are not # comments, trimmed, with 1-based line numbers. */
function contentLines(text: string): ContentLine[] {
  return text.split(/\r?\n/).map((t, i) => ({ text: t.trim(), line: i + 1 })).filter((l) => l.text !== '' && !l.text.startsWith('#'));
}

/** "cluster | term" or "term" -> [cluster, term]. */
function splitCluster(body: string, where: string): [string, string] {
  const parts = body.split('|').map((p) => p.trim());
  if (parts.length > 2 || parts.some((p) => p === '')) throw new DatasetFormatError(`${where}: expected "term" or "class | term", got "${body}"`);
  return parts.length === 2 ? [parts[0], parts[1]] : ['None', parts[0]];
}

export function parseSubjects(text: string, file: string): Subject[] {
  const forms = new Map<string, { cluster: string; term: string; line: number }[]>();
  for (const { text: row, line } of contentLines(text)) {
    const m = /^\[(subj(?::[A-Za-z_]+)?)\]\s+(.+)$/.exec(row);
    if (!m) throw new DatasetFormatError(`${file}:${line}: expected "[subj] term", "[subj] class | term" or "[subj:form] term", got "${row}"`);
    const [cluster, term] = splitCluster(m[2], `${file}:${line}`);
    if (!forms.has(m[1])) forms.set(m[1], []);
    forms.get(m[1])!.push({ cluster, term, line });
  }
  const base = forms.get('subj');
  if (!base) throw new DatasetFormatError(`${file}: no [subj] entries`);
  for (const [form, list] of forms) {
    if (list.length !== base.length) throw new DatasetFormatError(`${file}: [${form}] has ${list.length} entries but [subj] has ${base.length}; forms are aligned by position`);
  }
  const seen = new Set<string>();
  return base.map((b, i) => {
    if (seen.has(b.term)) throw new DatasetFormatError(`${file}:${b.line}: subject "${b.term}" appears twice`);
    seen.add(b.term);
    const f: Record<string, string> = {};
    for (const [form, list] of forms) f[form] = list[i].term;
    return { id: b.term, cluster: b.cluster, forms: f };
  });
}

export function parseActivities(text: string, file: string): Map<string, Activity[]> {
  const rows = new Map<string, { pos: [string, string][]; neg: [string, string][] }>();
  for (const { text: row, line } of contentLines(text)) {
    const m = /^\[([A-Za-z_]+(?:-[A-Za-z_]+)?)(:neg)?\]\s+(.+)$/.exec(row);
    if (!m) throw new DatasetFormatError(`${file}:${line}: expected "[type] activity", "[type] class | activity" or "[type:neg] ...", got "${row}"`);
    if (!rows.has(m[1])) rows.set(m[1], { pos: [], neg: [] });
    rows.get(m[1])![m[2] ? 'neg' : 'pos'].push(splitCluster(m[3], `${file}:${line}`));
  }
  const out = new Map<string, Activity[]>();
  for (const [type, { pos, neg }] of rows) {
    if (pos.length !== neg.length) throw new DatasetFormatError(`${file}: [${type}] has ${pos.length} entries but [${type}:neg] has ${neg.length}; negations are aligned by position`);
    const baseType = type.split('-')[0];
    const base = rows.get(baseType);
    if (!base || base.pos.length !== pos.length) throw new DatasetFormatError(`${file}: [${type}] needs a [${baseType}] list of the same length (${pos.length}) to name its activities`);
    out.set(type, pos.map(([cluster, text], index) => ({ type, index, id: base.pos[index][1], cluster, text, negated: neg[index][1] })));
  }
  return out;
}

export function parseSlots(text: string, file: string): SlotTemplate[] {
  return contentLines(text).map(({ text: row, line }, tid) => {
    const where = `${file}:${line}`;
    const fields = row.split('\t').map((f) => f.trim());
    if (fields.length !== 3) throw new DatasetFormatError(`${where}: expected three tab-separated fields (context, question, negated question), found ${fields.length}`);
    const [context, question, negated] = fields;
    const slotForms: (string | undefined)[] = [undefined, undefined];
    for (const [ph] of context.matchAll(/\[[^\]]*\]/g)) {
      const s = /^\[subj([12])(:[A-Za-z_]+)?\]$/.exec(ph);
      if (!s || slotForms[Number(s[1]) - 1] !== undefined) throw new DatasetFormatError(`${where}: the context must hold [subj1] and [subj2] once each (optionally [subjN:form]) and no other slot; found "${ph}"`);
      slotForms[Number(s[1]) - 1] = 'subj' + (s[2] ?? '');
    }
    if (slotForms.includes(undefined)) throw new DatasetFormatError(`${where}: the context must hold [subj1] and [subj2]`);
    const q = [...question.matchAll(/\[[^\]]*\]/g)].map((m) => m[0]);
    const type = q.length === 1 ? /^\[([A-Za-z_]+(?:-[A-Za-z_]+)?)\]$/.exec(q[0])?.[1] : undefined;
    if (!type) throw new DatasetFormatError(`${where}: the question must hold one activity slot such as [p_act]; found ${q.length ? q.join(' ') : 'none'}`);
    const n = [...negated.matchAll(/\[[^\]]*\]/g)].map((m) => m[0]);
    if (n.length !== 1 || n[0] !== `[${type}:neg]`) throw new DatasetFormatError(`${where}: the negated question must hold [${type}:neg] and no other slot`);
    return { tid, file, line, context, question, negated, slotForms: slotForms as [string, string], activityType: type };
  });
}

/** "a"/"A" before a word that starts with a vowel letter becomes "an"/"An" (the reference's smoothing). */
export function fixArticles(text: string): string {
  return text.replace(/(^| )(a|A) (?=[aeiouAEIOU])/g, (_m, pre: string, a: string) => `${pre}${a}n `);
}

export interface UnqoverExample {
  id: string;
  dimension: string;
  tid: number;
  /** Canonical order (x1, x2). */
  subjects: [Subject, Subject];
  activity: Activity;
  /** [x1 named first, x2 named first] */
  contexts: [string, string];
  /** [about a, about ā] */
  questions: [string, string];
  /** answers[order] = [x1's text, x2's text] in that context. */
  answers: [[string, string], [string, string]];
}

export function renderExample(dimension: string, t: SlotTemplate, x1: Subject, x2: Subject, activity: Activity): UnqoverExample {
  const fill = (first: Subject, second: Subject): string =>
    fixArticles(t.context.replace(/\[subj([12])(:[A-Za-z_]+)?\]/g, (_m, n: string, form?: string) => (n === '1' ? first : second).forms['subj' + (form ?? '')]));
  const [f1, f2] = t.slotForms;
  return {
    id: `${dimension}/t${t.tid}/${x1.id}|${x2.id}/${activity.type}#${activity.index}`,
    dimension, tid: t.tid, subjects: [x1, x2], activity,
    contexts: [fill(x1, x2), fill(x2, x1)],
    questions: [fixArticles(t.question.split(`[${activity.type}]`).join(activity.text)), fixArticles(t.negated.split(`[${activity.type}:neg]`).join(activity.negated))],
    answers: [[x1.forms[f1], x2.forms[f2]], [x1.forms[f2], x2.forms[f1]]],
  };
}

export const promptFor = (context: string, question: string): string => `Context: ${context}\nQuestion: ${question}\nAnswer:`;

export interface DimensionLists {
  spec: DimensionSpec;
  templates: SlotTemplate[];
  /** Canonical (x1, x2) pairs. */
  pairs: [Subject, Subject][];
  activities: Map<string, Activity[]>;
  files: DatasetFile[];
}

export function loadDimension(dataDir: string, spec: DimensionSpec): DimensionLists {
  const files: DatasetFile[] = [];
  const read = (...parts: string[]): { text: string; file: string } => {
    const rel = ['unqover', 'word_lists', ...parts].join('/'), file = datasetFile(dataDir, rel);
    const bytes = fs.readFileSync(file);
    files.push({ path: rel, sha256: crypto.createHash('sha256').update(bytes).digest('hex') });
    return { text: bytes.toString('utf8'), file };
  };
  const slots = read('slots', spec.slots);
  const templates = parseSlots(slots.text, slots.file);
  const lists = spec.subjects.map((name) => { const r = read('nouns', 'subjects', name); return { subjects: parseSubjects(r.text, r.file), file: r.file }; });
  const acts = read('activities', spec.activities);
  const activities = parseActivities(acts.text, acts.file);
  for (const t of templates) {
    if (!activities.get(t.activityType)?.length) throw new DatasetFormatError(`${t.file}:${t.line}: [${t.activityType}] has no entries in ${acts.file}`);
    for (const l of lists) {
      const missing = t.slotForms.find((f) => !(f in l.subjects[0].forms));
      if (missing) throw new DatasetFormatError(`${t.file}:${t.line}: the template uses the [${missing}] form but ${l.file} has no [${missing}] entries`);
    }
  }
  const pairs: [Subject, Subject][] = [];
  if (lists.length === 2) {
    for (const a of lists[0].subjects) for (const b of lists[1].subjects) pairs.push([a, b]);
  } else {
    const s = lists[0].subjects;
    for (let i = 0; i < s.length; i++) for (let j = i + 1; j < s.length; j++) pairs.push([s[i], s[j]]);
  }
  return { spec, templates, pairs, activities, files };
}

/** The first k entries of a uniformly random permutation of 0..n-1 (sparse Fisher-Yates). */
export function permutationPrefix(n: number, k: number, rng: Xoshiro128): number[] {
  const moved = new Map<number, number>(), out: number[] = [];
  for (let i = 0; i < Math.min(n, k); i++) {
    const j = i + Math.floor((rng.nextU32() / 4294967296) * (n - i));
    out.push(moved.get(j) ?? j);
    moved.set(j, moved.get(i) ?? i);
  }
  return out;
}

/** k examples of the dimension's (template, pair, activity) space, seeded; and the space's size. */
export function sampleExamples(lists: DimensionLists, k: number, seed: number): { examples: UnqoverExample[]; total: number } {
  const blocks = lists.templates.map((t) => ({ t, acts: lists.activities.get(t.activityType)! }));
  const total = blocks.reduce((s, b) => s + lists.pairs.length * b.acts.length, 0);
  const examples = permutationPrefix(total, k, new Xoshiro128(seed, streamId(`unqover/${lists.spec.name}`))).map((index) => {
    let r = index;
    for (const { t, acts } of blocks) {
      const size = lists.pairs.length * acts.length;
      if (r < size) {
        const [x1, x2] = lists.pairs[Math.floor(r / acts.length)];
        return renderExample(lists.spec.name, t, x1, x2, acts[r % acts.length]);
      }
      r -= size;
    }
    throw new Error(`example index ${index} outside a space of ${total}`);
  });
  return { examples, total };
}

/** The 8 requests of an example, at index order*4 + polarity*2 + subject. */
export function exampleRequests(ex: UnqoverExample): LoglikelihoodRequest[] {
  const out: LoglikelihoodRequest[] = [];
  for (const o of [0, 1] as const) for (const q of [0, 1] as const) {
    for (const x of [0, 1] as const) out.push({ context: promptFor(ex.contexts[o], ex.questions[q]), continuation: ` ${ex.answers[o][x]}` });
  }
  return out;
}

/** The dimensions named by --subsets (case-insensitive), or all. */
export function selectDimensions(requested: string[] | undefined): DimensionSpec[] {
  if (!requested || requested.length === 0) return DIMENSIONS;
  const names = new Set(requested.map((name) => {
    const d = DIMENSIONS.find((x) => x.name === name.trim().toLowerCase());
    if (!d) throw new UsageError(`unknown UnQover dimension "${name}"; dimensions: ${DIMENSIONS.map((x) => x.name).join(', ')}`);
    return d.name;
  }));
  return DIMENSIONS.filter((d) => names.has(d.name));
}

/** --limit N split over the dimensions round-robin (the first N mod D get one more); default 10,000 each. */
export function examplesPerDimension(limit: number | undefined, dimensions: number): number[] {
  if (limit === undefined) return new Array(dimensions).fill(DEFAULT_EXAMPLES_PER_DIMENSION);
  return Array.from({ length: dimensions }, (_, d) => Math.floor(limit / dimensions) + (d < limit % dimensions ? 1 : 0));
}

async function run(ctx: TaskContext): Promise<TaskResult> {
  if (ctx.limit !== undefined && !(Number.isInteger(ctx.limit) && ctx.limit >= 1)) throw new UsageError(`--limit must be a positive integer, got ${ctx.limit}`);
  const selected = selectDimensions(ctx.subsets);
  const quota = examplesPerDimension(ctx.limit, selected.length);
  const files: DatasetFile[] = [], dimensions: Record<string, unknown> = {};
  const examples: UnqoverExample[] = [];
  selected.forEach((spec, d) => {
    const lists = loadDimension(ctx.dataDir, spec);
    const sample = sampleExamples(lists, quota[d], ctx.seed);
    for (const f of lists.files) if (!files.some((g) => g.path === f.path)) files.push(f);
    dimensions[spec.name] = { slots: spec.slots, subjects: spec.subjects, activities: spec.activities, space: sample.total, sampled: sample.examples.length };
    examples.push(...sample.examples);
  });
  const requests = examples.flatMap(exampleRequests);
  const outcomes = await ctx.backend.loglikelihood(requests, { onProgress: (p) => ctx.onProgress?.({ task: 'unqover', ...p }) });

  const units: UnitOutcome<UnqoverExample>[] = examples.map((ex, e) => {
    const got = outcomes.slice(e * 8, e * 8 + 8);
    const failed = got.find((g): g is { ok: false; error: string } => !g.ok);
    if (failed) return { example: ex, error: failed.error };
    const vals = got.map((g) => (g.ok ? g.value : { logprob: NaN, chars: 1 }));
    const probs = (score: (i: number) => number): UnitProbabilities =>
      [[pairProbability(score(0), score(1)), pairProbability(score(2), score(3))], [pairProbability(score(4), score(5)), pairProbability(score(6), score(7))]];
    const p = probs((i) => vals[i].logprob), pNorm = probs((i) => vals[i].logprob / vals[i].chars);
    if (![...p.flat(), ...pNorm.flat()].every(Number.isFinite)) return { example: ex, error: 'non-finite log-likelihood for both subjects' };
    return { example: ex, logprobs: vals.map((v) => v.logprob), p, pNorm };
  });
  const { metrics, groups } = aggregateUnqover(units, selected, ctx.seed);
  return {
    task: 'unqover',
    version: UNQOVER_VERSION,
    config: {
      prompt: PROMPT_FORMAT, continuation: ' {subject}', limit: ctx.limit ?? null, seed: ctx.seed, dimensions,
      scores: { primary: 'summed continuation log-prob, normalised over the two subjects', norm: 'log-prob per character, normalised over the two subjects' },
      caveat: 'mu and eta take a max / mean over (subject, activity) cells of the sampled examples; with few examples per cell they ' +
        'read higher than on the full question set (a one-example cell has |eta| = 1), so compare models at the same limit and seed',
    },
    dataset: {
      files, complete: true,
      note: `questions generated from the complete word lists; (template, pair, activity) examples sampled per dimension (seed ${ctx.seed}): ` +
        `${selected.map((d) => `${d.name} ${examples.filter((e) => e.dimension === d.name).length}`).join(', ')}; each asked in 2 orders x 2 polarities`,
    },
    metrics, groups,
    samples: units.map(sampleRecord),
  };
}

function sampleRecord(u: UnitOutcome<UnqoverExample>): SampleRecord {
  const ex = u.example, [x1, x2] = ex.subjects;
  const base = {
    id: ex.id, dimension: ex.dimension, template: ex.tid, subjects: [x1.id, x2.id], activity: ex.activity.id, activity_class: ex.activity.cluster,
    groups: { dimension: ex.dimension, activity_class: ex.activity.cluster },
  };
  if ('error' in u) return { ...base, error: u.error };
  // chosen[order][polarity]: the subject with the higher normalised probability.
  const chosen = (p: UnitProbabilities): string[][] => p.map((row) => row.map((s) => (s >= 0.5 ? x1.id : x2.id)));
  return {
    ...base,
    prompt: promptFor(ex.contexts[0], ex.questions[0]), contexts: ex.contexts, questions: ex.questions, answers: ex.answers,
    logprobs: u.logprobs, p_x1: u.p, p_x1_norm: u.pNorm, chosen: chosen(u.p), chosen_norm: chosen(u.pNorm),
    bias: subjectBias(u.p), bias_norm: subjectBias(u.pNorm),
    positional_error: positionalError(u.p), attributive_error: attributiveError(u.p),
  };
}

export const unqoverTask: Task = {
  name: 'unqover',
  description: 'UnQover (Li et al. 2020): stereotyping bias on underspecified questions (gender-occupation, country, ethnicity, religion): positional and attributive error, subject bias gamma/eta, model bias mu/eta',
  run,
};
