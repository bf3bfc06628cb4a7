// Resolves a model argument — a local folder or a hub id `org/name[@revision]` — to a local folder,
// downloading from the Hugging Face hub once into its cache. The cache layout is huggingface_hub's,
// so a cache filled by the Python tools is reused here and the other way round:
//   <cache>/models--{org}--{name}/blobs/<etag>               file content, named by its etag
//   <cache>/models--{org}--{name}/snapshots/<commit>/<file>  relative symlink to ../../blobs/<etag>
//   <cache>/models--{org}--{name}/refs/<revision>             the commit the revision pointed at
//   <cache>/models--{org}--{name}/.no_exist/<commit>/<file>   an optional file the hub does not have
// This is the only module of model/ that reaches the network; it honours the offline switch.
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FileFormatError, HubError } from '../core/errors.js';

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
  /** Branch, tag or commit. Default 'main' (an `@revision` suffix of the model id wins). */
  revision?: string;
  /** Access token for gated/private repos. Default: HF_TOKEN, else HUGGING_FACE_HUB_TOKEN.
   *  Sent only to the hub endpoint as `Authorization: Bearer`; never logged nor written to disk. */
  token?: string;
  /** Use the cache only. Default: HF_HUB_OFFLINE=1 or COMPSAFE_OFFLINE=1. */
  offline?: boolean;
  /** Called as a download advances (at most every 100 ms, and once at the end of each file). */
  onProgress?: (p: HubProgress) => void;
  /** Only for injecting a custom agent (proxy); defaults to the global fetch. */
  fetchImpl?: typeof fetch;
}

/** Files a model folder may have beside config.json and the weights; absent ones are skipped. */
const OPTIONAL_FILES = [
  'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json',
  'tokenizer.model', 'vocab.json', 'merges.txt',
];
const HEAD_TIMEOUT_MS = 10_000; // as huggingface_hub's HF_HUB_ETAG_TIMEOUT
const STALL_TIMEOUT_MS = 60_000; // a body that sends nothing for this long is retried
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
  const configPath = await getFile(ctx, repo, 'config.json', ctx.revision, true);
  const snapshotDir = path.dirname(configPath!);
  // Every other file comes from the commit config.json came from, even if the branch moves meanwhile.
  const commit = path.basename(snapshotDir);
  for (const file of OPTIONAL_FILES) await getFile(ctx, repo, file, commit, false);
  const indexPath = await getFile(ctx, repo, 'model.safetensors.index.json', commit, false);
  if (indexPath !== null) {
    for (const shard of shardFiles(indexPath)) await getFile(ctx, repo, shard, commit, true);
  } else if ((await getFile(ctx, repo, 'model.safetensors', commit, false)) === null) {
    if (ctx.offlineReason !== null) throw missingFromCache(ctx, repo, 'model.safetensors (or model.safetensors.index.json)');
    throw new HubError(`${repo}@${ctx.revision} has no safetensors weights (neither model.safetensors nor model.safetensors.index.json); compsafe loads safetensors only — pick a repo that has them or convert pytorch_model.bin first`);
  }
  return snapshotDir;
}

/** Download one file of a repo into the cache (hub layout), returning its snapshot path. */
export async function hubDownload(repo: string, file: string, opts: HubOptions = {}): Promise<string> {
  const ctx = settings(opts);
  return (await getFile(ctx, repo, file, ctx.revision, true))!;
}

interface Context {
  endpoint: string;
  endpointOrigin: string;
  cacheDir: string;
  revision: string;
  token: string | undefined;
  /** Why the cache alone is used: asked for, or the hub could not be reached once already. */
  offlineReason: 'switch' | 'unreachable' | null;
  onProgress: ((p: HubProgress) => void) | undefined;
  fetch: typeof fetch;
}

