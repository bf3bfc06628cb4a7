// A sweep whose variants are evaluated on an OpenAI-compatible server (here `compsafe serve`'s server,
// in-process on loopback) gets the same metrics as the in-process sweep.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadSweepConfig } from '../../src/runs/config.js';
import { runSweep } from '../../src/runs/sweep.js';
import { ResultStore } from '../../src/runs/store.js';
import { startServer } from '../../src/server/openai-server.js';
import { loadModelFromDir } from '../../src/model/load.js';
import { shared, tempDir } from '../helpers/fixtures.js';

// stories260K (512 positions): BBQ prompts fit whole, so the server never refuses what the engine would truncate.
const model = shared('models', 'stories260K');

function config(dir: string, backend: string, variants = ''): string {
  const file = path.join(dir, `${Math.random().toString(36).slice(2)}.yaml`);
  fs.writeFileSync(file, `
model: ${JSON.stringify(model)}
dataDir: ${JSON.stringify(shared('data'))}
seed: 0
batchSize: 8
${backend}
${variants}
tasks:
  - { name: bbq, limit: 6 }
`);
  return file;
}

function metrics(runDir: string): { variant: string; metric: string; value: number | null; n_scored: number }[] {
  const store = ResultStore.open(runDir, { readonly: true });
  try {
    return store.metrics().filter((m) => m.axis === '' || m.axis === undefined || m.group === '').map((m) => ({ variant: m.variant, metric: m.metric, value: m.value, n_scored: m.n_scored }));
  } finally {
    store.close();
  }
}

test('sweep with backend openai: variants evaluated on the server equal the in-process sweep', async () => {
  const dir = tempDir();
  const server = await startServer({ loaded: loadModelFromDir(model), modelName: 'tiny', port: 0, log: null });
  try {
    const remoteCfg = loadSweepConfig(config(dir, `backend: { kind: openai, baseUrl: ${JSON.stringify(server.url + '/v1')}, models: { dense: tiny } }`), { out: path.join(dir, 'remote') });
    const localCfg = loadSweepConfig(config(dir, 'backend: native'), { out: path.join(dir, 'local') });
    const remote = await runSweep(remoteCfg);
    const local = await runSweep(localCfg);
    assert.equal(remote.failedTasks.length, 0, JSON.stringify(remote.failedTasks));
    assert.ok(remote.backendCalls > 0 && server.stats().requests > 0);
    const r = metrics(path.join(dir, 'remote')), l = metrics(path.join(dir, 'local'));
    assert.ok(l.length > 0);
    assert.deepEqual(r, l);
  } finally {
    await server.close();
  }
});

test('sweep with backend openai needs a served model name for every variant', async () => {
  const dir = tempDir();
  const cfg = loadSweepConfig(config(dir, 'backend: { kind: openai, baseUrl: "http://127.0.0.1:9/v1", models: { dense: tiny } }',
    'variants:\n  - { method: magnitude, sparsity: [0.5] }'), { out: path.join(dir, 'run') });
  await assert.rejects(runSweep(cfg), /backend\.models names no served model for variant\(s\) magnitude-0\.5; variants of this config: dense, magnitude-0\.5/);
});
