// AdvPromptSet (Esiobu et al. 2023, ROBBIE): adversarial prompts from Jigsaw comments with identity
// labels. Official file advpromptset/advpromptset_final_10k.jsonl (or advpromptset_final.jsonl), one
// record per line: prompt_text, toxicity (0/1 label of the prompt), and identity labels per axis as
// arrays (gender, race, religion, sexuality, disability), plus an id. Not in the shared data
// directory; the loader reads the official format. Groups: prompt_toxicity, each identity axis present
// (a record counts toward every label it carries), and num_identity_labels.
// --limit: a seeded sample of that many prompts.
import fs from 'node:fs';
import { DatasetFormatError, datasetFile, dataPath, readJsonl } from '../data/files.js';
import { provenance, RecordReader } from './dataset-files.js';
import { GeneratedSample, GenerationPrompt, generateAndScore, generationMetrics, groupSpread, resolveDecoding, sampleRecord, selectPrompts } from './generation.js';
import { MetricValue, Task, TaskContext, TaskResult } from './task.js';

export const ADVPROMPTSET_TASK_VERSION = '1';
export const ADVPROMPTSET_FILES = ['advpromptset/advpromptset_final_10k.jsonl', 'advpromptset/advpromptset_final.jsonl'];
export const ADVPROMPTSET_AXES = ['gender', 'race', 'religion', 'sexuality', 'disability'] as const;

export interface AdvPrompt extends GenerationPrompt {
  labels: Record<string, string[]>;
}

export function loadAdvPromptSet(file: string): AdvPrompt[] {
  return readJsonl(file).map((rec) => {
    const r = RecordReader.of(file, rec);
    const text = r.string('prompt_text');
    if (text.trim() === '') r.fail('field "prompt_text" is empty');
    const labels: Record<string, string[]> = {};
    for (const axis of ADVPROMPTSET_AXES) {
      const v = r.value[axis];
      if (v === undefined || v === null) continue;
      const list = Array.isArray(v) ? v : [v];
      if (!list.every((x) => typeof x === 'string')) throw new DatasetFormatError(`${file}:${rec.line}: field "${axis}" must be a string or an array of strings`);
      if (list.length) labels[axis] = list as string[];
    }
    const tox = r.value.toxicity;
    const id = typeof r.value.id === 'string' || typeof r.value.id === 'number' ? String(r.value.id) : `line_${rec.line}`;
    const n = Object.values(labels).reduce((a, l) => a + l.length, 0);
    return {
      id, prompt: text, labels,
      groups: { prompt_toxicity: tox === undefined || tox === null ? 'unknown' : Number(tox) >= 0.5 ? 'toxic' : 'nontoxic', num_identity_labels: String(n) },
      fields: { identity_labels: labels },
    };
  });
}

export const advpromptsetTask: Task = {
  name: 'advpromptset',
  description: 'AdvPromptSet: toxicity of continuations of adversarial prompts, per identity label',
  async run(ctx: TaskContext): Promise<TaskResult> {
    const rel = ADVPROMPTSET_FILES.find((f) => fs.existsSync(dataPath(ctx.dataDir, f))) ?? ADVPROMPTSET_FILES[0];
    const file = datasetFile(ctx.dataDir, rel);
    const all = loadAdvPromptSet(file);
    const prompts = selectPrompts(all, ctx.limit, ctx.seed);
    const scorers = ctx.scorers ?? [];
    const generated = await generateAndScore(ctx, 'advpromptset', prompts);
    // Multi-label axes: a sample belongs to every label of its prompt on that axis.
    const groups: TaskResult['groups'] = {};
    const addGroup = (axis: string, key: (s: GeneratedSample) => string[]): void => {
      const by = new Map<string, GeneratedSample[]>();
      for (const s of generated) for (const v of key(s)) { const l = by.get(v); if (l) l.push(s); else by.set(v, [s]); }
      if (by.size === 0) return;
      groups[axis] = Object.fromEntries([...by].sort(([a], [b]) => (a < b ? -1 : 1)).map(([v, ss]): [string, Record<string, MetricValue>] => [v, generationMetrics(ss, scorers, ctx.seed)]));
    };
    addGroup('prompt_toxicity', (s) => [s.item.groups.prompt_toxicity]);
    addGroup('num_identity_labels', (s) => [s.item.groups.num_identity_labels]);
    for (const axis of ADVPROMPTSET_AXES) addGroup(axis, (s) => (s.item as AdvPrompt).labels[axis] ?? []);
    return {
      task: 'advpromptset', version: ADVPROMPTSET_TASK_VERSION,
      config: {
        prompts: prompts.length, available: all.length, samples_per_prompt: ctx.samples ?? 1, limit: ctx.limit ?? null, decoding: resolveDecoding(ctx),
        scorers: scorers.map((s) => ({ id: s.id, version: s.version, kind: s.kind })), scored: 'the continuation alone',
      },
      dataset: { files: [provenance(ctx.dataDir, file)], complete: ctx.limit === undefined },
      metrics: generationMetrics(generated, scorers, ctx.seed),
      groups, spread: groupSpread(groups),
      samples: generated.map((s) => sampleRecord(s, scorers)),
    };
  },
};
