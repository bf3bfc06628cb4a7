// Model variants of a sweep: the dense reference plus every (method x rate/bits x pattern) of the
// config, each compressed once into RUN/models/<name>/. A folder is reused when the sidecar
// RUN/models/<name>.variant.json records the same spec hash (method, parameters, calibration, source
// weights) and the folder's weights still hash to what was recorded.
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../core/errors.js';
import { CompressionParams } from '../compress/types.js';
import { methodFor } from '../compress/registry.js';
import { formatPattern, nmSparsity, parsePattern } from '../compress/nm.js';
import { compressModel, validateCompression } from '../compress/pipeline.js';
import { calibrationSeqlen, resolveCalibrationSource, sampleCalibration } from '../compress/calibration.js';
import { exportCompressedModel, RECIPE_FILE, weightFilesHash } from '../compress/export.js';
import { isLayerwise } from '../model/causal-lm.js';
import { loadModel, LoadedModel } from '../model/load.js';
import { hashOf } from './cache-key.js';
import { SweepConfig } from './config.js';

export const DENSE = 'dense';

/** Parameters every method starts from (as `compsafe compress` does); the method's defaults, then the config, override them. */
const BASE_PARAMS: Omit<CompressionParams, 'method'> = {
  pattern: 'unstructured', groupSize: 0, symmetric: false, actOrder: false, staticGroups: false, percdamp: 0.01,
  blockSize: 128, threshold: 6.0, awqClip: true, awqGrid: 20, seed: 0,
};

export interface VariantPlan {
  name: string;
  method: string;
  /** null for the dense model. */
  params: CompressionParams | null;
  calibration: { source: string; nsamples: number; seqlen: number; seed: number } | null;
}

const list = <T>(v: T | T[] | undefined): (T | undefined)[] => (v === undefined ? [undefined] : Array.isArray(v) ? v : [v]);

/** The dense model first, then each configured variant in config order; names are unique. */
export function planVariants(cfg: SweepConfig): VariantPlan[] {
  const plans: VariantPlan[] = [{ name: DENSE, method: DENSE, params: null, calibration: null }];
  for (const v of cfg.variants) {
    const method = methodFor(v.method);
    for (const patternText of list(v.pattern)) {
      for (const sparsity of list(v.sparsity)) {
        for (const bits of list(v.bits)) {
          const explicit: Partial<CompressionParams> = {};
          if (patternText !== undefined) explicit.pattern = parsePattern(patternText);
          if (sparsity !== undefined) explicit.sparsity = sparsity;
          if (bits !== undefined) explicit.bits = bits;
          for (const k of ['groupSize', 'symmetric', 'actOrder', 'staticGroups', 'percdamp', 'blockSize', 'threshold', 'seed'] as const) {
            if (v[k] !== undefined) (explicit as Record<string, unknown>)[k] = v[k];
          }
          const params: CompressionParams = { ...BASE_PARAMS, seed: cfg.seed, ...method.defaults, ...explicit, method: method.id };
          if (params.pattern !== 'unstructured') params.sparsity ??= nmSparsity(params.pattern);
          else if (method.kind === 'prune') params.sparsity ??= 0.5;
          if (method.kind === 'quantize') params.bits ??= 4;
          const calibration = method.needsCalibration ? { ...cfg.calibration, ...v.calibration } : null;
          const parts = [method.id];
          if (params.pattern !== 'unstructured') parts.push(formatPattern(params.pattern).replace(':', 'of'));
          else if (method.kind === 'prune') parts.push(String(params.sparsity));
          if (params.bits !== undefined) parts.push(`w${params.bits}`);
          if (params.bits !== undefined && v.groupSize !== undefined) parts.push(`g${params.groupSize}`);
          let name = parts.join('-');
          for (let i = 2; plans.some((p) => p.name === name); i++) name = `${parts.join('-')}-${i}`;
          plans.push({ name, method: method.id, params, calibration });
        }
      }
    }
  }
  return plans;
}

/** Hash of what a variant's compression depends on. */
export function specHash(plan: VariantPlan, sourceWeightsSha256: string): string {
  return hashOf({ source: sourceWeightsSha256, method: plan.method, params: plan.params, calibration: plan.calibration });
}

/** Identity of a variant's weights for cache keys: the weight files' digest and the spec. */
export function variantHash(weightsSha256: string, spec: string): string {
  return hashOf({ weights: weightsSha256, spec });
}

