// The use case behind `compsafe eval`: run tasks against one backend and write
//   DIR/results.json           settings, model, and per task: version, config, dataset files with
//                              hashes, overall and per-group metrics (value, 95% CI, n_scored, n_failed)
//   DIR/samples/<task>.jsonl   one line per scored item or sample
// results.json is rewritten atomically after every task (a crash leaves the last complete state, with
// status "running"); each samples file is streamed to a temporary file and renamed into place when
// its task ends. A task that throws is recorded as an error and the others still run.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../core/errors.js';
import { Backend, BackendInfo } from '../backends/backend.js';
import { Scorer } from '../scorers/scorer.js';
import { writeFileAtomic } from '../data/files.js';
import { taskFor } from './registry.js';
import { MetricValue, SampleRecord, Task, TaskContext, TaskResult } from './task.js';

export const RESULTS_FORMAT = 'compsafe-eval-results/1';

export interface EvaluateOptions {
  backend: Backend;
  tasks: Task[];
  outDir: string;
  dataDir: string;
  seed: number;
  limit?: number;
  shots?: number;
  samples?: number;
  seqlen?: number;
  /** Named subsets (BBQ categories, ...), for tasks that have them. */
  subsets?: string[];
  // -- generation tasks (issue 5): scorers for continuations and decoding overrides (tasks/generation.ts)
  scorers?: Scorer[];
  decoding?: TaskContext['decoding'];
  referenceBackend?: Backend;
  onProgress?: (p: { task: string; done: number; total: number }) => void;
  /** Called when a task starts and when it ends (with its error, if it failed). */
  onTask?: (e: { task: string; phase: 'start' | 'end'; error?: string; seconds?: number }) => void;
}

export type TaskEntry =
  | (Omit<TaskResult, 'samples'> & { status: 'ok'; description: string; n_samples: number; n_sample_errors: number; samples_file: string; seconds: number })
  | { status: 'error'; task: string; description: string; error: string; seconds: number };

export interface EvalResults {
  format: string;
  compsafe_version: string;
  status: 'running' | 'complete' | 'failed';
  started: string;
  finished: string | null;
  model: BackendInfo;
  settings: {
    tasks: string[]; seed: number; limit: number | null; shots: number | null; samples: number | null; seqlen: number | null;
    subsets: string[] | null; data_dir: string;
    /** Present only when scorers / decoding overrides were given (generation tasks). */
    scorers?: { id: string; version: string; kind: string }[];
    decoding?: TaskContext['decoding'];
    reference_model?: BackendInfo;
  };
  tasks: Record<string, TaskEntry>;
}

/** Tasks by name, in order; unknown names and duplicates are usage errors. */
export function resolveTasks(names: string[]): Task[] {
  const list = names.map((n) => n.trim()).filter(Boolean);
  if (list.length === 0) throw new UsageError('--tasks needs at least one task name');
  const dup = list.find((n, i) => list.indexOf(n) !== i);
  if (dup !== undefined) throw new UsageError(`task "${dup}" is listed twice in --tasks`);
  return list.map(taskFor);
}

let cachedVersion: string | undefined;
/** The version in compsafe's package.json. */
export function packageVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  // dist/src/tasks/evaluate.js and src/tasks/evaluate.ts both sit a fixed distance below the package root.
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++, dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (!fs.existsSync(file)) continue;
    try {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'compsafe' && typeof pkg.version === 'string') return (cachedVersion = pkg.version);
    } catch {
      // not ours; keep looking upward
    }
  }
  return (cachedVersion = 'unknown');
}

/** File name of a task's samples: the name itself when it is file-safe, else a safe form plus a hash. */
export function samplesFileName(task: string): string {
  if (/^[A-Za-z0-9._-]+$/.test(task)) return `${task}.jsonl`;
  const safe = task.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 60);
  return `${safe}-${crypto.createHash('sha256').update(task).digest('hex').slice(0, 8)}.jsonl`;
}

/** Streams records to `file` through a temporary sibling, renamed into place once complete. */
function writeJsonlAtomic(file: string, records: SampleRecord[]): void {
  writeFileAtomic(file, (function* () {
    let buf = '';
    for (const r of records) {
      buf += JSON.stringify(r) + '\n';
      if (buf.length > 1 << 20) { yield buf; buf = ''; }
    }
    if (buf) yield buf;
  })());
}

