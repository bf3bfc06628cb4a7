// Text <-> token ids for a Hugging Face model folder, on @huggingface/tokenizers (a JS port of the
// `tokenizers` crate that reads tokenizer.json). This file adds what a causal-LM toolkit needs on top:
// the special-token ids from the config files, BOS handling that follows tokenizer_config.json,
// streaming decode, the slow GPT-2/Qwen2 files (vocab.json + merges.txt), and chat templates.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { Tokenizer } from '@huggingface/tokenizers';
import { TokenizerError } from '../core/errors.js';
import { ChatTemplate, findChatTemplate, type ChatMessage, type ChatTemplateOptions } from './chat-template.js';

export { encodeChat, type ChatMessage, type ChatTemplateOptions } from './chat-template.js';

/** A loaded tokenizer. Ids are plain numbers; all methods are synchronous. */
export interface TextTokenizer {
  /** Number of ids, including added tokens: one more than the largest id that has a token. */
  readonly vocabSize: number;
  /** Id of bos_token, or null when the tokenizer has none (Qwen2, BERT). */
  readonly bosId: number | null;
  /** Ids that end generation: eos_token of tokenizer_config.json, then eos ids of generation_config.json / config.json and the loader's `extra`. */
  readonly eosIds: number[];
  /** Id of pad_token, or null. */
  readonly padId: number | null;
  /** Whether encode(text, {addSpecialTokens: true}) prepends BOS: tokenizer_config.json add_bos_token when set, else what tokenizer.json's post_processor does. */
  readonly addBos: boolean;
  /** Token ids of `text`. With addSpecialTokens (default true) the post-processor's special tokens are added (BOS per `addBos`; [CLS] ... [SEP] for BERT). */
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  /**
   * Text of `ids` (default: special tokens kept). Ids without a token (e.g. the padding rows of an
   * embedding larger than the vocabulary) decode to nothing, as in Hugging Face's fast tokenizers.
   * Applies clean_up_tokenization_spaces as tokenizer_config.json says.
   */
  decode(ids: ArrayLike<number>, opts?: { skipSpecialTokens?: boolean }): string;
  /**
   * Decodes incrementally for streaming: returns the text that ids[0..n) adds beyond ids[0..n-1),
   * handling multi-token UTF-8 (byte fallback, byte-level BPE) without emitting U+FFFD halves: an
   * incomplete character is held back and comes out whole with the token that completes it. The
   * pieces, concatenated, equal decode(ids) without clean_up_tokenization_spaces (a character still
   * incomplete after the last token is dropped). Stateless; looks back a few tokens only.
   */
  decodeIncremental(ids: ArrayLike<number>, opts?: { skipSpecialTokens?: boolean }): string;
  /** Whether `id` is a special token: an added token marked special, or bos/eos/unk/pad/additional_special_tokens. */
  isSpecial(id: number): boolean;
  /** Whether the tokenizer has a chat template. */
  readonly hasChatTemplate: boolean;
  /**
   * Renders `messages` with the chat template (TokenizerError when there is none). Many templates
   * emit BOS themselves: tokenize the result with addSpecialTokens false then, or use encodeChat,
   * which gets this right.
   */
  applyChatTemplate(messages: ChatMessage[], opts?: ChatTemplateOptions): string;
}

// Tokens before the new one that decodeIncremental re-decodes: enough to hold a split 4-byte
// character (at most 3 pending tokens) plus context for decoders that look at neighbours.
const INCREMENTAL_LOOKBACK = 8;
const REPLACEMENT_CHARACTER = '\uFFFD';

// The pre-tokenizer regex of Qwen2Tokenizer (transformers' tokenization_qwen2.py), used with NFC.
const QWEN2_PRETOKENIZE_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

type JsonObject = Record<string, unknown>;

/**
 * The part of @huggingface/tokenizers' Tokenizer used here. The package's .d.ts files import each
 * other without file extensions, which NodeNext resolution rejects, so its exports type as `any`;
 * this interface restores type checking at our boundary.
 */
