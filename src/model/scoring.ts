// Scoring with the model: perplexity under the fixed protocol of ARCHITECTURE.md, and the
// log-likelihood of a continuation given a context (the basis of every multiple-choice benchmark).
import { native } from '../core/native.js';
import { UsageError } from '../core/errors.js';
import { CausalLM } from './causal-lm.js';
import { TextTokenizer } from './tokenizer.js';

export const PERPLEXITY_PROTOCOL =
  'tokenize once (BOS as the tokenizer adds it), non-overlapping windows of seqlen tokens (last shorter window counts), ' +
  'score every token of a window except its first; ppl = exp(total NLL / scored)';

export interface PerplexityResult {
  perplexity: number;
  /** Total negative log-likelihood in nats over the scored tokens. */
  nll: number;
  /** Mean NLL per scored token (ln of the perplexity). */
  nllPerToken: number;
  scored: number;
  tokens: number;
  windows: number;
  seqlen: number;
  protocol: string;
}

/** Logit rows kept per forward: bounds memory to about 256 MB of logits whatever the vocabulary. */
function rowBudget(vocab: number, atLeast: number): number {
  return Math.max(atLeast, Math.floor((64 * 1024 * 1024) / vocab));
}

export interface ScoringProgress {
  onProgress?: (p: { done: number; total: number }) => void;
}

/** Perplexity of token ids under the protocol (ids already include the BOS the tokenizer adds). */
export function perplexityOfIds(model: CausalLM, ids: ArrayLike<number>, seqlen: number, opts: ScoringProgress = {}): PerplexityResult {
  if (!Number.isInteger(seqlen) || seqlen < 2) throw new UsageError(`--seqlen must be an integer >= 2, got ${seqlen}`);
  if (seqlen > model.info.maxPositions) {
    throw new UsageError(`--seqlen ${seqlen} exceeds the model's context of ${model.info.maxPositions} positions`);
  }
  const windows: number[][] = [];
  for (let s = 0; s < ids.length; s += seqlen) windows.push(Array.from({ length: Math.min(seqlen, ids.length - s) }, (_, j) => ids[s + j]));
  const budget = rowBudget(model.info.vocabSize, seqlen);
  let nll = 0, scored = 0, done = 0;
  for (let w0 = 0; w0 < windows.length;) {
    const group: number[][] = [];
    let rows = 0;
    while (w0 < windows.length && (group.length === 0 || rows + windows[w0].length <= budget)) {
      rows += windows[w0].length;
      group.push(windows[w0++]);
    }
    // Logits at every row but the last of each window predict the next token of that window.
    const logitRows: number[] = [], targets: number[] = [];
    let r = 0;
    for (const w of group) {
      for (let j = 0; j + 1 < w.length; j++) { logitRows.push(r + j); targets.push(w[j + 1]); }
      r += w.length;
    }
    const out = model.forward(group.map((w) => ({ ids: w })), { logits: Int32Array.from(logitRows) });
    const tokenNll = new Float64Array(targets.length);
    native.nll(tokenNll, null, out.logits, Int32Array.from(targets), targets.length, out.vocab);
    for (const x of tokenNll) nll += x;
    scored += targets.length;
    done += group.length;
    opts.onProgress?.({ done, total: windows.length });
  }
  const nllPerToken = scored > 0 ? nll / scored : NaN;
  return {
    perplexity: Math.exp(nllPerToken), nll, nllPerToken, scored, tokens: ids.length, windows: windows.length, seqlen,
    protocol: PERPLEXITY_PROTOCOL,
  };
}

export function perplexity(model: CausalLM, tok: TextTokenizer, text: string, seqlen: number, opts: ScoringProgress = {}): PerplexityResult {
  return perplexityOfIds(model, tok.encode(text, { addSpecialTokens: true }), seqlen, opts);
}

export interface LoglikelihoodRequest {
  context: string;
  continuation: string;
}

export interface LoglikelihoodResult {
  /** Sum of the continuation's token log-probabilities (nats). */
  logprob: number;
  tokenLogprobs: number[];
  /** Whether every continuation token is the argmax given what precedes it. */
  greedy: boolean;
  /** Continuation tokens scored. */
  tokens: number;
  /** Continuation length in characters (for byte/char-normalised accuracy). */
  chars: number;
}

