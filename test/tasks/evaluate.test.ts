// The eval use case: results.json and samples files as specified, rewritten atomically; a task that
// throws is recorded and the others still run; the table shows every metric.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { evaluate, formatResultsTable, resolveTasks, samplesFileName, RESULTS_FORMAT } from '../../src/tasks/evaluate.js';
import { Task } from '../../src/tasks/task.js';
import { LengthBackend } from '../helpers/length-backend.js';
import { tempDir } from '../helpers/fixtures.js';

/** A task with known output: two items, groups by parity, one failed item. */
const countingTask: Task = {
  name: 'counting',
  description: 'two items and a failure',
  async run(ctx) {
    const out = await ctx.backend.loglikelihood([{ context: '', continuation: 'ab cd' }, { context: '', continuation: 'FAIL' }]);
    ctx.onProgress?.({ task: 'counting', done: 2, total: 2 });
    return {
      task: 'counting', version: '3', config: { seed: ctx.seed, limit: ctx.limit ?? null },
      dataset: { files: [{ path: 'x/y.jsonl', sha256: 'ab'.repeat(32) }], complete: true },
      metrics: { score: { value: 0.5, ci: [0.25, 0.75], n_scored: 1, n_failed: 1 } },
      groups: { parity: { even: { score: { value: 1, n_scored: 1, n_failed: 0 } } } },
      samples: [
        { id: 'item-0', groups: { parity: 'even' }, prompt: 'ab cd', logprob: out[0].ok ? out[0].value.logprob : null },
        { id: 'item-1', groups: { parity: 'odd' }, prompt: 'FAIL', error: out[1].ok ? undefined : out[1].error },
      ],
    };
  },
};

const brokenTask: Task = {
  name: 'broken',
  description: 'always throws',
  async run() {
    throw Object.assign(new Error('dataset file x/y.jsonl not found\nsecond line'), { name: 'DatasetMissingError' });
  },
};

test('evaluate writes results.json and samples/<task>.jsonl; a failing task is recorded, the rest run', async () => {
  const out = path.join(tempDir(), 'run');
  // A stale samples file of the failing task must not survive.
  fs.mkdirSync(path.join(out, 'samples'), { recursive: true });
  fs.writeFileSync(path.join(out, 'samples', 'broken.jsonl'), '{"id":"old"}\n');
  const events: string[] = [];
  const results = await evaluate({
    backend: new LengthBackend(128), tasks: [countingTask, brokenTask], outDir: out, dataDir: '/data', seed: 9, limit: 4,
    onTask: (e) => events.push(`${e.task}:${e.phase}${e.error ? ':error' : ''}`),
  });
  assert.deepEqual(events, ['counting:start', 'counting:end', 'broken:start', 'broken:end:error']);
  const onDisk = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
  assert.deepEqual(onDisk, results);
  assert.equal(onDisk.format, RESULTS_FORMAT);
  assert.match(onDisk.compsafe_version, /^\d+\.\d+\.\d+/);
  assert.equal(onDisk.status, 'failed');
  assert.ok(results.finished !== null && results.finished >= results.started);
  assert.deepEqual(onDisk.model, { kind: 'length', model: 'length-backend', maxPositions: 128 });
  assert.deepEqual(onDisk.settings, { tasks: ['counting', 'broken'], seed: 9, limit: 4, shots: null, samples: null, seqlen: null, subsets: null, data_dir: '/data' });
  const c = onDisk.tasks.counting;
  assert.equal(c.status, 'ok');
  assert.equal(c.version, '3');
  assert.deepEqual(c.config, { seed: 9, limit: 4 });
  assert.deepEqual(c.dataset.files, [{ path: 'x/y.jsonl', sha256: 'ab'.repeat(32) }]);
  assert.deepEqual(c.metrics.score, { value: 0.5, ci: [0.25, 0.75], n_scored: 1, n_failed: 1 });
  assert.equal(c.groups.parity.even.score.value, 1);
  assert.deepEqual([c.n_samples, c.n_sample_errors, c.samples_file], [2, 1, 'samples/counting.jsonl']);
  assert.equal('samples' in c, false);
  const lines = fs.readFileSync(path.join(out, 'samples', 'counting.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines, [
    { id: 'item-0', groups: { parity: 'even' }, prompt: 'ab cd', logprob: -5 },
    { id: 'item-1', groups: { parity: 'odd' }, prompt: 'FAIL', error: 'the server refused the request' },
  ]);
  assert.deepEqual(onDisk.tasks.broken, { status: 'error', task: 'broken', description: 'always throws', error: 'DatasetMissingError: dataset file x/y.jsonl not found', seconds: onDisk.tasks.broken.seconds });
  assert.deepEqual(fs.readdirSync(path.join(out, 'samples')), ['counting.jsonl']);
  assert.deepEqual(fs.readdirSync(out).sort(), ['results.json', 'samples']);  // no temporary files left

  const table = formatResultsTable(results);
  assert.match(table, /^task +metric +value +95% CI +n +failed$/m);
  assert.match(table, /^counting +score +0\.5000 +\[0\.2500, 0\.7500\] +1 +1$/m);
  assert.match(table, /^ {2}parity=even +score +1 +1 +0$/m);
  assert.match(table, /^FAILED broken: DatasetMissingError: dataset file x\/y\.jsonl not found$/m);
});

test('results.json is valid after every task: a crash mid-run leaves the finished tasks and status "running"', async () => {
  const out = tempDir();
  let seenDuring: { status: string; tasks: Record<string, unknown> } | undefined;
  const peek: Task = {
    name: 'peek', description: 'reads results.json while running',
    async run() {
      seenDuring = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
      throw new Error('boom');
    },
  };
  await evaluate({ backend: new LengthBackend(), tasks: [countingTask, peek], outDir: out, dataDir: '/d', seed: 1 });
  assert.equal(seenDuring!.status, 'running');
  assert.deepEqual(Object.keys(seenDuring!.tasks), ['counting']);
});

test('task names: resolved in order, unknown and duplicate names are usage errors; samples file names are safe', () => {
  assert.deepEqual(resolveTasks(['wikitext2', ' dialect ']).map((t) => t.name), ['wikitext2', 'dialect']);
  assert.throws(() => resolveTasks(['wikitext2', 'wikitext2']), /listed twice/);
  assert.throws(() => resolveTasks(['wikitext']), (e: Error) => e.name === 'UsageError' && /unknown task "wikitext"/.test(e.message));
  assert.throws(() => resolveTasks(['']), /at least one task/);
  assert.equal(samplesFileName('bbq'), 'bbq.jsonl');
  assert.match(samplesFileName('text:/tmp/a b/notes.txt'), /^text_tmp_a_b_notes\.txt-[0-9a-f]{8}\.jsonl$/);
  assert.notEqual(samplesFileName('text:a/b.txt'), samplesFileName('text:a_b.txt'));
});
