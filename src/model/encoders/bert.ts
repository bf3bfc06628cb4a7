// BERT / RoBERTa sequence classification forward (transformers' BertForSequenceClassification and
// RobertaForSequenceClassification, inference: dropout is the identity). Sequences are packed back to
// back, so there is no padding to mask: attention (native encoderAttention) keeps each sequence to itself.
//
//   x = LayerNorm(word[ids] + position[pos] + token_type[0])       pos: 0.. (BERT), padIndex+1.. (RoBERTa)
//   per layer (post-LN): x = LN(x + O(attn(Q x, K x, V x)));  x = LN(x + Down(act(Up x)))
//   head on the first token ([CLS] / <s>): logits = Out(tanh(Dense(x0)))
//     BERT: Dense = bert.pooler.dense, Out = classifier;  RoBERTa: classifier.dense, classifier.out_proj
import { ModelMismatchError } from '../../core/errors.js';
import { native } from '../../core/native.js';
import { openCheckpoint, readTensorsF32 } from '../safetensors.js';
import { readConfigFile } from '../config.js';
import { EncoderConfig, parseEncoderConfig } from './encoder-config.js';

interface Linear { weight: Float32Array; bias: Float32Array; out: number; in: number }
interface Norm { weight: Float32Array; bias: Float32Array }

interface EncoderLayer {
  /** query, key and value stacked: weight (3H, H). */
  qkv: Linear;
  attnOut: Linear;
  attnNorm: Norm;
  up: Linear;
  down: Linear;
  outNorm: Norm;
}

export interface EncoderWeights {
  word: Float32Array;
  position: Float32Array;
  tokenType: Float32Array;
  embedNorm: Norm;
  layers: EncoderLayer[];
  headDense: Linear;
  headOut: Linear;
}

/** Reads the weights of a classifier folder (model.safetensors or sharded), checking every shape against the config. */
export function loadEncoderWeights(dir: string, cfg: EncoderConfig): EncoderWeights {
  const checkpoint = openCheckpoint(dir);
  const get = (names: string[], shape: number[]): Float32Array => {
    const name = names.find((n) => checkpoint.tensors.has(n));
    if (name === undefined) throw new ModelMismatchError(`${dir}: weights lack ${JSON.stringify(names[0])} (a ${cfg.family} sequence classifier needs it)`);
    const { header, info } = checkpoint.tensors.get(name)!;
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new ModelMismatchError(`${dir}: ${name} has shape [${info.shape.join(', ')}], config.json implies [${shape.join(', ')}]`);
    }
    return readTensorsF32(header, [name]).get(name)!.data;
  };
  const linear = (base: string, out: number, inp: number): Linear => ({
    weight: get([`${base}.weight`], [out, inp]), bias: get([`${base}.bias`], [out]), out, in: inp,
  });
  // Old TF-converted checkpoints name LayerNorm parameters gamma/beta.
  const norm = (base: string): Norm => ({
    weight: get([`${base}.weight`, `${base}.gamma`], [cfg.hidden]), bias: get([`${base}.bias`, `${base}.beta`], [cfg.hidden]),
  });
  const H = cfg.hidden, p = cfg.prefix;
  const layers: EncoderLayer[] = [];
  for (let l = 0; l < cfg.layers; l++) {
    const b = `${p}encoder.layer.${l}`;
    const q = linear(`${b}.attention.self.query`, H, H), k = linear(`${b}.attention.self.key`, H, H), v = linear(`${b}.attention.self.value`, H, H);
    const qkvWeight = new Float32Array(3 * H * H), qkvBias = new Float32Array(3 * H);
    [q, k, v].forEach((m, i) => { qkvWeight.set(m.weight, i * H * H); qkvBias.set(m.bias, i * H); });
    layers.push({
      qkv: { weight: qkvWeight, bias: qkvBias, out: 3 * H, in: H },
      attnOut: linear(`${b}.attention.output.dense`, H, H), attnNorm: norm(`${b}.attention.output.LayerNorm`),
      up: linear(`${b}.intermediate.dense`, cfg.intermediate, H), down: linear(`${b}.output.dense`, H, cfg.intermediate),
      outNorm: norm(`${b}.output.LayerNorm`),
    });
  }
  const bert = cfg.family === 'bert';
  return {
    word: get([`${p}embeddings.word_embeddings.weight`], [cfg.vocabSize, H]),
    position: get([`${p}embeddings.position_embeddings.weight`], [cfg.maxPositions, H]),
    tokenType: get([`${p}embeddings.token_type_embeddings.weight`], [cfg.typeVocabSize, H]),
    embedNorm: norm(`${p}embeddings.LayerNorm`),
    layers,
    headDense: linear(bert ? `${p}pooler.dense` : 'classifier.dense', H, H),
    headOut: linear(bert ? 'classifier' : 'classifier.out_proj', cfg.numLabels, H),
  };
}