function settings(opts: HubOptions): Context {
  const env = process.env;
  const hfHome = env.HF_HOME ?? path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'huggingface');
  const endpoint = (opts.endpoint ?? env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '');
  let endpointOrigin: string;
  try {
    endpointOrigin = new URL(endpoint).origin;
  } catch {
    throw new HubError(`hub endpoint "${endpoint}" is not a URL; set HF_ENDPOINT to e.g. https://huggingface.co`);
  }
  const offline = opts.offline ?? (isTrue(env.HF_HUB_OFFLINE) || isTrue(env.COMPSAFE_OFFLINE));
  return {
    endpoint,
    endpointOrigin,
    cacheDir: opts.cacheDir ?? env.HF_HUB_CACHE ?? env.HUGGINGFACE_HUB_CACHE ?? path.join(hfHome, 'hub'),
    revision: opts.revision ?? 'main',
    token: opts.token || env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN || undefined,
    offlineReason: offline ? 'switch' : null,
    onProgress: opts.onProgress,
    fetch: opts.fetchImpl ?? globalThis.fetch,
  };
}

function isTrue(v: string | undefined): boolean {
  return v !== undefined && ['1', 'on', 'yes', 'true'].includes(v.trim().toLowerCase());
}

function localModelFolder(model: string): string {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(model);
  } catch {
    throw new FileFormatError(`model "${model}" is neither a local folder nor a hub id (org/name or org/name@revision)`);
  }
  if (!stat.isDirectory()) throw new FileFormatError(`model "${model}" is a file; pass the folder that holds config.json and the safetensors weights`);
  if (!fs.existsSync(path.join(model, 'config.json'))) throw new FileFormatError(`model folder "${model}" has no config.json; pass a Hugging Face model folder`);
  return model;
}

/** Raised inside this module when the hub cannot be reached (or answers 5xx/429): callers may use
 *  the cache or retry. Never leaves the module. */
class NetworkError extends Error {}

interface FileMeta {
  commit: string;
  etag: string;
  size: number | null;
}

/** The snapshot path of `file`, downloading it if needed; null for an optional file the hub
 *  does not have (or, offline, that the cache does not have). */
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
  if (ctx.offlineReason !== null) return fromCache(ctx, repoDir, repo, revision, file, required);
  let meta: FileMeta | null;
  try {
    meta = await headMeta(ctx, repo, file, revision);
  } catch (e) {
    if (!(e instanceof NetworkError)) throw e;
    const cached = cachedFile(repoDir, revision, file);
    if (cached === null) throw new HubError(`cannot reach the hub at ${ctx.endpoint} (${e.message}) and ${repo}/${file} is not in the cache ${ctx.cacheDir}; check the connection or HF_ENDPOINT`);
    ctx.offlineReason = 'unreachable'; // the rest comes from the cache without waiting on the network again
    return cached;
  }
  if (meta === null) {
    if (required) throw new HubError(`${file} not found in hub repo ${repo} at revision ${revision} (HTTP 404); check the repo id, revision and file name`);
    if (COMMIT_HASH.test(revision)) touch(path.join(repoDir, '.no_exist', revision, file));
    return null;
  }
  if (revision !== meta.commit) writeFile(path.join(repoDir, 'refs', revision), meta.commit);
  const snapshot = path.join(repoDir, 'snapshots', meta.commit, file);
  if (fs.existsSync(snapshot)) return snapshot;
  const blob = path.join(repoDir, 'blobs', meta.etag);
  if (!fs.existsSync(blob)) {
    const url = resolveUrl(ctx.endpoint, repo, meta.commit, file);
    await downloadBlob(ctx, url, meta, blob, `${repo}/${file}`, file);
  }
  linkSnapshot(blob, snapshot);
  return snapshot;
}

function fromCache(ctx: Context, repoDir: string, repo: string, revision: string, file: string, required: boolean): string | null {
  const cached = cachedFile(repoDir, revision, file);
  if (cached === null && required) throw missingFromCache(ctx, repo, file);
  return cached;
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
  if (!/^[\w.-]+$/.test(commit)) return null;
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
    // A redirect without LFS headers is a renamed repo: follow it. An LFS file's redirect goes to the
    // CDN, and its headers already say all we need.
    if (res.status >= 300 && res.status < 400 && location && !h.has('x-linked-etag') && !h.has('x-repo-commit')) {
      url = new URL(location, url).href;
      continue;
    }
    if (res.status === 404 && !['RepoNotFound', 'RevisionNotFound'].includes(h.get('x-error-code') ?? '')) return null;
    if (res.status >= 400) throw statusError(ctx, res, repo, revision, file);
    const commit = h.get('x-repo-commit');
    const etag = normalizeEtag(h.get('x-linked-etag') ?? h.get('etag'));
    if (!commit || !etag) throw new HubError(`${url} did not answer like a Hugging Face hub (no X-Repo-Commit or ETag header); check HF_ENDPOINT`);
    if (!/^[\w.-]+$/.test(commit) || commit === '.' || commit === '..') throw new HubError(`hub sent an invalid commit id for ${repo}/${file}; check HF_ENDPOINT`);
    const size = h.get('x-linked-size') ?? h.get('content-length');
    return { commit, etag, size: size === null ? null : Number(size) };
  }
  throw new HubError(`too many redirects resolving ${repo}/${file}; check HF_ENDPOINT`);
}

