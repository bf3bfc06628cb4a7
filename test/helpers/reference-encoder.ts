// A naive double-precision forward of BertForSequenceClassification / RobertaForSequenceClassification,
// written from transformers' modeling code (not from src/): a padded batch with an attention mask added
// to the scores as (1 - mask) * float32.min, position ids as the models build them, post-LN layers,
// erf GELU, and the BERT pooler / RoBERTa classification head on the first token.
import { RandomEncoder } from './random-encoder.js';

/** erf: Taylor series for |z| < 2.5, else 1 - erfc by its continued fraction (both to ~1e-14). */
export function erf(z: number): number {
  if (Math.abs(z) >= 2.5) {
    // erfc(z) = exp(-z^2)/sqrt(pi) / (z + (1/2)/(z + 1/(z + (3/2)/(z + ...)))), evaluated from the tail.
    const a = Math.abs(z);
    let f = a;
    for (let k = 80; k >= 1; k--) f = a + k / 2 / f;
    return Math.sign(z) * (1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / f);
  }
  let sum = 0, term = z;  // term = (-1)^n z^(2n+1) / n!
  for (let n = 0; n < 80; n++) {
    sum += term / (2 * n + 1);
    term *= (-z * z) / (n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

type Matrix = number[][];

function linear(x: Matrix, w: Float32Array, b: Float32Array, out: number): Matrix {
  return x.map((row) => {
    const r = new Array<number>(out).fill(0);
    for (let o = 0; o < out; o++) {
      let s = b[o];
      for (let i = 0; i < row.length; i++) s += row[i] * w[o * row.length + i];
      r[o] = s;
    }
    return r;
  });
}

function layerNorm(x: Matrix, w: Float32Array, b: Float32Array, eps: number): Matrix {
  return x.map((row) => {
    const mean = row.reduce((a, v) => a + v, 0) / row.length;
    const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / row.length;
    return row.map((v, i) => ((v - mean) / Math.sqrt(variance + eps)) * w[i] + b[i]);
  });
}

/** Logits (batch, numLabels) of token-id sequences, padded to a common length inside. */
export function referenceEncoderLogits(enc: RandomEncoder, batch: number[][]): number[][] {
  const c = enc.config as Record<string, number | string>;
  const t = (name: string): Float32Array => {
    const a = enc.tensors.get(name);
    if (!a) throw new Error(`reference needs ${name}`);
    return a;
  };
  const family = c.model_type as string, p = `${family}.`;
  const H = c.hidden_size as number, nh = c.num_attention_heads as number, hd = H / nh, eps = c.layer_norm_eps as number;
  const inter = c.intermediate_size as number, pad = c.pad_token_id as number;
  const numLabels = Object.keys(c.id2label as unknown as object).length;
  const tanhGelu = c.hidden_act === 'gelu_new' || c.hidden_act === 'gelu_pytorch_tanh';
  const L = Math.max(...batch.map((s) => s.length));
  const FLOAT32_MIN = -3.4028234663852886e38;

  return batch.map((seq) => {
    const ids = [...seq, ...new Array<number>(L - seq.length).fill(pad)];
    const mask = ids.map((_, i) => (i < seq.length ? 1 : 0));
    // BertEmbeddings: position_ids = arange; RobertaEmbeddings: create_position_ids_from_input_ids.
    let running = 0;
    const positions = family === 'roberta' ? ids.map((id) => (id !== pad ? pad + ++running : pad)) : ids.map((_, i) => i);
    const word = t(`${p}embeddings.word_embeddings.weight`), pos = t(`${p}embeddings.position_embeddings.weight`);
    const type = t(`${p}embeddings.token_type_embeddings.weight`);
    let x: Matrix = ids.map((id, i) => Array.from({ length: H }, (_, d) => word[id * H + d] + pos[positions[i] * H + d] + type[d]));
    x = layerNorm(x, t(`${p}embeddings.LayerNorm.weight`), t(`${p}embeddings.LayerNorm.bias`), eps);
    for (let l = 0; l < (c.num_hidden_layers as number); l++) {
      const b = `${p}encoder.layer.${l}`;
      const q = linear(x, t(`${b}.attention.self.query.weight`), t(`${b}.attention.self.query.bias`), H);
      const k = linear(x, t(`${b}.attention.self.key.weight`), t(`${b}.attention.self.key.bias`), H);
      const v = linear(x, t(`${b}.attention.self.value.weight`), t(`${b}.attention.self.value.bias`), H);
      const ctx: Matrix = ids.map(() => new Array<number>(H).fill(0));
      for (let h = 0; h < nh; h++) {
        for (let i = 0; i < L; i++) {
          const scores = ids.map((_, j) => {
            let s = 0;
            for (let d = 0; d < hd; d++) s += q[i][h * hd + d] * k[j][h * hd + d];
            return s / Math.sqrt(hd) + (1 - mask[j]) * FLOAT32_MIN;
          });
          const m = Math.max(...scores);
          const e = scores.map((s) => Math.exp(s - m));
          const z = e.reduce((a, v2) => a + v2, 0);
          for (let j = 0; j < L; j++) for (let d = 0; d < hd; d++) ctx[i][h * hd + d] += (e[j] / z) * v[j][h * hd + d];
        }
      }
      const attnOut = linear(ctx, t(`${b}.attention.output.dense.weight`), t(`${b}.attention.output.dense.bias`), H);
      x = layerNorm(attnOut.map((r, i) => r.map((val, d) => val + x[i][d])), t(`${b}.attention.output.LayerNorm.weight`), t(`${b}.attention.output.LayerNorm.bias`), eps);
      const up = linear(x, t(`${b}.intermediate.dense.weight`), t(`${b}.intermediate.dense.bias`), inter).map((r) => r.map((u) =>
        tanhGelu ? 0.5 * u * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (u + 0.044715 * u ** 3))) : 0.5 * u * (1 + erf(u / Math.SQRT2))));
      const down = linear(up, t(`${b}.output.dense.weight`), t(`${b}.output.dense.bias`), H);
      x = layerNorm(down.map((r, i) => r.map((val, d) => val + x[i][d])), t(`${b}.output.LayerNorm.weight`), t(`${b}.output.LayerNorm.bias`), eps);
    }
    const [dense, out] = family === 'bert' ? [`${p}pooler.dense`, 'classifier'] : ['classifier.dense', 'classifier.out_proj'];
    const pooled = linear([x[0]], t(`${dense}.weight`), t(`${dense}.bias`), H).map((r) => r.map(Math.tanh));
    return linear(pooled, t(`${out}.weight`), t(`${out}.bias`), numLabels)[0];
  });
}