/**
 * Splits (context, continuation) into token ids as lm-evaluation-harness does: trailing spaces of the
 * context move to the continuation; context+continuation is encoded whole and the continuation is
 * what follows the context's own encoding (so merges across the boundary count once). An empty
 * context is replaced by the BOS token (or EOS when the tokenizer has no BOS).
 */
export function splitContinuation(tok: TextTokenizer, req: LoglikelihoodRequest): { context: number[]; continuation: number[] } {
  let context = req.context, continuation = req.continuation;
  const trail = context.length - context.trimEnd().length;
  if (trail > 0) { continuation = context.slice(context.length - trail) + continuation; context = context.slice(0, context.length - trail); }
  const start = tok.bosId ?? tok.eosIds[0];
  if (context === '') {
    if (start === undefined || start === null) throw new UsageError('an empty context needs a BOS or EOS token to condition on');
    const cont = tok.encode(continuation, { addSpecialTokens: false });
    return { context: [start], continuation: cont };
  }
  const ctxIds = tok.encode(context, { addSpecialTokens: true });
  const whole = tok.encode(context + continuation, { addSpecialTokens: true });
  const prefixOk = whole.length > ctxIds.length && ctxIds.every((id, i) => whole[i] === id);
  return prefixOk
    ? { context: ctxIds, continuation: whole.slice(ctxIds.length) }
    : { context: ctxIds, continuation: tok.encode(continuation, { addSpecialTokens: false }) };
}

export function loglikelihoodOfIds(model: CausalLM, pairs: { context: number[]; continuation: number[] }[], opts: ScoringProgress = {}): LoglikelihoodResult[] {
  const maxLen = model.info.maxPositions;
  const seqs = pairs.map((p, i) => {
    if (p.continuation.length === 0) throw new UsageError(`loglikelihood request ${i}: the continuation encodes to no tokens`);
    if (p.context.length === 0) throw new UsageError(`loglikelihood request ${i}: the context is empty`);
    if (p.continuation.length >= maxLen) throw new UsageError(`loglikelihood request ${i}: the continuation has ${p.continuation.length} tokens; the context window is ${maxLen}`);
    // Left-truncate the context so that context + continuation fits the model.
    const full = [...p.context, ...p.continuation];
    return { ids: full.slice(Math.max(0, full.length - maxLen)), cont: p.continuation.length };
  });
  const results: LoglikelihoodResult[] = new Array(pairs.length);
  let done = 0;
  const progress = (n: number): void => { done += n; opts.onProgress?.({ done, total: seqs.length }); };
  // Requests that share a whole (untruncated) context — the options of a multiple-choice item — run
  // the context once and fork its KV cache; the rest run as full sequences.
  const byContext = new Map<string, number[]>();
  pairs.forEach((p, i) => {
    if (p.context.length + p.continuation.length > maxLen) return;
    const key = p.context.join(',');
    const g = byContext.get(key);
    if (g) g.push(i);
    else byContext.set(key, [i]);
  });
  const shared = [...byContext.values()].filter((g) => g.length > 1);
  const inShared = new Set(shared.flat());
  scoreFullSequences(model, seqs, seqs.map((_, i) => i).filter((i) => !inShared.has(i)), results, progress);
  scoreSharedContexts(model, pairs, shared, results, progress);
  return results;
}

function record(nll: Float64Array, greedy: Uint8Array, from: number, n: number): LoglikelihoodResult {
  const lps: number[] = [];
  let sum = 0, allGreedy = true;
  for (let j = 0; j < n; j++) { lps.push(-nll[from + j]); sum -= nll[from + j]; allGreedy &&= greedy[from + j] === 1; }
  return { logprob: sum, tokenLogprobs: lps, greedy: allGreedy, tokens: n, chars: 0 };
}