function normalizeEtag(raw: string | null): string | null {
  if (raw === null) return null;
  const etag = raw.trim().replace(/^W\//, '').replace(/^"|"$/g, '');
  // The etag names a blob file: keep it a plain file name whatever the server sends.
  return etag === '' ? null : etag.replace(/[^\w.-]/g, '_').replace(/^\.+/, '_');
}

/** One HTTP request; the token goes to the hub endpoint only, never to a CDN it redirects to. */
async function request(ctx: Context, url: string, method: 'HEAD' | 'GET', headers: Record<string, string>, signal: AbortSignal): Promise<Response> {
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
  return res;
}

/** GET following redirects by hand, so that `request` decides per hop whether the token goes along. */
async function getFollowing(ctx: Context, url: string, headers: Record<string, string>, signal: AbortSignal): Promise<Response> {
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const res = await request(ctx, url, 'GET', headers, signal);
    const location = res.headers.get('location');
    if (res.status < 300 || res.status >= 400 || !location) return res;
    await res.body?.cancel();
    url = new URL(location, url).href;
  }
  throw new NetworkError('too many redirects');
}

function statusError(ctx: Context, res: Response, repo: string, revision: string, file: string): HubError {
  const code = res.headers.get('x-error-code');
  if (res.status === 401 || res.status === 403) {
    const tokenNote = ctx.token ? 'the token sent was not accepted — ' : '';
    return new HubError(`the hub refused access to ${repo} (HTTP ${res.status}): the repo is gated, private or does not exist; ${tokenNote}request access on its page and set HF_TOKEN to a token that has it`);
  }
  if (code === 'RepoNotFound') return new HubError(`hub repo ${repo} not found at ${ctx.endpoint} (HTTP 404); check the repo id`);
  if (code === 'RevisionNotFound') return new HubError(`revision "${revision}" not found in hub repo ${repo} (HTTP 404); check the branch, tag or commit`);
  return new HubError(`the hub answered HTTP ${res.status} for ${file} of ${repo}@${revision}`);
}

/** Download into `<blob>.incomplete` (resuming what an earlier attempt left), check it, then rename. */
async function downloadBlob(ctx: Context, url: string, meta: FileMeta, blob: string, label: string, file: string): Promise<void> {
  const part = `${blob}.incomplete`;
  fs.mkdirSync(path.dirname(blob), { recursive: true });
  let lastProblem: string | null = null;
  for (let attempt = 1; attempt <= DOWNLOAD_ATTEMPTS; attempt++) {
    try {
      await fetchIntoPart(ctx, url, meta.size, part, file, label);
      lastProblem = null;
      break;
    } catch (e) {
      if (!(e instanceof NetworkError)) throw e;
      lastProblem = e.message;
      if (attempt < DOWNLOAD_ATTEMPTS) await new Promise((r) => setTimeout(r, 250 * attempt));
    }
  }
  if (lastProblem !== null) throw new HubError(`download of ${label} failed after ${DOWNLOAD_ATTEMPTS} attempts (${lastProblem}); run again to resume`);
  // LFS etags are the sha256 of the content: check it, since a resumed file is stitched together.
  if (SHA256.test(meta.etag)) {
    const actual = await sha256File(part);
    if (actual !== meta.etag) {
      fs.rmSync(part, { force: true });
      throw new HubError(`${label} failed its checksum (sha256 ${actual}, hub says ${meta.etag}); the partial file was removed, run again`);
    }
  }
  fs.renameSync(part, blob);
}

