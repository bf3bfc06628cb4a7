// Flag parsing on node:util parseArgs, with typed, validated readers that raise UsageError.
import { parseArgs, ParseArgsConfig } from 'node:util';
import { UsageError } from '../core/errors.js';

export type Flags = Record<string, string | boolean | string[] | undefined>;

export function parseFlags(argv: string[], options: NonNullable<ParseArgsConfig['options']>, command: string): Flags {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Flags;
  } catch (e) {
    // parseArgs spreads its advice over several lines; keep it, on one line.
    const msg = (e as Error).message.split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
    throw new UsageError(`${command}: ${msg}`);
  }
}

export function str(f: Flags, name: string): string | undefined {
  const v = f[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new UsageError(`--${name} needs a value`);
  return v;
}

export function required(f: Flags, name: string, command: string): string {
  const v = str(f, name);
  if (v === undefined || v === '') throw new UsageError(`${command}: --${name} is required`);
  return v;
}

export function int(f: Flags, name: string, fallback: number | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = str(f, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer in [${min}, ${max === Number.MAX_SAFE_INTEGER ? 'inf' : max}], got "${v}"`);
  }
  return n;
}

export function float(f: Flags, name: string, fallback: number | undefined, min: number, max: number): number | undefined {
  const v = str(f, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} must be a number in [${min}, ${max}], got "${v}"`);
  return n;
}

export const COMMON_OPTIONS = {
  threads: { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean' },
} as const;
