// `compsafe eval` as a user runs it: a real process on the fixture model and the reference data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot, shared, tempDir } from '../helpers/fixtures.js';

interface Run { code: number; stdout: string; stderr: string }

function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [path.join(repoRoot, 'bin', 'compsafe.js'), ...args], {
      env: { ...process.env, COMPSAFE_DATA_DIR: undefined, ...env, COMPSAFE_DEBUG: undefined },
    });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const baby = shared('models', 'babyllama-tok105');
const work = tempDir('compsafe-eval-');

test('eval writes results.json and samples/<task>.jsonl and prints a table', async () => {
  const text = path.join(work, 'story.txt');
  fs.writeFileSync(text, 'Once upon a time there was a cat.\nThe cat sat on a mat.\nIt was happy.\n');
  const out = path.join(work, 'run');
  const r = await cli(['eval', '--model', baby, '--tasks', `dialect,tinystories,text:${text}`, '--limit', '2', '--seed', '5',
    '--seqlen', '128', '--out', out, '--quiet'], { COMPSAFE_DATA_DIR: shared('data') });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /^dialect +nll_diff +-?\d+\.\d{4} +\[-?\d+\.\d{4}, -?\d+\.\d{4}\] +4 +0$/m);
  assert.match(r.stdout, /^ {2}source=habitual_be +ppl_ratio /m);
  assert.match(r.stdout, /^tinystories +perplexity +\d+\.\d{4} /m);

  const res = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
  assert.equal(res.status, 'complete');
  assert.equal(res.model.kind, 'native');
  assert.equal(res.model.model, baby);
  assert.deepEqual(res.settings, { tasks: ['dialect', 'tinystories', `text:${text}`], seed: 5, limit: 2, shots: null, samples: null, seqlen: 128, subsets: null, data_dir: shared('data') });
  const d = res.tasks.dialect;
  assert.equal(d.version, '1');
  assert.equal(d.dataset.files.length, 4);
  assert.ok(d.dataset.files.every((f: { sha256: string }) => /^[0-9a-f]{64}$/.test(f.sha256)));
  for (const k of ['aae_nll', 'sae_nll', 'aae_ppl', 'sae_ppl', 'nll_diff', 'ppl_ratio']) {
    assert.ok(typeof d.metrics[k].value === 'number' && d.metrics[k].ci.length === 2, k);
    assert.deepEqual([d.metrics[k].n_scored, d.metrics[k].n_failed], [4, 0]);
  }
  assert.deepEqual(Object.keys(d.groups.source), ['groenwold', 'habitual_be', 'literature', 'leadership']);
  assert.equal(res.tasks.tinystories.config.seqlen, 128);
  assert.equal(res.tasks.tinystories.metrics.windows.value, res.tasks.tinystories.metrics.windows.n_scored);
  const textTask = res.tasks[`text:${text}`];
  assert.equal(textTask.config.documents, 2);

  const samples = (f: string): Record<string, unknown>[] => fs.readFileSync(path.join(out, f), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const ds = samples(d.samples_file);
  assert.equal(d.samples_file, 'samples/dialect.jsonl');
  assert.equal(ds.length, 2 * 5);
  assert.ok(ds.every((s) => typeof s.id === 'string' && typeof (s.groups as Record<string, string>).source === 'string'));
  const pair = ds.find((s) => (s.groups as Record<string, string>).source === 'groenwold')!;
  assert.ok(typeof pair.aae === 'string' && typeof pair.sae === 'string' && typeof pair.nll_diff === 'number');
  assert.equal(samples(textTask.samples_file).length, 1);
  assert.deepEqual(fs.readdirSync(path.join(out, 'samples')).length, 3);

  // The same command again gives the same numbers (seeded sampling and bootstrap).
  const again = await cli(['eval', '--model', baby, '--tasks', 'dialect', '--limit', '2', '--seed', '5', '--data-dir', shared('data'), '--out', path.join(work, 'again'), '--json']);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(JSON.parse(again.stdout).tasks.dialect.metrics, d.metrics);
});

