import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { shared, tempDir } from '../helpers/fixtures.js';
import { encodeChat, loadTokenizer, type TextTokenizer } from '../../src/model/tokenizer.js';
import { TokenizerError } from '../../src/core/errors.js';

// Each real tokenizer is loaded once (the big ones take ~0.3-1.3 s).
const loaded = new Map<string, TextTokenizer>();
function tokenizer(...parts: string[]): TextTokenizer {
  const key = parts.join('/');
  let tok = loaded.get(key);
  if (!tok) {
    tok = loadTokenizer(shared(...parts));
    loaded.set(key, tok);
  }
  return tok;
}

// One temporary root (tempDir registers an exit hook per call), a fresh folder inside it per case.
const scratch = tempDir();
function freshDir(): string {
  return fs.mkdtempSync(path.join(scratch, 'case-'));
}

/** A folder holding copies of `files` from `from`, plus `written` ({name: contents}). */
function folderWith(from: string, files: string[], written: Record<string, string> = {}): string {
  const dir = freshDir();
  for (const file of files) fs.copyFileSync(path.join(from, file), path.join(dir, file));
  for (const [name, contents] of Object.entries(written)) fs.writeFileSync(path.join(dir, name), contents);
  return dir;
}

/**
 * llama.cpp's test vectors: in `.inp` every string is followed by "\n__ggml_vocab_test__\n" (so a
 * string that is itself "\n" shows as an empty line before the separator); `.out` has one line per
 * string of space-separated ids without BOS (tokenizer.encode(text, add_special_tokens=False)).
 */
function referenceVectors(family: string): { text: string; ids: number[] }[] {
  const file = (ext: string) => shared('tokenizers', 'reference-tokenizations', `ggml-vocab-${family}.gguf.${ext}`);
  const texts = fs.readFileSync(file('inp'), 'utf8').split('\n__ggml_vocab_test__\n');
  assert.equal(texts.pop(), '', 'the .inp file ends with a separator');
  const lines = fs.readFileSync(file('out'), 'utf8').split('\n').slice(0, texts.length);
  assert.equal(lines.length, texts.length);
  return texts.map((text, i) => ({ text, ids: lines[i].trim() === '' ? [] : lines[i].trim().split(/ +/).map(Number) }));
}

function mismatches(tok: TextTokenizer, family: string): string[] {
  const vectors = referenceVectors(family);
  assert.equal(vectors.length, 46);
  return vectors
    .filter(({ text, ids }) => JSON.stringify(tok.encode(text, { addSpecialTokens: false })) !== JSON.stringify(ids))
    .map(({ text, ids }) => `${JSON.stringify(text)}: expected ${ids.join(' ')}, got ${tok.encode(text, { addSpecialTokens: false }).join(' ')}`);
}

// All six families reproduce llama.cpp's vectors on 46/46 strings (llama3 and qwen2 included), so every
// family asserts all 46; a mismatch prints the string and both id lists.
const families: [string, string[]][] = [
  ['llama-spm', ['tokenizers', 'llama2']],
  ['gpt-2', ['tokenizers', 'gpt2']],
  ['bert-bge', ['tokenizers', 'bert-base-uncased']],
  ['phi-3', ['tokenizers', 'phi-3-mini']],
  ['llama-bpe', ['tokenizers', 'llama3']], // tokenizer.json.gz
  ['qwen2', ['tokenizers', 'qwen2.5']], // vocab.json + merges.txt, built in memory
];
for (const [family, folder] of families) {
  test(`${folder[1]} reproduces llama.cpp's ${family} reference tokenizations (46/46)`, () => {
    assert.deepEqual(mismatches(tokenizer(...folder), family), []);
  });
}

test('gpt2 built from vocab.json + merges.txt tokenizes like its tokenizer.json', () => {
  const source = shared('tokenizers', 'gpt2');
  const slow = loadTokenizer(folderWith(source, ['vocab.json', 'merges.txt', 'tokenizer_config.json', 'config.json']));
  assert.deepEqual(mismatches(slow, 'gpt-2'), []);
  const fast = tokenizer('tokenizers', 'gpt2');
  const text = 'Hello <|endoftext|> world 🦙\n\n  spaced';
  assert.deepEqual(slow.encode(text), fast.encode(text));
  assert.equal(slow.vocabSize, 50257);
  assert.equal(slow.isSpecial(50256), true);
  assert.deepEqual(slow.eosIds, [50256]);
});

