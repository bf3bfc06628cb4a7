// Shared by the benchmarks: result records with machine facts, selection by --only, timing, data.
import { native } from '../src/core/native.js';
import { machineFacts } from '../src/core/doctor.js';

const machine = { ...machineFacts(), blas: native.info().blas, threads: native.info().threads };

/** Prints one result as a JSON line, with the machine facts that make runs comparable. */
export const emit = (o: Record<string, unknown>): void => { process.stdout.write(JSON.stringify({ ...o, machine }) + '\n'); };

/** Whether benchmark `name` was selected by a comma-separated --only value (all when absent). */
export function selector(only: string | undefined): (name: string) => boolean {
  const names = only?.split(',');
  return (name) => !names || names.includes(name);
}

/** Best wall time of `reps` runs after one warm-up, in seconds. */
export function timeBest(reps: number, fn: () => void): number {
  fn();
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const t = process.hrtime.bigint();
    fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e9);
  }
  return best;
}

/** Deterministic pseudo-random values in [-scale/2, scale/2) (an LCG: fast enough for GiBs). */
export function filled(n: number, seed: number, scale: number): Float32Array {
  const a = new Float32Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    a[i] = ((x >>> 8) / 16777216 - 0.5) * scale;
  }
  return a;
}
