// Resolves a model argument — a local folder or a hub id `org/name[@revision]` — to a local folder,
// downloading from the Hugging Face hub once into its cache. The layout is huggingface_hub's, so a
// cache filled by the Python tools serves here and the other way round:
//   <cache>/models--{org}--{name}/blobs/<etag>               file content, named by its etag
//   <cache>/models--{org}--{name}/snapshots/<commit>/<file>  relative symlink to ../../blobs/<etag>
//   <cache>/models--{org}--{name}/refs/<revision>             the commit the revision pointed at
//   <cache>/models--{org}--{name}/.no_exist/<commit>/<file>   an optional file the hub does not have
// The only module of model/ that reaches the network; it honours the offline switch.
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FileFormatError, HubError } from '../core/errors.js';
import { envFlag, offlineFromEnv } from '../core/env.js';

/** One progress report of a file download (`total` is null when the hub gave no size). */
export interface HubProgress {
  file: string;
  bytes: number;
  total: number | null;
}

export interface HubOptions {
  /** Hub base URL. Default: HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string;
  /** Cache root. Default: HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub. */
  cacheDir?: string;
  /** Branch, tag or commit. Default 'main'; an `@revision` suffix of the model id wins. */
  revision?: string;
  /** Token for gated/private repos. Default: HF_TOKEN, else HUGGING_FACE_HUB_TOKEN. Sent as
   *  `Authorization: Bearer` to the hub endpoint only; never logged nor written to disk. */
  token?: string;
  /** Use the cache only. Default: HF_HUB_OFFLINE=1 or COMPSAFE_OFFLINE=1. */
  offline?: boolean;
  /** Called as a download advances: at most every 100 ms, and once when each file ends. */
  onProgress?: (p: HubProgress) => void;
  /** Only for injecting a custom agent (a proxy); defaults to the global fetch. */
  fetchImpl?: typeof fetch;
}

/** Files a model folder may have beside config.json and the weights; absent ones are skipped. */
const OPTIONAL_FILES = [
  'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json',
  'tokenizer.model', 'vocab.json', 'merges.txt',
];
const HEAD_TIMEOUT_MS = 10_000; // huggingface_hub's HF_HUB_ETAG_TIMEOUT
const STALL_TIMEOUT_MS = 60_000; // a download that receives nothing this long is retried
const DOWNLOAD_ATTEMPTS = 4;
const MAX_REDIRECTS = 10;
const PROGRESS_INTERVAL_MS = 100;
const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*(@[\w./-]+)?$/;
const COMMIT_HASH = /^[0-9a-f]{40}$/;
const SHA256 = /^[0-9a-f]{64}$/;

/** 'org/name' or 'org/name@revision' that does not name an existing local path. */
export function isHubId(s: string): boolean {
  return HUB_ID.test(s) && !fs.existsSync(s);
}

/** `model` is a local folder (returned as is, after checking it exists and has config.json) or a
 *  hub id `org/name` (optionally `org/name@revision`). Returns the snapshot folder. */
export async function resolveModelPath(model: string, opts: HubOptions = {}): Promise<string> {
  if (!isHubId(model)) return localModelFolder(model);
  const at = model.indexOf('@');
  const repo = at < 0 ? model : model.slice(0, at);
  const ctx = settings({ ...opts, revision: at < 0 ? opts.revision : model.slice(at + 1) });
  const snapshotDir = path.dirname((await getFile(ctx, repo, 'config.json', ctx.revision, true))!);
  // Everything else comes from the commit config.json came from, even if the branch moves meanwhile.
  const commit = path.basename(snapshotDir);
  for (const file of OPTIONAL_FILES) await getFile(ctx, repo, file, commit, false);
  const index = await getFile(ctx, repo, 'model.safetensors.index.json', commit, false);
  if (index !== null) {
    for (const shard of shardFiles(index)) await getFile(ctx, repo, shard, commit, true);
  } else if ((await getFile(ctx, repo, 'model.safetensors', commit, false)) === null) {
    if (ctx.offlineReason !== null) throw missingFromCache(ctx, repo, 'model.safetensors (or its .index.json)');
    throw new HubError(`${repo}@${ctx.revision} has no safetensors weights (no model.safetensors nor ` +
      'model.safetensors.index.json); compsafe loads safetensors only: pick a repo that has them or convert pytorch_model.bin');
  }
  return snapshotDir;
}

