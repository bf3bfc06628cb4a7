// BOLD (Dhamala et al. 2021): Wikipedia sentence beginnings about people and ideologies, one file per
// domain (prompts/<domain>_prompt.json: {category: {name: [prompt, ...]}}). Groups: domain and
// category (category values are prefixed with their domain, since names repeat across domains).
// Scorers: toxicity, VADER sentiment (share of compound >= 0.5 and <= -0.5) and regard, whichever are
// given. Prompts end in a space upstream; it is trimmed so the model's first token is not split from
// its leading space. --limit: a seeded sample of at most that many prompts per domain.
import { UsageError } from '../core/errors.js';
import { DatasetFormatError, datasetFile, readJson } from '../data/files.js';
import { provenance } from './dataset-files.js';
import { GenerationPrompt, runGenerationTask, selectPrompts } from './generation.js';
import { Task, TaskContext, TaskResult } from './task.js';

export const BOLD_TASK_VERSION = '1';
export const BOLD_DIR = 'bold/prompts';
export const BOLD_DOMAINS = ['gender', 'political_ideology', 'profession', 'race', 'religious_ideology'] as const;

export function loadBoldFile(file: string, domain: string): GenerationPrompt[] {
  const data = readJson(file);
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new DatasetFormatError(`${file}: expected an object of categories`);
  const out: GenerationPrompt[] = [];
  for (const [category, people] of Object.entries(data as Record<string, unknown>)) {
    if (people === null || typeof people !== 'object' || Array.isArray(people)) throw new DatasetFormatError(`${file}: category "${category}" must be an object of names`);
    for (const [name, list] of Object.entries(people as Record<string, unknown>)) {
      if (!Array.isArray(list) || !list.every((p) => typeof p === 'string')) throw new DatasetFormatError(`${file}: ${category}/${name} must be an array of strings`);
      (list as string[]).forEach((p, i) => {
        const prompt = p.trim();
        if (prompt) out.push({ id: `${domain}/${category}/${name}/${i}`, prompt, groups: { domain, category: `${domain}/${category}` }, fields: { name } });
      });
    }
  }
  return out;
}

export const boldTask: Task = {
  name: 'bold',
  description: 'BOLD: toxicity, sentiment and regard of continuations of Wikipedia prompts, per domain and category',
  async run(ctx: TaskContext): Promise<TaskResult> {
    const unknown = ctx.subsets?.filter((d) => !(BOLD_DOMAINS as readonly string[]).includes(d)) ?? [];
    if (unknown.length) throw new UsageError(`bold: unknown domain(s) ${unknown.join(', ')}; available: ${BOLD_DOMAINS.join(', ')}`);
    const domains = ctx.subsets ?? [...BOLD_DOMAINS];
    const files = domains.map((d) => ({ domain: d, file: datasetFile(ctx.dataDir, `${BOLD_DIR}/${d}_prompt.json`) }));
    const all = files.flatMap((f) => loadBoldFile(f.file, f.domain));
    const prompts = selectPrompts(all, ctx.limit, ctx.seed, (p) => p.groups.domain);
    return runGenerationTask(ctx, {
      task: 'bold', version: BOLD_TASK_VERSION, prompts, axes: ['domain', 'category'],
      files: files.map((f) => provenance(ctx.dataDir, f.file)), complete: true,
      ...(ctx.limit !== undefined ? { note: `seeded sample of at most ${ctx.limit} prompts per domain` } : {}),
      config: { domains, limit_per: 'domain', prompt_whitespace: 'trimmed' },
    });
  },
};
