// Llama-family config.json parsing: llama (1/2/3, TinyLlama), mistral, qwen2.
import { ConfigReader, DecoderConfig, HiddenAct, RawConfig, RopeScaling } from '../config.js';
import { FileFormatError, UnsupportedArchitectureError } from '../../core/errors.js';

const ACTS: HiddenAct[] = ['silu', 'gelu', 'gelu_new', 'gelu_pytorch_tanh'];

function ropeScaling(raw: unknown, where: string): RopeScaling | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== 'object') throw new FileFormatError(`${where}: "rope_scaling" must be an object or null`);
  const r = raw as Record<string, unknown>;
  const type = (r.rope_type ?? r.type) as string;
  const factor = typeof r.factor === 'number' ? r.factor : 1;
  if (type === 'default') return null;
  if (type === 'linear' || type === 'dynamic') return { type, factor };
  if (type === 'llama3') {
    return {
      type,
      factor,
      lowFreqFactor: Number(r.low_freq_factor ?? 1),
      highFreqFactor: Number(r.high_freq_factor ?? 4),
      originalMaxPositions: Number(r.original_max_position_embeddings ?? 8192),
    };
  }
  throw new UnsupportedArchitectureError(`${where}: rope_scaling type ${JSON.stringify(type)} is not supported; supported: linear, dynamic, llama3`);
}

export function parseLlamaConfig(raw: RawConfig, where: string): DecoderConfig {
  const c = new ConfigReader(raw, where);
  const modelType = c.str('model_type', 'llama');
  const hiddenSize = c.int('hidden_size');
  const numHeads = c.int('num_attention_heads');
  const numKvHeads = c.int('num_key_value_heads', numHeads);
  const headDim = c.int('head_dim', Math.floor(hiddenSize / numHeads));
  if (numHeads % numKvHeads !== 0) {
    throw new FileFormatError(`${where}: num_attention_heads (${numHeads}) is not a multiple of num_key_value_heads (${numKvHeads})`);
  }
  if (headDim % 2 !== 0 || headDim > 1024) throw new FileFormatError(`${where}: head_dim ${headDim} must be even and at most 1024`);
  const act = c.str('hidden_act', 'silu') as HiddenAct;
  if (!ACTS.includes(act)) throw new UnsupportedArchitectureError(`${where}: hidden_act "${act}" is not supported; supported: ${ACTS.join(', ')}`);
  const isQwen = modelType === 'qwen2';
  const attentionBias = c.bool('attention_bias', false);
  let slidingWindow = 0;
  if (modelType === 'mistral' && typeof raw.sliding_window === 'number') slidingWindow = raw.sliding_window;
  if (isQwen && raw.use_sliding_window === true && typeof raw.sliding_window === 'number') slidingWindow = raw.sliding_window;
  return {
    modelType,
    hiddenSize,
    intermediateSize: c.int('intermediate_size'),
    numLayers: c.int('num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    vocabSize: c.int('vocab_size'),
    maxPositions: c.int('max_position_embeddings', 2048),
    rmsNormEps: c.num('rms_norm_eps', 1e-6),
    ropeTheta: c.num('rope_theta', 10000),
    ropeScaling: ropeScaling(raw.rope_scaling, where),
    tieWordEmbeddings: c.bool('tie_word_embeddings', false),
    qkvBias: isQwen ? true : attentionBias,
    oBias: isQwen ? false : attentionBias,
    mlpBias: c.bool('mlp_bias', false),
    hiddenAct: act,
    slidingWindow,
    bosTokenId: raw.bos_token_id === null || raw.bos_token_id === undefined ? null : c.int('bos_token_id', undefined, 0),
    eosTokenIds: c.ids('eos_token_id'),
  };
}

/** Inverse RoPE frequencies (headDim/2), with the config's scaling applied. */
export function ropeInvFreq(cfg: DecoderConfig): Float32Array {
  const half = cfg.headDim / 2;
  const inv = new Float32Array(half);
  const s = cfg.ropeScaling;
  for (let i = 0; i < half; i++) {
    let f = 1 / Math.pow(cfg.ropeTheta, (2 * i) / cfg.headDim);
    if (s?.type === 'linear') f /= s.factor;
    if (s?.type === 'llama3') {
      // Llama 3.1: long wavelengths scaled by factor, short kept, a smooth ramp between.
      const low = s.originalMaxPositions! / s.lowFreqFactor!, high = s.originalMaxPositions! / s.highFreqFactor!;
      const wavelen = (2 * Math.PI) / f;
      if (wavelen > low) f /= s.factor;
      else if (wavelen >= high) {
        const smooth = (s.originalMaxPositions! / wavelen - s.lowFreqFactor!) / (s.highFreqFactor! - s.lowFreqFactor!);
        f = (1 - smooth) * (f / s.factor) + smooth * f;
      }
    }
    inv[i] = f;
  }
  return inv;
}
