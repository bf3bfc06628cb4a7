// Where tests find ../shared (models, tokenizers, data). Product code never names this path.
import path from 'node:path';
import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** Repository root (tests run from dist/test/helpers). */
export const repoRoot = path.resolve(here, '../../..');
export const sharedDir = process.env.COMPSAFE_SHARED ?? path.resolve(repoRoot, '../shared');

export function shared(...parts: string[]): string {
  const p = path.join(sharedDir, ...parts);
  if (!fs.existsSync(p)) throw new Error(`test fixture missing: ${p} (set COMPSAFE_SHARED to the shared folder)`);
  return p;
}

const tempDirs: string[] = [];
let cleanupRegistered = false;
/** A fresh temporary folder, removed when the process exits. */
export function tempDir(prefix = 'compsafe-test-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(d);
  if (!cleanupRegistered) {
    cleanupRegistered = true;
    process.on('exit', () => { for (const t of tempDirs) fs.rmSync(t, { recursive: true, force: true }); });
  }
  return d;
}

/** Deterministic PRNG for test data (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomArray(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (r() * 2 - 1) * scale;
  return a;
}
