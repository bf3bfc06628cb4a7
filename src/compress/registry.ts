// Compression methods by id. A new method is a new file and one line here.
import { UsageError } from '../core/errors.js';
import { CompressionMethod } from './types.js';
import { magnitude } from './magnitude.js';
import { wanda } from './wanda.js';
import { sparsegpt } from './sparsegpt.js';
import { rtn } from './rtn.js';
import { gptq } from './gptq.js';
import { awq } from './awq.js';
import { llmInt8 } from './llm-int8.js';

export const METHODS: Record<string, CompressionMethod> = {
  magnitude,
  wanda,
  sparsegpt,
  rtn,
  gptq,
  awq,
  'llm-int8': llmInt8,
};

export function methodFor(id: string): CompressionMethod {
  const m = METHODS[id];
  if (!m) throw new UsageError(`unknown --method "${id}"; available: ${Object.keys(METHODS).join(', ')}`);
  return m;
}
