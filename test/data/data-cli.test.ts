// `compsafe data list | verify | fetch` as a user runs them, and the download code against a real
// HTTP server on 127.0.0.1 serving files in the mirror layout (never the network).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { datasetByName } from '../../src/data/catalogue.js';
import { DataFetchError, fetchDataset, mirroredUrl } from '../../src/data/download.js';
import { sha256FileSync } from '../../src/data/files.js';
import { MANIFEST } from '../../src/data/manifest.js';
import { repoRoot, shared, tempDir } from '../helpers/fixtures.js';
import { startFileServer } from '../helpers/file-server.js';

interface Run { code: number; stdout: string; stderr: string }

function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [path.join(repoRoot, 'bin', 'compsafe.js'), ...args], {
      env: { ...process.env, COMPSAFE_OFFLINE: undefined, COMPSAFE_DATA_MIRROR: undefined, COMPSAFE_DATA_DIR: undefined, ...env, COMPSAFE_DEBUG: undefined },
    });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const dp = datasetByName('dialect_prejudice')!;
const HABITUAL = 'dialect_prejudice/data/pairs/habitual.txt';

/** A data directory holding a copy of the dialect_prejudice dataset (small: 7 files, 36 KB). */
function copyOfDialectPrejudice(): string {
  const data = tempDir('compsafe-verify-');
  for (const f of dp.files) {
    fs.mkdirSync(path.dirname(path.join(data, f)), { recursive: true });
    fs.copyFileSync(shared('data', ...f.split('/')), path.join(data, f));
  }
  return data;
}

/** A mirror tree (`host/path`) serving the dataset's files from the reference copy. */
function mirrorOf(files: string[], urls: Record<string, string>): string {
  const root = tempDir('compsafe-mirror-');
  for (const f of files) {
    const u = new URL(urls[f]);
    const dest = path.join(root, u.host, ...decodeURIComponent(u.pathname).split('/').filter(Boolean));
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.copyFileSync(shared('data', ...f.split('/')), dest);
  }
  return root;
}

const urlPath = (url: string): string => decodeURIComponent(new URL(mirroredUrl(url, 'http://m')).pathname);

test('data verify: a clean copy passes; a flipped byte and a missing file are reported per file', async () => {
  const data = copyOfDialectPrejudice();
  const ok = await cli(['data', 'verify', 'dialect_prejudice', '--data-dir', data]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^dialect_prejudice: 7 ok, 0 modified, 0 missing$/m);

  const file = path.join(data, HABITUAL);
  const bytes = fs.readFileSync(file);
  bytes[100] ^= 0x01;
  fs.writeFileSync(file, bytes);
  fs.rmSync(path.join(data, 'dialect_prejudice', 'data', 'attributes', 'katz.txt'));
  const bad = await cli(['data', 'verify', '--data-dir', data]);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /^dialect_prejudice: 5 ok, 1 modified, 1 missing$/m);
  assert.ok(bad.stdout.includes(`MODIFIED  ${HABITUAL}: expected sha256 ${MANIFEST[HABITUAL].sha256}, got ${sha256FileSync(file)}`), bad.stdout);
  assert.match(bad.stdout, /MISSING   dialect_prejudice\/data\/attributes\/katz\.txt/);
  assert.doesNotMatch(bad.stdout, /^bbq/m);  // absent datasets are not verified without a name
  assert.equal(bad.stderr.trim().split('\n').length, 1);
  assert.match(bad.stderr, /1 file\(s\) differ from the manifest/);

  const unknown = await cli(['data', 'verify', 'nosuch', '--data-dir', data]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown dataset "nosuch"; datasets: bbq, bold/);
});

