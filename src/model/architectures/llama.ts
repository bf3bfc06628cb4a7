// Llama-family decoder (Llama 1/2/3, TinyLlama, Mistral, Qwen2): RMSNorm, rotate-half RoPE,
// grouped-query attention with optional q/k/v biases, SwiGLU MLP, tied or untied LM head.
import { native } from '../../core/native.js';
import { ModelMismatchError, UnsupportedArchitectureError } from '../../core/errors.js';
import { DecoderConfig } from '../config.js';
import { ropeInvFreq } from './llama-config.js';
import { DenseLinear, Linear, LinearHook, LinearSite } from '../linear.js';
import { KVCache } from '../kv-cache.js';
import {
  CausalLM, LayerwiseLM, ForwardOptions, ForwardOutput, ModelInfo, PackedBatch, ParameterTensor, SequenceInput,
  packSequences, selectLogitRows,
} from '../causal-lm.js';

export interface LlamaLayer {
  inputNorm: Float32Array;
  postNorm: Float32Array;
  q: Linear; k: Linear; v: Linear; o: Linear;
  gate: Linear; up: Linear; down: Linear;
}

/** Reads a named fp32 tensor of an expected shape (the loader supplies it). */
export type TensorSource = (name: string, shape: number[]) => Float32Array | undefined;

/** Scratch activations of one forward, sized for `rows` packed tokens. */
interface Scratch {
  x: Float32Array; q: Float32Array; k: Float32Array; v: Float32Array; attn: Float32Array;
  proj: Float32Array; gate: Float32Array; up: Float32Array;
}

export class LlamaModel implements LayerwiseLM {
  readonly info: ModelInfo;
  readonly embed: Float32Array;
  readonly layers: LlamaLayer[] = [];
  readonly finalNorm: Float32Array;
  readonly lmHead: Float32Array;
  private readonly invFreq: Float32Array;
  private readonly params = new Map<string, ParameterTensor>();

  constructor(readonly config: DecoderConfig, source: TensorSource) {
    if (config.hiddenAct !== 'silu') {
      throw new UnsupportedArchitectureError(`${config.modelType}: hidden_act "${config.hiddenAct}" is not supported by the Llama block (SwiGLU needs silu)`);
    }
    const c = config;
    const need = (name: string, shape: number[]): Float32Array => {
      const t = source(name, shape);
      if (!t) throw new ModelMismatchError(`weights lack tensor "${name}" (shape [${shape}]) required by config.json (${c.modelType})`);
      this.params.set(name, { shape, data: t });
      return t;
    };
    const qDim = c.numHeads * c.headDim, kvDim = c.numKvHeads * c.headDim, H = c.hiddenSize, I = c.intermediateSize;
    const linear = (prefix: string, out: number, inp: number, bias: boolean): Linear =>
      new DenseLinear(need(`${prefix}.weight`, [out, inp]), bias ? need(`${prefix}.bias`, [out]) : null, out, inp);
    this.embed = need('model.embed_tokens.weight', [c.vocabSize, H]);
    for (let l = 0; l < c.numLayers; l++) {
      const p = `model.layers.${l}`;
      this.layers.push({
        inputNorm: need(`${p}.input_layernorm.weight`, [H]),
        q: linear(`${p}.self_attn.q_proj`, qDim, H, c.qkvBias),
        k: linear(`${p}.self_attn.k_proj`, kvDim, H, c.qkvBias),
        v: linear(`${p}.self_attn.v_proj`, kvDim, H, c.qkvBias),
        o: linear(`${p}.self_attn.o_proj`, H, qDim, c.oBias),
        postNorm: need(`${p}.post_attention_layernorm.weight`, [H]),
        gate: linear(`${p}.mlp.gate_proj`, I, H, c.mlpBias),
        up: linear(`${p}.mlp.up_proj`, I, H, c.mlpBias),
        down: linear(`${p}.mlp.down_proj`, H, I, c.mlpBias),
      });
    }
    this.finalNorm = need('model.norm.weight', [H]);
    if (c.tieWordEmbeddings) this.lmHead = this.embed;
    else {
      const head = source('lm_head.weight', [c.vocabSize, H]);
      if (!head) throw new ModelMismatchError(`weights lack "lm_head.weight" and config.json sets tie_word_embeddings=false`);
      this.params.set('lm_head.weight', { shape: [c.vocabSize, H], data: head });
      this.lmHead = head;
    }
    this.invFreq = ropeInvFreq(c);
    this.info = { modelType: c.modelType, vocabSize: c.vocabSize, maxPositions: c.maxPositions, numLayers: c.numLayers, hiddenSize: H };
  }