test('eval: a missing dataset fails that task clearly, keeps the others, exits non-zero', async () => {
  // A data directory with only the TinyStories excerpt.
  const data = path.join(work, 'partial-data');
  fs.mkdirSync(path.join(data, 'tinystories'), { recursive: true });
  fs.copyFileSync(shared('data', 'tinystories', 'TinyStories-valid-excerpt.txt'), path.join(data, 'tinystories', 'TinyStories-valid-excerpt.txt'));
  const out = path.join(work, 'partial');
  const r = await cli(['eval', '--model', baby, '--tasks', 'tinystories,dialect', '--limit', '1', '--data-dir', data, '--out', out, '--quiet']);
  assert.equal(r.code, 1);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^compsafe eval: TaskFailedError: 1 of 2 task\(s\) failed; dialect: DatasetMissingError: AAE\/SAE pairs .* not found in the data directory .* holds tinystories\)/);
  const res = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
  assert.equal(res.status, 'failed');
  assert.equal(res.tasks.tinystories.status, 'ok');
  assert.equal(res.tasks.dialect.status, 'error');
  assert.match(r.stdout, /^FAILED dialect: DatasetMissingError/m);
});

test('eval: bad input is a usage error before the model loads', async () => {
  const cases: [string[], RegExp][] = [
    [['eval', '--model', baby, '--tasks', 'nosuch', '--out', work], /unknown task "nosuch"; available: wikitext2, c4, tinystories, dialect/],
    [['eval', '--model', baby, '--tasks', 'dialect'], /--out is required/],
    [['eval', '--model', baby, '--tasks', 'dialect', '--out', work, '--limit', '0'], /--limit must be an integer in \[1, inf\]/],
    [['eval', '--model', baby, '--tasks', 'tinystories', '--out', work, '--seqlen', '4096'], /--seqlen 4096 exceeds the model's context of 256/],
    [['eval', '--model', baby, '--tasks', 'dialect', '--out', work, '--backend', 'openai'], /--backend openai needs --base-url/],
    [['eval', '--model', baby, '--tasks', 'dialect', '--out', work, '--backend', 'vllm'], /--backend must be native or openai/],
  ];
  for (const [args, pattern] of cases) {
    const r = await cli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, pattern);
  }
});

test('eval --backend openai against `compsafe serve` gives the in-process results', async () => {
  // stories260K (BPE, 512 positions): BBQ prompts fit whole, so neither side truncates (the server
  // refuses prompts over the context where the engine would left-truncate).
  const stories = shared('models', 'stories260K');
  const serve = spawn(process.execPath, [path.join(repoRoot, 'bin', 'compsafe.js'), 'serve', '--model', stories, '--port', '0', '--served-model-name', 'baby'], {
    env: { ...process.env, COMPSAFE_DEBUG: undefined },
  });
  const timer = setTimeout(() => serve.kill('SIGKILL'), 120000);
  try {
    let stderr = '';
    const url = await new Promise<string>((resolve, reject) => {
      serve.stderr.on('data', (d) => {
        stderr += d;
        const m = /at (http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(stderr);
        if (m) resolve(m[1]);
      });
      serve.on('exit', () => reject(new Error(`serve exited early: ${stderr}`)));
    });
    const common = ['--tasks', 'bbq,tinystories', '--limit', '6', '--seed', '3', '--data-dir', shared('data'), '--json', '--quiet'];
    const [remote, local] = await Promise.all([
      cli(['eval', '--backend', 'openai', '--base-url', url, '--model', 'baby', ...common, '--out', path.join(work, 'remote')]),
      cli(['eval', '--model', stories, ...common, '--out', path.join(work, 'local')]),
    ]);
    assert.equal(remote.code, 0, remote.stderr);
    assert.equal(local.code, 0, local.stderr);
    const r = JSON.parse(remote.stdout), l = JSON.parse(local.stdout);
    assert.equal(r.backend?.kind ?? r.model?.kind ?? 'openai', 'openai');
    const rb = r.tasks.bbq.metrics, lb = l.tasks.bbq.metrics;
    assert.equal(lb.accuracy.n_scored, 6);
    for (const k of ['accuracy', 'bias_ambig', 'bias_disambig']) assert.deepEqual([rb[k].value, rb[k].n_scored], [lb[k].value, lb[k].n_scored], k);
    const rp = r.tasks.tinystories.metrics.perplexity.value, lp = l.tasks.tinystories.metrics.perplexity.value;
    assert.ok(Math.abs(rp - lp) / lp < 1e-6, `${rp} vs ${lp}`);
  } finally {
    clearTimeout(timer);
    serve.kill('SIGTERM');
  }
});