/** Download one file of a repo into the cache (hub layout), returning its snapshot path. */
export async function hubDownload(repo: string, file: string, opts: HubOptions = {}): Promise<string> {
  const ctx = settings(opts);
  return (await getFile(ctx, repo, file, ctx.revision, true))!;
}

type Context = ReturnType<typeof settings>;

/** Options over environment over defaults, read at each call (not at import) so callers and tests can set env. */
function settings(opts: HubOptions) {
  const env = process.env;
  const hfHome = env.HF_HOME ?? path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'huggingface');
  const endpoint = (opts.endpoint ?? env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '');
  if (!URL.canParse(endpoint)) {
    throw new HubError(`hub endpoint "${endpoint}" is not a URL; set HF_ENDPOINT to e.g. https://huggingface.co`);
  }
  const offline = opts.offline ?? (envFlag(env.HF_HUB_OFFLINE) || offlineFromEnv(env));
  return {
    endpoint,
    endpointOrigin: new URL(endpoint).origin,
    cacheDir: opts.cacheDir ?? env.HF_HUB_CACHE ?? env.HUGGINGFACE_HUB_CACHE ?? path.join(hfHome, 'hub'),
    revision: opts.revision ?? 'main',
    token: opts.token || env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN || undefined,
    /** Why only the cache is used: the switch asked for it, or the hub could not be reached once already. */
    offlineReason: (offline ? 'switch' : null) as 'switch' | 'unreachable' | null,
    onProgress: opts.onProgress,
    fetch: opts.fetchImpl ?? globalThis.fetch,
  };
}

function localModelFolder(model: string): string {
  const stat = fs.statSync(model, { throwIfNoEntry: false });
  if (!stat) throw new FileFormatError(`model "${model}" is neither a local folder nor a hub id (org/name or org/name@revision)`);
  if (!stat.isDirectory()) throw new FileFormatError(`model "${model}" is a file; pass the folder that holds config.json`);
  if (!fs.existsSync(path.join(model, 'config.json'))) {
    throw new FileFormatError(`model folder "${model}" has no config.json; pass a Hugging Face model folder`);
  }
  return model;
}

/** The hub could not be reached or answered 5xx/429: the caller may use the cache or retry.
 *  Never leaves this module. */
class NetworkError extends Error {}

interface FileMeta {
  commit: string;
  etag: string;
  size: number | null;
}

/** Downloads in flight in this process, by blob path, so parallel callers share one download. */
const inFlight = new Map<string, Promise<void>>();

/** The snapshot path of `file`, downloaded if needed; null for an optional file the hub does not
 *  have (or, offline, that the cache does not have). */
async function getFile(ctx: Context, repo: string, file: string, revision: string, required: boolean): Promise<string | null> {
  checkRelative(repo, 'repo id', 2);
  checkRelative(revision, 'revision');
  checkRelative(file, 'file name');
  const repoDir = path.join(ctx.cacheDir, `models--${repo.split('/').join('--')}`);
  if (COMMIT_HASH.test(revision)) {
    // A commit never changes: what the cache holds for it is final, no need to ask the hub.
    const snapshot = path.join(repoDir, 'snapshots', revision, file);
    if (fs.existsSync(snapshot)) return snapshot;
    if (!required && fs.existsSync(path.join(repoDir, '.no_exist', revision, file))) return null;
  }
  if (ctx.offlineReason !== null) {
    const cached = cachedFile(repoDir, revision, file);
    if (cached === null && required) throw missingFromCache(ctx, repo, file);
    return cached;
  }
  let meta: FileMeta | null;
  try {
    meta = await headMeta(ctx, repo, file, revision);
  } catch (e) {
    if (!(e instanceof NetworkError)) throw e;
    const cached = cachedFile(repoDir, revision, file);
    if (cached === null) {
      throw new HubError(`cannot reach the hub at ${ctx.endpoint} (${e.message}) and ${repo}/${file} is not in the ` +
        `cache ${ctx.cacheDir}; check the connection or HF_ENDPOINT`);
    }
    ctx.offlineReason = 'unreachable'; // the rest comes from the cache without waiting on the network again
    return cached;
  }
  if (meta === null) {
    if (required) throw new HubError(`${file} not found in hub repo ${repo} at revision ${revision} (HTTP 404); check the names`);
    if (COMMIT_HASH.test(revision)) writeSmallFile(path.join(repoDir, '.no_exist', revision, file), '');
    return null;
  }
  if (revision !== meta.commit) writeSmallFile(path.join(repoDir, 'refs', revision), meta.commit);
  const snapshot = path.join(repoDir, 'snapshots', meta.commit, file);
  if (fs.existsSync(snapshot)) return snapshot;
  const blob = path.join(repoDir, 'blobs', meta.etag);
  if (!fs.existsSync(blob)) {
    let download = inFlight.get(blob);
    if (!download) {
      const url = resolveUrl(ctx.endpoint, repo, meta.commit, file);
      download = downloadBlob(ctx, url, meta, blob, repo, file).finally(() => inFlight.delete(blob));
      inFlight.set(blob, download);
    }
    await download;
  }
  linkSnapshot(blob, snapshot);
  return snapshot;
}

