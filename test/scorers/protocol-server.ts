// A real HTTP server on 127.0.0.1 (port 0) for the HTTP scorers' protocol tests: each test installs a
// handler; every request is recorded (method, path, query, headers, parsed body, arrival time).
import http from 'node:http';
import { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: unknown;
  rawUrl: string;
  at: number;
}

export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  /** A string is sent as is (for malformed replies); anything else as JSON. */
  body?: unknown;
  /** Wait this long before answering. */
  delayMs?: number;
}

export type Handler = (req: RecordedRequest, index: number) => Reply;

export class ProtocolServer {
  readonly requests: RecordedRequest[] = [];
  handler: Handler = () => ({ status: 500, body: { error: 'no handler' } });
  private server!: http.Server;
  url = '';

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try { body = JSON.parse(text); } catch { /* keep the raw text */ }
        const parsed = new URL(req.url ?? '/', 'http://127.0.0.1');
        const recorded: RecordedRequest = { method: req.method ?? '', path: parsed.pathname, query: parsed.searchParams, headers: req.headers, body, rawUrl: req.url ?? '', at: performance.now() };
        const index = this.requests.push(recorded) - 1;
        const reply = this.handler(recorded, index);
        const send = (): void => {
          const payload = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body ?? {});
          res.writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...reply.headers });
          res.end(payload);
        };
        if (reply.delayMs) setTimeout(send, reply.delayMs); else send();
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  reset(handler: Handler): void {
    this.requests.length = 0;
    this.handler = handler;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A port that nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
