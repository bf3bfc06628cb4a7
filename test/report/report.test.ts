// The report reads the store only: rows per variant x task x metric with CIs, n_failed and the
// difference from the dense model; table, CSV and JSON pinned on a small hand-made store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ResultStore } from '../../src/runs/store.js';
import { aggregateRun } from '../../src/report/aggregate.js';
import { formatCsv, formatTable } from '../../src/report/format.js';
import { TaskResult } from '../../src/tasks/task.js';
import { repoRoot, tempDir } from '../helpers/fixtures.js';

function result(acc: number, failed: number, groupAcc: [number, number]): Omit<TaskResult, 'samples'> {
  return {
    task: 'bbq', version: '2', config: {}, dataset: { files: [], complete: true },
    metrics: { accuracy: { value: acc, ci: [acc - 0.1, acc + 0.1], n_scored: 10, n_failed: failed } },
    groups: { category: { age: { accuracy: { value: groupAcc[0], n_scored: 5, n_failed: 0 } }, race: { accuracy: { value: groupAcc[1], n_scored: 5, n_failed: failed } } } },
  };
}

function smallStore(): string {
  const dir = tempDir();
  const store = ResultStore.open(dir, { create: true });
  const variant = (name: string, position: number, method: string, sparsity: number | null) => store.putVariant({
    name, position, method, specHash: 's'.repeat(64), weightsSha256: 'w'.repeat(64), variantHash: `${position}`.repeat(64), dir: `/m/${name}`,
    recipe: sparsity === null ? null : { result: { sparsity, bits: null } }, compressSeconds: null,
  });
  variant('dense', 0, 'dense', null);
  variant('wanda-0.5', 1, 'wanda', 0.5);
  store.putResult({ variant: 'dense', task: 'bbq', settingsHash: 'h', status: 'ok', version: '2', result: result(0.75, 0, [0.8, 0.7]), error: null, seconds: 1 });
  store.putResult({ variant: 'wanda-0.5', task: 'bbq', settingsHash: 'h', status: 'ok', version: '2', result: result(0.5, 2, [0.6, 0.4]), error: null, seconds: 1 });
  store.putResult({ variant: 'wanda-0.5', task: 'wikitext2', settingsHash: 'h', status: 'error', version: null, result: null, error: 'DatasetMissingError: wiki.test.raw not found', seconds: 0 });
  store.commitBatch([], [{ key: 'k', kind: 'loglikelihood', variantHash: 'v', task: 'bbq', request: {}, error: 'x' }]);
  store.close();
  return dir;
}

test('the table shows overall and per-group metrics with CIs, n_failed, the change from dense, and failed tasks', () => {
  const report = aggregateRun(smallStore());
  assert.deepEqual(report.variants.map((v) => [v.name, v.sparsity]), [['dense', null], ['wanda-0.5', 0.5]]);
  assert.deepEqual(report.tasks, ['bbq', 'wikitext2']);
  assert.equal(formatTable(report), [
    'variant    task  metric     value  95% CI             n  failed  vs dense',
    '---------  ----  --------  ------  ----------------  --  ------  --------',
    'dense      bbq   accuracy  0.7500  [0.6500, 0.8500]  10       0',
    'wanda-0.5  bbq   accuracy  0.5000  [0.4000, 0.6000]  10       2   -0.2500',
    '',
    'bbq by group',
    'variant    group          metric     value  95% CI  n  failed  vs dense',
    '---------  -------------  --------  ------  ------  -  ------  --------',
    'dense      category=age   accuracy  0.8000          5       0',
    'dense      category=race  accuracy  0.7000          5       0',
    'wanda-0.5  category=age   accuracy  0.6000          5       0   -0.2000',
    'wanda-0.5  category=race  accuracy  0.4000          5       2   -0.3000',
    '',
    'MISSING dense / wikitext2',
    'FAILED wanda-0.5 / wikitext2: DatasetMissingError: wiki.test.raw not found',
    '',
    '2 variants x 2 tasks; 1 failed request(s) recorded',
    '',
  ].join('\n'));
});

test('CSV has one row per metric at full precision, overall rows with empty axis and group', () => {
  assert.equal(formatCsv(aggregateRun(smallStore())), [
    'variant,method,task,axis,group,metric,value,ci_low,ci_high,n_scored,n_failed,dense,delta',
    'dense,dense,bbq,,,accuracy,0.75,0.65,0.85,10,0,0.75,0',
    'wanda-0.5,wanda,bbq,,,accuracy,0.5,0.4,0.6,10,2,0.75,-0.25',
    'dense,dense,bbq,category,age,accuracy,0.8,,,5,0,0.8,0',
    'dense,dense,bbq,category,race,accuracy,0.7,,,5,0,0.7,0',
    `wanda-0.5,wanda,bbq,category,age,accuracy,0.6,,,5,0,0.8,${0.6 - 0.8}`,
    `wanda-0.5,wanda,bbq,category,race,accuracy,0.4,,,5,2,0.7,${0.4 - 0.7}`,
    '',
  ].join('\n'));
});

test('compsafe report --format json prints the aggregate; a folder without a store is a usage error', () => {
  const dir = smallStore();
  const bin = path.join(repoRoot, 'bin', 'compsafe.js');
  const r = spawnSync(process.execPath, [bin, 'report', '--run', dir, '--format', 'json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const json = JSON.parse(r.stdout);
  assert.equal(json.format, 'compsafe-sweep-report/1');
  assert.deepEqual(json.overall.map((o: { variant: string; value: number; n_failed: number }) => [o.variant, o.value, o.n_failed]), [['dense', 0.75, 0], ['wanda-0.5', 0.5, 2]]);
  assert.equal(json.groups.length, 4);
  assert.deepEqual(json.status.find((s: { status: string }) => s.status === 'error').task, 'wikitext2');
  const bad = spawnSync(process.execPath, [bin, 'report', '--run', tempDir()], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /holds no store\.sqlite/);
  const fmt = spawnSync(process.execPath, [bin, 'report', '--run', dir, '--format', 'xml'], { encoding: 'utf8' });
  assert.equal(fmt.status, 2);
  assert.match(fmt.stderr, /--format must be table, json or csv/);
});