/** One attempt: bring `part` to the full size. Throws NetworkError for anything a retry may fix. */
async function fetchIntoPart(ctx: Context, url: string, expected: number | null, part: string, file: string, label: string): Promise<void> {
  let have = fs.existsSync(part) ? fs.statSync(part).size : 0;
  if (expected !== null && have > expected) have = 0;
  if (expected !== null && have === expected) return;
  const abort = new AbortController();
  let timer = setTimeout(() => abort.abort(), STALL_TIMEOUT_MS);
  const kick = () => {
    clearTimeout(timer);
    timer = setTimeout(() => abort.abort(), STALL_TIMEOUT_MS);
  };
  try {
    const res = await getFollowing(ctx, url, have > 0 ? { Range: `bytes=${have}-` } : {}, abort.signal);
    if (res.status === 416) {
      fs.rmSync(part, { force: true });
      throw new NetworkError('the server refused to resume; starting over');
    }
    if (res.status !== 200 && res.status !== 206) {
      await res.body?.cancel();
      const access = res.status === 401 || res.status === 403 ? '; the repo is gated or private: set HF_TOKEN to a token that has access' : '';
      throw new HubError(`the hub answered HTTP ${res.status} downloading ${label}${access}`);
    }
    if (res.status === 206 && !(res.headers.get('content-range') ?? '').startsWith(`bytes ${have}-`)) {
      await res.body?.cancel();
      fs.rmSync(part, { force: true });
      throw new NetworkError('the server resumed at the wrong offset; starting over');
    }
    if (res.status === 200) have = 0; // the server ignored the Range header: start over
    const length = res.headers.get('content-length');
    const total = expected ?? (length === null ? null : have + Number(length));
    await streamBody(ctx, res, part, have, total, file, kick);
    const size = fs.statSync(part).size;
    if (total !== null && size !== total) {
      if (size > total) fs.rmSync(part, { force: true });
      throw new NetworkError(`received ${size} bytes of ${total}`);
    }
  } finally {
    clearTimeout(timer);
  }
}

async function streamBody(ctx: Context, res: Response, part: string, have: number, total: number | null, file: string, kick: () => void): Promise<void> {
  if (!res.body) throw new NetworkError('empty response');
  const reader = res.body.getReader();
  const out = await openForWrite(part, have > 0 ? 'a' : 'w');
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
      kick();
      await writeAll(out, chunk.value, part);
      bytes += chunk.value.byteLength;
      if (Date.now() - lastReport >= PROGRESS_INTERVAL_MS) {
        lastReport = Date.now();
        ctx.onProgress?.({ file, bytes, total });
      }
    }
    ctx.onProgress?.({ file, bytes, total });
  } finally {
    await out.close();
    reader.releaseLock();
  }
}

async function writeAll(out: fsp.FileHandle, data: Uint8Array, file: string): Promise<void> {
  try {
    for (let offset = 0; offset < data.byteLength;) offset += (await out.write(data, offset)).bytesWritten;
  } catch (e) {
    throw cacheWriteError(file, e);
  }
}

async function openForWrite(file: string, flags: 'a' | 'w'): Promise<fsp.FileHandle> {
  try {
    return await fsp.open(file, flags);
  } catch (e) {
    throw cacheWriteError(file, e);
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

function writeFile(file: string, content: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
}

function touch(file: string): void {
  writeFile(file, '');
}

/** A name that becomes a path under the cache: relative, no '.' or '..' parts, at most `maxParts`. */
function checkRelative(name: string, what: string, maxParts = Infinity): void {
  const parts = name.split('/');
  if (name === '' || name.includes('\\') || parts.length > maxParts || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new HubError(`invalid ${what} "${name}"; expected a plain relative name like org/name or model.safetensors`);
  }
}

function shardFiles(indexPath: string): string[] {
  let weightMap: unknown;
  try {
    weightMap = (JSON.parse(fs.readFileSync(indexPath, 'utf8')) as { weight_map?: unknown }).weight_map;
  } catch {
    throw new HubError(`${indexPath} is not valid JSON; delete it from the cache and run again`);
  }
  if (typeof weightMap !== 'object' || weightMap === null) throw new HubError(`${indexPath} has no weight_map; the repo's sharded index is broken`);
  const shards = new Set<string>();
  for (const shard of Object.values(weightMap)) {
    if (typeof shard !== 'string') throw new HubError(`${indexPath}: weight_map values must be file names`);
    shards.add(shard);
  }
  return [...shards].sort();
}
