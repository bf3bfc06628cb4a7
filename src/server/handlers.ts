// The endpoints: request body (already parsed JSON) in, response body out; ApiError for bad input.
//
// Sampling follows the native backend exactly: choice i of a prompt, for a request with seed s,
// draws from xoshiro128**(s, stream i), so `n` choices of one request are samples 0..n-1 of the
// native engine. A request without a seed uses seed 0 when the temperature is 0 (greedy: the seed
// changes nothing) and a fresh random seed otherwise, as OpenAI does; send a seed to reproduce.
import crypto from 'node:crypto';
import { z } from 'zod';
import { LoadedModel } from '../model/load.js';
import { GenerationRequest, GenerationSample, FinishReason } from '../model/generate.js';
import { encodeChat, ChatMessage } from '../model/tokenizer.js';
import { ApiError, fromZodError } from './api-error.js';
import { Engine } from './engine.js';
import {
  ChatMessageBody, chatSchema, completionSchema, detokenizeSchema, fieldsOf, SchemaLimits, tokenizeChatSchema, tokenizeSchema,
} from './schemas.js';
import {
  chatLogprobsContent, codePoints, CompletionLogprobs, concatLogprobs, generatedLogprobsObject, joinedText, promptLogprobsObject,
} from './token-text.js';

/** Prompts x n of one request, at most. */
const MAX_SEQUENCES = 4096;
/** OpenAI's default max_tokens for completions. */
const DEFAULT_COMPLETION_TOKENS = 16;

export interface HandlerContext {
  loaded: LoadedModel;
  /** The name clients pass as `model`. */
  modelName: string;
  engine: Engine;
  limits: SchemaLimits;
  /** Unix seconds the server started (the model's `created`). */
  created: number;
  schemas: { completion: ReturnType<typeof completionSchema>; chat: ReturnType<typeof chatSchema> };
}

export function handlerContext(loaded: LoadedModel, modelName: string, engine: Engine, limits: SchemaLimits): HandlerContext {
  return {
    loaded, modelName, engine, limits, created: Math.floor(Date.now() / 1000),
    schemas: { completion: completionSchema(limits), chat: chatSchema(limits) },
  };
}

interface Prompt {
  ids: number[];
  /** What echo returns: the prompt string, or the text of a token-id prompt. */
  text: string;
}

interface Sampling {
  n: number;
  maxTokens: number;
  minTokens: number;
  temperature: number;
  topP: number;
  topK: number;
  seed: number;
  stop: string[];
}

function parse<T extends z.AnyZodObject>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body);
  if (!result.success) throw fromZodError(result.error, fieldsOf(schema));
  return result.data;
}

function checkModel(ctx: HandlerContext, name: string | undefined): void {
  if (name !== undefined && name !== ctx.modelName) {
    throw new ApiError(404, `the model "${name}" does not exist; this server serves "${ctx.modelName}" (GET /v1/models)`, 'model', 'model_not_found');
  }
}

function checkIds(ctx: HandlerContext, ids: number[], param: string): void {
  const vocab = ctx.loaded.model.info.vocabSize;
  const bad = ids.find((id) => id >= vocab);
  if (bad !== undefined) throw new ApiError(400, `${param}: token id ${bad} is outside the vocabulary of ${vocab} tokens`, param, 'invalid_value');
}

function promptsOf(ctx: HandlerContext, prompt: string | string[] | number[] | number[][]): Prompt[] {
  const tok = ctx.loaded.tokenizer;
  const list: (string | number[])[] = typeof prompt === 'string' ? [prompt] : typeof prompt[0] === 'number' ? [prompt as number[]] : (prompt as (string | number[])[]);
  return list.map((p) => {
    if (typeof p === 'string') {
      const ids = tok.encode(p, { addSpecialTokens: true });
      if (ids.length === 0) throw new ApiError(400, 'prompt: the text encodes to no tokens (and the tokenizer adds no BOS)', 'prompt', 'invalid_value');
      return { ids, text: p };
    }
    checkIds(ctx, p, 'prompt');
    return { ids: p, text: joinedText(tok, p) };
  });
}

/** OpenAI's rule, as vLLM applies it: prompt + max_tokens must fit the context. */
function checkContext(ctx: HandlerContext, prompts: Prompt[], maxTokens: number, what: string): void {
  const max = ctx.loaded.model.info.maxPositions;
  for (const p of prompts) {
    const total = p.ids.length + maxTokens;
    if (total <= max) continue;
    throw new ApiError(
      400,
      `This model's maximum context length is ${max} tokens. However, you requested ${total} tokens (${p.ids.length} in the ${what}, ` +
        `${maxTokens} in the completion). Please reduce the length of the ${what} or max_tokens.`,
      p.ids.length >= max ? (what === 'prompt' ? 'prompt' : 'messages') : 'max_tokens',
      'context_length_exceeded',
    );
  }
}

