// Calibration windows: the documented procedure, reproducibility, and clear errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { loadTokenizer } from '../../src/model/tokenizer.js';
import { Xoshiro128 } from '../../src/model/sampling.js';
import { calibrationSeqlen, randint, resolveCalibrationSource, sampleCalibration } from '../../src/compress/calibration.js';
import { FileFormatError, UsageError } from '../../src/core/errors.js';
import { shared, tempDir } from '../helpers/fixtures.js';

const tok = loadTokenizer(shared('models', 'babyllama-tok105'));
const data = shared('data');

test('randint is uniform over [lo, hi] inclusive and reproducible', () => {
  const g = new Xoshiro128(3), counts = [0, 0, 0];
  for (let i = 0; i < 30000; i++) counts[randint(g, 4, 6) - 4]++;
  for (const c of counts) assert.ok(Math.abs(c - 10000) < 400, String(counts));
  const a = new Xoshiro128(9), b = new Xoshiro128(9);
  for (let i = 0; i < 100; i++) assert.equal(randint(a, 0, 999), randint(b, 0, 999));
  assert.equal(randint(new Xoshiro128(1), 7, 7), 7);
});

test('c4 windows follow the documented get_c4 procedure, and the same seed gives the same windows', () => {
  const src = resolveCalibrationSource('c4', data);
  assert.equal(src.name, 'c4/c4_sample.jsonl');
  const set = sampleCalibration(tok, src, { nsamples: 6, seqlen: 64, seed: 5 });
  assert.equal(set.samples.length, 6);
  assert.ok(set.samples.every((s) => s.length === 64));
  assert.equal(set.sha256, crypto.createHash('sha256').update(fs.readFileSync(src.file)).digest('hex'));
  // The procedure, written out independently.
  const docs = fs.readFileSync(src.file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => (JSON.parse(l) as { text: string }).text);
  const g = new Xoshiro128(5, 0), want: number[][] = [];
  while (want.length < 6) {
    let ids: number[];
    do ids = tok.encode(docs[randint(g, 0, docs.length - 1)]); while (ids.length <= 64);
    const i = randint(g, 0, ids.length - 64 - 1);
    want.push(ids.slice(i, i + 64));
  }
  assert.deepEqual(set.samples, want);
  assert.deepEqual(sampleCalibration(tok, src, { nsamples: 6, seqlen: 64, seed: 5 }).samples, set.samples);
  assert.notDeepEqual(sampleCalibration(tok, src, { nsamples: 6, seqlen: 64, seed: 6 }).samples, set.samples);
});

test('a plain-text FILE is tokenized once and windows drawn from it; too little text is a clear error', () => {
  const dir = tempDir();
  const file = path.join(dir, 'calib.txt');
  fs.writeFileSync(file, 'Once upon a time there was a small dog.\r\nIt liked to run in the park every day.\n');
  const src = resolveCalibrationSource(file);
  assert.equal(src.kind, 'file');
  assert.equal(src.name, 'calib.txt');
  const ids = tok.encode(fs.readFileSync(file, 'utf8').replace(/\r\n?/g, '\n'));
  const set = sampleCalibration(tok, src, { nsamples: 4, seqlen: 16, seed: 0 });
  const g = new Xoshiro128(0);
  for (const s of set.samples) {
    const i = randint(g, 0, ids.length - 17);
    assert.deepEqual(s, ids.slice(i, i + 16));
  }
  assert.throws(() => sampleCalibration(tok, src, { nsamples: 1, seqlen: ids.length, seed: 0 }), (e: Error) => e instanceof UsageError && /has \d+ tokens; windows of --seqlen \d+ need more/.test(e.message));
  fs.mkdirSync(path.join(dir, 'c4'));
  fs.writeFileSync(path.join(dir, 'c4', 'c4_sample.jsonl'), ['short one', 'another short document', 'x'].map((t) => JSON.stringify({ text: t })).join('\n'));
  assert.throws(() => sampleCalibration(tok, resolveCalibrationSource('c4', dir), { nsamples: 1, seqlen: 64 }), /no document is longer than --seqlen 64/);
  assert.throws(() => resolveCalibrationSource(path.join(dir, 'missing.txt')), UsageError);
  assert.throws(() => resolveCalibrationSource('c4', path.join(dir, 'nothing-here')), (e: Error) => e instanceof FileFormatError && /c4\/c4_sample.jsonl/.test(e.message));
  assert.throws(() => resolveCalibrationSource('wikitext2', data), /wiki\.train\.raw.*train split/);
});

test('seqlen: the flag (default 2048) capped by the model context', () => {
  assert.equal(calibrationSeqlen(undefined, 256), 256);
  assert.equal(calibrationSeqlen(undefined, 131072), 2048);
  assert.equal(calibrationSeqlen(64, 256), 64);
  assert.equal(calibrationSeqlen(4096, 1024), 1024);
});
