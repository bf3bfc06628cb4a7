// A Hugging Face text-classifier folder (config.json, safetensors weights, tokenizer) as texts -> logits:
// tokenization with the tokenizer's special tokens, truncation as transformers does it
// (truncation=True, max_length = the model's limit: the text is cut, the special tokens kept), and
// batches packed up to a token budget.
import { TokenizerError } from '../../core/errors.js';
import { loadTokenizer, TextTokenizer } from '../tokenizer.js';
import { EncoderClassifier } from './bert.js';

/** Tokens per forward call: bounds activation memory (rows * (4 hidden + intermediate) floats). */
const DEFAULT_BATCH_TOKENS = 4096;

export interface BatchOptions {
  batchTokens?: number;
  /** Called after each batch with the number of sequences done. */
  onBatch?: (done: number) => void;
}

export class TextClassifier {
  /**
   * `wrap`: the [first, last] special ids to add around a text when the tokenizer's post-processor adds
   * none (RoBERTa's slow vocab.json + merges.txt files have no post-processor); null when it does.
   */
  constructor(readonly model: EncoderClassifier, readonly tokenizer: TextTokenizer, readonly dir: string,
    private readonly wrap: [number, number] | null = null) {}

  static fromDir(dir: string): TextClassifier {
    const model = EncoderClassifier.fromDir(dir);
    const tokenizer = loadTokenizer(dir);
    const cfg = model.config;
    if (tokenizer.vocabSize > cfg.vocabSize) {
      throw new TokenizerError(`${dir}: the tokenizer has ${tokenizer.vocabSize} ids but the model's vocab_size is ${cfg.vocabSize}; the folder mixes files of different models`);
    }
    let wrap: [number, number] | null = null;
    if (tokenizer.encode('', { addSpecialTokens: true }).length === 0) {
      if (cfg.bosId === null || cfg.eosId === null) {
        throw new TokenizerError(`${dir}: the tokenizer adds no [CLS]/[SEP] tokens; a ${cfg.family} classifier needs a tokenizer.json with its post-processor`);
      }
      wrap = [cfg.bosId, cfg.eosId];
    }
    return new TextClassifier(model, tokenizer, dir, wrap);
  }

  get labels(): string[] {
    return this.model.config.labels;
  }

  /** Token ids of `text` with special tokens, truncated to the model's limit (the last special token kept). */
  encode(text: string): number[] {
    const ids = this.wrap === null ? this.tokenizer.encode(text, { addSpecialTokens: true })
      : [this.wrap[0], ...this.tokenizer.encode(text, { addSpecialTokens: false }), this.wrap[1]];
    const limit = this.model.config.maxTokens;
    if (ids.length <= limit) return ids;
    return [...ids.slice(0, limit - 1), ids[ids.length - 1]];
  }

  /** Logits of each text (numLabels each). */
  logits(texts: readonly string[], opts: BatchOptions = {}): Float32Array[] {
    return this.logitsOfIds(texts.map((t) => this.encode(t)), opts);
  }

  /** Logits of each id sequence (as from encode; non-empty). Sequences are sorted by length into packed batches of at most `batchTokens` tokens. */
  logitsOfIds(encoded: readonly (readonly number[])[], opts: BatchOptions = {}): Float32Array[] {
    const budget = Math.max(opts.batchTokens ?? DEFAULT_BATCH_TOKENS, this.model.config.maxTokens);
    const order = encoded.map((_, i) => i).sort((a, b) => encoded[a].length - encoded[b].length);
    const result: Float32Array[] = new Array<Float32Array>(encoded.length);
    const L = this.model.config.numLabels;
    let done = 0;
    for (let i = 0; i < order.length;) {
      const batch: number[] = [];
      let tokens = 0;
      while (i < order.length && (batch.length === 0 || tokens + encoded[order[i]].length <= budget)) {
        tokens += encoded[order[i]].length;
        batch.push(order[i++]);
      }
      const out = this.model.forward(batch.map((j) => encoded[j]));
      batch.forEach((j, b) => { result[j] = out.slice(b * L, b * L + L); });
      done += batch.length;
      opts.onBatch?.(done);
    }
    return result;
  }
}

/** Softmax of logits, in double. */
export function softmax(logits: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const e = Array.from(logits, (v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}
