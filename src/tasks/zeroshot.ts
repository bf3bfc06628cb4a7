// The zero-shot suite of the pruning literature (Wanda, SparseGPT): BoolQ, RTE, HellaSwag,
// WinoGrande, ARC-Easy, ARC-Challenge, OpenBookQA, each in its own task's formulation, with the mean
// over the suite. --subsets picks tasks of the suite by name. Without it, a task whose dataset is not
// in the data directory (HellaSwag is often absent) is left out and named in config.missing and the
// dataset note; the means are over the tasks that ran, listed in config.tasks. Metrics:
//   mean_acc       mean of the tasks' acc
//   mean_acc_norm  mean of acc_norm where the task reports it (HellaSwag, ARC, OpenBookQA), acc elsewhere
// Both with a stratified bootstrap CI (items resampled within each task). Per-task metrics are in
// groups.task; samples carry the task name and an id "<task>/<item id>".
import { UsageError } from '../core/errors.js';
import { DatasetMissingError } from '../data/files.js';
import { arcChallengeTask, arcEasyTask } from './arc.js';
import { boolqTask } from './boolq.js';
import { hellaswagTask } from './hellaswag.js';
import { openbookqaTask } from './openbookqa.js';
import { rteTask } from './rte.js';
import { macroMeanMetric } from './stats.js';
import { DatasetFile, SampleRecord, Task, TaskContext, TaskResult } from './task.js';
import { winograndeTask } from './winogrande.js';

export const ZEROSHOT_TASKS: Task[] = [boolqTask, rteTask, hellaswagTask, winograndeTask, arcEasyTask, arcChallengeTask, openbookqaTask];

/** A task's per-item 0/1 correctness for one metric, read back from its sample records (null = failed). */
function correctness(samples: SampleRecord[], metric: 'acc' | 'acc_norm'): (number | null)[] {
  const key = metric === 'acc' ? 'correct' : 'correct_norm';
  return samples.map((s) => (typeof s[key] === 'boolean' ? (s[key] ? 1 : 0) : null));
}

/** The suite's tasks named by --subsets (case-insensitive), or undefined for the default suite. */
export function selectZeroshotTasks(requested: string[] | undefined): Task[] | undefined {
  if (!requested || requested.length === 0) return undefined;
  const names = new Set(requested.map((raw) => {
    const t = ZEROSHOT_TASKS.find((x) => x.name === raw.trim().toLowerCase());
    if (!t) throw new UsageError(`unknown task "${raw}" of the zero-shot suite; its tasks: ${ZEROSHOT_TASKS.map((x) => x.name).join(', ')}`);
    return t.name;
  }));
  return ZEROSHOT_TASKS.filter((t) => names.has(t.name));
}

export const zeroshotTask: Task = {
  name: 'zeroshot',
  description: 'Zero-shot suite: boolq, rte, hellaswag, winogrande, arc_easy, arc_challenge, openbookqa; per-task acc/acc_norm and the suite means',
  async run(ctx: TaskContext): Promise<TaskResult> {
    const named = selectZeroshotTasks(ctx.subsets);
    const results: TaskResult[] = [], missing: string[] = [], reasons: string[] = [];
    for (const task of named ?? ZEROSHOT_TASKS) {
      try {
        results.push(await task.run({ ...ctx, subsets: undefined }));
      } catch (e) {
        // A task the user named must run; the default suite leaves out what the data directory lacks.
        if (named || !(e instanceof DatasetMissingError)) throw e;
        missing.push(task.name);
        reasons.push(e.message);
      }
    }
    if (results.length === 0) throw new DatasetMissingError(`no dataset of the zero-shot suite is in the data directory: ${reasons.join('; ')}`);
    const acc = results.map((r) => correctness(r.samples, 'acc'));
    const accNorm = results.map((r) => correctness(r.samples, r.metrics.acc_norm ? 'acc_norm' : 'acc'));
    const files: DatasetFile[] = results.flatMap((r) => r.dataset.files);
    const notes = [
      ...(missing.length ? [`missing (left out of the means): ${missing.join(', ')}`] : []),
      ...results.filter((r) => r.dataset.note).map((r) => `${r.task}: ${r.dataset.note}`),
    ];
    return {
      task: 'zeroshot',
      version: '1',
      config: {
        tasks: results.map((r) => r.task), missing, limit: ctx.limit ?? null, shots: 0, seed: ctx.seed,
        task_versions: Object.fromEntries(results.map((r) => [r.task, r.version])),
      },
      dataset: { files, complete: missing.length === 0 && results.every((r) => r.dataset.complete), ...(notes.length ? { note: notes.join('; ') } : {}) },
      metrics: { mean_acc: macroMeanMetric(acc, ctx.seed), mean_acc_norm: macroMeanMetric(accNorm, ctx.seed) },
      groups: { task: Object.fromEntries(results.map((r) => [r.task, r.metrics])) },
      samples: results.flatMap((r) => r.samples.map((s) => ({ ...s, id: `${r.task}/${s.id}`, task: r.task }))),
    };
  },
};
