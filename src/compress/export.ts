// Export of a compressed model as a Hugging Face folder the engine and transformers read back:
//   model.safetensors (or shards above 2 GiB + index) - dense fp32: pruned weights are zeros,
//                       quantized weights are stored dequantized;
//   config.json (the source's, torch_dtype set to float32), generation_config.json, tokenizer files;
//   compsafe_recipe.json - method, every parameter, calibration source + SHA-256, source weights' SHA-256,
//                       achieved sparsity/bits per linear layer, per decoder layer and overall, version;
//   compsafe_timing.json - wall-clock figures (the only file that differs between identical runs).
// The folder is written under a temporary sibling name and renamed at the end, so a failure never
// leaves a half-written model under the requested name.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileFormatError, UsageError } from '../core/errors.js';
import { CausalLM } from '../model/causal-lm.js';
import { TensorToWrite, writeSafetensors, writeShardedSafetensors } from '../model/safetensors.js';
import { CalibrationSet, sha256File } from './calibration.js';
import { CompressionReport } from './pipeline.js';
import { formatPattern } from './nm.js';

/** Checkpoints larger than this are sharded (each shard at most this much tensor data). */
export const SHARD_BYTES = 2 * 1024 ** 3;
export const RECIPE_FILE = 'compsafe_recipe.json';
export const TIMING_FILE = 'compsafe_timing.json';
const COPIED_FILES = [
  'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'tokenizer.model',
  'vocab.json', 'merges.txt', 'added_tokens.json', 'chat_template.jinja', 'chat_template.json',
];

export interface ExportInput {
  /** Output folder: must not exist, or be empty. */
  outDir: string;
  /** The source model folder (config, tokenizer and weight files are read from it). */
  sourceDir: string;
  /** The model as the user named it (--model), recorded in the recipe. */
  sourceSpec: string;
  model: CausalLM;
  report: CompressionReport;
  calibration: CalibrationSet | null;
}

/** Fails when `dir` exists and is not an empty folder (nothing is ever overwritten). */
export function checkOutputDir(dir: string): void {
  if (!fs.existsSync(dir)) return;
  if (!fs.statSync(dir).isDirectory()) throw new UsageError(`--out ${dir} exists and is not a folder`);
  if (fs.readdirSync(dir).length > 0) throw new UsageError(`--out ${dir} exists and is not empty; choose a new folder`);
}

let cachedVersion: string | undefined;
/** The package version, from the package.json above this file (src/ or dist/src/). */
export function packageVersion(): string {
  if (cachedVersion) return cachedVersion;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++, dir = path.dirname(dir)) {
    const p = path.join(dir, 'package.json');
    if (fs.existsSync(p)) {
      const pkg = JSON.parse(fs.readFileSync(p, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'compsafe' && pkg.version) return (cachedVersion = pkg.version);
    }
  }
  return (cachedVersion = 'unknown');
}

/** SHA-256 of each safetensors file of a model folder, and one digest over `<sha256>  <name>\n` lines sorted by name. */
export function weightFilesHash(dir: string): { sha256: string; files: Record<string, string> } {
  const names = fs.readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort();
  if (names.length === 0) throw new FileFormatError(`${dir} holds no .safetensors weight files`);
  const files: Record<string, string> = {};
  for (const n of names) files[n] = sha256File(path.join(dir, n));
  const lines = names.map((n) => `${files[n]}  ${n}\n`).join('');
  return { sha256: createHash('sha256').update(lines).digest('hex'), files };
}

/** Every parameter of the model under its Hugging Face name, with each linear weight as compression left it. */
export function compressedTensors(model: CausalLM): Map<string, TensorToWrite> {
  const params = model.parameters();
  const tensors = new Map<string, TensorToWrite>();
  for (const [name, p] of params) tensors.set(name, { shape: p.shape, data: p.data });
  for (const site of model.linearSites()) {
    const name = `model.layers.${site.layer}.${site.name}.weight`;
    const p = params.get(name);
    if (!p) throw new FileFormatError(`cannot export: the model has no parameter ${name} for its linear site`);
    tensors.set(name, { shape: p.shape, data: site.linear.weight });
  }
  return tensors;
}

