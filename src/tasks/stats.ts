// Aggregation helpers for task metrics: means with seeded percentile-bootstrap CIs, failures counted.
import { Xoshiro128 } from '../core/random.js';
import { MetricValue } from './task.js';

export const BOOTSTRAP_RESAMPLES = 1000;

/**
 * 95% percentile-bootstrap CI of `statistic` over `items` (resampled with replacement, seeded).
 * Returns undefined for fewer than 2 items.
 */
export function bootstrapCI<T>(items: T[], statistic: (sample: T[]) => number, seed: number, resamples = BOOTSTRAP_RESAMPLES): [number, number] | undefined {
  if (items.length < 2) return undefined;
  const rng = new Xoshiro128(seed, 0xb00757);
  const stats: number[] = [];
  const sample: T[] = new Array(items.length);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < items.length; i++) sample[i] = items[Math.floor(rng.nextFloat() * items.length)];
    const s = statistic(sample);
    if (Number.isFinite(s)) stats.push(s);
  }
  if (stats.length === 0) return undefined;
  stats.sort((a, b) => a - b);
  const at = (q: number): number => stats[Math.min(stats.length - 1, Math.max(0, Math.round(q * (stats.length - 1))))];
  return [at(0.025), at(0.975)];
}

export const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

/** Mean of the scored values (null = failed item), with its CI and counts. */
export function meanMetric(values: (number | null)[], seed: number): MetricValue {
  const scored = values.filter((v): v is number => v !== null);
  return {
    value: scored.length ? mean(scored) : null,
    ci: bootstrapCI(scored, mean, seed),
    n_scored: scored.length,
    n_failed: values.length - scored.length,
  };
}

/**
 * 95% stratified percentile-bootstrap CI: each stratum is resampled with replacement within itself
 * (seeded), so a statistic over strata — a mean of per-subject or per-task accuracies — keeps every
 * stratum at its own size. Empty strata are passed through empty. Undefined when no stratum has 2+ items.
 */
export function stratifiedBootstrapCI<T>(strata: T[][], statistic: (samples: T[][]) => number, seed: number, resamples = BOOTSTRAP_RESAMPLES): [number, number] | undefined {
  if (!strata.some((s) => s.length >= 2)) return undefined;
  const rng = new Xoshiro128(seed, 0x57a7);
  const stats: number[] = [];
  const samples: T[][] = strata.map((s) => new Array(s.length));
  for (let r = 0; r < resamples; r++) {
    strata.forEach((s, k) => { for (let i = 0; i < s.length; i++) samples[k][i] = s[Math.floor(rng.nextFloat() * s.length)]; });
    const v = statistic(samples);
    if (Number.isFinite(v)) stats.push(v);
  }
  if (stats.length === 0) return undefined;
  stats.sort((a, b) => a - b);
  const at = (q: number): number => stats[Math.min(stats.length - 1, Math.max(0, Math.round(q * (stats.length - 1))))];
  return [at(0.025), at(0.975)];
}

/**
 * Macro mean: the mean over strata of each stratum's mean of scored values (null = failed item),
 * with a stratified bootstrap CI. Strata with nothing scored are left out of the mean.
 */
export function macroMeanMetric(strata: (number | null)[][], seed: number): MetricValue {
  const scored = strata.map((s) => s.filter((v): v is number => v !== null));
  const total = strata.reduce((a, s) => a + s.length, 0);
  const n = scored.reduce((a, s) => a + s.length, 0);
  const macro = (ss: number[][]): number => mean(ss.filter((s) => s.length > 0).map(mean));
  return { value: n ? macro(scored) : null, ci: stratifiedBootstrapCI(scored, macro, seed), n_scored: n, n_failed: total - n };
}

/** Value of `statistic` over the scored items (NaN/Infinity -> null), with its bootstrap CI and counts. */
export function statisticMetric<T>(scored: T[], statistic: (sample: T[]) => number, nFailed: number, seed: number): MetricValue {
  const v = scored.length ? statistic(scored) : NaN;
  return { value: Number.isFinite(v) ? v : null, ci: bootstrapCI(scored, statistic, seed), n_scored: scored.length, n_failed: nFailed };
}

/** A 32-bit stream id for a string (FNV-1a), to give each item its own seeded random stream. */
export function streamId(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** A seeded Fisher-Yates shuffle (a new array; the input is untouched). */
export function seededShuffle<T>(items: readonly T[], seed: number, stream = 0): T[] {
  const rng = new Xoshiro128(seed, stream);
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng.nextFloat() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** A seeded uniform generator on [0, 1) (tasks draw from it without reaching into model/). */
export function seededUniform(seed: number, stream = 0): () => number {
  const rng = new Xoshiro128(seed, stream);
  return () => rng.nextFloat();
}
