// Tokens as text, for the `logprobs` objects of OpenAI responses.
//
// A token's string is the text it adds after the tokens before it (decodeIncremental with special
// tokens skipped), so the strings of a sequence join to its decoded text; special tokens show as
// their own text ("<s>") but occupy no width in the text. `text_offset` is therefore the position
// of each token in the returned text (the prompt, for echo), counted in Unicode code points as
// Python servers count them, with BOS at offset 0 and zero width.
import { TokenAlternative } from '../model/scoring.js';
import { TextTokenizer } from '../model/tokenizer.js';
import { GeneratedTokenLogprob } from '../model/generate.js';
import { PromptTokenLogprob } from '../model/scoring.js';

/** Tokens before the current one handed to decodeIncremental (it looks back 8 decodable tokens). */
const LOOKBACK = 24;

export function codePoints(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** The text token `id` adds after ids[0..end): '' for special tokens and for the first bytes of a split character. */
function piece(tok: TextTokenizer, ids: ArrayLike<number>, end: number, id: number): string {
  const window: number[] = [];
  for (let i = Math.max(0, end - LOOKBACK); i < end; i++) window.push(ids[i]);
  window.push(id);
  return tok.decodeIncremental(window, { skipSpecialTokens: true });
}

/** How token `id` shows after ids[0..end) in `tokens` and as a key of `top_logprobs`. */
function display(tok: TextTokenizer, ids: ArrayLike<number>, end: number, id: number): string {
  return tok.isSpecial(id) ? tok.decode([id]) : piece(tok, ids, end, id);
}

export interface TokenTexts {
  strings: string[];
  /** Offset of each token in the text, starting at `base`. */
  offsets: number[];
  /** Offset just past the last token. */
  end: number;
}

export function tokenTexts(tok: TextTokenizer, ids: number[], base = 0): TokenTexts {
  const strings: string[] = [], offsets: number[] = [];
  let at = base;
  for (let i = 0; i < ids.length; i++) {
    const p = tok.isSpecial(ids[i]) ? '' : piece(tok, ids, i, ids[i]);
    strings.push(tok.isSpecial(ids[i]) ? tok.decode([ids[i]]) : p);
    offsets.push(at);
    at += codePoints(p);
  }
  return { strings, offsets, end: at };
}

/** The text of token ids as the strings of tokenTexts join (no clean-up of spaces). */
export function joinedText(tok: TextTokenizer, ids: number[]): string {
  let text = '';
  for (let i = 0; i < ids.length; i++) if (!tok.isSpecial(ids[i])) text += piece(tok, ids, i, ids[i]);
  return text;
}

/** OpenAI's legacy completions logprobs object. */
export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
}

/** `top` as {string: logprob}; `known` is the string of the token actually at `end` (usually among the alternatives). */
function alternatives(tok: TextTokenizer, ids: ArrayLike<number>, end: number, top: TokenAlternative[], known: string): Record<string, number> {
  const out: Record<string, number> = {};
  // Most likely first: when two tokens show as the same string, the likelier one keeps the key.
  for (const a of top) {
    const key = a.id === ids[end] ? known : display(tok, ids, end, a.id);
    if (!(key in out)) out[key] = a.logprob;
  }
  return out;
}

/** Logprobs of prompt tokens (echo): entry 0 has no log-probability. */
export function promptLogprobsObject(tok: TextTokenizer, ids: number[], scored: (PromptTokenLogprob | null)[]): CompletionLogprobs {
  const texts = tokenTexts(tok, ids);
  return {
    tokens: texts.strings,
    token_logprobs: scored.map((e) => (e ? e.logprob : null)),
    top_logprobs: scored.map((e, i) => (e ? alternatives(tok, ids, i, e.top, texts.strings[i]) : null)),
    text_offset: texts.offsets,
  };
}

/**
 * Logprobs of generated tokens, offsets starting at `base` (the echoed prompt's length). Strings are
 * taken over the generated tokens alone, as the returned text is decoded from them alone.
 */
export function generatedLogprobsObject(tok: TextTokenizer, tokens: number[], logprobs: GeneratedTokenLogprob[], base: number): CompletionLogprobs {
  const texts = tokenTexts(tok, tokens, base);
  return {
    tokens: texts.strings,
    token_logprobs: logprobs.map((e) => e.logprob),
    top_logprobs: logprobs.map((e, i) => alternatives(tok, tokens, i, e.top, texts.strings[i])),
    text_offset: texts.offsets,
  };
}

export function concatLogprobs(a: CompletionLogprobs, b: CompletionLogprobs): CompletionLogprobs {
  return {
    tokens: [...a.tokens, ...b.tokens],
    token_logprobs: [...a.token_logprobs, ...b.token_logprobs],
    top_logprobs: [...a.top_logprobs, ...b.top_logprobs],
    text_offset: [...a.text_offset, ...b.text_offset],
  };
}

/** One entry of a chat completion's `logprobs.content`. */
export interface ChatTokenLogprob {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

export function chatLogprobsContent(tok: TextTokenizer, tokens: number[], logprobs: GeneratedTokenLogprob[]): ChatTokenLogprob[] {
  const bytes = (s: string): number[] => [...Buffer.from(s, 'utf8')];
  const texts = tokenTexts(tok, tokens);
  return logprobs.map((e, i) => ({
    token: texts.strings[i],
    logprob: e.logprob,
    bytes: bytes(texts.strings[i]),
    top_logprobs: e.top.map((a) => {
      const token = a.id === tokens[i] ? texts.strings[i] : display(tok, tokens, i, a.id);
      return { token, logprob: a.logprob, bytes: bytes(token) };
    }),
  }));
}