test('special ids and BOS policy follow the config files', () => {
  const llama2 = tokenizer('tokenizers', 'llama2');
  assert.deepEqual([llama2.vocabSize, llama2.bosId, llama2.eosIds, llama2.padId, llama2.addBos], [32000, 1, [2], null, true]);
  assert.deepEqual(llama2.encode('Hello world'), [1, 15043, 3186]);
  assert.deepEqual(llama2.encode(''), [1]);

  const phi3 = tokenizer('tokenizers', 'phi-3-mini'); // add_bos_token: false
  assert.deepEqual([phi3.vocabSize, phi3.bosId, phi3.eosIds, phi3.padId, phi3.addBos], [32011, 1, [32000], 32000, false]);
  assert.deepEqual(phi3.encode('Hello world'), [15043, 3186]);

  // This Llama-3 tokenizer.json is the original release's: its post_processor is ByteLevel (adds no
  // <|begin_of_text|>) and tokenizer_config.json has no add_bos_token, so transformers adds no BOS either.
  const llama3 = tokenizer('tokenizers', 'llama3');
  assert.deepEqual([llama3.vocabSize, llama3.bosId, llama3.eosIds, llama3.addBos], [128256, 128000, [128009], false]);

  const qwen = tokenizer('tokenizers', 'qwen2.5');
  assert.deepEqual([qwen.vocabSize, qwen.bosId, qwen.eosIds, qwen.padId, qwen.addBos], [151665, null, [151645], 151643, false]);
  assert.equal(qwen.isSpecial(151644), true);

  const bert = tokenizer('tokenizers', 'bert-base-uncased'); // no configs: post_processor adds [CLS] ... [SEP]
  assert.deepEqual(bert.encode('Hello world'), [101, 7592, 2088, 102]);
  assert.deepEqual(bert.encode('Hello world', { addSpecialTokens: false }), [7592, 2088]);
  assert.equal(bert.bosId, null);
});

test('add_bos_token / add_eos_token override the post-processor; eos ids gather from every config', () => {
  const source = shared('models', 'stories260K');
  const files = ['tokenizer.json', 'special_tokens_map.json'];
  const config = JSON.parse(fs.readFileSync(path.join(source, 'tokenizer_config.json'), 'utf8'));
  const noBos = loadTokenizer(
    folderWith(source, files, { 'tokenizer_config.json': JSON.stringify({ ...config, add_bos_token: false, add_eos_token: true }) }),
  );
  assert.equal(noBos.addBos, false);
  assert.deepEqual(noBos.encode('Once upon a time'), [403, 407, 261, 378, 2]);

  const dir = folderWith(source, [...files, 'tokenizer_config.json'], {
    'generation_config.json': JSON.stringify({ eos_token_id: [2, 5] }),
    'config.json': JSON.stringify({ eos_token_id: 6 }),
  });
  assert.deepEqual(loadTokenizer(dir, { eosTokenIds: [7, 2] }).eosIds, [2, 5, 6, 7]);
});

test('stories260K matches the golden greedy run', () => {
  const tok = tokenizer('models', 'stories260K');
  const golden = JSON.parse(fs.readFileSync(shared('models', 'stories260K', 'golden_greedy.json'), 'utf8')) as {
    prompt: string;
    prompt_ids: number[];
    generated_ids: number[];
    text: string;
  }[];
  for (const run of golden) assert.deepEqual(tok.encode(run.prompt), run.prompt_ids, `prompt ${JSON.stringify(run.prompt)}`);
  const story = golden.find((run) => run.prompt === 'Once upon a time')!;
  const decoded = tok.decode([...story.prompt_ids, ...story.generated_ids], { skipSpecialTokens: true });
  assert.ok(decoded.startsWith('Once upon a time, there was a little girl named Lily.'), decoded);
  // llama2.c prints byte tokens as <0x0A>; we decode them to the byte.
  assert.equal(decoded, story.text.replaceAll('<0x0A>', '\n'));
  const unconditional = golden.find((run) => run.prompt === '')!;
  assert.equal(tok.decode(unconditional.generated_ids), unconditional.text.replaceAll('<0x0A>', '\n'));
  assert.equal(tok.decode([1, 403]), '<s> Once');
});

