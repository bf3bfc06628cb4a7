// Shared by the quantization tests: a full CompressionParams with overrides.
import { CompressionParams } from '../../src/compress/types.js';

export function params(over: Partial<CompressionParams> = {}): CompressionParams {
  return {
    method: 'rtn', pattern: 'unstructured', bits: 4, groupSize: 0, symmetric: false, actOrder: false, staticGroups: false,
    percdamp: 0.01, blockSize: 128, threshold: 6, awqClip: false, awqGrid: 20, seed: 0, ...over,
  };
}
