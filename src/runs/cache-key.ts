// Cache keys: a SHA-256 over a canonical JSON (keys sorted) of everything that determines a result.
// A backend result is determined by the exact weights (variant hash), the backend kind, the request
// kind and the full request (prompt, decoding settings, seed, sample index, stop strings, ...);
// the scope adds the task (name, settings) and, for scored outputs, the scorer id and version, so a
// changed task or scorer never reuses another's outputs.
import crypto from 'node:crypto';

export type RequestKind = 'loglikelihood' | 'generate' | 'perplexity';

export interface CacheScope {
  task: string;
  /** Task settings that may change what a request means (limit, shots, samples, seed, ...). */
  settings?: Record<string, unknown>;
  /** Scorer id and version, for requests whose stored value includes a score. */
  scorer?: { id: string; version: string };
}

/** JSON with object keys sorted at every depth; undefined members are dropped as JSON.stringify does. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError(`cannot hash the non-finite number ${value}`);
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

export function sha256Hex(text: string): string {
  return crypto.createHash('sha256').update(text).digest('hex');
}

export function hashOf(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}

export interface KeyParts {
  variantHash: string;
  backendKind: string;
  kind: RequestKind;
  scope: CacheScope;
  request: unknown;
}

export function cacheKey(p: KeyParts): string {
  return hashOf({ v: 1, variant: p.variantHash, backend: p.backendKind, kind: p.kind, scope: p.scope, request: p.request });
}
