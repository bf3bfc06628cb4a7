// Linear layers. A Linear computes out (rows, outFeatures) = x (rows, inFeatures) @ W^T + b with W in
// Hugging Face layout (outFeatures, inFeatures). Compression edits `weight` in place, or swaps in
// another Linear implementation (e.g. an activation-dependent int8 mode) at the same site.
import { native } from '../core/native.js';

export interface Linear {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** Dense fp32 view of the weight (outFeatures, inFeatures); edited in place by pruning/quantization. */
  readonly weight: Float32Array;
  readonly bias: Float32Array | null;
  forward(x: Float32Array, rows: number, out: Float32Array): void;
}

export class DenseLinear implements Linear {
  constructor(
    readonly weight: Float32Array,
    readonly bias: Float32Array | null,
    readonly outFeatures: number,
    readonly inFeatures: number,
  ) {
    if (weight.length !== outFeatures * inFeatures) {
      throw new RangeError(`linear weight has ${weight.length} values, expected ${outFeatures}x${inFeatures}`);
    }
  }

  // x (rows, in), W (out, in) -> out (rows, out)
  forward(x: Float32Array, rows: number, out: Float32Array): void {
    const { inFeatures: k, outFeatures: n } = this;
    native.sgemm(0, 1, rows, n, k, 1, x, k, this.weight, k, 0, out, n);
    if (this.bias) native.addBias(out, this.bias, rows, n);
  }
}

/** Where a linear layer sits: decoder layer index and its Hugging Face module path inside the layer. */
export interface LinearSite {
  layer: number;
  /** e.g. "self_attn.q_proj", "mlp.down_proj" */
  name: string;
  linear: Linear;
}

/**
 * Observes the input of a linear layer during a forward pass. `input` is the live activation buffer
 * (rows, inFeatures) — read it (or copy what you need) before returning; it is reused afterwards.
 */
export type LinearHook = (site: LinearSite, input: Float32Array, rows: number) => void;