/** Each request as one sequence (context + continuation), packed into forwards of bounded logits. */
function scoreFullSequences(model: CausalLM, seqs: { ids: number[]; cont: number }[], which: number[], results: LoglikelihoodResult[], progress: (n: number) => void): void {
  const budget = rowBudget(model.info.vocabSize, model.info.maxPositions);
  for (let k = 0; k < which.length;) {
    const group: number[] = [];
    let rows = 0;
    while (k < which.length && (group.length === 0 || rows + seqs[which[k]].ids.length <= budget)) { rows += seqs[which[k]].ids.length; group.push(which[k++]); }
    const logitRows: number[] = [], targets: number[] = [];
    let r = 0;
    for (const gi of group) {
      const { ids, cont } = seqs[gi];
      for (let j = ids.length - cont; j < ids.length; j++) { logitRows.push(r + j - 1); targets.push(ids[j]); }
      r += ids.length;
    }
    const out = model.forward(group.map((gi) => ({ ids: seqs[gi].ids })), { logits: Int32Array.from(logitRows) });
    const nll = new Float64Array(targets.length), greedy = new Uint8Array(targets.length);
    native.nll(nll, greedy, out.logits, Int32Array.from(targets), targets.length, out.vocab);
    let t = 0;
    for (const gi of group) { results[gi] = record(nll, greedy, t, seqs[gi].cont); t += seqs[gi].cont; }
    progress(group.length);
  }
}

/**
 * Groups of requests with one context: the context is run once with a KV cache (its last row predicts
 * each continuation's first token), then every continuation but its last token runs on a fork of
 * that cache. Same numbers as full sequences up to float rounding.
 */
function scoreSharedContexts(model: CausalLM, pairs: { context: number[]; continuation: number[] }[], groups: number[][], results: LoglikelihoodResult[], progress: (n: number) => void): void {
  const V = model.info.vocabSize, budget = rowBudget(V, model.info.maxPositions);
  for (let k = 0; k < groups.length;) {
    const batch: number[][] = [];
    let rows = 0;
    const cost = (g: number[]): number => pairs[g[0]].context.length + g.reduce((n, i) => n + pairs[i].continuation.length, 0);
    while (k < groups.length && (batch.length === 0 || rows + cost(groups[k]) <= budget)) { rows += cost(groups[k]); batch.push(groups[k++]); }
    const caches = batch.map(() => model.newCache());
    const ctx = model.forward(batch.map((g, b) => ({ ids: pairs[g[0]].context, cache: caches[b] })), { logits: 'last' });
    // Continuation forwards on forked caches; logits of every row predict the next continuation token.
    const members = batch.flatMap((g, b) => g.map((i) => ({ i, b })));
    const forks = members.filter((m) => pairs[m.i].continuation.length > 1);
    const cont = forks.length
      ? model.forward(forks.map((m) => ({ ids: pairs[m.i].continuation.slice(0, -1), cache: caches[m.b].clone() })), { logits: 'all' })
      : null;
    // One logits row per target: the context's last row for the first token, continuation rows after.
    const targets: number[] = [], logits = new Float32Array(members.reduce((n, m) => n + pairs[m.i].continuation.length, 0) * V);
    let row = 0, contRow = 0;
    for (const m of members) {
      const c = pairs[m.i].continuation;
      logits.set(ctx.logits.subarray(m.b * V, (m.b + 1) * V), row * V);
      targets.push(c[0]);
      row++;
      if (c.length > 1) {
        logits.set(cont!.logits.subarray(contRow * V, (contRow + c.length - 1) * V), row * V);
        for (let j = 1; j < c.length; j++) targets.push(c[j]);
        row += c.length - 1;
        contRow += c.length - 1;
      }
    }
    const nll = new Float64Array(targets.length), greedy = new Uint8Array(targets.length);
    native.nll(nll, greedy, logits, Int32Array.from(targets), targets.length, V);
    let t = 0;
    for (const m of members) { results[m.i] = record(nll, greedy, t, pairs[m.i].continuation.length); t += pairs[m.i].continuation.length; }
    progress(members.length);
  }
}

export function loglikelihood(model: CausalLM, tok: TextTokenizer, requests: LoglikelihoodRequest[], opts: ScoringProgress = {}): LoglikelihoodResult[] {
  const pairs = requests.map((r) => splitContinuation(tok, r));
  const res = loglikelihoodOfIds(model, pairs, opts);
  res.forEach((x, i) => { x.chars = requests[i].continuation.length; });
  return res;
}

/** One token and its log-probability (nats). */
export interface TokenAlternative {
  id: number;
  logprob: number;
}

