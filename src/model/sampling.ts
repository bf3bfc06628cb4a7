// Token selection: greedy argmax and sampling (temperature, top-k, top-p) with a seedable PRNG.
//
// Every generated sequence owns one generator (xoshiro128**, core/random.ts) seeded with (request
// seed, sample index), so a sample's tokens do not depend on which other requests share its batch.

import { Xoshiro128 } from '../core/random.js';

export { Xoshiro128 };

export interface SamplingParams {
  /** 0 (or undefined with no topK/topP) means greedy. */
  temperature: number;
  /** 0 disables. */
  topK: number;
  /** 1 disables. */
  topP: number;
}

/** Index of the first maximum. */
export function argmax(logits: Float32Array): number {
  let best = 0, bv = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > bv) { bv = logits[i]; best = i; }
  return best;
}

/**
 * Draws a token from logits (one row; modified in place). Order as in Hugging Face's warpers:
 * temperature, then top-k, then top-p over the renormalised distribution; then one uniform draw
 * against the cumulative probabilities of the kept tokens in descending order.
 */
export function sampleToken(logits: Float32Array, p: SamplingParams, rng: Xoshiro128): number {
  if (!(p.temperature > 0)) return argmax(logits);
  const V = logits.length;
  let max = -Infinity;
  for (let i = 0; i < V; i++) if (logits[i] > max) max = logits[i];
  // Candidates sorted by logit, descending (ties by index for determinism).
  let order: number[] = [];
  for (let i = 0; i < V; i++) if (logits[i] > -Infinity) order.push(i);
  order.sort((a, b) => logits[b] - logits[a] || a - b);
  if (p.topK > 0 && p.topK < order.length) order = order.slice(0, p.topK);
  const probs = new Float64Array(order.length);
  let sum = 0;
  for (let j = 0; j < order.length; j++) {
    probs[j] = Math.exp((logits[order[j]] - max) / p.temperature);
    sum += probs[j];
  }
  let keep = order.length;
  if (p.topP < 1) {
    // Smallest prefix whose mass reaches topP (at least one token).
    let cum = 0;
    for (let j = 0; j < order.length; j++) {
      cum += probs[j] / sum;
      if (cum >= p.topP) { keep = j + 1; break; }
    }
  }
  let kept = 0;
  for (let j = 0; j < keep; j++) kept += probs[j];
  const u = rng.nextFloat() * kept;
  let acc = 0;
  for (let j = 0; j < keep; j++) {
    acc += probs[j];
    if (u < acc) return order[j];
  }
  return order[keep - 1];
}