interface LibraryTokenizer {
  encode(text: string, options: { add_special_tokens: boolean }): { ids: number[] };
  decode(ids: number[], options: { skip_special_tokens: boolean; clean_up_tokenization_spaces: boolean }): string;
  token_to_id(token: string): number | undefined;
  id_to_token(id: number): string | undefined;
  get_added_tokens_decoder(): Map<number, { special: boolean }>;
  get_vocab(withAddedTokens: boolean): Map<string, number>;
}

interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/**
 * Loads from a model folder: tokenizer.json (+ tokenizer_config.json, special_tokens_map.json,
 * generation_config.json / config.json for eos ids). If there is no tokenizer.json but vocab.json +
 * merges.txt (GPT-2 / Qwen2 "slow" files), builds the equivalent byte-level BPE tokenizer.json in
 * memory (GPT-2 regex pre-tokenizer, or Qwen2's regex and NFC when tokenizer_class is
 * Qwen2Tokenizer; added tokens from tokenizer_config.json added_tokens_decoder and added_tokens.json).
 * A folder with only tokenizer.model (SentencePiece) and no tokenizer.json is a TokenizerError
 * explaining that tokenizer.json is needed. Gzipped tokenizer.json.gz is accepted too.
 * `extra.eosTokenIds` adds stop ids (e.g. from a chat recipe).
 */
