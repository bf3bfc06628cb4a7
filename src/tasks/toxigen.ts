// ToxiGen prompts (Hartvigsen et al. 2022): each line of prompts/{hate,neutral}_<group>_1k.txt holds
// six statements about a target group, joined by the literal two characters `\n-` (backslash, n, dash)
// and ending in `\n-`. The prompt is those statements as a bulleted list, one "- statement" per line,
// ending in "- " so the model writes a seventh. Groups: target_group and prompt_type (hate / neutral).
// Default: the 13 target groups of the paper; --subsets picks others present (trans, bisexual, immigrant).
// --limit: a seeded sample of at most that many lines per file.
import fs from 'node:fs';
import { UsageError } from '../core/errors.js';
import { DatasetFormatError, datasetFile, dataPath } from '../data/files.js';
import { provenance } from './dataset-files.js';
import { GenerationPrompt, runGenerationTask, selectPrompts } from './generation.js';
import { Task, TaskContext, TaskResult } from './task.js';

export const TOXIGEN_TASK_VERSION = '1';
export const TOXIGEN_DIR = 'toxigen/prompts';
/** The 13 minority groups of the ToxiGen paper (file-name spelling). */
export const TOXIGEN_GROUPS = [
  'asian', 'black', 'chinese', 'jewish', 'latino', 'lgbtq', 'mental_disability', 'mexican', 'middle_east', 'muslim',
  'native_american', 'physical_disability', 'women',
] as const;
const SEPARATOR = '\\n-';

/** The statements of one prompt line (split on the literal `\n-`, leading "-" removed, blanks dropped). */
export function toxigenStatements(line: string): string[] {
  return line.split(SEPARATOR).map((s, i) => (i === 0 ? s.replace(/^\s*-/, '') : s).trim()).filter(Boolean);
}

/** The prompt: one "- statement" line per statement, then "- " for the model to continue. */
export function toxigenPrompt(statements: string[]): string {
  return statements.map((s) => `- ${s}\n`).join('') + '- ';
}

export function loadToxigenFile(file: string, promptType: string, group: string): GenerationPrompt[] {
  const out: GenerationPrompt[] = [];
  fs.readFileSync(file, 'utf8').split('\n').forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return;
    const statements = toxigenStatements(line);
    if (statements.length === 0) throw new DatasetFormatError(`${file}:${i + 1}: no statements in the line`);
    out.push({ id: `${promptType}_${group}_${String(i + 1).padStart(4, '0')}`, prompt: toxigenPrompt(statements), groups: { target_group: group, prompt_type: promptType } });
  });
  return out;
}

export const toxigenTask: Task = {
  name: 'toxigen',
  description: 'ToxiGen prompts: toxicity of the statement a model adds to a list about a target group, hate vs neutral lists',
  async run(ctx: TaskContext): Promise<TaskResult> {
    const dir = dataPath(ctx.dataDir, TOXIGEN_DIR);
    const present = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
    const available = [...new Set(present.map((f) => /^(?:hate|neutral)_(.+)_1k\.txt$/.exec(f)?.[1]).filter((g): g is string => g !== undefined))].sort();
    const wanted = ctx.subsets ?? [...TOXIGEN_GROUPS];
    const unknown = ctx.subsets?.filter((g) => !available.includes(g)) ?? [];
    if (unknown.length) throw new UsageError(`toxigen: unknown target group(s) ${unknown.join(', ')}; available: ${available.join(', ')}`);
    const files: { type: string; group: string; file: string }[] = [];
    for (const group of wanted) {
      for (const type of ['hate', 'neutral']) {
        const rel = `${TOXIGEN_DIR}/${type}_${group}_1k.txt`;
        // Every default group has both files upstream; a subset group may have only one (e.g. trans).
        if (ctx.subsets && !present.includes(`${type}_${group}_1k.txt`)) continue;
        files.push({ type, group, file: datasetFile(ctx.dataDir, rel) });
      }
    }
    const all = files.flatMap((f) => loadToxigenFile(f.file, f.type, f.group));
    const prompts = selectPrompts(all, ctx.limit, ctx.seed, (p) => `${p.groups.prompt_type}_${p.groups.target_group}`);
    return runGenerationTask(ctx, {
      task: 'toxigen', version: TOXIGEN_TASK_VERSION, prompts, axes: ['target_group', 'prompt_type'],
      files: files.map((f) => provenance(ctx.dataDir, f.file)), complete: true,
      ...(ctx.limit !== undefined ? { note: `seeded sample of at most ${ctx.limit} prompts per file` } : {}),
      config: { target_groups: wanted, limit_per: 'prompt file (prompt type x target group)', prompt_format: 'statements as "- s" lines, ending in "- "' },
    });
  },
};
