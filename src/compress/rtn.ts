// RTN: round-to-nearest weight quantization, the baseline of GPTQ and AWQ. Each row (per channel) or
// each group of `--group-size` inputs of a row gets its own uniform grid (compress/quantizer.ts) from
// its min/max, and every weight is rounded to the nearest grid value. No calibration data.
import { native } from '../core/native.js';
import { groupCount, validateWeightQuantization } from './quantizer.js';
import { CompressionMethod, CompressionParams } from './types.js';
import { fractionZero } from './nm.js';

/** Quantizes w (rows, cols) in place; returns the grids (rows, groups). */
export function rtnQuantize(w: Float32Array, rows: number, cols: number, bits: number, groupSize: number, symmetric: boolean): { scale: Float32Array; zero: Float32Array } {
  const groups = groupCount(cols, groupSize);
  const scale = new Float32Array(rows * groups), zero = new Float32Array(rows * groups);
  native.quantizeGroups(w, w, rows, cols, groupSize, bits, symmetric ? 1 : 0, null, null, scale, zero);
  return { scale, zero };
}

export const rtn: CompressionMethod = {
  id: 'rtn',
  kind: 'quantize',
  needsCalibration: false,
  defaults: { bits: 4 },

  validate(params: CompressionParams) {
    validateWeightQuantization(params, 'rtn');
  },

  compressLayer(site, _stats, params) {
    const bits = validateWeightQuantization(params, 'rtn');
    const { weight, outFeatures, inFeatures } = site.linear;
    rtnQuantize(weight, outFeatures, inFeatures, bits, params.groupSize, params.symmetric);
    return {
      sparsity: fractionZero(weight),
      bits,
      details: { groupSize: params.groupSize, groups: groupCount(inFeatures, params.groupSize), symmetric: params.symmetric },
    };
  },
};