test('data list: status per dataset, files present, license', async () => {
  const data = copyOfDialectPrejudice();
  const r = await cli(['data', 'list', '--data-dir', data, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout).datasets as { name: string; status: string; present: number; total: number; license: string }[];
  const by = Object.fromEntries(rows.map((x) => [x.name, x]));
  assert.deepEqual([by.dialect_prejudice.status, by.dialect_prejudice.present, by.dialect_prejudice.total, by.dialect_prejudice.license], ['complete', 7, 7, 'MIT']);
  assert.equal(by.bbq.status, 'absent');
  const all = await cli(['data', 'list', '--data-dir', shared('data')]);
  assert.equal(all.code, 0, all.stderr);
  assert.match(all.stdout, /^bbq +subset +22\/28 files +CC BY 4\.0; reference copy: 6 of 11 categories/m);
  assert.match(all.stdout, /^aae_sae +complete .*test use only/m);
  assert.match(all.stdout, /^hellaswag +absent +0\/1 files/m);
});

test('fetchDataset: downloads through the mirror, verifies, renames into place; a second run downloads nothing', async () => {
  const root = mirrorOf(dp.files, dp.urls);
  // The first GET of habitual.txt is cut short: the download must retry, not install a torn file.
  const server = await startFileServer(root, { cutOnce: { path: urlPath(dp.urls[HABITUAL]), afterBytes: 1000 } });
  const data = tempDir('compsafe-fetch-');
  try {
    const got = await fetchDataset(dp, data, { mirror: server.url, offline: false });
    assert.deepEqual(got.map((g) => g.state), dp.files.map(() => 'downloaded'));
    assert.ok(got.every((g) => g.verified === true));
    for (const f of dp.files) assert.ok(fs.readFileSync(path.join(data, f)).equals(fs.readFileSync(shared('data', ...f.split('/')))), f);
    assert.equal(server.requests.filter((p) => p === urlPath(dp.urls[HABITUAL])).length, 2);
    assert.equal(server.requests[0], urlPath(dp.urls[dp.files[0]]));
    assert.match(server.requests[0], /^\/raw\.githubusercontent\.com\/valentinhofmann\/dialect-prejudice\/HEAD\//);
    const before = server.requests.length;
    const again = await fetchDataset(dp, data, { mirror: server.url, offline: false });
    assert.ok(again.every((g) => g.state === 'present'));
    assert.equal(server.requests.length, before);
    const leftovers = fs.readdirSync(path.join(data, 'dialect_prejudice', 'data', 'pairs'));
    assert.deepEqual(leftovers, ['habitual.txt']);
  } finally {
    await server.close();
  }
});

test('fetchDataset: a checksum mismatch installs nothing for that file; offline refuses before any request', async () => {
  const root = mirrorOf(dp.files, dp.urls);
  const u = new URL(dp.urls[HABITUAL]);
  fs.appendFileSync(path.join(root, u.host, ...u.pathname.split('/').filter(Boolean)), 'tampered\n');
  const server = await startFileServer(root);
  const data = tempDir('compsafe-fetch-');
  try {
    const got = await fetchDataset(dp, data, { mirror: server.url, offline: false });
    const bad = got.find((g) => g.path === HABITUAL)!;
    assert.equal(bad.state, 'failed');
    assert.match(bad.error!, new RegExp(`checksum mismatch for ${HABITUAL} .*expected sha256 ${MANIFEST[HABITUAL].sha256}, got [0-9a-f]{64}`));
    assert.equal(fs.existsSync(path.join(data, HABITUAL)), false);
    assert.deepEqual(fs.readdirSync(path.join(data, 'dialect_prejudice', 'data', 'pairs')), []);
    assert.equal(got.filter((g) => g.state === 'downloaded').length, dp.files.length - 1);

    const n = server.requests.length;
    await assert.rejects(fetchDataset(dp, tempDir(), { mirror: server.url, offline: true }), (e: Error) => e instanceof DataFetchError && /offline/.test(e.message));
    assert.equal(server.requests.length, n);

    // Through the CLI: the mirror and the offline switch come from the environment.
    const r = await cli(['data', 'fetch', 'dialect_prejudice', '--data-dir', tempDir(), '--quiet'], { COMPSAFE_DATA_MIRROR: server.url });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /dialect_prejudice: 6 downloaded, 0 already present, 1 failed/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, /DataFetchError: 1 file\(s\) could not be downloaded \(first: checksum mismatch for dialect_prejudice\/data\/pairs\/habitual\.txt/);
    const off = await cli(['data', 'fetch', 'dialect_prejudice', '--data-dir', tempDir()], { COMPSAFE_DATA_MIRROR: server.url, COMPSAFE_OFFLINE: '1' });
    assert.equal(off.code, 1);
    assert.match(off.stderr, /cannot download dialect_prejudice: offline/);
  } finally {
    await server.close();
  }
});

test('fetch: a file without a reference hash is downloaded unverified; a manual-only dataset says how to get it', async () => {
  const hs = datasetByName('hellaswag')!;
  const root = tempDir('compsafe-mirror-');
  const u = new URL(hs.urls['hellaswag/hellaswag_val.jsonl']);
  const dest = path.join(root, u.host, ...u.pathname.split('/').filter(Boolean));
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.writeFileSync(dest, '{"ctx": "x", "endings": ["a", "b"], "label": 0}\n');
  const server = await startFileServer(root);
  const data = tempDir('compsafe-fetch-');
  try {
    const r = await cli(['data', 'fetch', 'hellaswag', '--data-dir', data, '--quiet'], { COMPSAFE_DATA_MIRROR: server.url });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /hellaswag: 1 downloaded/);
    assert.match(r.stdout, /UNVERIFIED hellaswag\/hellaswag_val\.jsonl: sha256 [0-9a-f]{64} \(no reference hash\)/);
    assert.ok(fs.existsSync(path.join(data, 'hellaswag', 'hellaswag_val.jsonl')));
  } finally {
    await server.close();
  }
  const manual = await cli(['data', 'fetch', 'wikitext2', '--data-dir', data]);
  assert.equal(manual.code, 1);
  assert.match(manual.stderr, /wikitext2: it cannot be downloaded automatically: .*Salesforce\/wikitext/);
});