function recipe(input: ExportInput, weights: { sha256: string; files: Record<string, string> }, outputFiles: string[]): unknown {
  const { report, calibration } = input;
  const modelType = (JSON.parse(fs.readFileSync(path.join(input.sourceDir, 'config.json'), 'utf8')) as { model_type?: string }).model_type ?? null;
  return {
    format: 'compsafe-recipe',
    formatVersion: 1,
    compsafeVersion: packageVersion(),
    method: report.method,
    kind: report.kind,
    parameters: { ...report.params, pattern: formatPattern(report.params.pattern), bits: report.params.bits ?? null, sparsity: report.params.sparsity ?? null },
    calibration: calibration === null ? null : {
      source: calibration.source.kind,
      file: calibration.source.name,
      sha256: calibration.sha256,
      nsamples: calibration.nsamples,
      seqlen: calibration.seqlen,
      seed: calibration.seed,
      tokens: report.calibration?.tokens ?? calibration.nsamples * calibration.seqlen,
      procedure: calibration.procedure,
    },
    sourceModel: { model: input.sourceSpec, modelType, weightsSha256: weights.sha256, weightFiles: weights.files },
    result: {
      sparsity: report.overall.sparsity,
      bits: report.overall.bits ?? null,
      weights: report.overall.weights,
      layers: report.layers.map((l) => ({ layer: l.layer, weights: l.weights, sparsity: l.sparsity, bits: l.bits ?? null })),
      linearLayers: report.sites.map((s) => ({
        tensor: s.tensor, inFeatures: s.inFeatures, outFeatures: s.outFeatures, sparsity: s.sparsity, bits: s.bits ?? null,
        ...(s.details ? { details: s.details } : {}),
      })),
    },
    output: {
      weightsDtype: 'F32',
      storage: 'dense: pruned weights are zeros, quantized weights are stored dequantized',
      files: outputFiles,
    },
  };
}

const json = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;

/** Writes the compressed model folder (see the top of this file). Returns the files written. */
export function exportCompressedModel(input: ExportInput): string[] {
  const out = path.resolve(input.outDir);
  checkOutputDir(out);
  const weights = weightFilesHash(input.sourceDir);
  const tmp = path.join(path.dirname(out), `.${path.basename(out)}.partial-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  try {
    fs.mkdirSync(tmp, { recursive: true });
    const tensors = compressedTensors(input.model);
    let bytes = 0;
    for (const t of tensors.values()) bytes += t.data.length * 4;
    if (bytes > SHARD_BYTES) writeShardedSafetensors(tmp, tensors, SHARD_BYTES);
    else writeSafetensors(path.join(tmp, 'model.safetensors'), tensors);
    const config = JSON.parse(fs.readFileSync(path.join(input.sourceDir, 'config.json'), 'utf8')) as Record<string, unknown>;
    config.torch_dtype = 'float32';
    fs.writeFileSync(path.join(tmp, 'config.json'), json(config));
    for (const f of COPIED_FILES) {
      const src = path.join(input.sourceDir, f);
      if (fs.existsSync(src) && fs.statSync(src).isFile()) fs.copyFileSync(src, path.join(tmp, f));
    }
    const files = fs.readdirSync(tmp).sort();
    fs.writeFileSync(path.join(tmp, RECIPE_FILE), json(recipe(input, weights, [...files, RECIPE_FILE].sort())));
    fs.writeFileSync(path.join(tmp, TIMING_FILE), json({ method: input.report.method, ...input.report.timing }));
    if (fs.existsSync(out)) fs.rmdirSync(out);  // empty (checked above); rename needs the name free
    fs.renameSync(tmp, out);
    return fs.readdirSync(out).sort();
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (e instanceof UsageError || e instanceof FileFormatError) throw e;
    throw new FileFormatError(`cannot write the compressed model to ${out}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
