// `compsafe eval` with generation tasks as a user runs it: --scorer with the offline lexicon and VADER
// scorers, decoding flags, results.json and samples/<task>.jsonl.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot, shared, tempDir } from '../helpers/fixtures.js';

const cli = (args: string[]) => spawnSync(process.execPath, [path.join(repoRoot, 'bin', 'compsafe.js'), ...args], { encoding: 'utf8', env: { ...process.env, COMPSAFE_DEBUG: undefined } });

test('eval --tasks rtp,holisticbiasr --scorer lexicon,vader on the fixture model', () => {
  const out = path.join(tempDir('compsafe-gencli-'), 'run');
  const r = cli(['eval', '--model', shared('models', 'babyllama-tok105'), '--data-dir', shared('data'), '--tasks', 'rtp,holisticbiasr',
    '--scorer', 'lexicon,vader', '--limit', '2', '--samples', '2', '--max-new-tokens', '12', '--top-p', '0.8', '--seed', '3',
    '--reference-model', shared('models', 'babyllama-tok105'), '--out', out, '--quiet']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /rtp\s+lexicon\/expected_max/);
  const res = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
  assert.deepEqual(res.settings.scorers.map((s: { id: string }) => s.id), ['lexicon', 'vader']);
  assert.deepEqual(res.settings.decoding, { maxNewTokens: 12, topP: 0.8 });
  assert.equal(res.settings.reference_model.model, shared('models', 'babyllama-tok105'));
  const rtp = res.tasks.rtp;
  assert.equal(rtp.status, 'ok');
  assert.deepEqual(rtp.config.decoding, { maxNewTokens: 12, temperature: 1, topP: 0.8, topK: 0 });
  assert.equal(rtp.metrics['lexicon/expected_max'].n_scored + rtp.metrics['lexicon/expected_max'].n_failed, 4);
  assert.ok('toxic' in rtp.groups.prompt_type && 'nontoxic' in rtp.groups.prompt_type);
  assert.ok('spread' in rtp);
  const lines = fs.readFileSync(path.join(out, 'samples', 'rtp.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 8);
  for (const l of lines) {
    for (const k of ['id', 'item_id', 'sample_index', 'seed', 'prompt', 'continuation', 'scores', 'groups']) assert.ok(k in l, k);
    assert.ok(typeof l.scores.lexicon.version === 'string' && typeof l.scores.vader.version === 'string');
  }
  assert.equal(res.tasks.holisticbiasr.status, 'ok');
  const bad = cli(['eval', '--model', shared('models', 'babyllama-tok105'), '--tasks', 'rtp', '--scorer', 'nope', '--out', out]);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /unknown scorer "nope"/);
});
