// The sweep config: YAML (or JSON) validated with zod. Precedence: explicit flags > environment >
// file > defaults. Relative paths in the file are relative to the file's folder.
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod/v4';
import { UsageError } from '../core/errors.js';
import { FileFormatError } from '../core/errors.js';

const rate = z.number().min(0).max(0.99);
const oneOrMany = <T extends z.ZodType>(t: T) => z.union([t, z.array(t).min(1)]);
const seed = z.number().int().min(0).max(0xffffffff);

const calibrationFields = {
  source: z.string().min(1).describe('c4, wikitext2 (its train split), or a text file'),
  nsamples: z.number().int().min(1).describe('calibration sequences'),
  seqlen: z.number().int().min(2).describe('tokens per sequence, capped by the model context'),
  seed: seed.describe('seed of the calibration sampling'),
};

export const CalibrationSchema = z.object({
  source: calibrationFields.source.default('c4'),
  nsamples: calibrationFields.nsamples.default(128),
  seqlen: calibrationFields.seqlen.default(2048),
  seed: calibrationFields.seed.default(0),
}).strict();

/** A variant's overrides of the sweep's calibration: no defaults, so unset fields keep the sweep's. */
const CalibrationOverrideSchema = z.object({
  source: calibrationFields.source.optional(),
  nsamples: calibrationFields.nsamples.optional(),
  seqlen: calibrationFields.seqlen.optional(),
  seed: calibrationFields.seed.optional(),
}).strict();

export const VariantSchema = z.object({
  method: z.string().min(1).describe('magnitude, wanda, sparsegpt, gblm, rtn, gptq, awq or llm-int8'),
  sparsity: oneOrMany(rate).optional().describe('pruning rate(s) in [0, 0.99]; a list gives one variant per rate'),
  pattern: oneOrMany(z.string().regex(/^(unstructured|\d+:\d+)$/, 'pattern is "unstructured" or N:M')).optional()
    .describe('unstructured, 2:4, 4:8, ...; a list gives one variant per pattern'),
  bits: oneOrMany(z.number().int().min(2).max(8)).optional().describe('quantization bit width(s); a list gives one variant per width'),
  groupSize: z.number().int().min(0).optional().describe('quantization group size along the input dimension; 0 = per channel'),
  symmetric: z.boolean().optional(),
  actOrder: z.boolean().optional().describe('GPTQ: quantize columns in order of decreasing Hessian diagonal'),
  staticGroups: z.boolean().optional().describe('GPTQ: group scales from the unmodified weights'),
  percdamp: z.number().min(0).optional().describe('Hessian dampening, fraction of its mean diagonal'),
  blockSize: z.number().int().min(1).optional().describe('SparseGPT/GPTQ column block size'),
  threshold: z.number().min(0).optional().describe('LLM.int8(): outlier activation threshold'),
  seed: seed.optional().describe("the method's seed; defaults to the sweep's seed"),
  calibration: CalibrationOverrideSchema.optional().describe("overrides of the sweep's calibration settings"),
}).strict();

export const TaskSchema = z.object({
  name: z.string().min(1).describe('a task of `compsafe eval` (bbq, truthfulqa_mc, wikitext2, ..., text:FILE)'),
  limit: z.number().int().min(1).optional().describe('evaluate at most this many items'),
  samples: z.number().int().min(1).optional().describe('generations per prompt (K), for generation tasks'),
  shots: z.number().int().min(0).optional().describe('few-shot demonstrations'),
  seed: seed.optional().describe("defaults to the sweep's seed"),
  seqlen: z.number().int().min(2).optional().describe('perplexity window length'),
  subsets: z.array(z.string().min(1)).min(1).optional().describe('named subsets (BBQ categories, ...)'),
  scorers: z.array(z.string().min(1)).min(1).optional()
    .describe('generation tasks: scorers of the continuations, as `compsafe eval --scorer` takes them (vader, regard=FOLDER, ...)'),
  decoding: z.object({
    maxNewTokens: z.number().int().min(1).optional(),
    temperature: z.number().min(0).max(100).optional().describe('0 = greedy'),
    topP: z.number().min(0).max(1).optional(),
    topK: z.number().int().min(0).optional().describe('0 = off'),
  }).strict().optional().describe('generation tasks: decoding overrides'),
}).strict();