function samplingOf(
  body: { n?: number | null; seed?: number | null; temperature?: number | null; top_p?: number | null; top_k?: number | null; min_tokens?: number | null; stop?: string | string[] | null },
  maxTokens: number,
  prompts: number,
): Sampling {
  const n = body.n ?? 1;
  if (prompts * n > MAX_SEQUENCES) throw new ApiError(400, `n: prompts x n must be at most ${MAX_SEQUENCES}, got ${prompts} x ${n}`, 'n', 'invalid_value');
  const minTokens = body.min_tokens ?? 0;
  if (minTokens > maxTokens) throw new ApiError(400, `min_tokens: ${minTokens} is more than max_tokens (${maxTokens})`, 'min_tokens', 'invalid_value');
  const temperature = body.temperature ?? 1;
  return {
    n, maxTokens, minTokens, temperature,
    topP: body.top_p ?? 1,
    topK: body.top_k !== undefined && body.top_k !== null && body.top_k > 0 ? body.top_k : 0,
    seed: body.seed ?? (temperature === 0 ? 0 : crypto.randomInt(0, 2 ** 32)),
    stop: typeof body.stop === 'string' ? [body.stop] : body.stop ?? [],
  };
}

function generationRequest(ids: number[], s: Sampling, logprobs: number | undefined): GenerationRequest {
  return {
    prompt: ids, maxNewTokens: s.maxTokens, minNewTokens: s.minTokens, temperature: s.temperature, topP: s.topP, topK: s.topK,
    seed: s.seed, samples: s.n, stop: s.stop, ...(logprobs !== undefined ? { logprobs } : {}),
  };
}

/** OpenAI's finish_reason and vLLM's stop_reason (the stop string that matched; null for EOS and length). */
function finishOf(ctx: HandlerContext, sample: GenerationSample | undefined, stops: string[]): { finish_reason: 'stop' | 'length'; stop_reason: string | null } {
  const reason: FinishReason = sample?.finishReason ?? 'length';
  if (reason !== 'stop') return { finish_reason: reason === 'eos' ? 'stop' : 'length', stop_reason: null };
  // The earliest match in the decoded continuation is the one generation stopped at.
  const text = ctx.loaded.tokenizer.decode(sample!.tokens, { skipSpecialTokens: true });
  let best: string | null = null, at = Infinity;
  for (const st of stops) {
    const i = st ? text.indexOf(st) : -1;
    if (i >= 0 && i < at) { at = i; best = st; }
  }
  return { finish_reason: 'stop', stop_reason: best };
}

const newId = (prefix: string): string => `${prefix}-${crypto.randomBytes(12).toString('hex')}`;

export function listModels(ctx: HandlerContext): unknown {
  return {
    object: 'list',
    data: [{ id: ctx.modelName, object: 'model', created: ctx.created, owned_by: 'compsafe', root: ctx.loaded.dir, max_model_len: ctx.loaded.model.info.maxPositions }],
  };
}

export async function completions(ctx: HandlerContext, raw: unknown): Promise<unknown> {
  const body = parse(ctx.schemas.completion, raw);
  checkModel(ctx, body.model);
  const tok = ctx.loaded.tokenizer, max = ctx.loaded.model.info.maxPositions;
  if (body.best_of !== undefined && body.best_of !== null && body.best_of !== (body.n ?? 1)) {
    throw new ApiError(400, 'best_of: only best_of equal to n is supported (no re-ranking)', 'best_of', 'invalid_value');
  }
  const prompts = promptsOf(ctx, body.prompt);
  const longest = Math.max(...prompts.map((p) => p.ids.length));
  const maxTokens = body.max_tokens ?? Math.min(DEFAULT_COMPLETION_TOKENS, Math.max(0, max - longest));
  checkContext(ctx, prompts, maxTokens, 'prompt');
  const s = samplingOf(body, maxTokens, prompts.length);
  const echo = body.echo ?? false, logprobs = body.logprobs ?? undefined;
  const [samples, scored] = await Promise.all([
    maxTokens > 0 ? ctx.engine.generate(prompts.map((p) => generationRequest(p.ids, s, logprobs))) : Promise.resolve([]),
    echo && logprobs !== undefined ? ctx.engine.score(prompts.map((p) => p.ids), logprobs) : Promise.resolve(null),
  ]);
  const byChoice = new Map(samples.map((x) => [x.requestIndex * s.n + x.sampleIndex, x]));
  const choices = [];
  let completionTokens = 0;
  for (let pi = 0; pi < prompts.length; pi++) {
    const p = prompts[pi];
    for (let k = 0; k < s.n; k++) {
      const index = pi * s.n + k, sample = byChoice.get(index);
      const prefix = echo ? p.text : '';
      completionTokens += sample?.tokens.length ?? 0;
      let lp: CompletionLogprobs | null = null;
      if (logprobs !== undefined) {
        const empty: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
        const head = echo && scored ? promptLogprobsObject(tok, p.ids, scored[pi]) : empty;
        const tail = sample?.logprobs ? generatedLogprobsObject(tok, sample.tokens, sample.logprobs, codePoints(prefix)) : empty;
        lp = concatLogprobs(head, tail);
      }
      choices.push({ index, text: prefix + (sample?.text ?? ''), logprobs: lp, ...finishOf(ctx, sample, s.stop) });
    }
  }
  const promptTokens = prompts.reduce((n, p) => n + p.ids.length, 0);
  return {
    id: newId('cmpl'), object: 'text_completion', created: Math.floor(Date.now() / 1000), model: ctx.modelName, choices,
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
  };
}

