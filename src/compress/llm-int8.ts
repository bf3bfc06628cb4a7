// LLM.int8() (Dettmers et al. 2022): every linear layer becomes the engine's activation-dependent int8
// mode (model/int8-linear.ts): vector-wise absmax int8 weights (per output row) and activations (per
// token row), with the input features where |x| > --threshold (default 6.0) computed in floating point
// against the float weights. Not a weight-only approximation: the float weights stay, and the int8
// product is formed at every forward. No calibration data. Export writes the dequantized int8 weights;
// loading the folder re-applies the mode from its recipe (model/int8-linear.ts, readLinearMode).
import { UsageError } from '../core/errors.js';
import { Int8Linear, LLM_INT8_DEFAULT_THRESHOLD } from '../model/int8-linear.js';
import { CompressionMethod, CompressionParams } from './types.js';
import { fractionZero } from './nm.js';

/** 127 * 127 * in-features must fit the int32 accumulator of the int8 product. */
export const LLM_INT8_MAX_IN_FEATURES = 133144;

export const llmInt8: CompressionMethod = {
  id: 'llm-int8',
  kind: 'quantize',
  needsCalibration: false,
  defaults: { bits: 8, threshold: LLM_INT8_DEFAULT_THRESHOLD },

  validate(params: CompressionParams, inFeatures: number[]) {
    if (params.bits !== undefined && params.bits !== 8) throw new UsageError(`llm-int8 is 8-bit; --bits must be 8 or left out, got ${params.bits}`);
    if (!Number.isFinite(params.threshold) || params.threshold < 0) {
      throw new UsageError(`--threshold must be a non-negative number (0 disables the outlier decomposition), got ${params.threshold}`);
    }
    const wide = inFeatures.filter((k) => k > LLM_INT8_MAX_IN_FEATURES);
    if (wide.length) throw new UsageError(`llm-int8: in-features ${Math.max(...wide)} exceed ${LLM_INT8_MAX_IN_FEATURES}, beyond which the int32 accumulator could overflow`);
  },

  compressLayer(site, _stats, params) {
    const replacement = Int8Linear.fromLinear(site.linear, params.threshold);
    return {
      sparsity: fractionZero(replacement.weight),
      bits: 8,
      replacement,
      details: { threshold: params.threshold, mode: 'llm-int8' },
    };
  },
};