export const SweepConfigSchema = z.object({
  model: z.string().min(1).describe('the dense base model: a local Hugging Face folder or a hub id'),
  out: z.string().min(1).optional().describe('run folder (store.sqlite, compressed models, results); default runs/<config name>'),
  dataDir: z.string().min(1).optional().describe('data directory (benchmarks, calibration corpora)'),
  backend: z.union([
    z.literal('native').describe('every variant is evaluated in-process'),
    z.object({
      kind: z.literal('openai'),
      baseUrl: z.string().min(1).describe('OpenAI-compatible base URL, e.g. http://gpu-host:8000/v1'),
      models: z.record(z.string(), z.string().min(1))
        .describe('variant name (dense, wanda-0.5, ...) -> the model name under which the server serves that folder'),
      concurrency: z.number().int().min(1).max(256).optional().describe('HTTP requests in flight at most'),
    }).strict().describe('variants are compressed here and evaluated on a server that serves their folders (vLLM, compsafe serve, a router)'),
  ]).default('native'),
  seed: seed.default(0).describe('default seed of methods and tasks'),
  batchSize: z.number().int().min(1).default(64).describe('requests per committed batch: a kill loses at most one batch'),
  calibration: CalibrationSchema.prefault({}),
  variants: z.array(VariantSchema).default([]).describe('compressed variants; the dense model is always included'),
  tasks: z.array(TaskSchema).min(1),
}).strict();

/** The JSON schema of the config file (what a YAML editor validates against). */
export function sweepConfigJsonSchema(): Record<string, unknown> {
  return { title: 'compsafe sweep config', ...z.toJSONSchema(SweepConfigSchema, { io: 'input' }) } as Record<string, unknown>;
}

export type SweepConfig = z.infer<typeof SweepConfigSchema>;
export type VariantConfig = z.infer<typeof VariantSchema>;
export type TaskConfig = z.infer<typeof TaskSchema>;

/** Command-line overrides (highest precedence). */
export interface SweepOverrides {
  out?: string;
  dataDir?: string;
  limit?: number;
}

/** Environment variables read by the sweep (between flags and the file). */
export const SWEEP_ENV = { out: 'COMPSAFE_SWEEP_OUT', dataDir: 'COMPSAFE_DATA_DIR', limit: 'COMPSAFE_SWEEP_LIMIT' } as const;

function formatIssues(e: z.ZodError): string {
  return e.issues.map((i) => `${i.path.length ? i.path.map(String).join('.') : '(root)'}: ${i.message}`).join('; ');
}

/** Parses and validates config text; `baseDir` resolves relative paths. */
export function parseSweepConfig(text: string, source: string, baseDir: string): SweepConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new FileFormatError(`${source}: not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  const parsed = SweepConfigSchema.safeParse(raw);
  if (!parsed.success) throw new UsageError(`${source}: ${formatIssues(parsed.error)}`);
  const cfg = parsed.data;
  const names = cfg.tasks.map((t) => t.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new UsageError(`${source}: task "${dup}" is listed twice`);
  // A local model path stays a path; a hub id (org/name, not on disk) stays an id.
  const local = path.resolve(baseDir, cfg.model);
  if (fs.existsSync(local)) cfg.model = local;
  if (cfg.out !== undefined) cfg.out = path.resolve(baseDir, cfg.out);
  if (cfg.dataDir !== undefined) cfg.dataDir = path.resolve(baseDir, cfg.dataDir);
  const fileSource = (s: string): string => (s === 'c4' || s === 'wikitext2' ? s : path.resolve(baseDir, s));
  cfg.calibration.source = fileSource(cfg.calibration.source);
  for (const v of cfg.variants) if (v.calibration?.source !== undefined) v.calibration.source = fileSource(v.calibration.source);
  return cfg;
}

/** Reads the config file and applies env and flag overrides. */
export function loadSweepConfig(file: string, overrides: SweepOverrides = {}, env: NodeJS.ProcessEnv = process.env): SweepConfig {
  if (!fs.existsSync(file)) throw new UsageError(`sweep: config file ${file} does not exist`);
  const cfg = parseSweepConfig(fs.readFileSync(file, 'utf8'), file, path.dirname(path.resolve(file)));
  const envOut = env[SWEEP_ENV.out], envData = env[SWEEP_ENV.dataDir], envLimit = env[SWEEP_ENV.limit];
  if (overrides.out !== undefined) cfg.out = path.resolve(overrides.out);
  else if (envOut) cfg.out = path.resolve(envOut);
  if (overrides.dataDir !== undefined) cfg.dataDir = path.resolve(overrides.dataDir);
  else if (envData) cfg.dataDir = path.resolve(envData);
  let limit = overrides.limit;
  if (limit === undefined && envLimit) {
    limit = Number(envLimit);
    if (!Number.isSafeInteger(limit) || limit < 1) throw new UsageError(`${SWEEP_ENV.limit} must be a positive integer, got "${envLimit}"`);
  }
  if (limit !== undefined) for (const t of cfg.tasks) t.limit = limit;
  if (cfg.out === undefined) cfg.out = path.resolve('runs', path.basename(file).replace(/\.(ya?ml|json)$/i, ''));
  return cfg;
}