function missingFromCache(ctx: Context, repo: string, file: string): HubError {
  const why = ctx.offlineReason === 'switch'
    ? 'offline mode is on (HF_HUB_OFFLINE / COMPSAFE_OFFLINE); run once online to download it'
    : `the hub at ${ctx.endpoint} could not be reached; check the connection or HF_ENDPOINT`;
  return new HubError(`${file} of ${repo}@${ctx.revision} is missing from the cache ${ctx.cacheDir} and ${why}`);
}

function cachedFile(repoDir: string, revision: string, file: string): string | null {
  const ref = path.join(repoDir, 'refs', revision);
  const commit = fs.existsSync(ref) ? fs.readFileSync(ref, 'utf8').trim() : revision;
  if (!isPlainName(commit)) return null;
  const snapshot = path.join(repoDir, 'snapshots', commit, file);
  return fs.existsSync(snapshot) ? snapshot : null;
}

function resolveUrl(endpoint: string, repo: string, revision: string, file: string): string {
  return `${endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${file.split('/').map(encodeURIComponent).join('/')}`;
}

/** Commit, etag and size of a file from a HEAD request; null when the hub has no such file. */
async function headMeta(ctx: Context, repo: string, file: string, revision: string): Promise<FileMeta | null> {
  let url = resolveUrl(ctx.endpoint, repo, revision, file);
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const res = await request(ctx, url, 'HEAD', {}, AbortSignal.timeout(HEAD_TIMEOUT_MS));
    const h = res.headers;
    const location = h.get('location');
    // A redirect without hub headers is a renamed repo: follow it. An LFS file's redirect goes to the
    // CDN, and its own headers already say all we need.
    if (res.status >= 300 && res.status < 400 && location && !h.has('x-linked-etag') && !h.has('x-repo-commit')) {
      url = new URL(location, url).href;
      continue;
    }
    if (res.status === 404 && !['RepoNotFound', 'RevisionNotFound'].includes(h.get('x-error-code') ?? '')) return null;
    if (res.status >= 400) throw statusError(ctx, res.status, h.get('x-error-code'), repo, revision, file);
    const commit = h.get('x-repo-commit');
    const etag = normalizeEtag(h.get('x-linked-etag') ?? h.get('etag'));
    if (!commit || !etag || !isPlainName(commit)) {
      throw new HubError(`${url} did not answer like a Hugging Face hub (no valid X-Repo-Commit or ETag); check HF_ENDPOINT`);
    }
    const size = Number(h.get('x-linked-size') ?? h.get('content-length') ?? NaN);
    return { commit, etag, size: Number.isSafeInteger(size) && size >= 0 ? size : null };
  }
  throw new HubError(`too many redirects resolving ${repo}/${file}; check HF_ENDPOINT`);
}