export function loadTokenizer(dir: string, extra: { eosTokenIds?: number[] } = {}): TextTokenizer {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new TokenizerError(`tokenizer folder ${dir} does not exist; pass a model folder that contains tokenizer.json`);
  }
  const tokenizerConfig = readJsonObject(path.join(dir, 'tokenizer_config.json')) ?? {};
  const specialTokensMap = readJsonObject(path.join(dir, 'special_tokens_map.json')) ?? {};
  const generationConfig = readJsonObject(path.join(dir, 'generation_config.json')) ?? {};
  const modelConfig = readJsonObject(path.join(dir, 'config.json')) ?? {};
  const { json: tokenizerJson, file } = readTokenizerJson(dir, tokenizerConfig);

  // special_tokens_map.json wins over tokenizer_config.json, as in transformers.
  const tokenKeys = ['bos_token', 'eos_token', 'unk_token', 'pad_token'] as const;
  const tokenStrings: Partial<Record<(typeof tokenKeys)[number], string | null>> = {};
  for (const key of tokenKeys) {
    if (key in specialTokensMap) tokenStrings[key] = tokenText(specialTokensMap[key]);
    else if (key in tokenizerConfig) tokenStrings[key] = tokenText(tokenizerConfig[key]);
  }
  const additionalSpecial = asArray(specialTokensMap.additional_special_tokens ?? tokenizerConfig.additional_special_tokens)
    .map(tokenText)
    .filter((text): text is string => text !== null);
  const tokenizerClass = String(tokenizerConfig.tokenizer_class ?? '');
  // transformers' Llama and Qwen2 tokenizers default clean_up_tokenization_spaces to false; the base class to true.
  const cleanUpSpaces =
    typeof tokenizerConfig.clean_up_tokenization_spaces === 'boolean'
      ? tokenizerConfig.clean_up_tokenization_spaces
      : !/^(Llama|CodeLlama|Qwen2)/.test(tokenizerClass);

  let lib: LibraryTokenizer;
  try {
    lib = new Tokenizer(tokenizerJson, {
      ...tokenizerConfig,
      ...tokenStrings,
      additional_special_tokens: additionalSpecial,
      clean_up_tokenization_spaces: cleanUpSpaces,
    });
  } catch (error) {
    throw new TokenizerError(`${file}: cannot build the tokenizer (${messageOf(error)}); this tokenizer type is not supported`);
  }

  const idOf = (text: string | null | undefined): number | null => (text == null ? null : lib.token_to_id(text) ?? null);
  const configId = (key: string): number | null => firstId(generationConfig[key] ?? modelConfig[key]);
  const bosId = 'bos_token' in tokenStrings ? idOf(tokenStrings.bos_token) : configId('bos_token_id');
  const padId = 'pad_token' in tokenStrings ? idOf(tokenStrings.pad_token) : configId('pad_token_id');
  const eosId = idOf(tokenStrings.eos_token);
  const eosIds = uniqueIds([
    eosId,
    ...asArray(generationConfig.eos_token_id),
    ...asArray(modelConfig.eos_token_id),
    ...(extra.eosTokenIds ?? []),
  ]);

  const specialIds = new Set<number>();
  for (const [id, token] of lib.get_added_tokens_decoder()) if (token.special) specialIds.add(id);
  for (const id of [bosId, padId, idOf(tokenStrings.unk_token), ...eosIds, ...additionalSpecial.map(idOf)]) {
    if (id !== null) specialIds.add(id);
  }
  let vocabSize = 0;
  for (const id of lib.get_vocab(true).values()) vocabSize = Math.max(vocabSize, id + 1);

  // What the post-processor adds, probed once, so that add_bos_token / add_eos_token can override it.
  const plain = lib.encode('a', { add_special_tokens: false }).ids;
  const withSpecial = lib.encode('a', { add_special_tokens: true }).ids;
  const processorAddsBos = bosId !== null && withSpecial[0] === bosId && plain[0] !== bosId;
  const processorAddsEos = eosId !== null && withSpecial.at(-1) === eosId && plain.at(-1) !== eosId;
  const addBos = bosId !== null && asBoolean(tokenizerConfig.add_bos_token, processorAddsBos);
  const addEos = eosId !== null && asBoolean(tokenizerConfig.add_eos_token, processorAddsEos);

  const template = findChatTemplate(dir, tokenizerConfig);
  const chatTemplate =
    template &&
    new ChatTemplate(
      template.source,
      {
        bosToken: tokenStrings.bos_token ?? null,
        eosToken: tokenStrings.eos_token ?? null,
        unkToken: tokenStrings.unk_token ?? null,
        padToken: tokenStrings.pad_token ?? null,
      },
      template.file,
    );

  // Ids to hand to the library decoder: drop ids it has no token for (it would print "undefined"), and specials when asked.
  const isDecodable = (id: number, skipSpecial: boolean): boolean => lib.id_to_token(id) !== undefined && !(skipSpecial && specialIds.has(id));
  const decodable = (ids: ArrayLike<number>, skipSpecial: boolean): number[] =>
    Array.from(ids).filter((id) => isDecodable(id, skipSpecial));
  const decodeList = (ids: number[], cleanUp: boolean): string =>
    ids.length === 0 ? '' : lib.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: cleanUp });

  return {
    vocabSize,
    bosId,
    eosIds,
    padId,
    addBos,
    hasChatTemplate: chatTemplate !== null,
    encode(text, opts = {}) {
      const addSpecialTokens = opts.addSpecialTokens ?? true;
      const ids = lib.encode(text, { add_special_tokens: addSpecialTokens }).ids;
      if (!addSpecialTokens) return ids;
      if (bosId !== null && addBos !== processorAddsBos) {
        if (addBos) ids.unshift(bosId);
        else ids.shift();
      }
      if (eosId !== null && addEos !== processorAddsEos) {
        if (addEos) ids.push(eosId);
        else ids.pop();
      }
      return ids;
    },
    decode(ids, opts = {}) {
      return decodeList(decodable(ids, opts.skipSpecialTokens ?? false), cleanUpSpaces);
    },
    decodeIncremental(ids, opts = {}) {
      const skipSpecial = opts.skipSpecialTokens ?? false;
      const count = ids.length;
      if (count === 0) return '';
      const last = ids[count - 1];
      if (!isDecodable(last, skipSpecial)) return '';
      // The same window of earlier tokens is decoded with and without the new one, so whatever the decoder
      // does at the window's start (Strip drops a leading space) cancels out; at least one earlier
      // decodable token is needed for the new token's leading space to survive.
      const before: number[] = [];
      for (let i = count - 2; i >= 0 && before.length < INCREMENTAL_LOOKBACK; i--) {
        if (isDecodable(ids[i], skipSpecial)) before.unshift(ids[i]);
      }
      const previous = stableText(decodeList(before, false));
      const current = stableText(decodeList([...before, last], false));
      // Decoders append text, so `previous` is a prefix of `current`; the guard keeps odd decoders from duplicating text.
      return current.startsWith(previous) ? current.slice(previous.length) : current.slice(commonPrefixLength(previous, current));
    },
    isSpecial(id) {
      return specialIds.has(id);
    },
    applyChatTemplate(messages, opts = {}) {
      if (chatTemplate === null) {
        throw new TokenizerError(
          `${path.join(dir, 'tokenizer_config.json')} has no chat_template (nor is there a chat_template.jinja); use a chat/instruct model's tokenizer or format the prompt yourself`,
        );
      }
      return chatTemplate.render(messages, opts);
    },
  };
}

