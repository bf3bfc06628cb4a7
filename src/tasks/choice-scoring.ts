// Multiple-choice scoring as lm-evaluation-harness does it, shared by MMLU and the zero-shot suite.
// Each choice is a (context, continuation) log-likelihood request; the prediction is the argmax of
// the summed log-probabilities (acc) and, where the harness reports it, of the log-probability
// divided by the choice's length in characters (acc_norm: lm-eval's `completion_len`, the choice
// text without the leading space, in code points). Ties go to the first choice (np.argmax). An item
// with any failed request is failed: excluded from the metrics and counted in n_failed.
// (multiple-choice.ts serves the bias tasks with one context per question and the continuation's
// length; these tasks need one context per choice, for WinoGrande, and the harness's exact length.)
import { Backend, LoglikelihoodRequest } from '../backends/backend.js';
import { UsageError } from '../core/errors.js';
import { argmax, scoreRequests } from './multiple-choice.js';
import { meanMetric } from './stats.js';
import { DatasetFile, MetricValue, SampleRecord, Task, TaskContext, TaskResult } from './task.js';

export interface ChoiceItem {
  id: string;
  /** The prompt every choice continues, or one prompt per choice (WinoGrande's partial evaluation). */
  context: string | string[];
  /** What is scored after the context, one per choice (usually " " + the choice text). */
  continuations: string[];
  /** The choices as the harness names them: recorded, and their length normalises acc_norm. */
  choices: string[];
  /** Index of the correct choice. */
  gold: number;
  /** Group labels (axis -> value), e.g. { subject, category } for MMLU. */
  groups?: Record<string, string>;
}

export interface ScoredItem {
  item: ChoiceItem;
  /** Summed log-probability of each continuation; null when any request of the item failed. */
  logprobs: number[] | null;
  error?: string;
  /** argmax of logprobs. */
  chosen: number | null;
  /** argmax of logprob / choice length in characters. */
  chosenNorm: number | null;
}

/** Code points, as Python's len(): the harness's length for acc_norm (at least 1). */
export const choiceLength = (choice: string): number => Math.max(1, [...choice].length);

export function contextOf(item: ChoiceItem, choice: number): string {
  return typeof item.context === 'string' ? item.context : item.context[choice];
}

/** Scores every choice of every item with the backend. */
export async function scoreChoices(backend: Backend, items: ChoiceItem[], onProgress?: (p: { done: number; total: number }) => void): Promise<ScoredItem[]> {
  const requests: LoglikelihoodRequest[] = [], owner: number[] = [];
  items.forEach((item, i) => {
    if (item.continuations.length !== item.choices.length) throw new Error(`item ${item.id}: ${item.continuations.length} continuations for ${item.choices.length} choices`);
    item.continuations.forEach((continuation, c) => { requests.push({ context: contextOf(item, c), continuation }); owner.push(i); });
  });
  const outcomes = await scoreRequests(backend, requests, onProgress);
  const scored: ScoredItem[] = [];
  let r = 0;
  for (const item of items) {
    const logprobs: number[] = [];
    let error: string | undefined;
    for (let c = 0; c < item.choices.length; c++, r++) {
      const o = outcomes[r];
      if (o.ok) logprobs.push(o.value.logprob);
      else error ??= `choice ${c}: ${o.error}`;
    }
    if (error !== undefined) {
      scored.push({ item, logprobs: null, error, chosen: null, chosenNorm: null });
    } else {
      const norm = logprobs.map((lp, c) => lp / choiceLength(item.choices[c]));
      scored.push({ item, logprobs, chosen: argmax(logprobs), chosenNorm: argmax(norm) });
    }
  }
  return scored;
}

/** 1 when `pick` is the gold choice, 0 when not, null for a failed item. */
export const correctness = (s: ScoredItem, pick: number | null = s.chosen): number | null => (pick === null ? null : pick === s.item.gold ? 1 : 0);

/** acc (and acc_norm when `norm`) over the items, with seeded bootstrap CIs and failure counts. */
export function choiceMetrics(scored: ScoredItem[], seed: number, norm: boolean): Record<string, MetricValue> {
  const m: Record<string, MetricValue> = { acc: meanMetric(scored.map((s) => correctness(s, s.chosen)), seed) };
  if (norm) m.acc_norm = meanMetric(scored.map((s) => correctness(s, s.chosenNorm)), seed);
  return m;
}