function chatMessages(messages: ChatMessageBody[]): ChatMessage[] {
  return messages.map((m) => ({
    role: m.role,
    content: m.content === null ? '' : typeof m.content === 'string' ? m.content : m.content.map((part) => part.text).join(''),
  }));
}

export async function chatCompletions(ctx: HandlerContext, raw: unknown): Promise<unknown> {
  const body = parse(ctx.schemas.chat, raw);
  checkModel(ctx, body.model);
  const tok = ctx.loaded.tokenizer, max = ctx.loaded.model.info.maxPositions;
  if (body.top_logprobs !== undefined && body.top_logprobs !== null && !body.logprobs) {
    throw new ApiError(400, 'top_logprobs: requires logprobs: true', 'top_logprobs', 'invalid_value');
  }
  const ids = encodeChat(tok, chatMessages(body.messages), { addGenerationPrompt: body.add_generation_prompt ?? true });
  const prompt: Prompt = { ids, text: '' };
  // OpenAI's chat default: as many tokens as fit.
  const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? Math.max(0, max - ids.length);
  checkContext(ctx, [prompt], maxTokens, 'messages');
  const s = samplingOf(body, maxTokens, 1);
  const logprobs = body.logprobs ? body.top_logprobs ?? 0 : undefined;
  const samples = maxTokens > 0 ? await ctx.engine.generate([generationRequest(ids, s, logprobs)]) : [];
  let completionTokens = 0;
  const choices = Array.from({ length: s.n }, (_, k) => {
    const sample = samples.find((x) => x.sampleIndex === k);
    completionTokens += sample?.tokens.length ?? 0;
    return {
      index: k,
      message: { role: 'assistant', content: sample?.text ?? '' },
      logprobs: logprobs !== undefined ? { content: sample?.logprobs ? chatLogprobsContent(tok, sample.tokens, sample.logprobs) : [] } : null,
      ...finishOf(ctx, sample, s.stop),
    };
  });
  return {
    id: newId('chatcmpl'), object: 'chat.completion', created: Math.floor(Date.now() / 1000), model: ctx.modelName, choices,
    usage: { prompt_tokens: ids.length, completion_tokens: completionTokens, total_tokens: ids.length + completionTokens },
  };
}

/** vLLM's /tokenize: {prompt, add_special_tokens (default true)} or {messages, add_generation_prompt, add_special_tokens (default false)}. */
export function tokenize(ctx: HandlerContext, raw: unknown): unknown {
  const tok = ctx.loaded.tokenizer;
  let tokens: number[];
  if (raw !== null && typeof raw === 'object' && 'messages' in raw) {
    const body = parse(tokenizeChatSchema, raw);
    checkModel(ctx, body.model);
    const messages = chatMessages(body.messages), addGenerationPrompt = body.add_generation_prompt ?? true;
    tokens = body.add_special_tokens
      ? tok.encode(tok.applyChatTemplate(messages, { addGenerationPrompt }), { addSpecialTokens: true })
      : encodeChat(tok, messages, { addGenerationPrompt });
  } else {
    const body = parse(tokenizeSchema, raw);
    checkModel(ctx, body.model);
    tokens = tok.encode(body.prompt, { addSpecialTokens: body.add_special_tokens ?? true });
  }
  return { count: tokens.length, max_model_len: ctx.loaded.model.info.maxPositions, tokens };
}

/** vLLM's /detokenize: {tokens} -> {prompt}. */
export function detokenize(ctx: HandlerContext, raw: unknown): unknown {
  const body = parse(detokenizeSchema, raw);
  checkModel(ctx, body.model);
  checkIds(ctx, body.tokens, 'tokens');
  return { prompt: ctx.loaded.tokenizer.decode(body.tokens) };
}
