// The interface every causal-LM architecture implements, and the packing of a batch of sequences.
// A batch is packed: the tokens of all sequences are stacked into one (rows, hidden) activation, so
// linear layers run as one GEMM with no padding; attention runs per sequence over its own keys.
import { KVCache } from './kv-cache.js';
import { LinearHook, LinearSite } from './linear.js';

export interface SequenceInput {
  /** New tokens of this sequence. Their positions start at cache.length (0 without a cache). */
  ids: ArrayLike<number>;
  /** Keys/values of earlier positions; appended to by the forward pass. */
  cache?: KVCache;
}

export interface ForwardOptions {
  /** Which packed rows get logits: all rows, the last row of each sequence, none, or explicit rows. */
  logits?: 'all' | 'last' | 'none' | Int32Array;
  /** Sees the input of every linear layer, layer by layer. */
  hook?: LinearHook;
}

export interface ForwardOutput {
  /** (logitRows.length, vocab) */
  logits: Float32Array;
  /** Packed row index of each logits row. */
  logitRows: Int32Array;
  vocab: number;
  /** First packed row of each sequence. */
  rowStart: Int32Array;
}

export interface PackedSequence {
  rowStart: number;
  length: number;
  /** Position of the first new token. */
  start: number;
  cache?: KVCache;
}

export interface PackedBatch {
  rows: number;
  ids: Int32Array;
  positions: Int32Array;
  seqs: PackedSequence[];
}

export interface ModelInfo {
  modelType: string;
  vocabSize: number;
  maxPositions: number;
  numLayers: number;
  hiddenSize: number;
}

export interface ParameterTensor {
  shape: number[];
  data: Float32Array;
}

export interface CausalLM {
  readonly info: ModelInfo;
  forward(seqs: SequenceInput[], opts?: ForwardOptions): ForwardOutput;
  newCache(): KVCache;
  /** Every linear layer, in forward order. */
  linearSites(): LinearSite[];
  /** Every parameter under its Hugging Face name (tied weights appear once). Live views, not copies. */
  parameters(): Map<string, ParameterTensor>;
}

/**
 * A model that can run one decoder layer at a time — what sequential, layer-by-layer calibration
 * (SparseGPT, GPTQ, Wanda, AWQ) needs: embed a batch once, push it through layer l, compress layer l,
 * push again to get layer l+1's inputs.
 */
export interface LayerwiseLM extends CausalLM {
  pack(seqs: SequenceInput[]): PackedBatch;
  /** (rows, hidden) token embeddings of the batch. */
  embedBatch(batch: PackedBatch): Float32Array;
  /** Layer l in place on h (rows, hidden); the hook sees each linear input of that layer. */
  layerForward(l: number, h: Float32Array, batch: PackedBatch, hook?: LinearHook): void;
  /** Swaps the linear layer at a site for another implementation of the same shape. */
  setLinear(layer: number, name: string, linear: import('./linear.js').Linear): void;
}

export function isLayerwise(m: CausalLM): m is LayerwiseLM {
  const x = m as Partial<LayerwiseLM>;
  return typeof x.layerForward === 'function' && typeof x.embedBatch === 'function' && typeof x.setLinear === 'function';
}

/** Stacks sequences into one batch; validates ids against the vocabulary and lengths against the context. */
export function packSequences(seqs: SequenceInput[], vocab: number, maxPositions: number): PackedBatch {
  let rows = 0;
  for (const s of seqs) rows += s.ids.length;
  const ids = new Int32Array(rows), positions = new Int32Array(rows);
  const packed: PackedSequence[] = [];
  const caches = new Set<KVCache>();
  let r = 0;
  for (let i = 0; i < seqs.length; i++) {
    const s = seqs[i];
    if (s.cache) {
      if (caches.has(s.cache)) throw new RangeError(`sequence ${i} shares a KV cache with an earlier sequence of the batch`);
      caches.add(s.cache);
    }
    const start = s.cache ? s.cache.length : 0;
    if (start + s.ids.length > maxPositions) {
      throw new RangeError(`sequence ${i} needs ${start + s.ids.length} positions; the model's context is ${maxPositions}`);
    }
    for (let j = 0; j < s.ids.length; j++) {
      const id = s.ids[j];
      if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new RangeError(`sequence ${i} holds token id ${id} outside the vocabulary of ${vocab}`);
      ids[r + j] = id;
      positions[r + j] = start + j;
    }
    packed.push({ rowStart: r, length: s.ids.length, start, cache: s.cache });
    r += s.ids.length;
  }
  return { rows, ids, positions, seqs: packed };
}

/** Resolves ForwardOptions.logits into packed row indices. */
export function selectLogitRows(batch: PackedBatch, which: ForwardOptions['logits']): Int32Array {
  if (which instanceof Int32Array) {
    for (const r of which) if (r < 0 || r >= batch.rows) throw new RangeError(`logit row ${r} outside the batch of ${batch.rows} rows`);
    return which;
  }
  if (which === 'none') return new Int32Array(0);
  if (which === 'last') return Int32Array.from(batch.seqs.filter((s) => s.length > 0).map((s) => s.rowStart + s.length - 1));
  return Int32Array.from({ length: batch.rows }, (_, i) => i);
}

/**
 * Forward over a padded batch (B, T) with an attention mask (1 = token, 0 = padding), as Hugging
 * Face callers pass it. Padding is dropped (it is neither query nor key) and positions count real
 * tokens only, which is what HF computes with position_ids = cumsum(mask) - 1 for left or right
 * padding. Returns logits (B, T, vocab) with zero rows at padded positions.
 */
export function forwardPadded(model: CausalLM, inputIds: number[][], attentionMask: number[][]): Float32Array {
  const B = inputIds.length, T = B > 0 ? inputIds[0].length : 0, V = model.info.vocabSize;
  if (attentionMask.length !== B) throw new RangeError(`attention mask has ${attentionMask.length} rows for ${B} sequences`);
  const seqs: SequenceInput[] = [], where: number[][] = [];
  for (let b = 0; b < B; b++) {
    if (inputIds[b].length !== T || attentionMask[b].length !== T) throw new RangeError(`row ${b} of the padded batch is not ${T} long`);
    const ids: number[] = [], at: number[] = [];
    for (let t = 0; t < T; t++) {
      const m = attentionMask[b][t];
      if (m !== 0 && m !== 1) throw new RangeError(`attention mask values must be 0 or 1, got ${m}`);
      if (m === 1) { ids.push(inputIds[b][t]); at.push(t); }
    }
    seqs.push({ ids });
    where.push(at);
  }
  const out = model.forward(seqs, { logits: 'all' });
  const logits = new Float32Array(B * T * V);
  let row = 0;
  for (let b = 0; b < B; b++) {
    for (const t of where[b]) logits.set(out.logits.subarray(row * V, (row + 1) * V), (b * T + t) * V), row++;
  }
  return logits;
}