  newCache(): KVCache {
    return new KVCache(this.config.numLayers, this.config.numKvHeads * this.config.headDim, this.config.maxPositions);
  }

  linearSites(): LinearSite[] {
    const sites: LinearSite[] = [];
    this.layers.forEach((L, layer) => {
      const named: [string, Linear][] = [
        ['self_attn.q_proj', L.q], ['self_attn.k_proj', L.k], ['self_attn.v_proj', L.v], ['self_attn.o_proj', L.o],
        ['mlp.gate_proj', L.gate], ['mlp.up_proj', L.up], ['mlp.down_proj', L.down],
      ];
      for (const [name, linear] of named) sites.push({ layer, name, linear });
    });
    return sites;
  }

  parameters(): Map<string, ParameterTensor> {
    return this.params;
  }

  /** Replaces the linear layer at a site (e.g. with a quantized implementation of the same shape). */
  setLinear(layer: number, name: string, linear: Linear): void {
    const L = this.layers[layer];
    const key = ({
      'self_attn.q_proj': 'q', 'self_attn.k_proj': 'k', 'self_attn.v_proj': 'v', 'self_attn.o_proj': 'o',
      'mlp.gate_proj': 'gate', 'mlp.up_proj': 'up', 'mlp.down_proj': 'down',
    } as Record<string, keyof LlamaLayer>)[name];
    if (!L || !key) throw new RangeError(`no linear layer ${name} in layer ${layer}`);
    const old = L[key] as Linear;
    if (old.inFeatures !== linear.inFeatures || old.outFeatures !== linear.outFeatures) throw new RangeError(`shape mismatch replacing ${name}`);
    (L as unknown as Record<string, Linear>)[key] = linear;
  }

  pack(seqs: SequenceInput[]): PackedBatch {
    return packSequences(seqs, this.config.vocabSize, this.config.maxPositions);
  }

  /** Token embeddings of a packed batch: (rows, hidden). */
  embedBatch(batch: PackedBatch): Float32Array {
    const H = this.config.hiddenSize;
    const h = new Float32Array(batch.rows * H);
    native.embedding(h, this.embed, batch.ids, batch.rows, H, this.config.vocabSize);
    return h;
  }

  private scratch(rows: number): Scratch {
    const c = this.config, qDim = c.numHeads * c.headDim, kvDim = c.numKvHeads * c.headDim;
    return {
      x: new Float32Array(rows * c.hiddenSize), q: new Float32Array(rows * qDim),
      k: new Float32Array(rows * kvDim), v: new Float32Array(rows * kvDim), attn: new Float32Array(rows * qDim),
      proj: new Float32Array(rows * c.hiddenSize),
      gate: new Float32Array(rows * c.intermediateSize), up: new Float32Array(rows * c.intermediateSize),
    };
  }

