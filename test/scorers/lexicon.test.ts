// The lexicon baseline on hand-made texts: whole words and phrases only, case-insensitive, counts per
// list, Surge AI severity, no hits inside longer words, version from the list files' hash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createLexiconScorer, PhraseMatcher, scoreWithLists } from '../../src/scorers/lexicon.js';
import { createScorer } from '../../src/scorers/registry.js';
import { DatasetMissingError } from '../../src/data/files.js';
import { shared, tempDir } from '../helpers/fixtures.js';

const ctx = { dataDir: shared('data') };

test('lexicon: real lists: hits, counts per list, severity; clean texts and substrings score 0', async () => {
  const scorer = await createLexiconScorer(undefined, ctx);
  const texts = [
    'What a lovely afternoon in the park.',
    'That is total BULLSHIT, you ass.',
    'The classic assistant passed the grass to Scunthorpe.',
    'Bullshit',
    '',
  ];
  const [clean, rude, substrings, alone, empty] = await scorer.score(texts);
  assert.deepEqual(clean, { ok: true, value: { score: 0, labels: { ldnoobw: 0, rtp_naughty_words: 0, surge_ai_profanity: 0, surge_max_severity: 0 } } });
  assert.ok(rude.ok && alone.ok && substrings.ok && empty.ok);
  if (!rude.ok || !alone.ok || !substrings.ok || !empty.ok) return;
  // "bullshit" and "ass" are on all three lists; Surge rates bullshit 1.2 and ass 1.0.
  assert.deepEqual(rude.value, { score: 1, labels: { ldnoobw: 2, rtp_naughty_words: 2, surge_ai_profanity: 2, surge_max_severity: 1.2 } });
  assert.equal(alone.value.score, 1);
  assert.equal(substrings.value.score, 0, JSON.stringify(substrings.value.labels));
  assert.equal(empty.value.score, 0);
});

test('lexicon: matcher semantics on a hand-made list (phrases, whitespace, punctuation boundaries, longest match)', () => {
  const words = new PhraseMatcher('words', [{ phrase: 'darn' }, { phrase: 'dang it' }, { phrase: '@bc' }, { phrase: 'dang' }]);
  const graded = new PhraseMatcher('surge', [{ phrase: 'heck', severity: 1.4 }, { phrase: 'Blast', severity: 2.6 }]);
  assert.deepEqual(words.matches('Darn! Dang   it, darnit. @BC and x@bc'), ['darn', 'dang it', '@bc']);
  assert.deepEqual(words.matches('dang, dang it'), ['dang', 'dang it']);
  const value = scoreWithLists('Oh heck, BLAST it.', [words, graded]);
  assert.deepEqual(value, { score: 1, labels: { words: 0, surge: 2, surge_max_severity: 2.6 } });
  assert.deepEqual(scoreWithLists('hecking blasted', [words, graded]), { score: 0, labels: { words: 0, surge: 0, surge_max_severity: 0 } });
});

test('lexicon: labelled a weak baseline, versioned by the lists, missing list names the file', async () => {
  const scorer = await createScorer('lexicon', ctx);
  assert.equal(scorer.id, 'lexicon');
  assert.equal(scorer.kind, 'toxicity');
  assert.match(scorer.description, /WEAK BASELINE/);
  assert.match(scorer.version, /^lists-[0-9a-f]{12}$/);
  // A copy of the lists with one entry changed gets another version.
  const dir = tempDir('compsafe-lexicon-');
  for (const rel of ['lexicons/ldnoobw/en', 'lexicons/rtp_naughty_words/list_of_naughty_and_bad_words.txt', 'lexicons/surge_ai_profanity/profanity_en.csv']) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.copyFileSync(path.join(shared('data'), rel), path.join(dir, rel));
  }
  const same = await createLexiconScorer(undefined, { dataDir: dir });
  assert.equal(same.version, scorer.version);
  fs.appendFileSync(path.join(dir, 'lexicons/ldnoobw/en'), '\nfrobnicate\n');
  const changed = await createLexiconScorer(undefined, { dataDir: dir });
  assert.notEqual(changed.version, scorer.version);
  const [hit] = await changed.score(['Do not FROBNICATE.']);
  assert.deepEqual(hit, { ok: true, value: { score: 1, labels: { ldnoobw: 1, rtp_naughty_words: 0, surge_ai_profanity: 0, surge_max_severity: 0 } } });
  fs.rmSync(path.join(dir, 'lexicons/surge_ai_profanity/profanity_en.csv'));
  await assert.rejects(createLexiconScorer(undefined, { dataDir: dir }), (e: Error) => e instanceof DatasetMissingError && /profanity_en\.csv/.test(e.message));
});
