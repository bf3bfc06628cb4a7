// `compsafe serve` as a user runs it: a real process that prints its URL, answers, and stops cleanly on SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot, shared } from '../helpers/fixtures.js';

const bin = path.join(repoRoot, 'bin', 'compsafe.js');

test('serve prints its URL on stderr, serves, and exits 0 on SIGTERM', async () => {
  const p = spawn(process.execPath, [bin, 'serve', '--model', shared('models', 'stories260K'), '--port', '0', '--served-model-name', 'tiny', '--max-n', '4'], {
    env: { ...process.env, COMPSAFE_DEBUG: undefined },
  });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => p.on('exit', (c) => resolve(c)));
  // Whatever fails below, the server process must not outlive the test.
  const timer = setTimeout(() => p.kill('SIGKILL'), 20000);
  try {
    const url = await new Promise<string>((resolve, reject) => {
      p.stderr.on('data', (d) => {
        stderr += d;
        const m = /at (http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(stderr);
        if (m) resolve(m[1]);
      });
      p.on('exit', () => reject(new Error(`serve exited early: ${stderr}`)));
    });
    const models = await (await fetch(`${url}/v1/models`)).json();
    assert.equal(models.data[0].id, 'tiny');
    const tooMany = await fetch(`${url}/v1/completions`, { method: 'POST', body: JSON.stringify({ prompt: 'a', n: 5 }) });
    assert.equal(tooMany.status, 400);
    const ok = await fetch(`${url}/v1/completions`, { method: 'POST', body: JSON.stringify({ model: 'tiny', prompt: 'Once upon a time', max_tokens: 5, temperature: 0 }) });
    assert.ok((await ok.json()).choices[0].text.startsWith(', there was a'));
    p.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /POST \/v1\/completions 200/);
    assert.match(stderr, /SIGTERM: stopping/);
    assert.match(stderr, /stopped after 3 requests/);
  } finally {
    clearTimeout(timer);
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  }
});

test('serve without --model is a usage error', () => {
  const r = spawnSync(process.execPath, [bin, 'serve', '--port', '0'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /serve: --model is required/);
});
