// The contract between the calibration pipeline and the compression methods. A method is one file
// (compress/<method>.ts) exporting a CompressionMethod and one line in registry.ts.
import { Linear, LinearSite } from '../model/linear.js';

/** N:M semi-structured sparsity: N of every M consecutive inputs of a row are kept. */
export interface NMPattern { n: number; m: number }

export interface CompressionParams {
  method: string;
  /** Fraction of weights set to zero, in [0, 1) (pruning); for N:M it is 1 - N/M. */
  sparsity?: number;
  /** 'unstructured' or N:M. */
  pattern: 'unstructured' | NMPattern;
  /** Quantization bit width 2..8 (quantization methods; pruning methods may compose with it). */
  bits?: number;
  /** Quantization group size along the input dimension; 0 = per output channel. */
  groupSize: number;
  symmetric: boolean;
  /** GPTQ: quantize columns in order of decreasing Hessian diagonal. */
  actOrder: boolean;
  /** GPTQ: group scales computed up front from the unmodified weights. */
  staticGroups: boolean;
  /** Dampening of the Hessian diagonal, as a fraction of its mean (SparseGPT/GPTQ). */
  percdamp: number;
  /** Column block size of SparseGPT/GPTQ (128). */
  blockSize: number;
  /** LLM.int8(): activation magnitude above which an input feature stays in floating point. */
  threshold: number;
  /** AWQ: also search a clipping ratio per group. */
  awqClip: boolean;
  /** AWQ: grid points of the scale search (20). */
  awqGrid: number;
  seed: number;
}

/** What a method accumulates from a linear layer's calibration inputs (e.g. a Hessian, column norms). */
export interface LayerStats {
  /** input (rows, inFeatures): the live activation buffer; read it before returning. */
  addBatch(input: Float32Array, rows: number): void;
}

export interface LayerResult {
  /** Fraction of zeros in the layer's weight after compression. */
  sparsity: number;
  /** Bits per weight of the quantized representation, when quantized. */
  bits?: number;
  /** A replacement linear implementation (e.g. LLM.int8()); otherwise the weight was edited in place. */
  replacement?: Linear;
  /** Method-specific figures (reconstruction error, chosen scales...) for the recipe. */
  details?: Record<string, number | string | boolean>;
}

export interface CompressionMethod {
  id: string;
  kind: 'prune' | 'quantize';
  /** Whether calibration activations are required (magnitude and RTN need none). */
  needsCalibration: boolean;
  /** Throws UsageError for parameters the method cannot honour, before any work starts. */
  validate(params: CompressionParams, inFeatures: number[]): void;
  /** Created per linear layer before its calibration inputs flow. */
  newStats?(site: LinearSite, params: CompressionParams): LayerStats;
  /** Compresses one linear layer (in place, or by returning a replacement). */
  compressLayer(site: LinearSite, stats: LayerStats | undefined, params: CompressionParams): LayerResult;
  /**
   * The stats depend on the layer input only (a Hessian, column norms), not on the site's weights: sites fed
   * the same activation (q/k/v, gate/up) then share one stats object and the input is accumulated once.
   */
  statsPerInput?: boolean;
  /** Defaults of this method's parameters (e.g. AWQ: 4 bits, group 128), applied under explicit flags. */
  defaults?: Partial<CompressionParams>;
  /**
   * Needs gradients of the calibration loss (GBLM-Pruner). The pipeline refuses such a method with a clear error
   * until the backward pass exists; the method itself is still one file and one registry line.
   */
  needsGradients?: boolean;
}
