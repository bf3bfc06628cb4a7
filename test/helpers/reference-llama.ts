// An independent, naive Llama forward pass in plain TypeScript (double precision, no native code),
// written from the Hugging Face modeling code's definitions. Tests compare the engine against it.

export interface RefConfig {
  hidden: number; inter: number; layers: number; heads: number; kvHeads: number; headDim: number; vocab: number;
  eps: number; theta: number; tied: boolean; qkvBias: boolean; window?: number;
}

type W = (name: string) => Float32Array;

function matvec(W: Float32Array, x: number[], out: number, inp: number, b?: Float32Array): number[] {
  const y = new Array<number>(out).fill(0);
  for (let o = 0; o < out; o++) {
    let s = b ? b[o] : 0;
    for (let i = 0; i < inp; i++) s += W[o * inp + i] * x[i];
    y[o] = s;
  }
  return y;
}

function rms(x: number[], w: Float32Array, eps: number): number[] {
  const ms = x.reduce((s, v) => s + v * v, 0) / x.length;
  return x.map((v, i) => (v / Math.sqrt(ms + eps)) * w[i]);
}

function rope(v: number[], pos: number, hd: number, theta: number): number[] {
  const out = v.slice(), half = hd / 2;
  for (let h = 0; h < v.length / hd; h++) {
    for (let i = 0; i < half; i++) {
      const f = pos / Math.pow(theta, (2 * i) / hd), a = v[h * hd + i], b = v[h * hd + i + half];
      out[h * hd + i] = a * Math.cos(f) - b * Math.sin(f);
      out[h * hd + i + half] = b * Math.cos(f) + a * Math.sin(f);
    }
  }
  return out;
}

/** Logits (T, vocab) for one sequence of ids at positions 0..T-1. */
export function referenceLogits(c: RefConfig, w: W, ids: number[]): number[][] {
  const T = ids.length, H = c.hidden, hd = c.headDim, qd = c.heads * hd, kd = c.kvHeads * hd;
  let h = ids.map((id) => Array.from(w('model.embed_tokens.weight').subarray(id * H, id * H + H)));
  const bias = (n: string): Float32Array | undefined => (c.qkvBias ? w(n) : undefined);
  for (let l = 0; l < c.layers; l++) {
    const p = `model.layers.${l}`;
    const x = h.map((row) => rms(row, w(`${p}.input_layernorm.weight`), c.eps));
    const q = x.map((row, t) => rope(matvec(w(`${p}.self_attn.q_proj.weight`), row, qd, H, bias(`${p}.self_attn.q_proj.bias`)), t, hd, c.theta));
    const k = x.map((row, t) => rope(matvec(w(`${p}.self_attn.k_proj.weight`), row, kd, H, bias(`${p}.self_attn.k_proj.bias`)), t, hd, c.theta));
    const v = x.map((row) => matvec(w(`${p}.self_attn.v_proj.weight`), row, kd, H, bias(`${p}.self_attn.v_proj.bias`)));
    const attn = q.map((qt, t) => {
      const o = new Array<number>(qd).fill(0);
      for (let head = 0; head < c.heads; head++) {
        const g = Math.floor(head / (c.heads / c.kvHeads));
        const lo = c.window ? Math.max(0, t - c.window + 1) : 0;
        const scores: number[] = [];
        for (let j = lo; j <= t; j++) {
          let s = 0;
          for (let i = 0; i < hd; i++) s += qt[head * hd + i] * k[j][g * hd + i];
          scores.push(s / Math.sqrt(hd));
        }
        const m = Math.max(...scores), e = scores.map((s) => Math.exp(s - m)), z = e.reduce((a, b) => a + b, 0);
        for (let j = lo; j <= t; j++) for (let i = 0; i < hd; i++) o[head * hd + i] += (e[j - lo] / z) * v[j][g * hd + i];
      }
      return o;
    });
    h = h.map((row, t) => {
      const o = matvec(w(`${p}.self_attn.o_proj.weight`), attn[t], H, qd);
      return row.map((val, i) => val + o[i]);
    });
    h = h.map((row) => {
      const xn = rms(row, w(`${p}.post_attention_layernorm.weight`), c.eps);
      const g = matvec(w(`${p}.mlp.gate_proj.weight`), xn, c.inter, H), u = matvec(w(`${p}.mlp.up_proj.weight`), xn, c.inter, H);
      const act = g.map((gv, i) => (gv / (1 + Math.exp(-gv))) * u[i]);
      const d = matvec(w(`${p}.mlp.down_proj.weight`), act, H, c.inter);
      return row.map((val, i) => val + d[i]);
    });
  }
  const head = c.tied ? w('model.embed_tokens.weight') : w('lm_head.weight');
  return h.map((row) => matvec(head, rms(row, w('model.norm.weight'), c.eps), c.vocab, H));
}