  /**
   * One decoder layer in place on h (rows, hidden). Caches of the batch's sequences must have been
   * reserved for the new rows; their `length` is advanced by the caller after the last layer.
   */
  layerForward(l: number, h: Float32Array, batch: PackedBatch, hook?: LinearHook, scratch?: Scratch): void {
    const c = this.config, L = this.layers[l], rows = batch.rows, H = c.hiddenSize;
    const qDim = c.numHeads * c.headDim, kvDim = c.numKvHeads * c.headDim;
    const s = scratch ?? this.scratch(rows);
    const site = (name: string, linear: Linear): LinearSite => ({ layer: l, name, linear });

    native.rmsnorm(s.x, h, L.inputNorm, rows, H, c.rmsNormEps);
    if (hook) {
      hook(site('self_attn.q_proj', L.q), s.x, rows);
      hook(site('self_attn.k_proj', L.k), s.x, rows);
      hook(site('self_attn.v_proj', L.v), s.x, rows);
    }
    L.q.forward(s.x, rows, s.q);
    L.k.forward(s.x, rows, s.k);
    L.v.forward(s.x, rows, s.v);
    native.rope(s.q, batch.positions, this.invFreq, rows, c.numHeads, c.headDim);
    native.rope(s.k, batch.positions, this.invFreq, rows, c.numKvHeads, c.headDim);
    const scale = 1 / Math.sqrt(c.headDim);
    for (const seq of batch.seqs) {
      if (seq.length === 0) continue;
      const q = s.q.subarray(seq.rowStart * qDim, (seq.rowStart + seq.length) * qDim);
      const out = s.attn.subarray(seq.rowStart * qDim, (seq.rowStart + seq.length) * qDim);
      const k = s.k.subarray(seq.rowStart * kvDim, (seq.rowStart + seq.length) * kvDim);
      const v = s.v.subarray(seq.rowStart * kvDim, (seq.rowStart + seq.length) * kvDim);
      if (seq.cache) {
        seq.cache.keys[l].set(k, seq.start * kvDim);
        seq.cache.values[l].set(v, seq.start * kvDim);
        native.attention(out, q, seq.cache.keys[l], seq.cache.values[l], seq.length, seq.start,
          c.numHeads, c.numKvHeads, c.headDim, kvDim, scale, c.slidingWindow);
      } else {
        native.attention(out, q, k, v, seq.length, 0, c.numHeads, c.numKvHeads, c.headDim, kvDim, scale, c.slidingWindow);
      }
    }
    hook?.(site('self_attn.o_proj', L.o), s.attn, rows);
    L.o.forward(s.attn, rows, s.proj);
    native.add(h, h, s.proj, rows * H);

    native.rmsnorm(s.x, h, L.postNorm, rows, H, c.rmsNormEps);
    if (hook) {
      hook(site('mlp.gate_proj', L.gate), s.x, rows);
      hook(site('mlp.up_proj', L.up), s.x, rows);
    }
    L.gate.forward(s.x, rows, s.gate);
    L.up.forward(s.x, rows, s.up);
    native.swiglu(s.gate, s.gate, s.up, rows * c.intermediateSize);
    hook?.(site('mlp.down_proj', L.down), s.gate, rows);
    L.down.forward(s.gate, rows, s.proj);
    native.add(h, h, s.proj, rows * H);
  }

  /** Final norm and LM head for the selected packed rows: (rows.length, vocab). */
  head(h: Float32Array, rows: Int32Array): Float32Array {
    const c = this.config, H = c.hiddenSize, n = rows.length;
    const sel = new Float32Array(n * H);
    for (let i = 0; i < n; i++) sel.set(h.subarray(rows[i] * H, rows[i] * H + H), i * H);
    native.rmsnorm(sel, sel, this.finalNorm, n, H, c.rmsNormEps);
    const logits = new Float32Array(n * c.vocabSize);
    native.sgemm(0, 1, n, c.vocabSize, H, 1, sel, H, this.lmHead, H, 0, logits, c.vocabSize);
    return logits;
  }

  forward(seqs: SequenceInput[], opts: ForwardOptions = {}): ForwardOutput {
    const batch = this.pack(seqs);
    const logitRows = selectLogitRows(batch, opts.logits ?? 'all');
    for (const s of batch.seqs) s.cache?.reserve(s.length);
    const h = this.embedBatch(batch);
    const scratch = this.scratch(batch.rows);
    for (let l = 0; l < this.config.numLayers; l++) this.layerForward(l, h, batch, opts.hook, scratch);
    for (const s of batch.seqs) if (s.cache) s.cache.length += s.length;
    return {
      logits: this.head(h, logitRows),
      logitRows,
      vocab: this.config.vocabSize,
      rowStart: Int32Array.from(batch.seqs.map((s) => s.rowStart)),
    };
  }
}