/** log(sum(exp(row))), computed as the native kernels compute it: max in float, the sum of exponentials in double. */
export function logSumExp(row: ArrayLike<number>): number {
  let max = -Infinity;
  for (let j = 0; j < row.length; j++) if (row[j] > max) max = row[j];
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let j = 0; j < row.length; j++) sum += Math.exp(row[j] - max);
  return max + Math.log(sum);
}

/**
 * The `k` most likely tokens of one logits row as log-probabilities (row[j] - lse), most likely first;
 * ties go to the lower id, so the first entry is the token argmax picks.
 */
export function topAlternatives(row: ArrayLike<number>, lse: number, k: number): TokenAlternative[] {
  if (k <= 0) return [];
  const ids: number[] = [], values: number[] = [];
  for (let j = 0; j < row.length; j++) {
    const v = row[j];
    if (!(v > -Infinity) || (ids.length === k && !(v > values[k - 1]))) continue;
    let at = ids.length;
    while (at > 0 && values[at - 1] < v) at--;
    ids.splice(at, 0, j);
    values.splice(at, 0, v);
    if (ids.length > k) { ids.pop(); values.pop(); }
  }
  return ids.map((id, i) => ({ id, logprob: values[i] - lse }));
}

/** Log-probability of one prompt token given the tokens before it. */
export interface PromptTokenLogprob {
  /** log p(ids[j] | ids[0..j)) in nats, computed exactly as perplexity and log-likelihood compute it. */
  logprob: number;
  /** Whether ids[j] is the (first) argmax at its position. */
  greedy: boolean;
  /** The `top` most likely tokens at this position, most likely first. */
  top: TokenAlternative[];
}

/**
 * Log-probabilities of every token of every prompt given the tokens before it, with the `top` most
 * likely alternatives at each position — what an OpenAI-compatible server returns for `echo` with
 * `logprobs`. Entry 0 of each prompt is null (nothing conditions the first token). Prompts are
 * scored whole (no windowing): each must fit the model's context.
 */
export function promptLogprobs(model: CausalLM, prompts: ArrayLike<number>[], top: number, opts: ScoringProgress = {}): (PromptTokenLogprob | null)[][] {
  const maxLen = model.info.maxPositions;
  prompts.forEach((p, i) => {
    if (p.length === 0) throw new UsageError(`prompt ${i} has no tokens`);
    if (p.length > maxLen) throw new UsageError(`prompt ${i} has ${p.length} tokens; the model's context is ${maxLen}`);
  });
  if (!Number.isInteger(top) || top < 0) throw new UsageError(`top must be a non-negative integer, got ${top}`);
  const results: (PromptTokenLogprob | null)[][] = prompts.map(() => [null]);
  const budget = rowBudget(model.info.vocabSize, maxLen);
  let done = 0;
  for (let i0 = 0; i0 < prompts.length;) {
    const group: number[] = [];
    let rows = 0;
    while (i0 < prompts.length && (group.length === 0 || rows + prompts[i0].length <= budget)) { rows += prompts[i0].length; group.push(i0++); }
    // Logits at every row but the last of each prompt predict the next token of that prompt.
    const logitRows: number[] = [], targets: number[] = [];
    let r = 0;
    for (const gi of group) {
      const ids = prompts[gi];
      for (let j = 0; j + 1 < ids.length; j++) { logitRows.push(r + j); targets.push(ids[j + 1]); }
      r += ids.length;
    }
    if (targets.length > 0) {
      const out = model.forward(group.map((gi) => ({ ids: prompts[gi] })), { logits: Int32Array.from(logitRows) });
      const nll = new Float64Array(targets.length), greedy = new Uint8Array(targets.length);
      native.nll(nll, greedy, out.logits, Int32Array.from(targets), targets.length, out.vocab);
      let t = 0;
      for (const gi of group) {
        for (let j = 1; j < prompts[gi].length; j++, t++) {
          const row = out.logits.subarray(t * out.vocab, (t + 1) * out.vocab);
          // The kernel's log-sum-exp, recovered from its NLL, so alternatives and the token agree exactly.
          const lse = nll[t] + row[targets[t]];
          results[gi].push({ logprob: -nll[t], greedy: greedy[t] === 1, top: topAlternatives(row, lse, top) });
        }
      }
    }
    done += group.length;
    opts.onProgress?.({ done, total: prompts.length });
  }
  return results;
}