test('babyllama-tok105 is character-level: unknown characters become <unk> (0), a TinyStories line round-trips', () => {
  const tok = tokenizer('models', 'babyllama-tok105');
  assert.deepEqual([tok.vocabSize, tok.bosId, tok.eosIds, tok.addBos], [105, 1, [2], true]);
  const line = fs.readFileSync(shared('data', 'tinystories', 'TinyStories-valid-excerpt.txt'), 'utf8').split(/\r?\n/)[0];
  const ids = tok.encode(line);
  assert.equal(ids[0], 1);
  assert.equal(ids.length, line.length + 2, 'BOS, the leading ▁, then one id per character');
  assert.ok(!ids.includes(0));
  assert.equal(tok.decode(ids, { skipSpecialTokens: true }), line);
  const withUnknown = tok.encode('a§b', { addSpecialTokens: false });
  assert.deepEqual(withUnknown, [3, tok.encode('a', { addSpecialTokens: false })[1], 0, tok.encode('b', { addSpecialTokens: false })[1]]);
});

test('decode: skipSpecialTokens, ids without a token, empty input', () => {
  const phi3 = tokenizer('tokenizers', 'phi-3-mini');
  const ids = [32010, 15043, 32007, 32050];
  assert.equal(phi3.decode(ids), '<|user|> Hello<|end|>');
  assert.equal(phi3.decode(ids, { skipSpecialTokens: true }), 'Hello');
  assert.equal(phi3.decode([]), '');
  assert.equal(phi3.decode(new Int32Array([15043, 3186])), 'Hello world');
  assert.equal(phi3.isSpecial(32007), true);
  assert.equal(phi3.isSpecial(15043), false);
});

/** Feeds ids one at a time through decodeIncremental. */
function stream(tok: TextTokenizer, ids: number[], opts?: { skipSpecialTokens?: boolean }): string[] {
  return ids.map((_, i) => tok.decodeIncremental(ids.slice(0, i + 1), opts));
}

test('decodeIncremental emits a byte-fallback emoji once, whole, with no U+FFFD (llama2)', () => {
  const tok = tokenizer('tokenizers', 'llama2');
  const ids = tok.encode('Hi 🦙 there!');
  assert.deepEqual(ids, [1, 6324, 29871, 243, 162, 169, 156, 727, 29991], 'the llama is four byte tokens');
  const pieces = stream(tok, ids);
  assert.deepEqual(pieces, ['<s>', ' Hi', ' ', '', '', '', '🦙', ' there', '!']);
  assert.equal(pieces.join(''), tok.decode(ids));
  assert.deepEqual(stream(tok, ids, { skipSpecialTokens: true }).join(''), 'Hi 🦙 there!');
  // Skipped specials between words do not eat the space: the window reaches back to a real token.
  const spaced = [1, 6324, ...Array(12).fill(2), 727, 29991];
  assert.deepEqual(stream(tok, spaced, { skipSpecialTokens: true }).join(''), 'Hi there!');
  assert.equal(tok.decode(spaced, { skipSpecialTokens: true }), 'Hi there!');
});

test('decodeIncremental over long byte-level text equals decode, piece by piece without U+FFFD', () => {
  const text = `${'Once upon a time 😶‍🌫️ 我想在apple工作 нещо ✅. '.repeat(6)}🦙🦙`;
  for (const folder of ['gpt2', 'llama3', 'qwen2.5', 'llama2']) {
    const tok = tokenizer('tokenizers', folder);
    const ids = tok.encode(text, { addSpecialTokens: false });
    const pieces = stream(tok, ids);
    assert.ok(pieces.every((piece) => !piece.includes('\uFFFD')), folder);
    assert.equal(pieces.join(''), text, folder);
  }
});

test('chat templates render as the templates say', () => {
  const conversation = [
    { role: 'system', content: 'You are a helpful assistant.' },
    { role: 'user', content: 'What is 2+2?' },
  ];
  const llama3 = tokenizer('tokenizers', 'llama3');
  assert.equal(
    llama3.applyChatTemplate(conversation, { addGenerationPrompt: true }),
    '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>' +
      '<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
  );
  const qwen = tokenizer('tokenizers', 'qwen2.5');
  assert.equal(
    qwen.applyChatTemplate(conversation, { addGenerationPrompt: true }),
    '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n',
  );
  // Without a system message Qwen2.5's template supplies its own.
  assert.equal(
    qwen.applyChatTemplate([{ role: 'user', content: 'Hi' }]),
    '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n',
  );
  const phi3 = tokenizer('tokenizers', 'phi-3-mini');
  assert.equal(
    phi3.applyChatTemplate(conversation, { addGenerationPrompt: true }),
    '<|system|>\nYou are a helpful assistant.<|end|>\n<|user|>\nWhat is 2+2?<|end|>\n<|assistant|>\n',
  );
  assert.ok(phi3.applyChatTemplate(conversation).endsWith('<|end|>\n<|endoftext|>'), 'eos_token reaches the template');
});