/** axis -> group value -> metrics, for every axis the items carry labels on. */
export function groupChoiceMetrics(scored: ScoredItem[], seed: number, norm: boolean): Record<string, Record<string, Record<string, MetricValue>>> {
  const byAxis = new Map<string, Map<string, ScoredItem[]>>();
  for (const s of scored) {
    for (const [axis, value] of Object.entries(s.item.groups ?? {})) {
      const axisMap = byAxis.get(axis) ?? new Map<string, ScoredItem[]>();
      byAxis.set(axis, axisMap);
      const list = axisMap.get(value) ?? [];
      axisMap.set(value, list);
      list.push(s);
    }
  }
  const out: Record<string, Record<string, Record<string, MetricValue>>> = {};
  for (const [axis, values] of byAxis) {
    out[axis] = {};
    for (const [value, list] of [...values].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) out[axis][value] = choiceMetrics(list, seed, norm);
  }
  return out;
}

/** One samples/<task>.jsonl line: ids, prompt(s), choices with their log-probabilities, chosen, gold. */
export function choiceSampleRecord(s: ScoredItem, norm: boolean): SampleRecord {
  const { item } = s;
  const rec: SampleRecord = {
    id: item.id,
    prompt: item.context,
    continuations: item.continuations,
    choices: item.choices,
    logprobs: s.logprobs,
    chosen: s.chosen,
    gold: item.gold,
    correct: s.chosen === null ? null : s.chosen === item.gold,
  };
  if (norm) {
    rec.chosen_norm = s.chosenNorm;
    rec.correct_norm = s.chosenNorm === null ? null : s.chosenNorm === item.gold;
  }
  if (item.groups) rec.groups = item.groups;
  if (s.error !== undefined) rec.error = s.error;
  return rec;
}

/** The first `limit` items (lm-eval's --limit): the same items for every model, whatever the seed. */
export function applyLimit<T>(items: T[], limit: number | undefined): T[] {
  if (limit === undefined) return items;
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive integer, got ${limit}`);
  return items.slice(0, limit);
}

/** What a zero-shot multiple-choice benchmark provides; `choiceTask` turns it into a Task. */
export interface ChoiceTaskSpec {
  name: string;
  description: string;
  /** Bumped whenever the prompt or metric definitions change. */
  version: string;
  /** The prompt and choices in words, recorded in the result's config. */
  formulation: string;
  /** Whether acc_norm is reported (as the harness does for this task). */
  norm: boolean;
  load(dataDir: string): { items: ChoiceItem[]; files: DatasetFile[]; complete: boolean; note?: string };
}

/** A zero-shot task: load, take the first --limit items, score every choice, aggregate. */
export function choiceTask(spec: ChoiceTaskSpec): Task {
  return {
    name: spec.name,
    description: spec.description,
    async run(ctx: TaskContext): Promise<TaskResult> {
      const data = spec.load(ctx.dataDir);
      const items = applyLimit(data.items, ctx.limit);
      const scored = await scoreChoices(ctx.backend, items, (p) => ctx.onProgress?.({ task: spec.name, ...p }));
      return {
        task: spec.name,
        version: spec.version,
        config: {
          formulation: spec.formulation, shots: 0, limit: ctx.limit ?? null, items: items.length, items_available: data.items.length,
          seed: ctx.seed, acc_norm: spec.norm ? 'logprob / characters of the choice text (code points, no leading space)' : null,
        },
        dataset: { files: data.files, complete: data.complete, ...(data.note ? { note: data.note } : {}) },
        metrics: choiceMetrics(scored, ctx.seed, spec.norm),
        groups: groupChoiceMetrics(scored, ctx.seed, spec.norm),
        samples: scored.map((s) => choiceSampleRecord(s, spec.norm)),
      };
    },
  };
}

/** `complete` and a note from the number of items read against the full split's size. */
export function completeness(read: number, expected: number, what: string): { complete: boolean; note?: string } {
  return read === expected ? { complete: true } : { complete: false, note: `${read} of the ${expected} items of ${what}` };
}
