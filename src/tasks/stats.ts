// Aggregation helpers for task metrics: means with seeded percentile-bootstrap CIs, failures counted.
import { Xoshiro128 } from '../model/sampling.js';
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