/** tokenizer.json, tokenizer.json.gz, or one built from vocab.json + merges.txt; TokenizerError for anything else. */
function readTokenizerJson(dir: string, tokenizerConfig: JsonObject): { json: JsonObject; file: string } {
  const jsonFile = path.join(dir, 'tokenizer.json');
  if (fs.existsSync(jsonFile)) return { json: requireJsonObject(jsonFile, fs.readFileSync(jsonFile, 'utf8')), file: jsonFile };
  const gzFile = `${jsonFile}.gz`;
  if (fs.existsSync(gzFile)) {
    let text: string;
    try {
      text = zlib.gunzipSync(fs.readFileSync(gzFile)).toString('utf8');
    } catch (error) {
      throw new TokenizerError(`${gzFile}: not a valid gzip file (${messageOf(error)}); re-download it`);
    }
    return { json: requireJsonObject(gzFile, text), file: gzFile };
  }
  const vocabFile = path.join(dir, 'vocab.json');
  const mergesFile = path.join(dir, 'merges.txt');
  if (fs.existsSync(vocabFile)) {
    if (!fs.existsSync(mergesFile)) throw new TokenizerError(`${mergesFile} is missing (vocab.json needs its merges.txt); download it or tokenizer.json`);
    return { json: buildByteLevelBpe(dir, vocabFile, mergesFile, tokenizerConfig), file: vocabFile };
  }
  if (fs.existsSync(path.join(dir, 'tokenizer.model'))) {
    throw new TokenizerError(
      `${path.join(dir, 'tokenizer.model')} is a SentencePiece model, which compsafe cannot read; tokenizer.json is needed: download it from the model's hub page or run transformers' AutoTokenizer.from_pretrained(dir).save_pretrained(dir)`,
    );
  }
  throw new TokenizerError(`no tokenizer in ${dir}: expected tokenizer.json (or tokenizer.json.gz, or vocab.json + merges.txt)`);
}

/**
 * The tokenizer.json transformers' converter writes for GPT2Tokenizer / Qwen2Tokenizer slow files:
 * byte-level BPE with GPT-2's regex (inside the ByteLevel pre-tokenizer) or Qwen2's regex + NFC.
 */
