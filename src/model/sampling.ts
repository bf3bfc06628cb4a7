// Token selection: greedy argmax and sampling (temperature, top-k, top-p) with a seedable PRNG.
//
// PRNG: xoshiro128** (Blackman & Vigna), 32-bit state words, seeded by running SplitMix32 over
// (seed, stream). Uniform floats take the top 24 bits: u = (next() >>> 8) / 2^24, in [0, 1).
// Every generated sequence owns one generator seeded with (request seed, sample index), so a
// sample's tokens do not depend on which other requests share its batch.

export class Xoshiro128 {
  private s0: number; private s1: number; private s2: number; private s3: number;

  constructor(seed: number, stream = 0) {
    let x = (seed >>> 0) ^ Math.imul(stream >>> 0, 0x9e3779b9);
    const splitmix = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = splitmix(); this.s1 = splitmix(); this.s2 = splitmix(); this.s3 = splitmix();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** A generator at an explicit state (for reference vectors in tests). */
  static fromState(s0: number, s1: number, s2: number, s3: number): Xoshiro128 {
    const g = new Xoshiro128(0);
    g.s0 = s0 >>> 0; g.s1 = s1 >>> 0; g.s2 = s2 >>> 0; g.s3 = s3 >>> 0;
    return g;
  }

  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 ^= this.s0; this.s3 ^= this.s1; this.s1 ^= this.s2; this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    this.s0 >>>= 0; this.s1 >>>= 0; this.s2 >>>= 0; this.s3 >>>= 0;
    return result;
  }

  /** Uniform in [0, 1) with 24 bits of resolution. */
  nextFloat(): number {
    return (this.nextU32() >>> 8) / 16777216;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

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
