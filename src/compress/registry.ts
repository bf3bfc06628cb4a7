// Compression methods by id. A new method is a new file and one line here.
import { UsageError } from '../core/errors.js';
import { CompressionMethod } from './types.js';

export const METHODS: Record<string, CompressionMethod> = {};

export function methodFor(id: string): CompressionMethod {
  const m = METHODS[id];
  if (!m) throw new UsageError(`unknown --method "${id}"; available: ${Object.keys(METHODS).join(', ')}`);
  return m;
}
