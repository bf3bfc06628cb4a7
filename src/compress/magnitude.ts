// Magnitude pruning, the baseline of the Wanda and SparseGPT papers: score |W|, compared across the
// whole layer (unstructured: exactly round(sparsity * numel) smallest, ties by lower flat index) or
// within each group of M inputs of a row (N:M). Needs no calibration data.
import { native } from '../core/native.js';
import { CompressionMethod } from './types.js';
import { fractionZero, pruneNM, targetSparsity, validatePruneOnly } from './nm.js';

export const magnitude: CompressionMethod = {
  id: 'magnitude',
  kind: 'prune',
  needsCalibration: false,

  validate(params) {
    validatePruneOnly('magnitude', params);
  },

  compressLayer(site, _stats, params) {
    const { weight, outFeatures: rows, inFeatures: cols } = site.linear;
    if (params.pattern === 'unstructured') {
      // One "row" of rows*cols scores: the threshold is per layer.
      native.pruneSmallest(weight, 1, rows * cols, null, Math.round(targetSparsity(params) * rows * cols), null);
    } else {
      pruneNM(weight, rows, cols, params.pattern);
    }
    return { sparsity: fractionZero(weight) };
  },
};
