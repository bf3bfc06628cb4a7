// The Backend interface against any OpenAI-compatible server (vLLM, llama.cpp's server, TGI,
// `compsafe serve`): how compsafe runs the same tasks against a remote deployment.
//
// - loglikelihood: POST /v1/completions {prompt: context + continuation, echo: true, logprobs: 1,
//   max_tokens: 0}. Trailing spaces of the context move to the continuation (as in the native
//   backend); the continuation's tokens are those at text_offset >= the context's length
//   (lm-evaluation-harness' approach; offsets are re-based when a server counts a BOS string such
//   as "<s>" in them). greedy = every continuation token is at least as likely as the top-1
//   alternative. A merge of tokens across the context/continuation boundary is attributed to the
//   context here, where the native backend re-encodes the continuation alone.
// - perplexity: POST /tokenize (BOS as the server's tokenizer adds it), then every window of
//   `seqlen` token ids as a prompt with echo + logprobs, under the protocol of ARCHITECTURE.md.
// - generate: requests that differ only in sample index become one request with n = (largest index
//   + 1) and the request's seed; sample k is choice k. Against `compsafe serve` this equals the
//   native backend for the same seeds; other servers define their own seeded streams.
//
// Failures of single requests are Outcomes ({ok: false}); configuration errors (unreachable server,
// unknown model, refused API key) and missing server features throw.
import { z } from 'zod';
import { CompsafeError, UsageError } from '../core/errors.js';
import { PERPLEXITY_PROTOCOL } from '../model/scoring.js';
import {
  Backend, BackendInfo, BackendProgress, GenerateRequest, GenerateValue, LoglikelihoodRequest, LoglikelihoodValue, Outcome, PerplexityResult,
  groupBySampleSettings,
} from './backend.js';
import { BadResponseError, HttpClient, HttpStats, HttpStatusError, RetriesExhaustedError } from './openai-http.js';
import { offlineFromEnv } from '../core/env.js';

export interface OpenAIBackendOptions {
  /** The server's OpenAI base URL, with or without the trailing /v1 (http://host:8000/v1). */
  baseUrl: string;
  /** The model name the server knows (GET /v1/models). */
  model: string;
  /** Sent as `Authorization: Bearer`; default OPENAI_API_KEY. Never logged or stored. */
  apiKey?: string;
  /** Generate through /v1/chat/completions (the prompt as one user message) for every request. */
  chat?: boolean;
  /** HTTP requests in flight at most (default 8). */
  concurrency?: number;
  /** Retries on 429, 5xx, timeouts and connection errors (default 5), backoff from retryBaseMs (500) doubling to retryMaxMs (30000). */
  maxRetries?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Per HTTP attempt (default 600000 ms). */
  timeoutMs?: number;
  /** The model's context; default what GET /v1/models reports (max_model_len), else 0 (unknown). */
  maxPositions?: number;
  /** Identity of the served weights, for cache keys, when the caller knows it. */
  modelHash?: string;
  /** Only loopback servers (default: COMPSAFE_OFFLINE=1). */
  offline?: boolean;
}

/** The backend is configured wrongly (URL, model, key): every request would fail the same way. */
export class BackendConfigError extends CompsafeError {}

/** The server lacks something a request needs (echo with logprobs, /tokenize, n > 1). */
export class ServerFeatureError extends CompsafeError {}

const logprobsSchema = z.object({
  tokens: z.array(z.string()),
  token_logprobs: z.array(z.number().nullable()),
  top_logprobs: z.array(z.record(z.number()).nullable()).nullable().optional(),
  text_offset: z.array(z.number()),
});
type Logprobs = z.infer<typeof logprobsSchema>;

const usageSchema = z.object({ prompt_tokens: z.number().optional(), completion_tokens: z.number().optional() }).passthrough().nullable().optional();
const completionResponse = z.object({
  choices: z.array(z.object({ index: z.number(), text: z.string(), logprobs: z.unknown().optional(), finish_reason: z.string().nullable().optional(), stop_reason: z.unknown().optional() }).passthrough()),
  usage: usageSchema,
}).passthrough();
const chatResponse = z.object({
  choices: z.array(z.object({
    index: z.number(), message: z.object({ content: z.string().nullable().optional() }).passthrough(),
    logprobs: z.object({ content: z.array(z.unknown()).nullable().optional() }).passthrough().nullable().optional(),
    finish_reason: z.string().nullable().optional(), stop_reason: z.unknown().optional(),
  }).passthrough()),
  usage: usageSchema,
}).passthrough();
const modelsResponse = z.object({ data: z.array(z.object({ id: z.string(), max_model_len: z.number().optional() }).passthrough()) }).passthrough();
const tokenizeResponse = z.object({ tokens: z.array(z.number().int()) }).passthrough();

