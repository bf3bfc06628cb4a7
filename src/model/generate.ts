// Text generation over a batch of prompts: each prompt is prefilled once, its KV cache forked into
// `samples` sequences, and all live sequences advance one token per step in one packed forward.
import { CausalLM } from './causal-lm.js';
import { KVCache } from './kv-cache.js';
import { SamplingParams, Xoshiro128, sampleToken } from './sampling.js';
import { TextTokenizer } from './tokenizer.js';
import { TokenAlternative, logSumExp, topAlternatives } from './scoring.js';
import { UsageError } from '../core/errors.js';

export interface GenerationRequest {
  /** Text (encoded with the tokenizer's special tokens, e.g. BOS) or token ids used as they are. */
  prompt: string | number[];
  maxNewTokens: number;
  minNewTokens?: number;
  /** 0 = greedy (default). */
  temperature?: number;
  topK?: number;
  topP?: number;
  /** Seed of the request; sample i draws from xoshiro128**(seed, stream i). Default 0. */
  seed?: number;
  /** Continuations per prompt, sample indices 0..samples-1. Default 1. */
  samples?: number;
  /** Explicit sample indices instead of 0..samples-1 (e.g. resuming samples 3 and 7 only). */
  sampleIndices?: number[];
  /** Generation ends once the continuation contains one of these; the text is cut before it. */
  stop?: string[];
  /**
   * Record every generated token's log-probability and this many most likely alternatives (0: the
   * token's own only) on the sample. Taken from the model's distribution before any sampling
   * transformation (temperature, top-k, top-p, the min-tokens EOS ban), as OpenAI and vLLM report them.
   * Default: not recorded.
   */
  logprobs?: number;
}

/** A generated token's log-probability and the most likely alternatives at its position. */
export interface GeneratedTokenLogprob {
  logprob: number;
  /** Most likely first; ties to the lower id. */
  top: TokenAlternative[];
}

export type FinishReason = 'eos' | 'stop' | 'length' | 'context';

export interface GenerationSample {
  requestIndex: number;
  sampleIndex: number;
  seed: number;
  promptTokens: number;
  /** Generated token ids (the EOS that ended generation is not included). */
  tokens: number[];
  /** The continuation alone, special tokens removed, cut at a stop string. */
  text: string;
  finishReason: FinishReason;
  /** One entry per entry of `tokens`, when the request asked for `logprobs`. */
  logprobs?: GeneratedTokenLogprob[];
}

export interface GenerateOptions {
  /** Sequences decoded together per step (default 32). */
  batchSize?: number;
  onProgress?: (p: { done: number; total: number }) => void;
}

interface Live {
  requestIndex: number;
  sampleIndex: number;
  seed: number;
  promptTokens: number;
  cache: KVCache;
  rng: Xoshiro128;
  params: SamplingParams;
  req: GenerationRequest;
  tokens: number[];
  text: string;
  finish?: FinishReason;
  logprobs?: GeneratedTokenLogprob[];
}

export function validateRequest(r: GenerationRequest, i: number): void {
  const bad = (msg: string): never => { throw new UsageError(`generation request ${i}: ${msg}`); };
  if (!Number.isInteger(r.maxNewTokens) || r.maxNewTokens < 0) bad(`maxNewTokens must be a non-negative integer, got ${r.maxNewTokens}`);
  const minNew = r.minNewTokens ?? 0;
  if (!Number.isInteger(minNew) || minNew < 0 || minNew > r.maxNewTokens) bad(`minNewTokens must be an integer in [0, maxNewTokens], got ${r.minNewTokens}`);
  if (r.temperature !== undefined && !(r.temperature >= 0 && Number.isFinite(r.temperature))) bad(`temperature must be >= 0, got ${r.temperature}`);
  if (r.topK !== undefined && !(Number.isInteger(r.topK) && r.topK >= 0)) bad(`topK must be a non-negative integer, got ${r.topK}`);
  if (r.topP !== undefined && !(r.topP > 0 && r.topP <= 1)) bad(`topP must be in (0, 1], got ${r.topP}`);
  if (r.samples !== undefined && !(Number.isInteger(r.samples) && r.samples >= 1)) bad(`samples must be a positive integer, got ${r.samples}`);
  if (r.sampleIndices !== undefined && !(r.sampleIndices.length > 0 && r.sampleIndices.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff))) {
    bad('sampleIndices must be a non-empty list of non-negative integers');
  }
  if (r.seed !== undefined && !(Number.isInteger(r.seed) && r.seed >= 0 && r.seed <= 0xffffffff)) bad(`seed must be an integer in [0, 2^32), got ${r.seed}`);
  if (r.logprobs !== undefined && !(Number.isInteger(r.logprobs) && r.logprobs >= 0)) bad(`logprobs must be a non-negative integer, got ${r.logprobs}`);
}

