// The request bodies the server accepts, validated at the boundary with zod. Objects are strict, so a
// parameter this server does not implement is named in a 400 instead of being silently ignored;
// parameters it accepts only at their neutral value (penalties, logit_bias, ...) say so.
import { z } from 'zod';

export interface SchemaLimits {
  /** Largest `n` (choices per prompt). */
  maxN: number;
}

const SEED_MAX = 0xffffffff;
const tokenIds = z.array(z.number().int().nonnegative(), { invalid_type_error: 'expected a list of token ids' });

const neutral = <T extends z.ZodTypeAny>(schema: T, value: unknown) =>
  schema.nullable().optional().refine((v) => v === undefined || v === null || JSON.stringify(v) === JSON.stringify(value), {
    message: `is not supported by this server; omit it or send ${JSON.stringify(value)}`,
  });

const notStreaming = z.boolean().nullable().optional().refine((v) => v !== true, {
  message: 'streaming is not supported by compsafe serve; omit "stream" or send false',
});

function sampling(limits: SchemaLimits) {
  return {
    model: z.string().optional(),
    n: z.number().int().min(1).max(limits.maxN, { message: `must be at most ${limits.maxN} on this server (--max-n)` }).nullable().optional(),
    seed: z.number({ invalid_type_error: `must be an integer in [0, ${SEED_MAX}]` }).int().min(0).max(SEED_MAX).nullable().optional(),
    temperature: z.number().min(0).max(100).nullable().optional(),
    top_p: z.number().gt(0).max(1).nullable().optional(),
    /** vLLM extension: -1 or 0 disables. */
    top_k: z.number().int().min(-1).nullable().optional(),
    /** vLLM extension: EOS is banned until this many tokens are generated. */
    min_tokens: z.number().int().min(0).nullable().optional(),
    max_tokens: z.number().int().min(0).nullable().optional(),
    stop: z.union([z.string(), z.array(z.string()).max(16)], { errorMap: () => ({ message: 'must be a string or a list of at most 16 strings' }) }).nullable().optional(),
    stream: notStreaming,
    stream_options: neutral(z.unknown(), null),
    user: z.string().optional(),
    presence_penalty: neutral(z.number(), 0),
    frequency_penalty: neutral(z.number(), 0),
    repetition_penalty: neutral(z.number(), 1),
    logit_bias: neutral(z.record(z.number()), {}),
  };
}

export const PROMPT_MESSAGE = 'must be a string, a list of strings, a list of token ids, or a list of token-id lists (none empty)';

export function completionSchema(limits: SchemaLimits) {
  return z
    .object({
      ...sampling(limits),
      prompt: z.union([z.string(), z.array(z.string()).min(1), tokenIds.min(1), z.array(tokenIds.min(1)).min(1)], {
        errorMap: (_issue, ctx) => ({ message: ctx.data === undefined ? 'is required' : PROMPT_MESSAGE }),
      }),
      echo: z.boolean().nullable().optional(),
      /** OpenAI's legacy completions allow 0..5 alternatives per token. */
      logprobs: z.number().int().min(0).max(5).nullable().optional(),
      best_of: z.number().int().min(1).nullable().optional(),
      suffix: neutral(z.string(), null),
    })
    .strict();
}

const textPart = z.object({ type: z.literal('text'), text: z.string() }).strict();

export const messageSchema = z
  .object({
    role: z.string().min(1),
    content: z.union([z.string(), z.array(textPart)], { errorMap: () => ({ message: 'must be a string or a list of {type: "text", text} parts' }) }).nullable(),
    name: z.string().optional(),
  })
  .strict();

export function chatSchema(limits: SchemaLimits) {
  return z
    .object({
      ...sampling(limits),
      messages: z.array(messageSchema).min(1),
      max_completion_tokens: z.number().int().min(0).nullable().optional(),
      logprobs: z.boolean().nullable().optional(),
      top_logprobs: z.number().int().min(0).max(20).nullable().optional(),
      /** vLLM extension: open the assistant's turn after the messages (default true). */
      add_generation_prompt: z.boolean().optional(),
    })
    .strict();
}

/** vLLM's /tokenize, text form. */
export const tokenizeSchema = z.object({ model: z.string().optional(), prompt: z.string(), add_special_tokens: z.boolean().optional() }).strict();

/** vLLM's /tokenize, chat form: the conversation rendered with the chat template. */
export const tokenizeChatSchema = z
  .object({
    model: z.string().optional(),
    messages: z.array(messageSchema).min(1),
    add_generation_prompt: z.boolean().optional(),
    add_special_tokens: z.boolean().optional(),
  })
  .strict();

export const detokenizeSchema = z.object({ model: z.string().optional(), tokens: tokenIds }).strict();

export type CompletionBody = z.infer<ReturnType<typeof completionSchema>>;
export type ChatBody = z.infer<ReturnType<typeof chatSchema>>;
export type ChatMessageBody = z.infer<typeof messageSchema>;

/** Field names of a strict object schema, for "accepted fields: ..." in errors. */
export function fieldsOf(schema: z.AnyZodObject): string[] {
  return Object.keys(schema.shape);
}
