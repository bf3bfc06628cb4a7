// Sweep config: validation with field names, precedence flags > env > file > defaults, paths relative
// to the file, the shipped JSON schema in sync with the zod schema, the example config valid; and
// Ctrl-C on a running sweep stops after the batch in flight and says how to resume.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { loadSweepConfig, parseSweepConfig, sweepConfigJsonSchema } from '../../src/runs/config.js';
import { planVariants } from '../../src/runs/variants.js';
import { STORE_FILE } from '../../src/runs/store.js';
import { UsageError } from '../../src/core/errors.js';
import { repoRoot, shared, tempDir } from '../helpers/fixtures.js';

test('defaults fill in; unknown fields and bad values are named', () => {
  const cfg = parseSweepConfig('model: org/name\ntasks: [{ name: bbq }]\n', 'x.yaml', '/base');
  assert.equal(cfg.model, 'org/name', 'a hub id that is not on disk stays an id');
  assert.deepEqual(cfg.calibration, { source: 'c4', nsamples: 128, seqlen: 2048, seed: 0 });
  assert.equal(cfg.backend, 'native');
  assert.equal(cfg.batchSize, 64);
  assert.deepEqual(cfg.variants, []);
  assert.throws(() => parseSweepConfig('model: m\ntasks: [{ name: bbq, limt: 3 }]\n', 'x.yaml', '/'), (e: Error) =>
    e instanceof UsageError && /x\.yaml: tasks\.0: Unrecognized key: "limt"/.test(e.message));
  assert.throws(() => parseSweepConfig('model: m\ntasks: [{ name: bbq }, { name: bbq }]\n', 'x.yaml', '/'), /task "bbq" is listed twice/);
  assert.throws(() => parseSweepConfig('model: m\ntasks: [{ name: bbq }]\nbackend: openai\n', 'x.yaml', '/'), /backend/);
  assert.throws(() => parseSweepConfig('model: [unclosed\n', 'x.yaml', '/'), /x\.yaml: not valid YAML/);
});

test('a variant calibration override keeps the sweep settings it does not name', () => {
  const cfg = parseSweepConfig(`
model: m
calibration: { nsamples: 16, seqlen: 64 }
variants: [{ method: wanda, sparsity: 0.5, calibration: { nsamples: 4 } }]
tasks: [{ name: bbq }]
`, 'x.yaml', '/');
  assert.deepEqual(planVariants(cfg)[1].calibration, { source: 'c4', nsamples: 4, seqlen: 64, seed: 0 });
});

test('flags override the environment, which overrides the file; paths are relative to the file', () => {
  const dir = tempDir();
  const file = path.join(dir, 'grid.yaml');
  fs.mkdirSync(path.join(dir, 'model'));
  fs.writeFileSync(file, 'model: model\nout: out-from-file\ndataDir: data\ntasks: [{ name: bbq, limit: 5 }, { name: rte }]\n');
  const fromFile = loadSweepConfig(file, {}, {});
  assert.equal(fromFile.model, path.join(dir, 'model'));
  assert.equal(fromFile.out, path.join(dir, 'out-from-file'));
  assert.equal(fromFile.dataDir, path.join(dir, 'data'));
  assert.deepEqual(fromFile.tasks.map((t) => t.limit), [5, undefined]);
  const env = { COMPSAFE_SWEEP_OUT: '/env/out', COMPSAFE_DATA_DIR: '/env/data', COMPSAFE_SWEEP_LIMIT: '7' };
  const fromEnv = loadSweepConfig(file, {}, env);
  assert.deepEqual([fromEnv.out, fromEnv.dataDir, fromEnv.tasks.map((t) => t.limit)], ['/env/out', '/env/data', [7, 7]]);
  const fromFlags = loadSweepConfig(file, { out: '/flag/out', dataDir: '/flag/data', limit: 2 }, env);
  assert.deepEqual([fromFlags.out, fromFlags.dataDir, fromFlags.tasks.map((t) => t.limit)], ['/flag/out', '/flag/data', [2, 2]]);
  assert.throws(() => loadSweepConfig(file, {}, { COMPSAFE_SWEEP_LIMIT: 'lots' }), /COMPSAFE_SWEEP_LIMIT must be a positive integer/);
  fs.writeFileSync(file, 'model: model\ntasks: [{ name: bbq }]\n');
  assert.equal(loadSweepConfig(file, {}, {}).out, path.resolve('runs', 'grid'), 'default: runs/<config name>');
});

test('the example config is valid, has the paper grid shape, and its JSON schema is current', () => {
  const example = path.join(repoRoot, 'examples', 'sweep.yaml');
  const cfg = loadSweepConfig(example, {}, {});
  const names = planVariants(cfg).map((p) => p.name);
  for (const n of ['dense', 'magnitude-0.5', 'wanda-0.1', 'sparsegpt-0.3', 'wanda-2of4', 'sparsegpt-4of8', 'rtn-w4-g32', 'gptq-w4-g32', 'awq-w4-g32']) {
    assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
  }
  assert.ok(names.some((n) => n.startsWith('llm-int8')));
  const shipped = JSON.parse(fs.readFileSync(path.join(repoRoot, 'examples', 'sweep.schema.json'), 'utf8'));
  assert.deepEqual(shipped, sweepConfigJsonSchema(), 'regenerate with: compsafe sweep --schema > examples/sweep.schema.json');
  const schema = sweepConfigJsonSchema() as { properties: Record<string, unknown>; required: string[]; additionalProperties: boolean };
  assert.deepEqual(schema.required, ['model', 'tasks']);
  assert.equal(schema.additionalProperties, false);
});

test('Ctrl-C stops a running sweep after the current batch and prints how to resume', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'sweep.yaml');
  fs.writeFileSync(file, `
model: ${JSON.stringify(shared('models', 'babyllama-tok105'))}
dataDir: ${JSON.stringify(shared('data'))}
batchSize: 4
tasks: [{ name: bbq, limit: 40 }]
`);
  const runDir = path.join(dir, 'run');
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'compsafe.js'), 'sweep', '--config', file, '--out', runDir, '--quiet'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const code = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  const deadline = Date.now() + 30_000;
  for (;;) {
    assert.ok(Date.now() < deadline, 'requests were stored');
    await new Promise((r) => setTimeout(r, 25));
    try {
      const db = new Database(path.join(runDir, STORE_FILE), { readonly: true });
      const n = db.prepare('SELECT COUNT(*) FROM cache').pluck().get() as number;
      db.close();
      if (n > 0) break;
    } catch {
      // not there yet
    }
  }
  child.kill('SIGINT');
  assert.equal(await code, 130);
  assert.match(stderr, /stopping after the current batch/);
  assert.match(stderr, new RegExp(`Resume with: compsafe sweep --config .*sweep\\.yaml --resume --out ${runDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  const db = new Database(path.join(runDir, STORE_FILE), { readonly: true });
  const cached = db.prepare('SELECT COUNT(*) FROM cache').pluck().get() as number;
  const status = db.prepare('SELECT status FROM runs').pluck().get();
  db.close();
  assert.ok(cached > 0 && cached < 120 && cached % 4 === 0, `whole batches only (${cached})`);
  assert.equal(status, 'interrupted');
});
