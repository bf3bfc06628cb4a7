// Writes small random-weight Llama-family models in Hugging Face layout, with the character-level
// tokenizer of the babyllama fixture (vocab 105), so tests can cover shapes the fixtures lack.
import fs from 'node:fs';
import path from 'node:path';
import { writeSafetensors, writeShardedSafetensors, TensorToWrite } from '../../src/model/safetensors.js';
import { randomArray, shared } from './fixtures.js';
import { RefConfig } from './reference-llama.js';

export interface RandomModelOptions {
  modelType?: 'llama' | 'qwen2' | 'mistral';
  hidden?: number; inter?: number; layers?: number; heads?: number; kvHeads?: number; headDim?: number;
  tied?: boolean; dtype?: 'F32' | 'F16' | 'BF16'; shardBytes?: number; slidingWindow?: number; seed?: number;
  maxPositions?: number;
}

export function writeRandomModel(dir: string, o: RandomModelOptions = {}): { config: RefConfig; tensors: Map<string, Float32Array> } {
  const modelType = o.modelType ?? 'llama', hidden = o.hidden ?? 32, heads = o.heads ?? 4, kvHeads = o.kvHeads ?? 2;
  const headDim = o.headDim ?? hidden / heads, inter = o.inter ?? 48, layers = o.layers ?? 2, vocab = 105;
  const tied = o.tied ?? false, qkvBias = modelType === 'qwen2';
  fs.mkdirSync(dir, { recursive: true });
  const config: Record<string, unknown> = {
    architectures: [modelType === 'qwen2' ? 'Qwen2ForCausalLM' : modelType === 'mistral' ? 'MistralForCausalLM' : 'LlamaForCausalLM'],
    model_type: modelType, hidden_size: hidden, intermediate_size: inter, num_hidden_layers: layers,
    num_attention_heads: heads, num_key_value_heads: kvHeads, head_dim: headDim, vocab_size: vocab,
    max_position_embeddings: o.maxPositions ?? 128, rms_norm_eps: 1e-5, rope_theta: 10000, hidden_act: 'silu',
    tie_word_embeddings: tied, bos_token_id: 1, eos_token_id: 2, torch_dtype: 'float32',
  };
  if (o.slidingWindow) config.sliding_window = o.slidingWindow;
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(shared('models', 'babyllama-tok105', f), path.join(dir, f));
  let seed = o.seed ?? 1;
  const tensors = new Map<string, Float32Array>();
  const add = (name: string, n: number, scale: number, offset = 0): void => {
    const a = randomArray(n, seed++, scale);
    if (offset) for (let i = 0; i < n; i++) a[i] += offset;
    tensors.set(name, a);
  };
  const qd = heads * headDim, kd = kvHeads * headDim;
  add('model.embed_tokens.weight', vocab * hidden, 0.5);
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    add(`${p}.input_layernorm.weight`, hidden, 0.2, 1);
    add(`${p}.self_attn.q_proj.weight`, qd * hidden, 0.3);
    add(`${p}.self_attn.k_proj.weight`, kd * hidden, 0.3);
    add(`${p}.self_attn.v_proj.weight`, kd * hidden, 0.3);
    if (qkvBias) {
      add(`${p}.self_attn.q_proj.bias`, qd, 0.1);
      add(`${p}.self_attn.k_proj.bias`, kd, 0.1);
      add(`${p}.self_attn.v_proj.bias`, kd, 0.1);
    }
    add(`${p}.self_attn.o_proj.weight`, hidden * qd, 0.3);
    add(`${p}.post_attention_layernorm.weight`, hidden, 0.2, 1);
    add(`${p}.mlp.gate_proj.weight`, inter * hidden, 0.3);
    add(`${p}.mlp.up_proj.weight`, inter * hidden, 0.3);
    add(`${p}.mlp.down_proj.weight`, hidden * inter, 0.3);
  }
  add('model.norm.weight', hidden, 0.2, 1);
  if (!tied) add('lm_head.weight', vocab * hidden, 0.5);
  const shapes = (name: string): number[] => {
    const n = tensors.get(name)!.length;
    if (name === 'model.embed_tokens.weight' || name === 'lm_head.weight') return [vocab, hidden];
    if (name.endsWith('q_proj.weight')) return [qd, hidden];
    if (name.endsWith('k_proj.weight') || name.endsWith('v_proj.weight')) return [kd, hidden];
    if (name.endsWith('o_proj.weight')) return [hidden, qd];
    if (name.endsWith('gate_proj.weight') || name.endsWith('up_proj.weight')) return [inter, hidden];
    if (name.endsWith('down_proj.weight')) return [hidden, inter];
    return [n];
  };
  const dtype = o.dtype ?? 'F32';
  const toWrite = new Map<string, TensorToWrite>();
  for (const [name, data] of tensors) toWrite.set(name, { shape: shapes(name), data, dtype });
  if (o.shardBytes) writeShardedSafetensors(dir, toWrite, o.shardBytes);
  else writeSafetensors(path.join(dir, 'model.safetensors'), toWrite);
  return {
    config: { hidden, inter, layers, heads, kvHeads, headDim, vocab, eps: 1e-5, theta: 10000, tied, qkvBias, window: o.slidingWindow },
    tensors,
  };
}
