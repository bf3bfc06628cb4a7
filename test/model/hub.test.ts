// Hub download and cache, against a real local HTTP server that serves fixture folders in the hub's
// URL layout (test/helpers/hub-server.ts). Nothing here touches the network.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FileFormatError, HubError } from '../../src/core/errors.js';
import { hubDownload, isHubId, resolveModelPath, type HubProgress } from '../../src/model/hub.js';
import { randomArray, shared, tempDir } from '../helpers/fixtures.js';
import { DEFAULT_COMMIT, sha256Hex, startHubServer, type HubServer, type HubServerOptions } from '../helpers/hub-server.js';

const REPO = 'tiny/stories260K';
const fixture = shared('models', 'stories260K');
/** The files a model download takes from the fixture folder (it also holds files we never fetch). */
const EXPECTED_FILES = ['config.json', 'generation_config.json', 'model.safetensors', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer.model', 'tokenizer_config.json'];
const ENV_VARS = ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'HF_HUB_OFFLINE', 'COMPSAFE_OFFLINE', 'HF_ENDPOINT', 'HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'HF_HOME'];
const savedEnv: Record<string, string | undefined> = {};
// One temp root (fixtures' tempDir adds an exit listener per call); a fresh folder in it per use.
const tempRoot = tempDir('compsafe-hub-');
const freshDir = (): string => fs.mkdtempSync(path.join(tempRoot, 'd-'));

// The tests set these themselves; whatever the developer's shell has must not leak in.
before(() => {
  for (const k of ENV_VARS) {
    savedEnv[k] = process.env[k];
    delete process.env[k];
  }
});
after(() => {
  for (const k of ENV_VARS) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
});

async function withServer<T>(opts: Partial<HubServerOptions>, body: (server: HubServer) => Promise<T>): Promise<T> {
  const server = await startHubServer({ repos: { [REPO]: fixture }, ...opts });
  try {
    return await body(server);
  } finally {
    await server.close();
  }
}

const gets = (server: HubServer, file?: string) =>
  server.requests.filter((r) => r.method === 'GET' && (file === undefined || r.path.endsWith(`/${file}`)));

/** Every file under `dir` (links followed), for checks on what the cache holds. */
function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : [p];
  });
}

async function rejectsWith(promise: Promise<unknown>, pattern: RegExp, cls: Function = HubError): Promise<Error> {
  let caught: unknown;
  await promise.catch((e: unknown) => { caught = e; });
  assert.ok(caught instanceof cls, `expected ${cls.name}, got ${String(caught)}`);
  assert.match((caught as Error).message, pattern);
  assert.ok(!(caught as Error).message.includes('\n'), 'error messages are one line');
  return caught as Error;
}

describe('isHubId', () => {
  it('accepts org/name and org/name@revision that are not local paths', () => {
    assert.equal(isHubId('HuggingFaceTB/SmolLM2-135M'), true);
    assert.equal(isHubId('org/name@v1.0'), true);
    assert.equal(isHubId('org/name@refs/pr/1'), true);
  });
  it('rejects other shapes and existing paths', () => {
    for (const s of ['gpt2', 'a/b/c', './model', '../x/y', '/abs/model', 'org/', '/org/name', 'org/name@']) assert.equal(isHubId(s), false, s);
    const dir = freshDir();
    fs.mkdirSync(path.join(dir, 'org', 'name'), { recursive: true });
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      assert.equal(isHubId('org/name'), false);
    } finally {
      process.chdir(cwd);
    }
  });
});

describe('resolveModelPath with a local folder', () => {
  it('returns the folder as is when it has config.json', async () => {
    assert.equal(await resolveModelPath(fixture), fixture);
  });
  it('fails clearly for a folder without config.json, a file, and a path that does not exist', async () => {
    await rejectsWith(resolveModelPath(freshDir()), /has no config\.json/, FileFormatError);
    await rejectsWith(resolveModelPath(path.join(fixture, 'config.json')), /is a file/, FileFormatError);
    await rejectsWith(resolveModelPath('./no/such-folder'), /neither a local folder nor a hub id/, FileFormatError);
  });
});