/** out (rows, m.out) = x (rows, m.in) @ W^T + b */
function applyLinear(out: Float32Array, x: Float32Array, rows: number, m: Linear): void {
  native.sgemm(0, 1, rows, m.out, m.in, 1, x, m.in, m.weight, m.in, 0, out, m.out);
  native.addBias(out, m.bias, rows, m.out);
}

/** Position ids of one sequence as transformers computes them (RoBERTa: padIndex + running count of non-pad tokens; a pad token gets padIndex). */
export function positionIds(ids: readonly number[], cfg: EncoderConfig): number[] {
  if (cfg.family === 'bert') return ids.map((_, i) => i);
  let count = 0;
  return ids.map((id) => (id === cfg.padIndex ? cfg.padIndex : cfg.padIndex + ++count));
}

export class EncoderClassifier {
  constructor(readonly config: EncoderConfig, readonly weights: EncoderWeights) {}

  static fromDir(dir: string): EncoderClassifier {
    const config = parseEncoderConfig(readConfigFile(dir), dir);
    return new EncoderClassifier(config, loadEncoderWeights(dir, config));
  }

  /**
   * Logits (sequences.length, numLabels) of token-id sequences (special tokens included, each
   * 1..maxTokens long). Token type ids are 0, as for a single text.
   */
  forward(sequences: readonly (readonly number[])[]): Float32Array {
    const cfg = this.config, w = this.weights, H = cfg.hidden, n = sequences.length;
    if (n === 0) return new Float32Array(0);
    const starts = new Int32Array(n + 1);
    sequences.forEach((seq, s) => {
      if (seq.length === 0 || seq.length > cfg.maxTokens) {
        throw new RangeError(`sequence ${s} has ${seq.length} tokens; the encoder takes 1..${cfg.maxTokens}`);
      }
      starts[s + 1] = starts[s] + seq.length;
    });
    const rows = starts[n];
    const ids = new Int32Array(rows), pos = new Int32Array(rows), types = new Int32Array(rows);
    sequences.forEach((seq, s) => { ids.set(seq, starts[s]); pos.set(positionIds(seq, cfg), starts[s]); });

    const x = new Float32Array(rows * H), tmp = new Float32Array(rows * H), emb = new Float32Array(rows * H);
    native.embedding(tmp, w.word, ids, rows, H, cfg.vocabSize);
    native.embedding(emb, w.position, pos, rows, H, cfg.maxPositions);
    native.add(tmp, tmp, emb, rows * H);
    native.embedding(emb, w.tokenType, types, rows, H, cfg.typeVocabSize);
    native.add(tmp, tmp, emb, rows * H);
    native.layernorm(x, tmp, w.embedNorm.weight, w.embedNorm.bias, rows, H, cfg.layerNormEps);

    const qkv = new Float32Array(rows * 3 * H), attn = emb, up = new Float32Array(rows * cfg.intermediate);
    const scale = 1 / Math.sqrt(cfg.headDim);
    for (const layer of w.layers) {
      applyLinear(qkv, x, rows, layer.qkv);
      native.encoderAttention(attn, qkv, qkv.subarray(H), qkv.subarray(2 * H), rows, starts, n, cfg.heads, cfg.headDim, 3 * H, scale);
      applyLinear(tmp, attn, rows, layer.attnOut);
      native.add(tmp, tmp, x, rows * H);
      native.layernorm(x, tmp, layer.attnNorm.weight, layer.attnNorm.bias, rows, H, cfg.layerNormEps);
      applyLinear(up, x, rows, layer.up);
      native.gelu(up, up, rows * cfg.intermediate, cfg.activation === 'gelu_tanh' ? 1 : 0);
      applyLinear(tmp, up, rows, layer.down);
      native.add(tmp, tmp, x, rows * H);
      native.layernorm(x, tmp, layer.outNorm.weight, layer.outNorm.bias, rows, H, cfg.layerNormEps);
    }

    const first = new Float32Array(n * H), pooled = new Float32Array(n * H);
    for (let s = 0; s < n; s++) first.set(x.subarray(starts[s] * H, starts[s] * H + H), s * H);
    applyLinear(pooled, first, n, w.headDense);
    native.tanhInPlace(pooled, n * H);
    const logits = new Float32Array(n * cfg.numLabels);
    applyLinear(logits, pooled, n, w.headOut);
    return logits;
  }
}
