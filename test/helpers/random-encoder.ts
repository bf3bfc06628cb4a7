// Writes small random-weight BERT / RoBERTa sequence classifiers in Hugging Face layout (config.json
// with id2label, model.safetensors, the real bert-base-uncased / roberta-base tokenizer files), so
// encoder and classifier-scorer tests need no download.
import fs from 'node:fs';
import path from 'node:path';
import { writeSafetensors, TensorToWrite } from '../../src/model/safetensors.js';
import { randomArray, shared } from './fixtures.js';

export interface RandomEncoderOptions {
  family: 'bert' | 'roberta';
  labels?: string[];
  hidden?: number; heads?: number; layers?: number; inter?: number;
  /** max_position_embeddings (RoBERTa's includes its padIndex+1 offset). */
  maxPositions?: number;
  problemType?: string;
  hiddenAct?: string;
  seed?: number;
}

export interface RandomEncoder {
  config: Record<string, unknown>;
  tensors: Map<string, Float32Array>;
}

export function writeRandomEncoder(dir: string, o: RandomEncoderOptions): RandomEncoder {
  const bert = o.family === 'bert';
  const hidden = o.hidden ?? 32, heads = o.heads ?? 4, layers = o.layers ?? 2, inter = o.inter ?? 64;
  const vocab = bert ? 30522 : 50265, typeVocab = bert ? 2 : 1, maxPositions = o.maxPositions ?? (bert ? 64 : 66);
  const labels = o.labels ?? ['LABEL_0', 'LABEL_1'];
  fs.mkdirSync(dir, { recursive: true });
  const config: Record<string, unknown> = {
    architectures: [bert ? 'BertForSequenceClassification' : 'RobertaForSequenceClassification'],
    model_type: o.family, vocab_size: vocab, hidden_size: hidden, num_hidden_layers: layers, num_attention_heads: heads,
    intermediate_size: inter, hidden_act: o.hiddenAct ?? 'gelu', max_position_embeddings: maxPositions, type_vocab_size: typeVocab,
    layer_norm_eps: bert ? 1e-12 : 1e-5, pad_token_id: bert ? 0 : 1, position_embedding_type: 'absolute',
    id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
    torch_dtype: 'float32',
  };
  if (!bert) { config.bos_token_id = 0; config.eos_token_id = 2; }
  if (o.problemType) config.problem_type = o.problemType;
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  const tokDir = shared('tokenizers', bert ? 'bert-base-uncased' : 'roberta-base');
  for (const f of fs.readdirSync(tokDir)) fs.copyFileSync(path.join(tokDir, f), path.join(dir, f));

  let seed = o.seed ?? 1;
  const tensors = new Map<string, Float32Array>();
  const toWrite = new Map<string, TensorToWrite>();
  const add = (name: string, shape: number[], scale: number, offset = 0): void => {
    const a = randomArray(shape.reduce((x, y) => x * y, 1), seed++, scale);
    if (offset) for (let i = 0; i < a.length; i++) a[i] += offset;
    tensors.set(name, a);
    toWrite.set(name, { shape, data: a });
  };
  const linear = (base: string, out: number, inp: number): void => {
    add(`${base}.weight`, [out, inp], 1 / Math.sqrt(inp));
    add(`${base}.bias`, [out], 0.1);
  };
  const norm = (base: string): void => { add(`${base}.weight`, [hidden], 0.2, 1); add(`${base}.bias`, [hidden], 0.1); };
  const p = `${o.family}.`;
  add(`${p}embeddings.word_embeddings.weight`, [vocab, hidden], 0.5);
  add(`${p}embeddings.position_embeddings.weight`, [maxPositions, hidden], 0.5);
  add(`${p}embeddings.token_type_embeddings.weight`, [typeVocab, hidden], 0.5);
  norm(`${p}embeddings.LayerNorm`);
  for (let l = 0; l < layers; l++) {
    const b = `${p}encoder.layer.${l}`;
    for (const m of ['query', 'key', 'value']) linear(`${b}.attention.self.${m}`, hidden, hidden);
    linear(`${b}.attention.output.dense`, hidden, hidden);
    norm(`${b}.attention.output.LayerNorm`);
    linear(`${b}.intermediate.dense`, inter, hidden);
    linear(`${b}.output.dense`, hidden, inter);
    norm(`${b}.output.LayerNorm`);
  }
  if (bert) {
    linear(`${p}pooler.dense`, hidden, hidden);
    linear('classifier', labels.length, hidden);
  } else {
    linear('classifier.dense', hidden, hidden);
    linear('classifier.out_proj', labels.length, hidden);
  }
  writeSafetensors(path.join(dir, 'model.safetensors'), toWrite);
  return { config, tensors };
}
