// The shape every benchmark task has: dataset -> backend requests -> per-item records -> metrics,
// overall and per group, each metric with n_scored / n_failed and a seeded bootstrap CI.
import { Backend } from '../backends/backend.js';
import { Scorer } from '../scorers/scorer.js';

export interface TaskContext {
  backend: Backend;
  /** The data directory (--data-dir / COMPSAFE_DATA_DIR / default cache). */
  dataDir: string;
  /** Evaluate at most this many items (after the task's seeded selection). */
  limit?: number;
  /** Seed for sampling items, demonstrations and bootstrap resamples. */
  seed: number;
  /** Few-shot demonstrations, for tasks that support them. */
  shots?: number;
  /** Generations per prompt, for generation tasks. */
  samples?: number;
  /**
   * Restrict a task to these named subsets (BBQ categories, ...). Tasks with subsets validate the
   * names and fail on unknown or absent ones; tasks without subsets ignore this.
   */
  subsets?: string[];
  /** Window length for perplexity tasks; default min(model context, 2048). */
  seqlen?: number;
  /** Scorers for generation tasks' continuations (--scorer); every one scores every continuation. */
  scorers?: Scorer[];
  /** Decoding overrides for generation tasks (defaults in tasks/generation.ts; temperature 0 = greedy). */
  decoding?: { maxNewTokens?: number; temperature?: number; topP?: number; topK?: number };
  /** Reference model for generation quality (continuation perplexity, fluency); default: `backend` itself. */
  referenceBackend?: Backend;
  onProgress?: (p: { task: string; done: number; total: number }) => void;
}

export interface MetricValue {
  /** null when nothing was scored. */
  value: number | null;
  /** 95% bootstrap confidence interval, when defined. */
  ci?: [number, number];
  n_scored: number;
  n_failed: number;
}

/** One line of samples/<task>.jsonl: ids, what was asked, what the model did, scores, group labels. */
export type SampleRecord = Record<string, unknown> & { id: string; groups?: Record<string, string>; error?: string };

export interface DatasetFile {
  path: string;
  sha256: string;
}

export interface GroupSpread {
  range: number;
  max: { group: string; value: number };
  min: { group: string; value: number };
  /** Groups with a value for this metric. */
  groups: number;
}

export interface TaskResult {
  task: string;
  /** Bumped whenever the task's prompts or metric definitions change. */
  version: string;
  config: Record<string, unknown>;
  dataset: { files: DatasetFile[]; complete: boolean; note?: string };
  metrics: Record<string, MetricValue>;
  /** axis (e.g. "category") -> group value -> metric -> value */
  groups: Record<string, Record<string, Record<string, MetricValue>>>;
  /** Generation tasks: per axis and metric, how far apart the groups are (max - min) and which are extreme. */
  spread?: Record<string, Record<string, GroupSpread>>;
  samples: SampleRecord[];
}

export interface Task {
  name: string;
  description: string;
  run(ctx: TaskContext): Promise<TaskResult>;
}
