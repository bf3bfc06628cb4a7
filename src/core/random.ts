// Seedable PRNG shared by sampling, data selection and bootstrap resampling.
// PRNG: xoshiro128** (Blackman & Vigna), 32-bit state words, seeded by running SplitMix32 over
// (seed, stream). Uniform floats take the top 24 bits: u = (next() >>> 8) / 2^24, in [0, 1).

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
