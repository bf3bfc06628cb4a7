// An OpenAI-compatible HTTP server (node:http) over a loaded model: GET /v1/models, POST
// /v1/completions, POST /v1/chat/completions, and vLLM's POST /tokenize and /detokenize.
//
// Bounded everywhere: request bodies (8 MiB by default -> 413), requests in progress
// (--max-concurrency; beyond it -> 429 with Retry-After), choices per request (--max-n). The engine
// runs one batch at a time (see engine.ts). Every failure is a JSON error; none stops the server.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { LoadedModel } from '../model/load.js';
import { ApiError, toApiError } from './api-error.js';
import { Engine } from './engine.js';
import { chatCompletions, completions, detokenize, HandlerContext, handlerContext, listModels, tokenize } from './handlers.js';

export interface ServerOptions {
  loaded: LoadedModel;
  /** The name clients pass as `model` (the --model argument by default). */
  modelName: string;
  /** Default 127.0.0.1: the server has no authentication. */
  host?: string;
  /** Default 8000; 0 picks a free port. */
  port?: number;
  /** Requests being handled or waiting for the engine, at most; more get 429. Default 64. */
  maxConcurrency?: number;
  /** Largest `n`. Default 128. */
  maxN?: number;
  /** Largest request body. Default 8 MiB. */
  maxBodyBytes?: number;
  /** One line per request and per server event; default stderr, null for none. */
  log?: ((line: string) => void) | null;
}

export interface ServerStats {
  requests: number;
  /** Refused with 429. */
  rejected: number;
  /** Engine batches run and the jobs they held. */
  batches: number;
  jobs: number;
}

export interface OpenAIServer {
  /** http://host:port (the OpenAI base URL is this + /v1). */
  url: string;
  host: string;
  port: number;
  stats(): ServerStats;
  /** Stops accepting, lets requests in progress finish (at most `graceMs`), then closes every connection. */
  close(graceMs?: number): Promise<void>;
}

interface Route {
  method: 'GET' | 'POST';
  /** Whether the request occupies the engine (and so counts against --max-concurrency). */
  engine: boolean;
  handle(ctx: HandlerContext, body: unknown): unknown;
}

const ROUTES: Record<string, Route> = {
  '/v1/models': { method: 'GET', engine: false, handle: (ctx) => listModels(ctx) },
  '/v1/completions': { method: 'POST', engine: true, handle: completions },
  '/v1/chat/completions': { method: 'POST', engine: true, handle: chatCompletions },
  '/tokenize': { method: 'POST', engine: false, handle: tokenize },
  '/detokenize': { method: 'POST', engine: false, handle: detokenize },
  '/health': { method: 'GET', engine: false, handle: () => ({ status: 'ok' }) },
};

const ENDPOINTS = Object.entries(ROUTES).map(([path, r]) => `${r.method} ${path}`).join(', ');

/** Bodies larger than the limit are read and discarded up to this multiple of it (so the client sees the 413), then the connection is cut. */
const DRAIN_FACTOR = 4;

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const tooLarge = (): ApiError => new ApiError(413, `request body is larger than the server's limit of ${limit} bytes`, null, 'body_too_large');
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit * DRAIN_FACTOR) { reject(tooLarge()); return; }
    const chunks: Buffer[] = [];
    let size = 0, over = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) over = true;
      if (!over) chunks.push(chunk);
      else chunks.length = 0;
      if (size > limit * DRAIN_FACTOR) { req.destroy(); reject(tooLarge()); }
    });
    req.on('end', () => (over ? reject(tooLarge()) : resolve(Buffer.concat(chunks))));
    req.on('error', reject);
  });
}

function parseJson(data: Buffer): unknown {
  const text = data.toString('utf8');
  if (text.trim() === '') throw new ApiError(400, 'the request body is empty; send a JSON object', null, 'invalid_json');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ApiError(400, `the request body is not valid JSON (${(e as Error).message})`, null, 'invalid_json');
  }
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(data)), ...headers });
  res.end(data);
}

export async function startServer(opts: ServerOptions): Promise<OpenAIServer> {
  const host = opts.host ?? '127.0.0.1', maxConcurrency = opts.maxConcurrency ?? 64, maxBodyBytes = opts.maxBodyBytes ?? 8 * 2 ** 20;
  const log = opts.log === undefined ? (line: string) => process.stderr.write(`${line}\n`) : opts.log ?? (() => {});
  if (!(Number.isInteger(maxConcurrency) && maxConcurrency >= 1)) throw new RangeError(`maxConcurrency must be a positive integer, got ${maxConcurrency}`);
  const { loaded } = opts;
  const engine = new Engine(loaded.model, loaded.tokenizer);
  const ctx = handlerContext(loaded, opts.modelName, engine, { maxN: opts.maxN ?? 128 });
  const stats = { requests: 0, rejected: 0 };
  let active = 0;
  let settled: (() => void) | null = null;

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const started = performance.now(), path = (req.url ?? '/').split('?')[0];
    let status = 500, admitted = false;
    stats.requests++;
    try {
      const route = Object.hasOwn(ROUTES, path) ? ROUTES[path] : undefined;
      if (!route) throw new ApiError(404, `no endpoint ${req.method} ${path}; this server has ${ENDPOINTS}`, null, 'not_found');
      if (req.method !== route.method) {
        res.setHeader('allow', route.method);
        throw new ApiError(405, `${path} takes ${route.method}, not ${req.method}`, null, 'method_not_allowed');
      }
      if (route.engine) {
        if (active >= maxConcurrency) {
          stats.rejected++;
          res.setHeader('retry-after', '1');
          throw new ApiError(429, `the server is handling its limit of ${maxConcurrency} requests (--max-concurrency); retry later`, null, 'rate_limit_exceeded', 'rate_limit_error');
        }
        active++;
        admitted = true;
      }
      const body = route.method === 'POST' ? parseJson(await readBody(req, maxBodyBytes)) : undefined;
      const result = await route.handle(ctx, body);
      status = 200;
      send(res, 200, result);
    } catch (error) {
      const err = toApiError(error);
      status = err.status;
      if (status >= 500) log(`compsafe serve: ${req.method} ${path}: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
      // A body we stopped reading cannot be skipped over: close the connection after this response.
      send(res, status, err.body(), status === 413 ? { connection: 'close' } : {});
    } finally {
      if (admitted && --active === 0 && settled) settled();
      log(`${req.method} ${path} ${status} ${(performance.now() - started).toFixed(0)}ms`);
    }
  };

  const server = http.createServer((req, res) => { void handle(req, res); });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8000, host, () => { server.off('error', reject); resolve(); });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  let closing: Promise<void> | null = null;
  const close = (graceMs = 10000): Promise<void> => {
    closing ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (active > 0) {
        await Promise.race([
          new Promise<void>((resolve) => { settled = resolve; }),
          new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref()),
        ]);
      }
      server.closeAllConnections();
      await closed;
      await engine.idle();
    })();
    return closing;
  };

  return { url, host, port, stats: () => ({ ...stats, ...engine.stats }), close };
}
