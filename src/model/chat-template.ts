// Chat templates: the Jinja template a chat/instruct model's tokenizer_config.json carries, rendered
// with @huggingface/jinja exactly as transformers' apply_chat_template renders it.
import fs from 'node:fs';
import path from 'node:path';
import { Template } from '@huggingface/jinja';
import { TokenizerError } from '../core/errors.js';
import type { TextTokenizer } from './tokenizer.js';

/** One turn of a conversation. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | string;
  content: string;
}

/** Options of applyChatTemplate / encodeChat. */
export interface ChatTemplateOptions {
  /** Append the header that opens the assistant's turn (what you want before generating). Default false, as in transformers. */
  addGenerationPrompt?: boolean;
}

/** The special-token strings a template may reference (`bos_token`, `eos_token`, ...); null when the tokenizer has none. */
export interface TemplateSpecialTokens {
  bosToken: string | null;
  eosToken: string | null;
  unkToken: string | null;
  padToken: string | null;
}

/**
 * Finds the chat template of a tokenizer folder: tokenizer_config.json `chat_template` (a string, or a
 * list of {name, template} of which "default" is used), else a `chat_template.jinja` file beside it
 * (newer transformers save it there). Returns the source and the file it came from, or null when there is none.
 */
export function findChatTemplate(dir: string, tokenizerConfig: Record<string, unknown>): { source: string; file: string } | null {
  const configured = tokenizerConfig.chat_template;
  const configFile = path.join(dir, 'tokenizer_config.json');
  if (typeof configured === 'string') return { source: configured, file: configFile };
  if (Array.isArray(configured)) {
    const named = configured.filter(
      (entry): entry is { name: string; template: string } =>
        typeof entry === 'object' && entry !== null && typeof entry.name === 'string' && typeof entry.template === 'string',
    );
    const chosen = named.find((entry) => entry.name === 'default');
    if (!chosen) {
      throw new TokenizerError(
        `${configFile}: chat_template lists templates [${named.map((entry) => entry.name).join(', ')}] but none named "default"; add one named "default"`,
      );
    }
    return { source: chosen.template, file: configFile };
  }
  if (configured !== undefined && configured !== null) {
    throw new TokenizerError(`${configFile}: chat_template must be a string or a list of {name, template}; fix the file`);
  }
  const jinjaFile = path.join(dir, 'chat_template.jinja');
  return fs.existsSync(jinjaFile) ? { source: fs.readFileSync(jinjaFile, 'utf8'), file: jinjaFile } : null;
}

/** A parsed chat template bound to a tokenizer's special-token strings. */
export class ChatTemplate {
  private readonly template: Template;

  /** @param source Jinja source; @param origin where it came from, named in error messages. */
  constructor(
    source: string,
    private readonly specialTokens: TemplateSpecialTokens,
    private readonly origin: string,
  ) {
    try {
      this.template = new Template(source);
    } catch (error) {
      throw new TokenizerError(`${origin}: chat_template does not parse (${messageOf(error)}); fix or remove it`);
    }
  }

  /**
   * Renders the conversation. The context has `messages`, `add_generation_prompt`, `bos_token`,
   * `eos_token`, `unk_token`, `pad_token` (empty strings when absent) and the engine's built-in
   * `raise_exception`, whose message becomes a TokenizerError.
   */
  render(messages: ChatMessage[], opts: ChatTemplateOptions = {}): string {
    messages.forEach((message, index) => {
      if (typeof message?.role !== 'string' || typeof message.content !== 'string') {
        throw new TokenizerError(`chat message ${index} needs string fields role and content; got ${JSON.stringify(message)}`);
      }
    });
    const { bosToken, eosToken, unkToken, padToken } = this.specialTokens;
    try {
      return this.template.render({
        // Copies, so a template that mutates its input cannot touch the caller's messages.
        messages: messages.map((message) => ({ ...message })),
        add_generation_prompt: opts.addGenerationPrompt ?? false,
        bos_token: bosToken ?? '',
        eos_token: eosToken ?? '',
        unk_token: unkToken ?? '',
        pad_token: padToken ?? '',
      });
    } catch (error) {
      throw new TokenizerError(`${this.origin}: chat template refused the conversation: ${messageOf(error)}`);
    }
  }
}

/**
 * Renders a conversation with the tokenizer's chat template and tokenizes it for generation.
 * Templates of Llama-2/Llama-3 style emit BOS themselves; encoding their output with special tokens
 * would give two BOS. So the text is encoded without special tokens, and BOS is prepended only when
 * the tokenizer adds one (`addBos`) and the rendered text does not already start with it.
 */
export function encodeChat(tok: TextTokenizer, messages: ChatMessage[], opts: ChatTemplateOptions = {}): number[] {
  const text = tok.applyChatTemplate(messages, opts);
  const ids = tok.encode(text, { addSpecialTokens: false });
  // The BOS token is an added token, so "the text starts with the BOS string" is "the first id is BOS".
  if (tok.addBos && tok.bosId !== null && ids[0] !== tok.bosId) ids.unshift(tok.bosId);
  return ids;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