describe('resolveModelPath from the hub', () => {
  it('downloads the model files once into the huggingface_hub cache layout', async () => {
    const cacheDir = freshDir();
    const progress: HubProgress[] = [];
    await withServer({}, async (server) => {
      const dir = await resolveModelPath(REPO, { endpoint: server.url, cacheDir, onProgress: (p) => progress.push(p) });
      const repoDir = path.join(cacheDir, 'models--tiny--stories260K');
      assert.equal(dir, path.join(repoDir, 'snapshots', DEFAULT_COMMIT));
      assert.equal(fs.readFileSync(path.join(repoDir, 'refs', 'main'), 'utf8'), DEFAULT_COMMIT);
      assert.deepEqual(fs.readdirSync(dir).sort(), EXPECTED_FILES);
      for (const file of EXPECTED_FILES) {
        const source = fs.readFileSync(path.join(fixture, file));
        const link = path.join(dir, file);
        assert.ok(fs.lstatSync(link).isSymbolicLink(), `${file} is a symlink`);
        assert.equal(fs.readlinkSync(link), `../../blobs/${sha256Hex(source)}`);
        assert.ok(fs.readFileSync(link).equals(source), `${file} has the source bytes`);
      }
      assert.deepEqual(fs.readdirSync(path.join(repoDir, 'blobs')).sort(), EXPECTED_FILES.map((f) => sha256Hex(fs.readFileSync(path.join(fixture, f)))).sort());
      // Optional files the repo lacks are remembered, so later runs need not ask again.
      assert.ok(fs.existsSync(path.join(repoDir, '.no_exist', DEFAULT_COMMIT, 'vocab.json')));
      assert.equal(gets(server).length, EXPECTED_FILES.length);
      assert.equal(gets(server, 'golden_greedy.json').length, 0);
      const weights = progress.filter((p) => p.file === 'model.safetensors');
      assert.deepEqual(weights.at(-1), { file: 'model.safetensors', bytes: 1045064, total: 1045064 });

      // Second resolve: a HEAD for config.json (main may have moved), no GET at all.
      const before = server.requests.length;
      assert.equal(await resolveModelPath(REPO, { endpoint: server.url, cacheDir }), dir);
      const again = server.requests.slice(before);
      assert.deepEqual(again.map((r) => `${r.method} ${r.path}`), [`HEAD /${REPO}/resolve/main/config.json`]);

      // A blob removed by hand leaves a dangling link: the next resolve downloads that file again.
      const tokenizer = fs.readFileSync(path.join(fixture, 'tokenizer.json'));
      fs.rmSync(path.join(repoDir, 'blobs', sha256Hex(tokenizer)));
      assert.equal(await resolveModelPath(REPO, { endpoint: server.url, cacheDir }), dir);
      assert.equal(gets(server, 'tokenizer.json').length, 2);
      assert.ok(fs.readFileSync(path.join(dir, 'tokenizer.json')).equals(tokenizer));
    });
  });

  it('works offline from the cache, and says what is missing for an uncached repo', async () => {
    const cacheDir = freshDir();
    await withServer({}, async (server) => {
      const dir = await resolveModelPath(REPO, { endpoint: server.url, cacheDir });
      const before = server.requests.length;
      assert.equal(await resolveModelPath(REPO, { endpoint: server.url, cacheDir, offline: true }), dir);
      process.env.HF_HUB_OFFLINE = '1';
      try {
        assert.equal(await resolveModelPath(REPO, { endpoint: server.url, cacheDir }), dir);
        await rejectsWith(resolveModelPath('other/model', { endpoint: server.url, cacheDir }), /config\.json of other\/model@main is missing from the cache .*offline mode is on/);
      } finally {
        delete process.env.HF_HUB_OFFLINE;
      }
      assert.equal(server.requests.length, before, 'offline makes no request');
    });
  });

  it('shares one download between parallel callers in a process', async () => {
    const cacheDir = freshDir();
    await withServer({}, async (server) => {
      const [a, b] = await Promise.all([1, 2].map(() => resolveModelPath(REPO, { endpoint: server.url, cacheDir })));
      assert.equal(a, b);
      assert.equal(gets(server, 'model.safetensors').length, 1);
      assert.ok(fs.readFileSync(path.join(a!, 'model.safetensors')).equals(fs.readFileSync(path.join(fixture, 'model.safetensors'))));
    });
  });

  it('falls back to the cache when the hub cannot be reached', async () => {
    const cacheDir = freshDir();
    const server = await startHubServer({ repos: { [REPO]: fixture } });
    const dir = await resolveModelPath(REPO, { endpoint: server.url, cacheDir });
    await server.close();
    assert.equal(await resolveModelPath(REPO, { endpoint: server.url, cacheDir }), dir);
    await rejectsWith(resolveModelPath('other/model', { endpoint: server.url, cacheDir }), /cannot reach the hub .* not in the cache/);
  });

  it('resumes a download cut mid-body with a Range request, byte-identical to the source', async () => {
    const cacheDir = freshDir();
    await withServer({ failAfterBytes: 100_000, lfsRedirect: true }, async (server) => {
      const dir = await resolveModelPath(REPO, { endpoint: server.url, cacheDir });
      const weightGets = gets(server, 'model.safetensors');
      assert.equal(weightGets.length, 4, 'hub GET + CDN GET, then again after the cut');
      assert.equal(weightGets[1]!.headers.range, undefined);
      assert.equal(weightGets[3]!.headers.range, 'bytes=100000-');
      assert.ok(fs.readFileSync(path.join(dir, 'model.safetensors')).equals(fs.readFileSync(path.join(fixture, 'model.safetensors'))));
      assert.deepEqual(walk(cacheDir).filter((f) => f.endsWith('.incomplete')), []);
    });
  });

  it('resumes an .incomplete blob left by an earlier run, and starts over if the server ignores Range', async () => {
    const source = fs.readFileSync(path.join(fixture, 'model.safetensors'));
    for (const ignoreRange of [false, true]) {
      const cacheDir = freshDir();
      const blobs = path.join(cacheDir, 'models--tiny--stories260K', 'blobs');
      fs.mkdirSync(blobs, { recursive: true });
      fs.writeFileSync(path.join(blobs, `${sha256Hex(source)}.incomplete`), source.subarray(0, 5000));
      await withServer({ ignoreRange }, async (server) => {
        const file = await hubDownload(REPO, 'model.safetensors', { endpoint: server.url, cacheDir });
        assert.equal(gets(server)[0]!.headers.range, 'bytes=5000-');
        assert.ok(fs.readFileSync(file).equals(source), `identical bytes (ignoreRange=${ignoreRange})`);
      });
    }
  });

  it('sends the token to the hub only, never to the CDN, and never writes it to disk', async () => {
    const token = 'hf_SecretTokenValue123';
    const cacheDir = freshDir();
    await withServer({ requireToken: token, lfsRedirect: true }, async (server) => {
      const noToken = await rejectsWith(resolveModelPath(REPO, { endpoint: server.url, cacheDir }), /gated, private.*set HF_TOKEN/);
      const wrong = await rejectsWith(resolveModelPath(REPO, { endpoint: server.url, cacheDir, token: 'hf_wrong_value' }), /not accepted.*HF_TOKEN/);
      assert.ok(!noToken.message.includes(token) && !wrong.message.includes('hf_wrong_value'));

      process.env.HF_TOKEN = token;
      try {
        const dir = await resolveModelPath(REPO, { endpoint: server.url, cacheDir });
        assert.ok(fs.readFileSync(path.join(dir, 'model.safetensors')).equals(fs.readFileSync(path.join(fixture, 'model.safetensors'))));
      } finally {
        delete process.env.HF_TOKEN;
      }
      const cdnRequests = server.requests.filter((r) => r.path.startsWith('/lfs-cdn/'));
      assert.ok(cdnRequests.length > 0, 'the weights came through the CDN redirect');
      for (const r of cdnRequests) assert.equal(r.headers.authorization, undefined, `no Authorization to ${r.path}`);
      const hubAuthorized = server.requests.filter((r) => r.headers.authorization === `Bearer ${token}`);
      assert.ok(hubAuthorized.some((r) => r.method === 'GET'));
    });
    // The blob of an LFS file is named by its sha256 (X-Linked-Etag), not by the pointer's ETag.
    const blobs = fs.readdirSync(path.join(cacheDir, 'models--tiny--stories260K', 'blobs'));
    assert.ok(blobs.includes(sha256Hex(fs.readFileSync(path.join(fixture, 'model.safetensors')))));
    for (const file of walk(cacheDir)) {
      assert.ok(!file.includes(token), file);
      assert.ok(!fs.readFileSync(file).includes(token), `token found in ${file}`);
    }
  });

  it('fails clearly for a missing repo, revision, file or safetensors weights', async () => {
    const cacheDir = freshDir();
    const binOnly = freshDir();
    fs.copyFileSync(path.join(fixture, 'config.json'), path.join(binOnly, 'config.json'));
    fs.writeFileSync(path.join(binOnly, 'pytorch_model.bin'), 'not loaded');
    await withServer({ repos: { [REPO]: fixture, 'old/bin-only': binOnly } }, async (server) => {
      const opts = { endpoint: server.url, cacheDir };
      await rejectsWith(resolveModelPath('nobody/nothing', opts), /hub repo nobody\/nothing not found/);
      await rejectsWith(resolveModelPath(`${REPO}@v9`, opts), /revision "v9" not found in hub repo tiny\/stories260K/);
      await rejectsWith(hubDownload(REPO, 'vocab.json', opts), /vocab\.json not found in hub repo tiny\/stories260K at revision main/);
      await rejectsWith(resolveModelPath('old/bin-only', opts), /old\/bin-only@main has no safetensors weights/);
      await rejectsWith(hubDownload(REPO, '../../etc/passwd', opts), /invalid file name/);
    });
  });

  it('downloads every shard of a sharded model, and pins @revision', async () => {
    const repoDir = freshDir();
    fs.copyFileSync(path.join(fixture, 'config.json'), path.join(repoDir, 'config.json'));
    const shards = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
    shards.forEach((s, i) => fs.writeFileSync(path.join(repoDir, s), Buffer.from(randomArray(3000 + i * 500, i).buffer)));
    const weightMap = { 'a.weight': shards[0], 'b.weight': shards[1], 'c.weight': shards[0] };
    fs.writeFileSync(path.join(repoDir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const cacheDir = freshDir();
    await withServer({ repos: { 'big/sharded': repoDir }, lfsRedirect: true }, async (server) => {
      const dir = await resolveModelPath(`big/sharded@${DEFAULT_COMMIT}`, { endpoint: server.url, cacheDir });
      assert.deepEqual(fs.readdirSync(dir).sort(), ['config.json', 'model.safetensors.index.json', ...shards].sort());
      for (const s of shards) assert.ok(fs.readFileSync(path.join(dir, s)).equals(fs.readFileSync(path.join(repoDir, s))));
      assert.equal(server.requests.filter((r) => r.path.endsWith('/model.safetensors')).length, 0);
      // A commit is immutable: resolving it again asks the hub nothing.
      const before = server.requests.length;
      await resolveModelPath(`big/sharded@${DEFAULT_COMMIT}`, { endpoint: server.url, cacheDir });
      assert.equal(server.requests.length, before);
    });
  });

  it('takes the cache dir from HF_HUB_CACHE, else HF_HOME, and the endpoint from HF_ENDPOINT', async () => {
    await withServer({ weakEtag: true }, async (server) => {
      const hubCache = freshDir();
      const hfHome = freshDir();
      process.env.HF_ENDPOINT = server.url;
      try {
        process.env.HF_HUB_CACHE = hubCache;
        process.env.HF_HOME = hfHome;
        assert.equal(path.dirname(await resolveModelPath(REPO)), path.join(hubCache, 'models--tiny--stories260K', 'snapshots'));
        delete process.env.HF_HUB_CACHE;
        const dir = await resolveModelPath(REPO);
        assert.equal(dir, path.join(hfHome, 'hub', 'models--tiny--stories260K', 'snapshots', DEFAULT_COMMIT));
        // Weak ETags (W/"...") name blobs without the prefix and quotes.
        const config = fs.readFileSync(path.join(fixture, 'config.json'));
        assert.equal(fs.readlinkSync(path.join(dir, 'config.json')), `../../blobs/${sha256Hex(config)}`);
      } finally {
        delete process.env.HF_ENDPOINT;
        delete process.env.HF_HUB_CACHE;
        delete process.env.HF_HOME;
      }
    });
  });
});