/** Strip `W/` and quotes; the etag names a blob file, so keep it a plain file name whatever is sent. */
function normalizeEtag(raw: string | null): string | null {
  const etag = (raw ?? '').trim().replace(/^W\//, '').replace(/^"|"$/g, '');
  return etag === '' ? null : etag.replace(/[^\w.-]/g, '_').replace(/^\.+/, '_');
}

/** An HTTP request. With `follow`, redirects are followed by hand, hop by hop, so that the token goes to
 *  the hub endpoint only and never to a CDN on another host. */
async function request(ctx: Context, url: string, method: 'HEAD' | 'GET', headers: Record<string, string>,
  signal: AbortSignal, follow = false): Promise<Response> {
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    // identity: Content-Length must be the size of the bytes we store.
    const all: Record<string, string> = { 'Accept-Encoding': 'identity', 'User-Agent': 'compsafe', ...headers };
    if (ctx.token && new URL(url).origin === ctx.endpointOrigin) all.Authorization = `Bearer ${ctx.token}`;
    let res: Response;
    try {
      res = await ctx.fetch(url, { method, headers: all, redirect: 'manual', signal });
    } catch (e) {
      throw new NetworkError(describe(e));
    }
    if (res.status >= 500 || res.status === 429) {
      await res.body?.cancel();
      throw new NetworkError(`HTTP ${res.status} from ${new URL(url).host}`);
    }
    const location = res.headers.get('location');
    if (!follow || res.status < 300 || res.status >= 400 || !location) return res;
    await res.body?.cancel();
    url = new URL(location, url).href;
  }
  throw new NetworkError('too many redirects');
}

function statusError(ctx: Context, status: number, code: string | null, repo: string, revision: string, file: string): HubError {
  if (status === 401 || status === 403) {
    const rejected = ctx.token ? 'the token sent was not accepted; ' : '';
    return new HubError(`the hub refused access to ${repo} (HTTP ${status}): the repo is gated, private or does not ` +
      `exist; ${rejected}request access on its page and set HF_TOKEN to a token that has it`);
  }
  if (code === 'RepoNotFound') return new HubError(`hub repo ${repo} not found at ${ctx.endpoint} (HTTP 404); check the repo id`);
  if (code === 'RevisionNotFound') return new HubError(`revision "${revision}" not found in hub repo ${repo} (HTTP 404); check it`);
  return new HubError(`the hub answered HTTP ${status} for ${file} of ${repo}@${revision}`);
}

/** Download into `<blob>.incomplete`, resuming what an earlier attempt left; check it; rename into place. */
async function downloadBlob(ctx: Context, url: string, meta: FileMeta, blob: string, repo: string, file: string): Promise<void> {
  const part = `${blob}.incomplete`;
  fs.mkdirSync(path.dirname(blob), { recursive: true });
  for (let attempt = 1; ; attempt++) {
    try {
      await fetchIntoPart(ctx, url, meta, part, repo, file);
      break;
    } catch (e) {
      if (!(e instanceof NetworkError)) throw e;
      if (attempt === DOWNLOAD_ATTEMPTS) {
        throw new HubError(`download of ${repo}/${file} failed after ${attempt} attempts (${e.message}); run again to resume`);
      }
      await new Promise((r) => setTimeout(r, 250 * attempt));
    }
  }
  // An LFS etag is the sha256 of the content: check it, since a resumed file is stitched together.
  if (SHA256.test(meta.etag)) {
    const actual = await sha256File(part);
    if (actual !== meta.etag) {
      fs.rmSync(part, { force: true });
      throw new HubError(`${repo}/${file} failed its checksum (sha256 ${actual}, hub says ${meta.etag}); ` +
        'the partial file was removed, run again');
    }
  }
  fs.renameSync(part, blob);
}

/** One attempt to bring `part` to its full size. Throws NetworkError for whatever a retry may fix. */
async function fetchIntoPart(ctx: Context, url: string, meta: FileMeta, part: string, repo: string, file: string): Promise<void> {
  const expected = meta.size;
  let have = fs.existsSync(part) ? fs.statSync(part).size : 0;
  if (expected !== null && have > expected) have = 0;
  if (expected !== null && have === expected) return;
  const abort = new AbortController();
  let timer = setTimeout(() => abort.abort(), STALL_TIMEOUT_MS);
  const stillAlive = () => {
    clearTimeout(timer);
    timer = setTimeout(() => abort.abort(), STALL_TIMEOUT_MS);
  };
  try {
    const res = await request(ctx, url, 'GET', have > 0 ? { Range: `bytes=${have}-` } : {}, abort.signal, true);
    const resumedRight = res.status !== 206 || (res.headers.get('content-range') ?? '').startsWith(`bytes ${have}-`);
    if (res.status === 416 || !resumedRight) {
      await res.body?.cancel();
      fs.rmSync(part, { force: true });
      throw new NetworkError('the server could not resume the download; starting over');
    }
    if (res.status !== 200 && res.status !== 206) {
      await res.body?.cancel();
      throw statusError(ctx, res.status, res.headers.get('x-error-code'), repo, meta.commit, file);
    }
    if (res.status === 200) have = 0; // the server ignored the Range header: start over
    const length = Number(res.headers.get('content-length') ?? NaN);
    const total = expected ?? (Number.isSafeInteger(length) ? have + length : null);
    await streamBody(ctx, res, part, have, total, file, stillAlive);
    const size = fs.statSync(part).size;
    if (total !== null && size !== total) {
      if (size > total) fs.rmSync(part, { force: true });
      throw new NetworkError(`received ${size} bytes of ${total}`);
    }
  } finally {
    clearTimeout(timer);
  }
}