export function generate(model: CausalLM, tok: TextTokenizer, requests: GenerationRequest[], opts: GenerateOptions = {}): GenerationSample[] {
  requests.forEach(validateRequest);
  const batchSize = opts.batchSize ?? 32;
  const eos = new Set(tok.eosIds);
  const indicesOf = (r: GenerationRequest): number[] => r.sampleIndices ?? Array.from({ length: r.samples ?? 1 }, (_, i) => i);
  const total = requests.reduce((n, r) => n + indicesOf(r).length, 0);
  const results: GenerationSample[] = [];
  let done = 0;

  const finish = (s: Live, reason: FinishReason): void => {
    s.finish = reason;
    results.push({
      requestIndex: s.requestIndex, sampleIndex: s.sampleIndex, seed: s.seed, promptTokens: s.promptTokens,
      tokens: s.tokens, text: s.text, finishReason: reason, ...(s.logprobs ? { logprobs: s.logprobs } : {}),
    });
    opts.onProgress?.({ done: ++done, total });
  };

  // Appends a token (and its log-probability when recorded); returns true when the sequence is finished.
  const accept = (s: Live, token: number, logprob?: GeneratedTokenLogprob): boolean => {
    if (eos.has(token)) { finish(s, 'eos'); return true; }
    s.tokens.push(token);
    if (s.logprobs && logprob) s.logprobs.push(logprob);
    const text = tok.decode(s.tokens, { skipSpecialTokens: true });
    const stops = s.req.stop ?? [];
    let cut = -1;
    for (const st of stops) {
      if (!st) continue;
      const at = text.indexOf(st);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) { s.text = text.slice(0, cut); finish(s, 'stop'); return true; }
    s.text = text;
    if (s.tokens.length >= s.req.maxNewTokens) { finish(s, 'length'); return true; }
    if (s.cache.length >= model.info.maxPositions) { finish(s, 'context'); return true; }
    return false;
  };

  const pick = (s: Live, logits: Float32Array): number => {
    if (s.tokens.length < (s.req.minNewTokens ?? 0)) for (const e of eos) if (e < logits.length) logits[e] = -Infinity;
    return sampleToken(logits, s.params, s.rng);
  };

  // Picks a token, recording its log-probability from the untouched logits when the request asks for it.
  const advance = (s: Live, logits: Float32Array): boolean => {
    if (s.req.logprobs === undefined) return accept(s, pick(s, logits));
    const lse = logSumExp(logits), top = topAlternatives(logits, lse, s.req.logprobs);
    const raw = logits.slice();
    const token = pick(s, logits);
    return accept(s, token, { logprob: raw[token] - lse, top });
  };

  for (let r0 = 0; r0 < requests.length; r0 += batchSize) {
    // Prefill a group of prompts together, then fork each into its samples.
    const group = requests.slice(r0, r0 + batchSize);
    const promptIds = group.map((r) => (typeof r.prompt === 'string' ? tok.encode(r.prompt) : r.prompt));
    promptIds.forEach((ids, j) => {
      if (ids.length === 0) throw new UsageError(`generation request ${r0 + j}: the prompt encodes to no tokens and the tokenizer adds no BOS`);
      if (ids.length >= model.info.maxPositions) throw new UsageError(`generation request ${r0 + j}: the prompt has ${ids.length} tokens; the model's context is ${model.info.maxPositions}`);
    });
    const caches = group.map(() => model.newCache());
    const pre = model.forward(promptIds.map((ids, j) => ({ ids, cache: caches[j] })), { logits: 'last' });
    let live: Live[] = [];
    group.forEach((req, j) => {
      const indices = indicesOf(req), n = indices.length, seed = req.seed ?? 0;
      const params: SamplingParams = { temperature: req.temperature ?? 0, topK: req.topK ?? 0, topP: req.topP ?? 1 };
      for (let k = 0; k < n; k++) {
        const si = indices[k];
        const s: Live = {
          requestIndex: r0 + j, sampleIndex: si, seed, promptTokens: promptIds[j].length,
          cache: k === n - 1 ? caches[j] : caches[j].clone(), rng: new Xoshiro128(seed, si), params, req, tokens: [], text: '',
          ...(req.logprobs !== undefined ? { logprobs: [] } : {}),
        };
        if (req.maxNewTokens === 0) { finish(s, 'length'); continue; }
        const logits = pre.logits.slice(j * pre.vocab, (j + 1) * pre.vocab);
        if (!advance(s, logits)) live.push(s);
      }
    });
    // Decode: every live sequence feeds its last token.
    while (live.length > 0) {
      for (let b0 = 0; b0 < live.length; b0 += batchSize) {
        const step = live.slice(b0, b0 + batchSize);
        const out = model.forward(step.map((s) => ({ ids: [s.tokens[s.tokens.length - 1]], cache: s.cache })), { logits: 'last' });
        step.forEach((s, j) => {
          advance(s, out.logits.subarray(j * out.vocab, (j + 1) * out.vocab));
        });
      }
      live = live.filter((s) => !s.finish);
    }
  }
  results.sort((a, b) => a.requestIndex - b.requestIndex || a.sampleIndex - b.sampleIndex);
  return results;
}
