// Dataset file helpers: malformed lines are reported with file and line; a missing file says what is
// present and how to get the dataset; CSV is parsed as CSV; atomic writes leave no temporary files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { datasetFile, DatasetFormatError, DatasetMissingError, jsonErrorOffset, readCsv, readJson, readJsonl, readTsvLines, sha256FileSync, writeFileAtomic } from '../../src/data/files.js';
import { datasetByName, datasetOfFile, DATASETS, howToGet } from '../../src/data/catalogue.js';
import { MANIFEST } from '../../src/data/manifest.js';
import { shared, tempDir } from '../helpers/fixtures.js';

const dir = tempDir('compsafe-files-');
const write = (name: string, text: string): string => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
};

test('readJsonl: objects with their line numbers; a malformed line fails with file:line', () => {
  const ok = write('ok.jsonl', '{"a":1}\r\n\n{"a":2}\n');
  assert.deepEqual(readJsonl(ok), [{ line: 1, value: { a: 1 } }, { line: 3, value: { a: 2 } }]);
  const bad = write('bad.jsonl', '{"a":1}\n{"a":2}\n{"a":\n');
  assert.throws(() => readJsonl(bad), (e: Error) => e instanceof DatasetFormatError && e.message.startsWith(`${bad}:3: not valid JSON`));
  const notObject = write('arr.jsonl', '{"a":1}\n[1,2]\n');
  assert.throws(() => readJsonl(notObject), new RegExp(`${notObject}:2: expected a JSON object`));
});

test('readJson: a syntax error names the line and column', () => {
  const bad = write('bad.json', '[\n  {"aae": "x",\n   "sae": }\n]\n');
  assert.throws(() => readJson(bad), (e: Error) => e instanceof DatasetFormatError && e.message.startsWith(`${bad}:3:`));
  assert.deepEqual(readJson(write('bom.json', '\uFEFF{"x": [1]}')), { x: [1] });
  // Offsets of the first error, where V8's message may not say.
  const cases: [string, number][] = [['[1,]', 3], ['{"a" 1}', 5], ['{"a": tru}', 6], ['[1] x', 4], ['"abc', 4], ['[01]', 2], ['{"a": "\\q"}', 8], ['', 0]];
  for (const [text, at] of cases) {
    assert.throws(() => JSON.parse(text));
    assert.equal(jsonErrorOffset(text), at, text);
  }
});

test('readCsv: quoted fields with commas, quotes and line breaks; BOM; CRLF; start lines', () => {
  const f = write('q.csv', '\uFEFFq,a\r\n"one, two","say ""hi"""\r\n"multi\r\nline",x\r\nlast,y\r\n');
  const rows = readCsv(f, { header: true });
  assert.deepEqual(rows.map((r) => r.value), [{ q: 'one, two', a: 'say "hi"' }, { q: 'multi\r\nline', a: 'x' }, { q: 'last', a: 'y' }]);
  assert.deepEqual(rows.map((r) => r.line), [2, 3, 5]);
  assert.deepEqual(readCsv(write('n.csv', 'a,b\nc,d\n')).map((r) => r.value), [['a', 'b'], ['c', 'd']]);
  const ragged = write('ragged.csv', 'a,b\nc,d\ne\n');
  assert.throws(() => readCsv(ragged), (e: Error) => e instanceof DatasetFormatError && e.message.startsWith(`${ragged}:3:`));
  // The MMLU CSVs have line breaks inside quoted fields: rows are rows, not lines.
  const mmlu = readCsv(shared('data', 'mmlu', 'data', 'dev', 'abstract_algebra_dev.csv'));
  assert.equal(mmlu.length, 5);
  assert.ok(mmlu.every((r) => r.value.length === 6));
});

test('readTsvLines: a line with the wrong number of fields fails with file:line', () => {
  const f = write('pairs.txt', 'he be x\the is usually x\n\nshe be y\tshe is usually y');
  assert.deepEqual(readTsvLines(f, 2), [{ line: 1, fields: ['he be x', 'he is usually x'] }, { line: 3, fields: ['she be y', 'she is usually y'] }]);
  const bad = write('bad-pairs.txt', 'a\tb\nno tab here\n');
  assert.throws(() => readTsvLines(bad, 2), new RegExp(`${bad}:2: expected 2 tab-separated fields, found 1`));
});

test('datasetFile: a missing file names the dataset, what is present, and how to get it', () => {
  const data = tempDir('compsafe-data-');
  fs.mkdirSync(path.join(data, 'bbq', 'data'), { recursive: true });
  fs.writeFileSync(path.join(data, 'bbq', 'data', 'Age.jsonl'), '');
  fs.writeFileSync(path.join(data, 'bbq', 'data', 'Religion.jsonl'), '');
  assert.equal(datasetFile(data, 'bbq/data/Age.jsonl'), path.join(data, 'bbq', 'data', 'Age.jsonl'));
  assert.throws(() => datasetFile(data, 'bbq/data/SES.jsonl'), (e: Error) =>
    e instanceof DatasetMissingError && /BBQ .*bbq\/data\/SES\.jsonl not found/.test(e.message) &&
    e.message.includes('bbq/data/ holds Age.jsonl, Religion.jsonl') && e.message.includes('compsafe data fetch bbq'));
  // A dataset that cannot be downloaded says how to obtain it.
  assert.throws(() => datasetFile(data, 'wikitext2/wiki.test.raw'), (e: Error) =>
    /holds bbq/.test(e.message) && /cannot be downloaded automatically/.test(e.message) && /Salesforce\/wikitext/.test(e.message));
  assert.throws(() => datasetFile(path.join(data, 'nope'), 'c4/c4_sample.jsonl'), /data directory .*nope does not exist/);
});

test('catalogue: every reference file belongs to a dataset and has a manifest hash; names are unique', () => {
  const names = DATASETS.map((d) => d.name);
  assert.equal(new Set(names).size, names.length);
  for (const d of DATASETS) {
    for (const f of d.files) assert.ok(MANIFEST[f], `${d.name}: ${f} has no manifest entry`);
    for (const f of Object.keys(d.urls)) assert.ok(d.files.includes(f) || d.extraFiles.includes(f), `${d.name}: URL for unknown file ${f}`);
    for (const u of Object.values(d.urls)) assert.match(u, /^https:\/\//);
    assert.ok(Object.keys(d.urls).length > 0 || d.manual, `${d.name}: neither URLs nor manual instructions`);
  }
  assert.equal(datasetOfFile('bbq/data/Gender_identity.jsonl')?.name, 'bbq');
  assert.equal(datasetOfFile('lexicons/vader/vader_lexicon.txt')?.name, 'vader');
  assert.match(howToGet(datasetByName('dialect_prejudice')!), /compsafe data fetch dialect_prejudice/);
  // The manifest was generated from the reference copy: spot-check one hash independently.
  const wiki = shared('data', 'wikitext2', 'wiki.test.raw');
  assert.equal(MANIFEST['wikitext2/wiki.test.raw'].sha256, sha256FileSync(wiki));
  assert.equal(MANIFEST['wikitext2/wiki.test.raw'].sha256, '4f3e427e4aff23acff917a8a51aeae21bf12832256e26914c8fc250dcef4103c');
});

test('writeFileAtomic replaces a file whole and leaves no temporary file', () => {
  const f = path.join(dir, 'atomic.json');
  writeFileAtomic(f, 'old');
  writeFileAtomic(f, JSON.stringify({ v: 2 }));
  assert.equal(fs.readFileSync(f, 'utf8'), '{"v":2}');
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n.includes('.tmp-')), []);
});
