// The sweep on the fixture: two methods x two rates x two tasks; a second run is served from the
// store; a run killed with SIGKILL and resumed reaches exactly the uninterrupted run's results.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Backend } from '../../src/backends/backend.js';
import { loadSweepConfig } from '../../src/runs/config.js';
import { runSweep } from '../../src/runs/sweep.js';
import { ResultStore, STORE_FILE } from '../../src/runs/store.js';
import { repoRoot, shared, tempDir } from '../helpers/fixtures.js';

function writeConfig(dir: string): string {
  const file = path.join(dir, 'sweep.yaml');
  fs.writeFileSync(file, `
model: ${JSON.stringify(shared('models', 'babyllama-tok105'))}
dataDir: ${JSON.stringify(shared('data'))}
seed: 0
batchSize: 8
calibration: { source: c4, nsamples: 4, seqlen: 64, seed: 0 }
variants:
  - { method: magnitude, sparsity: [0.3, 0.6] }
  - { method: wanda, sparsity: [0.3, 0.6] }
tasks:
  - { name: wikitext2, limit: 1, seqlen: 128 }
  - { name: bbq, limit: 12 }
`);
  return file;
}

/** Counts the requests that reach the model. */
function counting(counter: { n: number }): (inner: Backend) => Backend {
  return (inner) => ({
    info: inner.info,
    loglikelihood: (r, o) => { counter.n += r.length; return inner.loglikelihood(r, o); },
    generate: (r, o) => { counter.n += r.length; return inner.generate(r, o); },
    perplexity: (t, s, o) => { counter.n += 1; return inner.perplexity(t, s, o); },
  });
}

/** What a run computed: every metric row and every result without timings. */
function storedResults(runDir: string): unknown {
  const store = ResultStore.open(runDir, { readonly: true });
  try {
    const results = store.results().map((r) => ({ ...r, seconds: 0, result: r.result && { ...r.result, seconds: 0 } }));
    return { metrics: store.metrics(), results, variants: store.variants().map((v) => ({ ...v, compressSeconds: null })) };
  } finally {
    store.close();
  }
}

const EXPECTED_VARIANTS = ['dense', 'magnitude-0.3', 'magnitude-0.6', 'wanda-0.3', 'wanda-0.6'];

let referenceDir = '';
let configFile = '';

test('a sweep compresses each variant, evaluates every task, and a second run is served from the store', async () => {
  const dir = tempDir();
  configFile = writeConfig(dir);
  referenceDir = path.join(dir, 'run');
  const cfg = loadSweepConfig(configFile, { out: referenceDir });
  const calls = { n: 0 };
  const first = await runSweep(cfg, { wrapBackend: counting(calls) });
  assert.equal(first.variants, 5);
  assert.equal(first.failedTasks.length, 0);
  assert.equal(calls.n, first.backendCalls);
  // Per variant: one perplexity request and 12 BBQ items x 3 options.
  assert.equal(first.backendCalls, 5 * (1 + 36));
  const stored = storedResults(referenceDir) as { metrics: { variant: string; task: string; metric: string; value: number }[]; variants: { name: string }[] };
  assert.deepEqual(stored.variants.map((v) => v.name), EXPECTED_VARIANTS);
  const ppl = (v: string): number => stored.metrics.find((m) => m.variant === v && m.task === 'wikitext2' && m.metric === 'perplexity')!.value;
  assert.ok(ppl('magnitude-0.6') > ppl('dense'), 'pruning 60% raises perplexity');
  for (const v of EXPECTED_VARIANTS) {
    assert.ok(fs.existsSync(path.join(referenceDir, 'results', v, 'bbq', 'results.json')));
    if (v !== 'dense') assert.ok(fs.existsSync(path.join(referenceDir, 'models', v, 'compsafe_recipe.json')));
  }
  const manifest = JSON.parse(fs.readFileSync(path.join(referenceDir, 'manifest.json'), 'utf8'));
  assert.equal(manifest.variants.length, 5);
  assert.ok(manifest.data_files.length >= 3 && manifest.data_files.every((f: { sha256: string }) => /^[0-9a-f]{64}$/.test(f.sha256)));
  assert.ok(manifest.data_files.some((f: { path: string }) => f.path === 'c4/c4_sample.jsonl'), 'the calibration file is listed');
  assert.ok(manifest.native && manifest.machine.cores > 0 && manifest.timing.total_seconds > 0);

  // Second identical run: nothing reaches the model, compressed folders are reused.
  const again = { n: 0 };
  const second = await runSweep(cfg, { wrapBackend: counting(again) });
  assert.equal(again.n, 0);
  assert.equal(second.storedTasks, 10);
  assert.equal(second.timing.compressSeconds, 0);

  // With the task results dropped, the tasks run again but every request is a cache hit.
  const db = new Database(path.join(referenceDir, STORE_FILE));
  db.exec('DELETE FROM results; DELETE FROM metrics;');
  db.close();
  const third = await runSweep(cfg, { wrapBackend: counting(again) });
  assert.equal(again.n, 0);
  assert.equal(third.cacheHits, 5 * 37);
  assert.deepEqual(storedResults(referenceDir), stored);
});

