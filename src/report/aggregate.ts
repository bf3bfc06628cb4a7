// Aggregation of a sweep's stored results into rows: variant x task x (axis, group) x metric, with
// the dense model's value and the difference beside each. The store holds the metrics the tasks
// computed; nothing here recomputes a metric from raw generations. Tables, CSV, JSON and a later
// HTML report all start from `aggregateRun`.
import { ResultStore } from '../runs/store.js';

export interface ReportRow {
  variant: string;
  method: string;
  task: string;
  /** '' for overall metrics; else the group axis (e.g. "category") and value. */
  axis: string;
  group: string;
  metric: string;
  value: number | null;
  ci_low: number | null;
  ci_high: number | null;
  n_scored: number;
  n_failed: number;
  /** The dense model's value of the same task/axis/group/metric, and value - dense. */
  dense: number | null;
  delta: number | null;
}

export interface TaskStatusRow {
  variant: string;
  task: string;
  status: 'ok' | 'error' | 'missing';
  version: string | null;
  error: string | null;
  seconds: number | null;
}

export interface RunReport {
  format: 'compsafe-sweep-report/1';
  variants: { name: string; method: string; variant_hash: string; sparsity: number | null; bits: number | null }[];
  tasks: string[];
  status: TaskStatusRow[];
  overall: ReportRow[];
  groups: ReportRow[];
  failures: number;
}

interface RecipeShape { result?: { sparsity?: number; bits?: number | null } }

export function aggregateStore(store: ResultStore): RunReport {
  const variants = store.variants();
  const method = new Map(variants.map((v) => [v.name, v.method]));
  const order = new Map(variants.map((v, i) => [v.name, i]));
  const results = store.results();
  const tasks = [...new Set(results.map((r) => r.task))];
  const metrics = store.metrics();
  const denseKey = (m: { task: string; axis: string; group: string; metric: string }): string => JSON.stringify([m.task, m.axis, m.group, m.metric]);
  const dense = new Map(metrics.filter((m) => m.variant === 'dense').map((m) => [denseKey(m), m.value]));
  const rows: ReportRow[] = metrics.map((m) => {
    const d = dense.get(denseKey(m)) ?? null;
    return {
      variant: m.variant, method: method.get(m.variant) ?? 'unknown', task: m.task, axis: m.axis, group: m.group, metric: m.metric,
      value: m.value, ci_low: m.ci?.[0] ?? null, ci_high: m.ci?.[1] ?? null, n_scored: m.n_scored, n_failed: m.n_failed,
      dense: d, delta: d !== null && m.value !== null ? m.value - d : null,
    };
  });
  const taskIdx = (t: string): number => tasks.indexOf(t);
  rows.sort((a, b) => (order.get(a.variant) ?? 1e9) - (order.get(b.variant) ?? 1e9) || taskIdx(a.task) - taskIdx(b.task) ||
    a.axis.localeCompare(b.axis) || a.group.localeCompare(b.group) || a.metric.localeCompare(b.metric));
  const status: TaskStatusRow[] = [];
  for (const v of variants) {
    for (const t of tasks) {
      const r = results.find((x) => x.variant === v.name && x.task === t);
      status.push({ variant: v.name, task: t, status: r?.status ?? 'missing', version: r?.version ?? null, error: r?.error ?? null, seconds: r?.seconds ?? null });
    }
  }
  return {
    format: 'compsafe-sweep-report/1',
    variants: variants.map((v) => {
      const recipe = v.recipe as RecipeShape | null;
      return { name: v.name, method: v.method, variant_hash: v.variantHash, sparsity: recipe?.result?.sparsity ?? null, bits: recipe?.result?.bits ?? null };
    }),
    tasks,
    status,
    overall: rows.filter((r) => r.axis === ''),
    groups: rows.filter((r) => r.axis !== ''),
    failures: store.failureCount(),
  };
}

/** Opens RUN/store.sqlite read-only and aggregates it. */
export function aggregateRun(runDir: string): RunReport {
  const store = ResultStore.open(runDir, { readonly: true });
  try {
    return aggregateStore(store);
  } finally {
    store.close();
  }
}
