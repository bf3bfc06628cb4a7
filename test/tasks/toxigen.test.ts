// ToxiGen: the prompt format pinned, and the task end to end on the fixture model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { TOXIGEN_GROUPS, toxigenPrompt, toxigenStatements, toxigenTask, loadToxigenFile } from '../../src/tasks/toxigen.js';
import { shared, tempDir } from '../helpers/fixtures.js';
import { FIXTURE_DECODING, fixtureBackend, WordScorer } from './generation-fixtures.js';

test('toxigen prompt: the literal \\n- separated statements become a bulleted list ending in "- "', () => {
  const line = '- first one\\n- second\\n- third\\n-';
  assert.deepEqual(toxigenStatements(line), ['first one', 'second', 'third']);
  assert.equal(toxigenPrompt(toxigenStatements(line)), '- first one\n- second\n- third\n- ');
  const file = shared('data', 'toxigen', 'prompts', 'neutral_asian_1k.txt');
  const prompts = loadToxigenFile(file, 'neutral', 'asian');
  assert.equal(prompts.length, fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).length);
  const p = prompts[0].prompt;
  assert.ok(p.startsWith('- recently, there has been an increase in attacks against asian americans and we all need to speak out\n- the typical'));
  assert.ok(p.endsWith('change for the better\n- '));
  assert.equal(p.split('\n').length, 7);
  assert.ok(!p.includes('\\n'));
});

test('toxigen end to end on the fixture model: 13 groups x hate/neutral; prompts past its context fail and are counted', async () => {
  const scorer = new WordScorer('wordtox');
  const r = await toxigenTask.run({ backend: fixtureBackend(), dataDir: shared('data'), seed: 1, limit: 1, samples: 2, scorers: [scorer], decoding: FIXTURE_DECODING });
  assert.equal(r.samples.length, 13 * 2 * 2);
  assert.deepEqual(Object.keys(r.groups.target_group), [...TOXIGEN_GROUPS]);
  assert.deepEqual(Object.keys(r.groups.prompt_type), ['hate', 'neutral']);
  assert.equal(r.dataset.files.length, 26);
  assert.ok(r.samples.every((s) => (s.prompt as string).endsWith('\n- ')));
  // The fixture's context is 256 tokens and its tokenizer nearly character-level: a six-statement
  // prompt does not fit, so generation fails; every such sample is a failure, never a zero.
  assert.ok(r.samples.every((s) => /^generation failed: the prompt has \d+ tokens; the context window is 256$/.test(s.error ?? '')));
  for (const g of Object.values(r.groups.target_group)) {
    assert.deepEqual([g['wordtox/mean'].value, g['wordtox/mean'].n_scored, g['wordtox/mean'].n_failed], [null, 0, 4]);
    assert.deepEqual([g['wordtox/expected_max'].n_scored, g['wordtox/expected_max'].n_failed], [0, 2]);
  }
  await assert.rejects(toxigenTask.run({ backend: fixtureBackend(), dataDir: shared('data'), seed: 1, subsets: ['martians'] }), /unknown target group\(s\) martians/);
});

test('toxigen with short statements on the fixture model: groups, spread, other groups by name', async () => {
  const data = tempDir('compsafe-toxigen-');
  const dir = path.join(data, 'toxigen', 'prompts');
  fs.mkdirSync(dir, { recursive: true });
  const line = (words: string[]): string => words.map((w) => `- ${w}`).join('\\n') + '\\n-';
  fs.writeFileSync(path.join(dir, 'hate_asian_1k.txt'), [line(['a cat', 'a dog', 'bad', 'x', 'y', 'z']), line(['one', 'two', 'three', 'four', 'five', 'six'])].join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'neutral_asian_1k.txt'), line(['the sun', 'the sea', 'sky', 'a', 'b', 'c']) + '\n');
  fs.writeFileSync(path.join(dir, 'hate_trans_1k.txt'), line(['p', 'q', 'r', 's', 't', 'u']) + '\n');
  const scorer = new WordScorer('wordtox');
  const r = await toxigenTask.run({ backend: fixtureBackend(), dataDir: data, seed: 1, samples: 2, subsets: ['asian', 'trans'], scorers: [scorer], decoding: FIXTURE_DECODING });
  assert.equal(r.samples.length, 4 * 2);
  assert.equal(r.samples[0].prompt, '- a cat\n- a dog\n- bad\n- x\n- y\n- z\n- ');
  assert.ok(r.samples.every((s) => s.error === undefined));
  assert.deepEqual(Object.keys(r.groups.target_group), ['asian', 'trans']);
  assert.deepEqual([r.groups.target_group.asian['wordtox/mean'].n_scored, r.groups.target_group.trans['wordtox/mean'].n_scored], [6, 2]);
  const spread = r.spread!.target_group['wordtox/mean'];
  assert.equal(spread.range, spread.max.value - spread.min.value);
  assert.equal(spread.groups, 2);
  assert.ok(r.groups.prompt_type.hate['quality/perplexity'].value! > 1);
});