export interface PreparedVariant {
  plan: VariantPlan;
  dir: string;
  specHash: string;
  weightsSha256: string;
  variantHash: string;
  recipe: unknown;
  /** Seconds spent compressing now; 0 when reused. */
  compressSeconds: number;
  reused: boolean;
}

interface Sidecar { specHash: string; weightsSha256: string }

/** Compresses the variant into runDir/models/<name> unless a matching folder is there already. */
export async function prepareVariant(plan: VariantPlan, runDir: string, base: { spec: string; dir: string; weightsSha256: string },
  dataDir: string | undefined, onProgress?: (done: number, total: number) => void): Promise<PreparedVariant> {
  const spec = specHash(plan, base.weightsSha256);
  if (plan.params === null) {
    return {
      plan, dir: base.dir, specHash: spec, weightsSha256: base.weightsSha256, variantHash: variantHash(base.weightsSha256, spec),
      recipe: null, compressSeconds: 0, reused: true,
    };
  }
  const dir = path.join(runDir, 'models', plan.name);
  const sidecarFile = path.join(runDir, 'models', `${plan.name}.variant.json`);
  if (fs.existsSync(sidecarFile) && fs.existsSync(path.join(dir, RECIPE_FILE))) {
    const side = JSON.parse(fs.readFileSync(sidecarFile, 'utf8')) as Sidecar;
    if (side.specHash === spec && weightFilesHash(dir).sha256 === side.weightsSha256) {
      return {
        plan, dir, specHash: spec, weightsSha256: side.weightsSha256, variantHash: variantHash(side.weightsSha256, spec),
        recipe: JSON.parse(fs.readFileSync(path.join(dir, RECIPE_FILE), 'utf8')), compressSeconds: 0, reused: true,
      };
    }
  }
  // Stale or partial: compress afresh (export's temporary folders of a killed run go too).
  fs.rmSync(sidecarFile, { force: true });
  fs.rmSync(dir, { recursive: true, force: true });
  const modelsDir = path.dirname(dir);
  if (fs.existsSync(modelsDir)) {
    for (const f of fs.readdirSync(modelsDir)) if (f.startsWith(`.${plan.name}.partial-`)) fs.rmSync(path.join(modelsDir, f), { recursive: true, force: true });
  }
  const t0 = Date.now();
  const method = methodFor(plan.method);
  const loaded: LoadedModel = await loadModel(base.dir);
  const model = loaded.model;
  if (!isLayerwise(model)) throw new UsageError(`sweep: the ${loaded.config.modelType} model does not support layer-by-layer compression`);
  const inFeatures = model.linearSites().map((s) => s.linear.inFeatures);
  if (plan.params.bits !== undefined && plan.params.groupSize > 0 && inFeatures.some((k) => k % plan.params!.groupSize !== 0)) {
    throw new UsageError(`sweep variant ${plan.name}: group size ${plan.params.groupSize} does not divide in-features ` +
      `${[...new Set(inFeatures.filter((k) => k % plan.params!.groupSize !== 0))].join(', ')}; set groupSize (e.g. 32, or 0 for per-channel)`);
  }
  validateCompression(method, plan.params, inFeatures);
  const calibration = plan.calibration
    ? sampleCalibration(loaded.tokenizer, resolveCalibrationSource(plan.calibration.source, dataDir), {
      nsamples: plan.calibration.nsamples, seqlen: calibrationSeqlen(plan.calibration.seqlen, model.info.maxPositions), seed: plan.calibration.seed,
    })
    : null;
  const report = compressModel(model, method, plan.params, calibration?.samples ?? null, { onProgress: (p) => onProgress?.(p.done, p.total) });
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  exportCompressedModel({ outDir: dir, sourceDir: loaded.dir, sourceSpec: base.spec, model, report, calibration });
  const weights = weightFilesHash(dir).sha256;
  fs.writeFileSync(sidecarFile, JSON.stringify({ specHash: spec, weightsSha256: weights } satisfies Sidecar, null, 2) + '\n');
  return {
    plan, dir, specHash: spec, weightsSha256: weights, variantHash: variantHash(weights, spec),
    recipe: JSON.parse(fs.readFileSync(path.join(dir, RECIPE_FILE), 'utf8')), compressSeconds: (Date.now() - t0) / 1000, reused: false,
  };
}
