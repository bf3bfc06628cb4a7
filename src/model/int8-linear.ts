// LLM.int8() (Dettmers et al. 2022) as an activation-dependent linear mode of the engine. For an input
// x (rows, in) and weight W (out, in):
//   O = input features with |x| > threshold in any row of this call (outlier columns);
//   weights: vector-wise absmax int8 per output row, Wq = rint(W * 127 / max|W_o|), scale max|W_o| / 127;
//   activations: vector-wise absmax int8 per token row over the features not in O;
//   out = (Xq Wq^T accumulated in int32) * xScale_r * wScale_o  +  x[:, O] W[:, O]^T (float32)  + bias.
// threshold <= 0 disables the decomposition (pure vector-wise int8, as bitsandbytes with threshold 0).
// The float weights stay with the layer: any column can be an outlier in some batch. The whole forward
// is one native call (native.int8Linear). A dense export writes the dequantized int8 weights (`weight`);
// reloaded from there, the layer's float weights are those, so its outlier columns multiply dequantized
// weights (as bitsandbytes does once it has dropped the fp16 copy) — a difference of int8 rounding in
// those columns only.
//
// This file lives in model/ because loading a compressed folder rebuilds the mode: a folder written by
// `compsafe compress --method llm-int8` holds compsafe_recipe.json, and applyRecordedLinearMode()
// re-applies the mode to every decoder linear layer at load time (readLinearMode says from which field).
import fs from 'node:fs';
import path from 'node:path';
import { native } from '../core/native.js';
import { FileFormatError } from '../core/errors.js';
import { CausalLM, isLayerwise } from './causal-lm.js';
import { Linear } from './linear.js';

export const LLM_INT8_DEFAULT_THRESHOLD = 6.0;

export class Int8Linear implements Linear {
  /** Int8 weights (outFeatures, inFeatures). */
  readonly weightInt8: Int8Array;
  /** Per output row: dequantized weight = weightInt8 * rowScale. */
  readonly rowScale: Float32Array;
  /** Outlier columns of the last forward call (for inspection and tests). */
  lastOutlierColumns = 0;
  private dequantized: Float32Array | null = null;

  /**
   * @param fpWeight (outFeatures, inFeatures) float weights, kept for the outlier columns (not copied).
   */
  constructor(
    readonly fpWeight: Float32Array,
    readonly bias: Float32Array | null,
    readonly outFeatures: number,
    readonly inFeatures: number,
    readonly threshold: number = LLM_INT8_DEFAULT_THRESHOLD,
  ) {
    if (fpWeight.length !== outFeatures * inFeatures) throw new RangeError(`int8 linear weight has ${fpWeight.length} values, expected ${outFeatures}x${inFeatures}`);
    if (bias && bias.length !== outFeatures) throw new RangeError(`int8 linear bias has ${bias.length} values, expected ${outFeatures}`);
    if (!Number.isFinite(threshold)) throw new RangeError(`LLM.int8() threshold must be a finite number, got ${threshold}`);
    this.weightInt8 = new Int8Array(outFeatures * inFeatures);
    this.rowScale = new Float32Array(outFeatures);
    native.int8QuantizeRows(this.weightInt8, this.rowScale, fpWeight, outFeatures, inFeatures, null);
  }

  /** The int8 mode of a dense linear layer (its weight array is kept, not copied). */
  static fromLinear(linear: Linear, threshold = LLM_INT8_DEFAULT_THRESHOLD): Int8Linear {
    return new Int8Linear(linear.weight, linear.bias, linear.outFeatures, linear.inFeatures, threshold);
  }

  /**
   * The dequantized dense weight weightInt8 * rowScale (what a dense export writes), computed once.
   * It is a view for reading: editing it does not change this layer.
   */
  get weight(): Float32Array {
    if (!this.dequantized) {
      this.dequantized = new Float32Array(this.outFeatures * this.inFeatures);
      native.int8Dequantize(this.dequantized, this.weightInt8, this.rowScale, this.outFeatures, this.inFeatures);
    }
    return this.dequantized;
  }

  // x (rows, in) -> out (rows, out)
  forward(x: Float32Array, rows: number, out: Float32Array): void {
    this.lastOutlierColumns = native.int8Linear(out, x, rows, this.weightInt8, this.rowScale, this.fpWeight, this.bias,
      this.outFeatures, this.inFeatures, this.threshold, null);
  }
}

/** The recipe field that names an activation-dependent linear mode. */
export interface LinearModeRecord {
  type: 'llm-int8';
  threshold: number;
}

/** The recipe file `compsafe compress` writes (compress/export.ts; model/ cannot import compress/). */
export const RECIPE_FILE = 'compsafe_recipe.json';

/**
 * The linear mode a folder's compsafe_recipe.json asks for, or null (no recipe, or a weight-only method).
 * An explicit `linear_mode: {type: "llm-int8", threshold}` wins; otherwise a recipe of method "llm-int8"
 * implies the mode with its `parameters.threshold` (what `compsafe compress` records for every method).
 */
export function readLinearMode(dir: string): LinearModeRecord | null {
  const file = path.join(dir, RECIPE_FILE);
  if (!fs.existsSync(file)) return null;
  let recipe: unknown;
  try {
    recipe = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new FileFormatError(`${file} is not valid JSON (${(e as Error).message})`);
  }
  if (!recipe || typeof recipe !== 'object') throw new FileFormatError(`${file} does not hold a JSON object`);
  const r = recipe as Record<string, unknown>;
  let mode: Record<string, unknown>;
  if (r.linear_mode !== undefined && r.linear_mode !== null) {
    if (typeof r.linear_mode !== 'object' || (r.linear_mode as Record<string, unknown>).type !== 'llm-int8') {
      throw new FileFormatError(`${file}: linear_mode ${JSON.stringify(r.linear_mode)} is not supported; supported: {"type": "llm-int8", "threshold": T}`);
    }
    mode = r.linear_mode as Record<string, unknown>;
  } else if (r.method === 'llm-int8') {
    const p = r.parameters;
    mode = { type: 'llm-int8', threshold: p && typeof p === 'object' ? (p as Record<string, unknown>).threshold : undefined };
  } else {
    return null;
  }
  const threshold = mode.threshold ?? LLM_INT8_DEFAULT_THRESHOLD;
  if (typeof threshold !== 'number' || !Number.isFinite(threshold) || threshold < 0) {
    throw new FileFormatError(`${file}: the llm-int8 threshold must be a non-negative number, got ${JSON.stringify(mode.threshold)}`);
  }
  return { type: 'llm-int8', threshold };
}

/** Re-applies the linear mode a compressed folder records (every decoder linear layer). Returns it, or null. */
export function applyRecordedLinearMode(dir: string, model: CausalLM): LinearModeRecord | null {
  const mode = readLinearMode(dir);
  if (!mode) return null;
  if (!isLayerwise(model)) throw new FileFormatError(`${path.join(dir, RECIPE_FILE)} asks for the ${mode.type} linear mode, which model type "${model.info.modelType}" cannot swap in`);
  for (const site of model.linearSites()) model.setLinear(site.layer, site.name, Int8Linear.fromLinear(site.linear, mode.threshold));
  return mode;
}
