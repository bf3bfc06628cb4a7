// A local stand-in for the Hugging Face hub: serves fixture folders in the hub's URL layout
// (`/{repo}/resolve/{revision}/{file}`) with the headers huggingface_hub relies on, so download code
// is tested against real HTTP instead of mocked functions. LFS redirects go to a second server (the
// "CDN") on another port, i.e. another origin, as the real hub's go to another host.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface HubServerOptions {
  /** Repo id -> local folder whose files the repo holds. */
  repos: Record<string, string>;
  /** Commit sha sent as X-Repo-Commit; the repo answers for revision 'main' and this commit. */
  commit?: string;
  /** When set, hub requests without `Authorization: Bearer <token>` get 401 (the CDN never checks). */
  requireToken?: string;
  /** Serve `.safetensors` files as LFS files: 302 to the CDN with X-Linked-Etag / X-Linked-Size. */
  lfsRedirect?: boolean;
  /** Cut the connection once, after this many body bytes, on the first GET of a longer body. */
  failAfterBytes?: number;
  /** Answer Range requests with 200 and the whole body, as servers without range support do. */
  ignoreRange?: boolean;
  /** Send weak ETags (`W/"..."`). */
  weakEtag?: boolean;
}

export interface RecordedRequest {
  method: string;
  /** Path of the request, with a `/lfs-cdn/` prefix for those the CDN served. */
  path: string;
  headers: Record<string, string | undefined>;
}

export interface HubServer {
  /** Base URL of the hub (pass as `endpoint`). */
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export const DEFAULT_COMMIT = '0123456789abcdef0123456789abcdef01234567';

export function sha256Hex(data: Uint8Array): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

export async function startHubServer(opts: HubServerOptions): Promise<HubServer> {
  const commit = opts.commit ?? DEFAULT_COMMIT;
  const requests: RecordedRequest[] = [];
  let cutDone = false;

  const record = (req: http.IncomingMessage): void => {
    const headers: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    requests.push({ method: req.method ?? '', path: decodeURI(new URL(req.url ?? '/', 'http://x').pathname), headers });
  };

  const etagOf = (content: Buffer): string => (opts.weakEtag ? `W/"${sha256Hex(content)}"` : `"${sha256Hex(content)}"`);

  /** The file's bytes, or null when the repo has no such file. */
  const readRepoFile = (folder: string, file: string): Buffer | null => {
    if (file.split('/').some((p) => p === '..' || p === '')) return null;
    const full = path.join(folder, file);
    return fs.existsSync(full) && fs.statSync(full).isFile() ? fs.readFileSync(full) : null;
  };

  /** HEAD or GET of `content`, honouring `Range: bytes=N-`, cutting the connection once if asked. */
  const serveContent = (req: http.IncomingMessage, res: http.ServerResponse, content: Buffer, headers: Record<string, string>): void => {
    const all: Record<string, string> = { ...headers, 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream' };
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    let body = content;
    let status = 200;
    if (range && !opts.ignoreRange && req.method === 'GET') {
      const start = Number(range[1]);
      if (start >= content.length) {
        res.writeHead(416, { ...all, 'Content-Range': `bytes */${content.length}` }).end();
        return;
      }
      status = 206;
      body = content.subarray(start);
      all['Content-Range'] = `bytes ${start}-${content.length - 1}/${content.length}`;
    }
    all['Content-Length'] = String(body.length);
    res.writeHead(status, all);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    if (opts.failAfterBytes !== undefined && !cutDone && body.length > opts.failAfterBytes) {
      cutDone = true;
      res.write(body.subarray(0, opts.failAfterBytes), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    res.end(body);
  };

  const cdn = http.createServer((req, res) => {
    record(req);
    const m = /^\/lfs-cdn\/([^/]+\/[^/]+)\/(.+)$/.exec(decodeURI(new URL(req.url ?? '/', 'http://x').pathname));
    const folder = m ? opts.repos[m[1]!] : undefined;
    const content = folder ? readRepoFile(folder, m![2]!) : null;
    if (!content) {
      res.writeHead(404).end();
      return;
    }
    serveContent(req, res, content, { ETag: etagOf(content) });
  });

  const hub = http.createServer((req, res) => {
    record(req);
    const pathname = new URL(req.url ?? '/', 'http://x').pathname;
    const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(pathname);
    if (!m) {
      res.writeHead(404, { 'X-Error-Code': 'RepoNotFound' }).end();
      return;
    }
    const repo = decodeURIComponent(m[1]!);
    const revision = decodeURIComponent(m[2]!);
    const file = m[3]!.split('/').map(decodeURIComponent).join('/');
    if (opts.requireToken !== undefined && req.headers.authorization !== `Bearer ${opts.requireToken}`) {
      res.writeHead(401, { 'X-Error-Code': 'GatedRepo' }).end();
      return;
    }
    const folder = opts.repos[repo];
    if (folder === undefined) {
      res.writeHead(404, { 'X-Error-Code': 'RepoNotFound' }).end();
      return;
    }
    if (revision !== 'main' && revision !== commit) {
      res.writeHead(404, { 'X-Error-Code': 'RevisionNotFound', 'X-Repo-Commit': commit }).end();
      return;
    }
    const content = readRepoFile(folder, file);
    if (!content) {
      res.writeHead(404, { 'X-Error-Code': 'EntryNotFound', 'X-Repo-Commit': commit }).end();
      return;
    }
    if (opts.lfsRedirect && file.endsWith('.safetensors')) {
      // The hub's own ETag of an LFS file is that of the pointer; the content's sha256 is X-Linked-Etag.
      const pointerEtag = crypto.createHash('sha1').update(`lfs pointer ${file}`).digest('hex');
      res.writeHead(302, {
        Location: `${cdnUrl}/lfs-cdn/${repo}/${file.split('/').map(encodeURIComponent).join('/')}?signed=1`,
        'X-Repo-Commit': commit,
        ETag: `"${pointerEtag}"`,
        'X-Linked-Etag': etagOf(content),
        'X-Linked-Size': String(content.length),
        'Content-Length': '0',
      }).end();
      return;
    }
    serveContent(req, res, content, { 'X-Repo-Commit': commit, ETag: etagOf(content) });
  });

  const listen = (server: http.Server): Promise<string> =>
    new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
  const cdnUrl = await listen(cdn);
  const url = await listen(hub);
  const stop = (server: http.Server): Promise<void> =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return { url, requests, close: async () => void (await Promise.all([stop(hub), stop(cdn)])) };
}