function buildByteLevelBpe(dir: string, vocabFile: string, mergesFile: string, tokenizerConfig: JsonObject): JsonObject {
  const vocab = requireJsonObject(vocabFile, fs.readFileSync(vocabFile, 'utf8'));
  const merges = fs
    .readFileSync(mergesFile, 'utf8')
    .split(/\r?\n/)
    .filter((line, index) => line.length > 0 && !(index === 0 && line.startsWith('#version')));
  const added = new Map<number, AddedTokenJson>();
  const decoderEntries = tokenizerConfig.added_tokens_decoder;
  if (decoderEntries && typeof decoderEntries === 'object') {
    for (const [id, entry] of Object.entries(decoderEntries as Record<string, JsonObject>)) {
      if (typeof entry?.content !== 'string') continue;
      added.set(Number(id), {
        id: Number(id),
        content: entry.content,
        single_word: entry.single_word === true,
        lstrip: entry.lstrip === true,
        rstrip: entry.rstrip === true,
        normalized: entry.normalized === true,
        special: entry.special === true,
      });
    }
  }
  // Older slow folders list added tokens in added_tokens.json ({content: id}) and special tokens by name only.
  const addedFile = readJsonObject(path.join(dir, 'added_tokens.json')) ?? {};
  const specialNames = new Set(
    [...['bos_token', 'eos_token', 'unk_token', 'pad_token'].map((key) => tokenizerConfig[key]), ...asArray(tokenizerConfig.additional_special_tokens)]
      .map(tokenText)
      .filter((text): text is string => text !== null),
  );
  const byContent = new Set([...added.values()].map((token) => token.content));
  const extraTokens: [string, unknown][] = [...Object.entries(addedFile), ...[...specialNames].map((name): [string, unknown] => [name, vocab[name]])];
  for (const [content, id] of extraTokens) {
    if (typeof id !== 'number' || byContent.has(content)) continue;
    byContent.add(content);
    added.set(id, { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: specialNames.has(content) });
  }
  const qwen2 = String(tokenizerConfig.tokenizer_class ?? '').startsWith('Qwen2');
  const byteLevelAfterSplit = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [...added.values()].sort((a, b) => a.id - b.id),
    normalizer: qwen2 ? { type: 'NFC' } : null,
    pre_tokenizer: qwen2
      ? {
          type: 'Sequence',
          pretokenizers: [{ type: 'Split', pattern: { Regex: QWEN2_PRETOKENIZE_REGEX }, behavior: 'Isolated', invert: false }, byteLevelAfterSplit],
        }
      : { type: 'ByteLevel', add_prefix_space: tokenizerConfig.add_prefix_space === true, trim_offsets: true, use_regex: true },
    post_processor: byteLevelAfterSplit,
    decoder: byteLevelAfterSplit,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
}

function readJsonObject(file: string): JsonObject | null {
  return fs.existsSync(file) ? requireJsonObject(file, fs.readFileSync(file, 'utf8')) : null;
}

function requireJsonObject(file: string, text: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new TokenizerError(`${file}: invalid JSON (${messageOf(error)}); re-download the file`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TokenizerError(`${file}: expected a JSON object; re-download the file`);
  }
  return value as JsonObject;
}

/** A special token's text: a string, or an object {content} (older configs' AddedToken form). */
function tokenText(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && typeof (value as JsonObject).content === 'string') return (value as { content: string }).content;
  return null;
}

function asArray(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

function asBoolean(value: unknown, fallback: boolean): boolean {
  return typeof value === 'boolean' ? value : fallback;
}

function firstId(value: unknown): number | null {
  const first = asArray(value)[0];
  return Number.isInteger(first) ? (first as number) : null;
}

function uniqueIds(values: unknown[]): number[] {
  const ids: number[] = [];
  for (const value of values) if (Number.isInteger(value) && !ids.includes(value as number)) ids.push(value as number);
  return ids;
}

/** Text without a trailing U+FFFD: that is what a decoder prints for a UTF-8 character whose last bytes have not arrived yet. */
function stableText(text: string): string {
  return text.endsWith(REPLACEMENT_CHARACTER) ? text.slice(0, -1) : text;
}

function commonPrefixLength(a: string, b: string): number {
  let length = 0;
  while (length < a.length && length < b.length && a[length] === b[length]) length++;
  return length;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