/** Append the response body to `part` (or write it afresh when `have` is 0), reporting progress. */
async function streamBody(ctx: Context, res: Response, part: string, have: number, total: number | null, file: string,
  stillAlive: () => void): Promise<void> {
  if (!res.body) throw new NetworkError('empty response');
  const reader = res.body.getReader();
  const out = await fsp.open(part, have > 0 ? 'a' : 'w').catch((e: unknown) => { throw cacheWriteError(part, e); });
  let bytes = have;
  let lastReport = 0;
  try {
    ctx.onProgress?.({ file, bytes, total });
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        throw new NetworkError(describe(e));
      }
      if (chunk.done) break;
      stillAlive();
      try {
        for (let at = 0; at < chunk.value.byteLength;) at += (await out.write(chunk.value, at)).bytesWritten;
      } catch (e) {
        throw cacheWriteError(part, e);
      }
      bytes += chunk.value.byteLength;
      if (Date.now() - lastReport >= PROGRESS_INTERVAL_MS) {
        lastReport = Date.now();
        ctx.onProgress?.({ file, bytes, total });
      }
    }
    ctx.onProgress?.({ file, bytes, total });
  } finally {
    await out.close();
    await reader.cancel().catch(() => undefined); // frees the connection when we stopped early
  }
}

function cacheWriteError(file: string, e: unknown): HubError {
  const code = (e as NodeJS.ErrnoException).code ?? String(e);
  return new HubError(`cannot write ${file} (${code}); check free space and permissions of the cache dir (HF_HUB_CACHE)`);
}

function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  if (e.name === 'AbortError' || e.name === 'TimeoutError') return 'timed out';
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause ? `${e.message}: ${cause.code ?? cause.message}` : e.message;
}

async function sha256File(file: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** snapshots/<commit>/<file> -> ../../blobs/<etag>, relative so the cache can move; a copy where
 *  symlinks are not allowed (Windows without developer mode, some network drives). */
function linkSnapshot(blob: string, snapshot: string): void {
  fs.mkdirSync(path.dirname(snapshot), { recursive: true });
  fs.rmSync(snapshot, { force: true }); // a dangling link left by a removed blob
  try {
    fs.symlinkSync(path.relative(path.dirname(snapshot), blob), snapshot);
  } catch {
    fs.copyFileSync(blob, snapshot);
  }
}

function writeSmallFile(file: string, content: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
}

const isPlainName = (s: string) => /^[\w.-]+$/.test(s) && s !== '.' && s !== '..';

/** A name that becomes a path under the cache: relative, no '.' or '..' parts, at most `maxParts` parts. */
function checkRelative(name: string, what: string, maxParts = Infinity): void {
  const parts = name.split('/');
  if (name.includes('\\') || parts.length > maxParts || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new HubError(`invalid ${what} "${name}"; expected a plain relative name like org/name or model.safetensors`);
  }
}

/** The distinct shard files a model.safetensors.index.json names in its weight_map. */
function shardFiles(indexPath: string): string[] {
  let weightMap: unknown;
  try {
    weightMap = (JSON.parse(fs.readFileSync(indexPath, 'utf8')) as { weight_map?: unknown }).weight_map;
  } catch {
    weightMap = undefined;
  }
  const shards = typeof weightMap === 'object' && weightMap !== null ? Object.values(weightMap) : [];
  if (shards.length === 0 || shards.some((shard) => typeof shard !== 'string')) {
    throw new HubError(`${indexPath} is not a sharded index (JSON whose weight_map names shard files); delete it and run again`);
  }
  return [...new Set(shards as string[])].sort();
}