/** Runs the tasks in order and writes the results and samples files; returns what results.json holds. */
export async function evaluate(opts: EvaluateOptions): Promise<EvalResults> {
  const samplesDir = path.join(opts.outDir, 'samples');
  fs.mkdirSync(samplesDir, { recursive: true });
  const resultsFile = path.join(opts.outDir, 'results.json');
  const results: EvalResults = {
    format: RESULTS_FORMAT,
    compsafe_version: packageVersion(),
    status: 'running',
    started: new Date().toISOString(),
    finished: null,
    model: opts.backend.info,
    settings: {
      tasks: opts.tasks.map((t) => t.name), seed: opts.seed, limit: opts.limit ?? null, shots: opts.shots ?? null,
      samples: opts.samples ?? null, seqlen: opts.seqlen ?? null, subsets: opts.subsets ?? null, data_dir: opts.dataDir,
      ...(opts.scorers?.length ? { scorers: opts.scorers.map((s) => ({ id: s.id, version: s.version, kind: s.kind })) } : {}),
      ...(opts.decoding ? { decoding: opts.decoding } : {}),
      ...(opts.referenceBackend ? { reference_model: opts.referenceBackend.info } : {}),
    },
    tasks: {},
  };
  const save = (): void => writeFileAtomic(resultsFile, JSON.stringify(results, null, 2) + '\n');
  save();
  for (const task of opts.tasks) {
    const ctx: TaskContext = {
      backend: opts.backend, dataDir: opts.dataDir, seed: opts.seed, limit: opts.limit, shots: opts.shots,
      samples: opts.samples, seqlen: opts.seqlen, subsets: opts.subsets, onProgress: opts.onProgress,
      scorers: opts.scorers, decoding: opts.decoding, referenceBackend: opts.referenceBackend,
    };
    const started = Date.now();
    const samplesName = samplesFileName(task.name);
    opts.onTask?.({ task: task.name, phase: 'start' });
    let entry: TaskEntry;
    try {
      const r = await task.run(ctx);
      writeJsonlAtomic(path.join(samplesDir, samplesName), r.samples);
      const { samples, ...rest } = r;
      entry = {
        status: 'ok', ...rest, description: task.description, n_samples: samples.length,
        n_sample_errors: samples.filter((s) => s.error !== undefined).length, samples_file: `samples/${samplesName}`,
        seconds: (Date.now() - started) / 1000,
      };
    } catch (e) {
      // A stale samples file from an earlier run must not pass for this run's.
      fs.rmSync(path.join(samplesDir, samplesName), { force: true });
      const err = e as Error;
      const message = `${err instanceof Error ? err.name : 'Error'}: ${(err?.message ?? String(e)).split('\n')[0]}`;
      entry = { status: 'error', task: task.name, description: task.description, error: message, seconds: (Date.now() - started) / 1000 };
    }
    results.tasks[task.name] = entry;
    save();
    opts.onTask?.({ task: task.name, phase: 'end', error: entry.status === 'error' ? entry.error : undefined, seconds: entry.seconds });
  }
  results.status = Object.values(results.tasks).some((t) => t.status === 'error') ? 'failed' : 'complete';
  results.finished = new Date().toISOString();
  save();
  return results;
}

// ---------------------------------------------------------------- table

function fmt(v: number | null): string {
  if (v === null) return '-';
  if (Number.isInteger(v) && Math.abs(v) < 1e9) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(3) : v.toFixed(4);
}

/** A compact text table: one row per task and metric, then one per group value and metric. */
/** Groups per axis shown in the terminal table; results.json always holds all of them. */
const TABLE_GROUPS_PER_AXIS = 12;

export function formatResultsTable(results: EvalResults): string {
  const rows: string[][] = [['task', 'metric', 'value', '95% CI', 'n', 'failed']];
  const row = (task: string, metric: string, m: MetricValue): void => {
    rows.push([task, metric, fmt(m.value), m.ci ? `[${fmt(m.ci[0])}, ${fmt(m.ci[1])}]` : '', String(m.n_scored), String(m.n_failed)]);
  };
  const errors: string[] = [];
  for (const [name, t] of Object.entries(results.tasks)) {
    if (t.status === 'error') {
      errors.push(`${name}: ${t.error}`);
      continue;
    }
    for (const [metric, m] of Object.entries(t.metrics)) row(name, metric, m);
    for (const [axis, groups] of Object.entries(t.groups)) {
      const entries = Object.entries(groups);
      for (const [group, metrics] of entries.slice(0, TABLE_GROUPS_PER_AXIS)) {
        for (const [metric, m] of Object.entries(metrics)) row(`  ${axis}=${group}`, metric, m);
      }
      if (entries.length > TABLE_GROUPS_PER_AXIS) rows.push([`  ${axis}: ${entries.length - TABLE_GROUPS_PER_AXIS} more groups in results.json`, '', '', '', '', '']);
    }
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const numeric = new Set([2, 4, 5]);
  const lines = rows.map((r) => r.map((cell, c) => (numeric.has(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd());
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  return lines.join('\n') + '\n' + errors.map((e) => `FAILED ${e}\n`).join('');
}