test('a sweep killed with SIGKILL mid-run resumes to exactly the uninterrupted results', async () => {
  assert.ok(referenceDir, 'runs after the reference sweep');
  const runDir = path.join(tempDir(), 'killed');
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'compsafe.js'), 'sweep', '--config', configFile, '--out', runDir, '--quiet'],
    { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  // Kill once some of the 185 requests are stored (at the third variant or later).
  let cached = 0;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
    if (!fs.existsSync(path.join(runDir, STORE_FILE))) continue;
    try {
      const db = new Database(path.join(runDir, STORE_FILE), { readonly: true });
      cached = db.prepare('SELECT COUNT(*) FROM cache').pluck().get() as number;
      db.close();
    } catch {
      continue;  // the schema is being created
    }
    if (cached >= 80) break;
  }
  child.kill('SIGKILL');
  await exited;
  assert.ok(cached >= 80 && cached < 185, `killed mid-run (${cached} requests stored)`);

  const cfg = loadSweepConfig(configFile, { out: runDir });
  const calls = { n: 0 };
  const resumed = await runSweep(cfg, { wrapBackend: counting(calls) });
  assert.ok(calls.n > 0 && calls.n < 185, `the resume computed only what was missing (${calls.n})`);
  assert.ok(resumed.cacheHits + resumed.storedTasks > 0);
  const a = storedResults(referenceDir) as { variants: { dir: string }[] };
  const b = storedResults(runDir) as { variants: { dir: string }[] };
  // Compressed folders live in each run's own folder; everything else must match exactly.
  for (const s of [a, b]) for (const v of s.variants) v.dir = path.basename(v.dir);
  assert.deepEqual(b, a);
});

test('generation tasks: scorers and decoding are part of the key; an unchanged rerun reaches no model', async () => {
  const dir = tempDir();
  const runDir = path.join(dir, 'run');
  const write = (maxNewTokens: number): string => {
    const file = path.join(dir, `gen-${maxNewTokens}.yaml`);
    fs.writeFileSync(file, `
model: ${JSON.stringify(shared('models', 'babyllama-tok105'))}
dataDir: ${JSON.stringify(shared('data'))}
tasks: [{ name: bold, limit: 1, samples: 2, scorers: [vader], decoding: { maxNewTokens: ${maxNewTokens} } }]
`);
    return file;
  };
  const calls = { n: 0 };
  const first = await runSweep(loadSweepConfig(write(8), { out: runDir }), { wrapBackend: counting(calls) });
  assert.equal(first.failedTasks.length, 0);
  assert.ok(calls.n > 0);
  const store = ResultStore.open(runDir, { readonly: true });
  const stored = store.result('dense', 'bold')!;
  store.close();
  assert.equal(stored.status, 'ok');
  assert.ok(Object.keys(stored.result!.metrics).some((m) => m.startsWith('vader/')));

  const again = { n: 0 };
  await runSweep(loadSweepConfig(write(8), { out: runDir }), { wrapBackend: counting(again) });
  assert.equal(again.n, 0);
  const changed = { n: 0 };
  const other = await runSweep(loadSweepConfig(write(9), { out: runDir }), { wrapBackend: counting(changed) });
  assert.equal(other.storedTasks, 0, 'a decoding change reruns the task');
  assert.ok(changed.n > 0, 'and its generations are not served from the old ones');
});
