// `compsafe data fetch`: downloads a dataset's files from their canonical URLs into the data
// directory. Each file streams into a temporary sibling while being hashed, is checked against the
// manifest, and only then renamed into place, so an interrupted or corrupt download never leaves a
// file that looks complete. The only module of data/ that reaches the network; it honours
// COMPSAFE_OFFLINE. COMPSAFE_DATA_MIRROR (a base URL) fetches `https://host/path` as `MIRROR/host/path`.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CompsafeError } from '../core/errors.js';
import { allFiles, DatasetEntry, howToGet } from './catalogue.js';
import { dataPath, sha256File } from './files.js';
import { MANIFEST } from './manifest.js';
import { offlineFromEnv } from '../core/env.js';

/** A download failed, was refused (offline), or did not match its checksum. */
export class DataFetchError extends CompsafeError {}

export interface FetchProgress {
  file: string;
  bytes: number;
  total: number | null;
}

export interface FetchOptions {
  /** Refuse to reach the network. Default: COMPSAFE_OFFLINE=1. */
  offline?: boolean;
  /** Base URL that replaces every canonical host. Default: COMPSAFE_DATA_MIRROR. */
  mirror?: string;
  /** Download files even when a present copy matches (or, without a reference hash, exists). */
  force?: boolean;
  onProgress?: (p: FetchProgress) => void;
  fetchImpl?: typeof fetch;
}

export type FetchState = 'downloaded' | 'present' | 'failed' | 'manual';

export interface FetchedFile {
  path: string;
  state: FetchState;
  url?: string;
  sha256?: string;
  /** false when the manifest has no hash for the file (a file the reference copy lacks). */
  verified?: boolean;
  error?: string;
}

const ATTEMPTS = 3;

/** The URL actually requested: the canonical one, or its mirror path. */
export function mirroredUrl(url: string, mirror: string | undefined): string {
  if (!mirror) return url;
  const u = new URL(url);
  return `${mirror.replace(/\/+$/, '')}/${u.host}${u.pathname}${u.search}`;
}

/** Downloads every file of `d` that has a URL and is not already present and correct. */
export async function fetchDataset(d: DatasetEntry, dataDir: string, opts: FetchOptions = {}): Promise<FetchedFile[]> {
  const offline = opts.offline ?? offlineFromEnv();
  const mirror = opts.mirror ?? (process.env.COMPSAFE_DATA_MIRROR || undefined);
  const files = allFiles(d);
  if (!files.some((f) => d.urls[f] !== undefined)) throw new DataFetchError(`${d.name}: ${howToGet(d)}`);
  if (offline) {
    throw new DataFetchError(`cannot download ${d.name}: offline (COMPSAFE_OFFLINE is set or --offline given); ` +
      'unset it, or copy the files into the data directory by hand');
  }
  const out: FetchedFile[] = [];
  for (const f of files) {
    const url = d.urls[f], abs = dataPath(dataDir, f), expected = MANIFEST[f]?.sha256;
    if (url === undefined) {
      out.push({ path: f, state: fs.existsSync(abs) ? 'present' : 'manual' });
      continue;
    }
    if (!opts.force && fs.existsSync(abs)) {
      const actual = await sha256File(abs);
      if (expected === undefined || actual === expected) {
        out.push({ path: f, state: 'present', url, sha256: actual, verified: expected !== undefined });
        continue;
      }
    }
    try {
      const sha256 = await downloadFile(mirroredUrl(url, mirror), abs, f, expected, opts);
      out.push({ path: f, state: 'downloaded', url, sha256, verified: expected !== undefined });
    } catch (e) {
      out.push({ path: f, state: 'failed', url, error: (e as Error).message.split('\n')[0] });
    }
  }
  return out;
}

/** One file: GET with retries on network errors and 5xx, hashed while streaming, renamed into place if it checks out. */
async function downloadFile(url: string, dest: string, rel: string, expected: string | undefined, opts: FetchOptions): Promise<string> {
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const doFetch = opts.fetchImpl ?? globalThis.fetch;
  let lastError = '';
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const tmp = `${dest}.part-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
    try {
      let res: Response;
      try {
        res = await doFetch(url, { redirect: 'follow' });
      } catch (e) {
        lastError = `cannot reach ${url} (${((e as Error & { cause?: Error }).cause ?? (e as Error)).message})`;
        continue;
      }
      if (res.status >= 500) {
        lastError = `${url} answered HTTP ${res.status}`;
        await res.body?.cancel();
        continue;
      }
      if (!res.ok || !res.body) {
        await res.body?.cancel();
        throw new DataFetchError(`${url} answered HTTP ${res.status}${res.status === 404 ? ' (not found: the source may have moved)' : ''}`);
      }
      const lengthHeader = res.headers.get('content-length');
      const total = lengthHeader !== null && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : null;
      const hash = crypto.createHash('sha256');
      const fd = fs.openSync(tmp, 'w');
      let bytes = 0;
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          hash.update(chunk);
          fs.writeSync(fd, chunk);
          bytes += chunk.length;
          opts.onProgress?.({ file: rel, bytes, total });
        }
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      if (total !== null && bytes !== total) {
        lastError = `${url}: the connection ended after ${bytes} of ${total} bytes`;
        continue;
      }
      const actual = hash.digest('hex');
      if (expected !== undefined && actual !== expected) {
        throw new DataFetchError(`checksum mismatch for ${rel} from ${url}: expected sha256 ${expected}, got ${actual} ` +
          '(the source changed or the download was altered; the file was not installed)');
      }
      fs.renameSync(tmp, dest);
      return actual;
    } catch (e) {
      if (e instanceof DataFetchError) throw e;
      lastError = `${url}: ${(e as Error).message}`;
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }
  throw new DataFetchError(`download of ${rel} failed after ${ATTEMPTS} attempts: ${lastError}`);
}
