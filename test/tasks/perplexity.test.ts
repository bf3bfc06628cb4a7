// Perplexity suites: the protocol quantities pass through, --seqlen and the default window apply,
// --limit scores a prefix of whole documents, and the fixture model's numbers equal a direct call.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { NativeBackend } from '../../src/backends/native.js';
import { loadModelFromDir } from '../../src/model/load.js';
import { perplexity } from '../../src/model/scoring.js';
import { c4Task, textFileTask, tinystoriesTask, wikitext2Task } from '../../src/tasks/perplexity.js';
import { taskFor } from '../../src/tasks/registry.js';
import { LengthBackend } from '../helpers/length-backend.js';
import { shared, tempDir } from '../helpers/fixtures.js';

const data = shared('data');

test('wikitext2 --limit: whole articles, a prefix of the corpus; protocol numbers pass through', async () => {
  const backend = new LengthBackend(512);
  const r = await wikitext2Task.run({ backend, dataDir: data, seed: 0, limit: 2 });
  const text = backend.perplexityCalls[0].text;
  const full = fs.readFileSync(path.join(data, 'wikitext2', 'wiki.test.raw'), 'utf8').replace(/\r\n?/g, '\n');
  assert.ok(full.startsWith(text));
  assert.ok(text.startsWith(' = Robert Boulter = \n'));
  assert.ok(full.slice(text.length).startsWith('\n = Kiss You ( One Direction song ) = '));  // the third article starts next
  assert.equal(text.split('\n').filter((l) => /^ = [^=].* = ?$/.test(l)).length, 2);
  // LengthBackend: chars + BOS tokens, windows of 512 (the default: min(context 512, 2048)), ln 2 per scored token.
  const tokens = text.length + 1, windows = Math.ceil(tokens / 512);
  assert.equal(r.metrics.tokens.value, tokens);
  assert.equal(r.metrics.windows.value, windows);
  assert.equal(r.metrics.scored.value, tokens - windows);
  assert.ok(Math.abs(r.metrics.perplexity.value! - 2) < 1e-12);
  assert.deepEqual([r.metrics.perplexity.n_scored, r.metrics.perplexity.n_failed], [windows, 0]);
  assert.equal(r.config.seqlen, 512);
  assert.deepEqual([r.config.documents, r.config.documents_total, r.dataset.complete], [2, 62, false]);
  assert.equal(r.dataset.files[0].path, 'wikitext2/wiki.test.raw');
  assert.equal(r.samples.length, 1);

  const s = await wikitext2Task.run({ backend, dataDir: data, seed: 0, limit: 1, seqlen: 100 });
  assert.equal(s.config.seqlen, 100);
  assert.equal(backend.perplexityCalls[1].seqlen, 100);
});

test('c4 --limit: the first records joined as the corpus joins them; text:FILE lines', async () => {
  const backend = new LengthBackend(2048 * 4);
  const r = await c4Task.run({ backend, dataDir: data, seed: 0, limit: 3 });
  const docs = fs.readFileSync(path.join(data, 'c4', 'c4_sample.jsonl'), 'utf8').split('\n').slice(0, 3).map((l) => JSON.parse(l).text as string);
  assert.equal(backend.perplexityCalls[0].text, docs.join('\n\n'));
  assert.equal(r.config.seqlen, 2048);  // min(context, 2048)
  assert.deepEqual([r.config.documents, r.config.documents_total], [3, 1000]);

  const f = path.join(tempDir(), 'notes.txt');
  fs.writeFileSync(f, 'first line\r\n\r\nsecond line\r\nthird line\r\n');
  const t = taskFor(`text:${f}`);
  assert.equal(t.name, `text:${f}`);
  const two = await t.run({ backend, dataDir: data, seed: 0, limit: 2 });
  assert.equal(backend.perplexityCalls.at(-1)!.text, 'first line\r\n\r\nsecond line');
  assert.deepEqual([two.config.documents, two.config.documents_total], [2, 3]);
  await textFileTask(f).run({ backend, dataDir: data, seed: 0 });
  assert.equal(backend.perplexityCalls.at(-1)!.text, fs.readFileSync(f, 'utf8'));  // as is, like `perplexity --text`
  await assert.rejects(textFileTask(path.join(tempDir(), 'none.txt')).run({ backend, dataDir: data, seed: 0 }), /is not a file/);
  assert.throws(() => taskFor('nosuch'), /unknown task "nosuch"; available: .*wikitext2.*text:FILE/);
});

test('a missing corpus names what the data directory holds', async () => {
  await assert.rejects(c4Task.run({ backend: new LengthBackend(), dataDir: tempDir(), seed: 0 }), (e: Error) =>
    e.name === 'DatasetMissingError' && /C4 en sample .*c4\/c4_sample\.jsonl not found .* holds nothing\); it cannot be downloaded automatically/.test(e.message));
});

test('tinystories on the fixture model equals a direct perplexity call on the same prefix', async () => {
  const loaded = loadModelFromDir(shared('models', 'babyllama-tok105'));
  const r = await tinystoriesTask.run({ backend: new NativeBackend(loaded, 'baby'), dataDir: data, seed: 0, limit: 3 });
  const lines = fs.readFileSync(path.join(data, 'tinystories', 'TinyStories-valid-excerpt.txt'), 'utf8').replace(/\r\n?/g, '\n').split('\n');
  const direct = perplexity(loaded.model, loaded.tokenizer, lines.slice(0, 3).join('\n'), 256);
  assert.equal(r.config.seqlen, 256);  // the fixture's context
  assert.equal(r.metrics.perplexity.value, direct.perplexity);
  assert.equal(r.metrics.tokens.value, direct.tokens);
  assert.ok(direct.perplexity > 1.5 && direct.perplexity < 4, String(direct.perplexity));
});