const GREEDY_TOLERANCE = 1e-5;
const message = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0];
const codePoints = (text: string): number => [...text].length;

function endpoints(baseUrl: string, offline: boolean): { completions: string; chat: string; models: string; tokenize: string } {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new BackendConfigError(`--base-url "${baseUrl}" is not a URL; expected e.g. http://127.0.0.1:8000/v1`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new BackendConfigError(`--base-url must be http(s), got ${url.protocol}`);
  if (url.username || url.password) throw new BackendConfigError('--base-url must not carry credentials; pass the key as OPENAI_API_KEY');
  if (offline && !/^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/.test(url.hostname)) {
    throw new BackendConfigError(`offline mode (COMPSAFE_OFFLINE) allows only loopback servers, not ${url.hostname}`);
  }
  let root = `${url.origin}${url.pathname}`.replace(/\/+$/, '');
  let v1 = `${root}/v1`;
  if (root.endsWith('/v1')) { v1 = root; root = root.slice(0, -3); }
  return { completions: `${v1}/completions`, chat: `${v1}/chat/completions`, models: `${v1}/models`, tokenize: `${root}/tokenize` };
}

export class OpenAIBackend implements Backend {
  readonly info: BackendInfo;
  private readonly http: HttpClient;
  private readonly urls: ReturnType<typeof endpoints>;

  /** Checks that the server answers and serves `model`, and reads its context length. */
  static async connect(opts: OpenAIBackendOptions): Promise<OpenAIBackend> {
    const probe = new OpenAIBackend(opts);
    let listed: z.infer<typeof modelsResponse>;
    try {
      listed = modelsResponse.parse(await probe.http.get(probe.urls.models));
    } catch (e) {
      throw new BackendConfigError(`cannot list the models of ${probe.urls.models}: ${probe.http.mask(message(e))}`);
    }
    const entry = listed.data.find((m) => m.id === opts.model);
    if (!entry) throw new BackendConfigError(`the server at ${opts.baseUrl} serves ${listed.data.map((m) => `"${m.id}"`).join(', ') || 'no models'}, not "${opts.model}"`);
    return new OpenAIBackend({ ...opts, maxPositions: opts.maxPositions ?? entry.max_model_len });
  }

  /** The options without the API key, which only the HTTP client holds. */
  private readonly opts: Omit<OpenAIBackendOptions, 'apiKey'>;

  constructor(options: OpenAIBackendOptions) {
    const { apiKey, ...opts } = options;
    this.opts = opts;
    if (!opts.model) throw new BackendConfigError('the OpenAI backend needs a model name (--model)');
    this.urls = endpoints(opts.baseUrl, opts.offline ?? offlineFromEnv());
    this.http = new HttpClient({
      apiKey: apiKey ?? process.env.OPENAI_API_KEY,
      concurrency: opts.concurrency ?? 8, maxRetries: opts.maxRetries ?? 5, retryBaseMs: opts.retryBaseMs ?? 500,
      retryMaxMs: opts.retryMaxMs ?? 30000, timeoutMs: opts.timeoutMs ?? 600000,
    });
    this.info = { kind: 'openai', model: opts.model, maxPositions: opts.maxPositions ?? 0, modelHash: opts.modelHash };
  }

  /** HTTP requests and attempts so far. */
  get stats(): HttpStats {
    return { ...this.http.stats };
  }

  /**
   * One POST. Statuses that mean the configuration is wrong throw BackendConfigError; other
   * refusals and exhausted retries come back as a failure message (the request's Outcome).
   */
  private async post(url: string, body: Record<string, unknown>): Promise<{ ok: true; json: unknown } | { ok: false; error: string }> {
    try {
      return { ok: true, json: await this.http.post(url, { model: this.opts.model, ...body }) };
    } catch (e) {
      if (e instanceof HttpStatusError) {
        if (e.status === 401 || e.status === 403) throw new BackendConfigError(`${e.url} refused the API key (${e.status}): ${e.serverMessage}; set OPENAI_API_KEY`);
        if (e.status === 404 || e.status === 405) throw new BackendConfigError(`${e.url} answered ${e.status}: ${e.serverMessage}`);
        return { ok: false, error: `the server refused the request (${e.status}${e.param ? `, ${e.param}` : ''}): ${e.serverMessage}` };
      }
      if (e instanceof RetriesExhaustedError || e instanceof BadResponseError) return { ok: false, error: message(e) };
      throw e;
    }
  }

  private noLogprobs(what: string): ServerFeatureError {
    return new ServerFeatureError(
      `the server at ${this.opts.baseUrl} returned no logprobs for ${what} (echo: true, logprobs: 1, max_tokens: 0); ` +
        'log-likelihood and perplexity need prompt logprobs with echo, which vLLM and compsafe serve return (llama.cpp\'s server and most hosted APIs do not)',
    );
  }

  /** The echoed prompt's logprobs, cut to the prompt's tokens. */
  private echoed(json: unknown, what: string): Logprobs {
    const parsed = completionResponse.safeParse(json);
    if (!parsed.success || parsed.data.choices.length === 0) throw new ServerFeatureError(`the server at ${this.opts.baseUrl} sent a completion response without choices for ${what}`);
    const lp = logprobsSchema.safeParse(parsed.data.choices[0].logprobs);
    if (!lp.success || lp.data.tokens.length === 0) throw this.noLogprobs(what);
    // Echoed, the first prompt token has no log-probability; a generated token always has one.
    if (lp.data.token_logprobs[0] !== null) throw new ServerFeatureError(`the server at ${this.opts.baseUrl} ignored echo: true for ${what}; it needs a server that echoes the prompt with its logprobs (vLLM, compsafe serve)`);
    const n = parsed.data.usage?.prompt_tokens ?? lp.data.tokens.length;
    const cut = <T>(xs: T[]): T[] => xs.slice(0, n);
    return { tokens: cut(lp.data.tokens), token_logprobs: cut(lp.data.token_logprobs), top_logprobs: lp.data.top_logprobs ? cut(lp.data.top_logprobs) : null, text_offset: cut(lp.data.text_offset) };
  }

  async loglikelihood(requests: LoglikelihoodRequest[], opts: BackendProgress = {}): Promise<Outcome<LoglikelihoodValue>[]> {
    let done = 0;
    return Promise.all(requests.map(async (r): Promise<Outcome<LoglikelihoodValue>> => {
      try {
        return await this.loglikelihoodOne(r);
      } finally {
        opts.onProgress?.({ done: ++done, total: requests.length });
      }
    }));
  }

  private async loglikelihoodOne(r: LoglikelihoodRequest): Promise<Outcome<LoglikelihoodValue>> {
    const trimmed = r.context.trimEnd();
    const continuation = r.context.slice(trimmed.length) + r.continuation;
    if (continuation === '') return { ok: false, error: 'the continuation is empty' };
    const prompt = trimmed + continuation, contextLength = codePoints(trimmed);
    const res = await this.post(this.urls.completions, { prompt, max_tokens: 0, echo: true, logprobs: 1, temperature: 0 });
    if (!res.ok) return res;
    const lp = this.echoed(res.json, 'a log-likelihood request');
    if (!lp.top_logprobs) throw this.noLogprobs('a log-likelihood request (no top_logprobs)');
    const n = lp.tokens.length;
    // Servers that count a BOS string ("<s>") or a leading space in text_offset are off by a constant: the
    // last token ends where the prompt ends, which fixes it.
    const last = lp.tokens[n - 1];
    const shift = last !== '' && prompt.endsWith(last) ? lp.text_offset[n - 1] + codePoints(last) - codePoints(prompt) : 0;
    let first = lp.text_offset.findIndex((o) => o - shift >= contextLength);
    if (first < 0) return { ok: false, error: 'the continuation encodes to no tokens of its own' };
    if (first === 0) {
      // Token 0 is unconditioned: fine when it is a zero-width BOS, impossible to score when it is text.
      const width = n > 1 ? lp.text_offset[1] - lp.text_offset[0] : codePoints(prompt);
      if (width > 0) return { ok: false, error: "the first continuation token has nothing to condition on (the server's tokenizer adds no BOS); give a non-empty context" };
      first = 1;
      if (first >= n) return { ok: false, error: 'the continuation encodes to no tokens of its own' };
    }
    let logprob = 0, greedy = true;
    for (let i = first; i < n; i++) {
      const lpi = lp.token_logprobs[i], top = lp.top_logprobs[i];
      if (lpi === null || top === null || top === undefined) throw this.noLogprobs(`token ${i} of a log-likelihood request`);
      logprob += lpi;
      const alternatives = Object.values(top);
      if (alternatives.length === 0) throw this.noLogprobs(`token ${i} of a log-likelihood request (an empty top_logprobs)`);
      const best = Math.max(...alternatives);
      if (lpi < best - GREEDY_TOLERANCE) greedy = false;
    }
    return { ok: true, value: { logprob, greedy, tokens: n - first, chars: r.continuation.length, bytes: Buffer.byteLength(r.continuation, 'utf8') } };
  }

  async generate(requests: GenerateRequest[], opts: BackendProgress = {}): Promise<Outcome<GenerateValue>[]> {
    const out: Outcome<GenerateValue>[] = new Array(requests.length);
    const groups = groupBySampleSettings(requests);
    let done = 0;
    await Promise.all(groups.map(async (members) => {
      const results = await this.generateGroup(requests[members[0]], members.map((i) => requests[i].sampleIndex));
      members.forEach((i, k) => { out[i] = results[k]; });
      done += members.length;
      opts.onProgress?.({ done, total: requests.length });
    }));
    return out;
  }

  /** One request with n = largest sample index + 1; sample k is choice k. */
  private async generateGroup(r: GenerateRequest, sampleIndices: number[]): Promise<Outcome<GenerateValue>[]> {
    const n = Math.max(...sampleIndices) + 1, chat = this.opts.chat === true || r.chat === true;
    const body: Record<string, unknown> = {
      max_tokens: r.maxNewTokens, temperature: r.temperature, top_p: r.topP, seed: r.seed, n,
      ...(r.topK > 0 ? { top_k: r.topK } : {}), ...((r.minNewTokens ?? 0) > 0 ? { min_tokens: r.minNewTokens } : {}),
      ...(r.stop && r.stop.length > 0 ? { stop: r.stop } : {}),
      // Logprobs only to learn each choice's token count.
      ...(chat ? { messages: [{ role: 'user', content: r.prompt }], logprobs: true, top_logprobs: 0 } : { prompt: r.prompt, logprobs: 0 }),
    };
    const res = await this.post(chat ? this.urls.chat : this.urls.completions, body);
    if (!res.ok) return sampleIndices.map(() => res);
    const choices = chat ? this.chatChoices(res.json) : this.completionChoices(res.json);
    if (choices.length < n) {
      throw new ServerFeatureError(`the server at ${this.opts.baseUrl} returned ${choices.length} choices for n = ${n}; sampling needs a server that honours n (vLLM, compsafe serve)`);
    }
    return sampleIndices.map((k) => {
      const c = choices.find((x) => x.index === k);
      if (!c) return { ok: false, error: `the server's response has no choice ${k}` };
      const tokens = c.tokens ?? c.usageShare;
      return { ok: true, value: { text: c.text, tokens, finishReason: this.finishReason(c, r, tokens) } };
    });
  }

  private finishReason(c: Choice, r: GenerateRequest, tokens: number): GenerateValue['finishReason'] {
    if (c.finish === 'length') return c.tokens !== undefined && tokens < r.maxNewTokens ? 'context' : 'length';
    // vLLM's stop_reason: the stop string that matched, or null / a token id for EOS.
    if (typeof c.stopReason === 'string' && c.stopReason !== '') return 'stop';
    if (c.stopReason === undefined && r.stop && r.stop.length > 0) return 'stop';
    return 'eos';
  }

  private completionChoices(json: unknown): Choice[] {
    const parsed = completionResponse.safeParse(json);
    if (!parsed.success) throw new ServerFeatureError(`the server at ${this.opts.baseUrl} sent a completion response of an unknown shape: ${message(parsed.error)}`);
    const usageShare = Math.round((parsed.data.usage?.completion_tokens ?? 0) / Math.max(1, parsed.data.choices.length));
    return parsed.data.choices.map((c) => {
      const lp = logprobsSchema.safeParse(c.logprobs);
      return { index: c.index, text: c.text, finish: c.finish_reason ?? null, stopReason: c.stop_reason, tokens: lp.success ? lp.data.tokens.length : undefined, usageShare };
    });
  }

  private chatChoices(json: unknown): Choice[] {
    const parsed = chatResponse.safeParse(json);
    if (!parsed.success) throw new ServerFeatureError(`the server at ${this.opts.baseUrl} sent a chat response of an unknown shape: ${message(parsed.error)}`);
    const usageShare = Math.round((parsed.data.usage?.completion_tokens ?? 0) / Math.max(1, parsed.data.choices.length));
    return parsed.data.choices.map((c) => ({
      index: c.index, text: c.message.content ?? '', finish: c.finish_reason ?? null, stopReason: c.stop_reason,
      tokens: Array.isArray(c.logprobs?.content) ? c.logprobs.content.length : undefined, usageShare,
    }));
  }

  async perplexity(text: string, seqlen: number, opts: BackendProgress = {}): Promise<PerplexityResult> {
    if (!Number.isInteger(seqlen) || seqlen < 2) throw new UsageError(`--seqlen must be an integer >= 2, got ${seqlen}`);
    const max = this.info.maxPositions;
    if (max > 0 && seqlen > max) throw new UsageError(`--seqlen ${seqlen} exceeds the model's context of ${max} positions`);
    const ids = await this.tokenize(text);
    const windows: number[][] = [];
    for (let s = 0; s < ids.length; s += seqlen) windows.push(ids.slice(s, s + seqlen));
    let done = 0;
    const perWindow = await Promise.all(windows.map(async (w, wi): Promise<number[]> => {
      try {
        if (w.length < 2) return [];
        const res = await this.post(this.urls.completions, { prompt: w, max_tokens: 0, echo: true, logprobs: 1, temperature: 0 });
        if (!res.ok) throw new CompsafeError(`perplexity window ${wi}: ${res.error}`);
        const lp = this.echoed(res.json, 'a perplexity window');
        if (lp.tokens.length !== w.length) {
          throw new ServerFeatureError(`perplexity window ${wi}: the server scored ${lp.tokens.length} tokens for a prompt of ${w.length} token ids (does it add BOS to token-id prompts?)`);
        }
        return lp.token_logprobs.slice(1).map((x, j) => {
          if (x === null) throw this.noLogprobs(`token ${j + 1} of perplexity window ${wi}`);
          return -x;
        });
      } finally {
        opts.onProgress?.({ done: ++done, total: windows.length });
      }
    }));
    // Summed in token order, as the native backend sums.
    let nll = 0, scored = 0;
    for (const xs of perWindow) for (const x of xs) { nll += x; scored++; }
    const nllPerToken = scored > 0 ? nll / scored : NaN;
    return { perplexity: Math.exp(nllPerToken), nll, nllPerToken, scored, tokens: ids.length, windows: windows.length, seqlen, protocol: PERPLEXITY_PROTOCOL };
  }

  /** The server's tokenization of `text` with its special tokens (vLLM's /tokenize). */
  private async tokenize(text: string): Promise<number[]> {
    let json: unknown;
    try {
      json = await this.http.post(this.urls.tokenize, { model: this.opts.model, prompt: text, add_special_tokens: true });
    } catch (e) {
      if (e instanceof HttpStatusError && (e.status === 404 || e.status === 405)) {
        throw new ServerFeatureError(`the server has no ${this.urls.tokenize} (${e.status}); perplexity needs the server's tokenizer through vLLM's /tokenize, which vLLM and compsafe serve provide`);
      }
      if (e instanceof HttpStatusError && (e.status === 401 || e.status === 403)) throw new BackendConfigError(`${e.url} refused the API key (${e.status}); set OPENAI_API_KEY`);
      throw new CompsafeError(`tokenizing the text failed: ${message(e)}`);
    }
    const parsed = tokenizeResponse.safeParse(json);
    if (!parsed.success) throw new ServerFeatureError(`${this.urls.tokenize} answered without a token list`);
    return parsed.data.tokens;
  }
}

interface Choice {
  index: number;
  text: string;
  finish: string | null;
  stopReason: unknown;
  /** The choice's generated tokens, when the server reported its logprobs. */
  tokens: number | undefined;
  /** completion_tokens / choices: the count when the server reports no per-choice logprobs. */
  usageShare: number;
}