test('encodeChat gives exactly one BOS, and only where the tokenizer uses one', () => {
  const conversation = [{ role: 'user', content: 'Hello' }];
  const llama3 = tokenizer('tokenizers', 'llama3');
  const llama3Ids = encodeChat(llama3, conversation, { addGenerationPrompt: true });
  assert.deepEqual(llama3Ids.slice(0, 3), [128000, 128006, 882]);
  assert.equal(llama3Ids.filter((id) => id === 128000).length, 1);
  assert.equal(llama3Ids.at(-1), 271, 'ends with the "\\n\\n" after the assistant header');

  // A template that does not emit BOS, on a tokenizer that adds one: encodeChat prepends it.
  const source = shared('models', 'stories260K');
  const config = JSON.parse(fs.readFileSync(path.join(source, 'tokenizer_config.json'), 'utf8'));
  const withTemplate = (chatTemplate: unknown) =>
    loadTokenizer(folderWith(source, ['tokenizer.json'], { 'tokenizer_config.json': JSON.stringify({ ...config, chat_template: chatTemplate }) }));
  const plain = withTemplate('{% for m in messages %}{{ m.content }}{% endfor %}');
  assert.deepEqual(encodeChat(plain, conversation), plain.encode('Hello'));
  const bosTemplate = withTemplate([{ name: 'default', template: '{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}' }]);
  assert.deepEqual(encodeChat(bosTemplate, conversation), plain.encode('Hello'));

  // Newer transformers save the template beside the config, in chat_template.jinja.
  const jinjaFile = loadTokenizer(folderWith(source, ['tokenizer.json'], { 'chat_template.jinja': '[{{ messages[0].content }}]' }));
  assert.equal(jinjaFile.applyChatTemplate(conversation), '[Hello]');

  const qwen = tokenizer('tokenizers', 'qwen2.5');
  assert.equal(encodeChat(qwen, conversation)[0], 151644, 'no BOS for Qwen');
});

test('chat template errors are TokenizerErrors', () => {
  assert.equal(tokenizer('tokenizers', 'llama2').hasChatTemplate, false);
  assert.throws(() => tokenizer('tokenizers', 'llama2').applyChatTemplate([{ role: 'user', content: 'x' }]), TokenizerError);
  const source = shared('models', 'stories260K');
  const strict = loadTokenizer(
    folderWith(source, ['tokenizer.json'], { 'tokenizer_config.json': JSON.stringify({ chat_template: "{{ raise_exception('System role not supported') }}" }) }),
  );
  assert.throws(() => strict.applyChatTemplate([{ role: 'system', content: 'x' }]), (error: unknown) => {
    return error instanceof TokenizerError && error.message.includes('System role not supported');
  });
  assert.throws(
    () => loadTokenizer(folderWith(source, ['tokenizer.json'], { 'tokenizer_config.json': JSON.stringify({ chat_template: [{ name: 'tool_use', template: 'x' }] }) })),
    /none named "default"/,
  );
});

test('loader errors name the file and the fix', () => {
  const spm = folderWith(shared('tokenizers', 'llama2'), ['tokenizer.model', 'tokenizer_config.json']);
  assert.throws(() => loadTokenizer(spm), (error: unknown) => error instanceof TokenizerError && /tokenizer\.model.*tokenizer\.json is needed/.test(error.message));
  assert.throws(() => loadTokenizer(freshDir()), /no tokenizer in .*expected tokenizer\.json/);
  assert.throws(() => loadTokenizer(path.join(freshDir(), 'absent')), /does not exist/);
  const broken = folderWith(shared('models', 'stories260K'), ['tokenizer.json'], { 'tokenizer_config.json': '{"bos_token": ' });
  assert.throws(() => loadTokenizer(broken), /tokenizer_config\.json: invalid JSON/);
  const noMerges = folderWith(shared('tokenizers', 'gpt2'), ['vocab.json']);
  assert.throws(() => loadTokenizer(noMerges), /merges\.txt is missing/);
  for (const thrower of [() => loadTokenizer(spm), () => loadTokenizer(broken)]) {
    assert.throws(thrower, (error: unknown) => error instanceof Error && !error.message.includes('\n'));
  }
});
