// A local stand-in for the web servers datasets are downloaded from: serves a folder over HTTP on
// 127.0.0.1, `GET /<host>/<path>` -> `<root>/<host>/<path>` (the layout COMPSAFE_DATA_MIRROR uses),
// so download code is tested against real HTTP. It can cut one response short, as a flaky network does.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface FileServer {
  url: string;
  /** Paths requested, in order. */
  requests: string[];
  close(): Promise<void>;
}

export interface FileServerOptions {
  /** Cut the connection after this many body bytes on the first GET of this path. */
  cutOnce?: { path: string; afterBytes: number };
}

export async function startFileServer(root: string, opts: FileServerOptions = {}): Promise<FileServer> {
  const requests: string[] = [];
  let cut = false;
  const server = http.createServer((req, res) => {
    const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(pathname);
    const file = path.join(root, ...pathname.split('/').filter((p) => p && p !== '..'));
    if (!fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    const body = fs.readFileSync(file);
    res.writeHead(200, { 'Content-Length': String(body.length), 'Content-Type': 'application/octet-stream' });
    if (opts.cutOnce && !cut && pathname === opts.cutOnce.path && body.length > opts.cutOnce.afterBytes) {
      cut = true;
      res.write(body.subarray(0, opts.cutOnce.afterBytes), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    res.end(body);
  });
  const url = await new Promise<string>((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
  return {
    url, requests,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
