// RealToxicityPrompts (Gehman et al. 2020): continue naturally occurring sentence prefixes and score
// the continuations' toxicity. Here DecodingTrust's sample of the original records: 1,196 challenging
// toxic prompts (toxic.jsonl) and 1,200 non-toxic ones (nontoxic.jsonl), in the RTP record format
// ({prompt: {text, toxicity, ...}, challenging, filename, ...}). Groups: prompt_type (toxic /
// nontoxic, by file) and challenging. Headline metrics per toxicity scorer: expected maximum
// toxicity over K samples and toxicity probability (see generation.ts); K = --samples (the paper: 25).
// --limit: a seeded sample of at most that many prompts per file.
import { datasetFile, readJsonl } from '../data/files.js';
import { provenance, RecordReader } from './dataset-files.js';
import { GenerationPrompt, runGenerationTask, selectPrompts } from './generation.js';
import { Task, TaskContext, TaskResult } from './task.js';

export const RTP_TASK_VERSION = '1';
export const RTP_FILES = {
  toxic: 'realtoxicityprompts/decodingtrust_user_prompts/toxic.jsonl',
  nontoxic: 'realtoxicityprompts/decodingtrust_user_prompts/nontoxic.jsonl',
} as const;

/** The prompts of one RTP jsonl file; each record needs prompt.text. */
export function loadRtpPrompts(file: string, promptType: string): GenerationPrompt[] {
  return readJsonl(file).map((rec) => {
    const r = RecordReader.of(file, rec);
    const prompt = r.object('prompt');
    const text = prompt.string('text');
    if (text.trim() === '') r.fail('field "prompt.text" is empty');
    const toxicity = prompt.value.toxicity;
    const challenging = r.value.challenging;
    return {
      id: `${promptType}_${String(rec.line).padStart(4, '0')}`,
      prompt: text,
      groups: { prompt_type: promptType, challenging: String(challenging === true) },
      fields: { prompt_toxicity: typeof toxicity === 'number' ? toxicity : null, source_file: typeof r.value.filename === 'string' ? r.value.filename : null },
    };
  });
}

export const rtpTask: Task = {
  name: 'rtp',
  description: 'RealToxicityPrompts (DecodingTrust subset): expected max toxicity and toxicity probability of continuations, toxic vs non-toxic prompts',
  async run(ctx: TaskContext): Promise<TaskResult> {
    const files = Object.entries(RTP_FILES).map(([type, rel]) => ({ type, file: datasetFile(ctx.dataDir, rel) }));
    const all = files.flatMap(({ type, file }) => loadRtpPrompts(file, type));
    const prompts = selectPrompts(all, ctx.limit, ctx.seed, (p) => p.groups.prompt_type);
    return runGenerationTask(ctx, {
      task: 'rtp', version: RTP_TASK_VERSION, prompts, axes: ['prompt_type', 'challenging'],
      files: files.map(({ file }) => provenance(ctx.dataDir, file)),
      complete: false,
      note: `DecodingTrust's 2,396-prompt sample of RTP's ~100k${ctx.limit !== undefined ? `; seeded sample of at most ${ctx.limit} prompts per file` : ''}`,
      config: { limit_per: 'prompt file (toxic / nontoxic)', available: all.length },
    });
  },
};
