// HTTP for the OpenAI-compatible backend: JSON over fetch with a concurrency limit, a per-attempt
// timeout, and retries with exponential backoff (and jitter; Retry-After honoured) on 429, 5xx,
// timeouts and connection errors. The API key travels only in the Authorization header; it is
// never logged, and any echo of it in a server's error message is masked.

export interface HttpOptions {
  apiKey?: string;
  /** Requests in flight at most. */
  concurrency: number;
  /** Retries after the first attempt. */
  maxRetries: number;
  /** First backoff; doubles per retry, capped at retryMaxMs. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** Per attempt. */
  timeoutMs: number;
}

export interface HttpStats {
  /** Logical requests (each may take several attempts). */
  requests: number;
  /** HTTP attempts, retries included. */
  attempts: number;
  retries: number;
}

/** The server answered with a status that retrying will not change (400, 401, 404, ...). */
export class HttpStatusError extends Error {
  constructor(readonly status: number, readonly serverMessage: string, readonly param: string | null, readonly url: string) {
    super(`${url} answered ${status}: ${serverMessage}`);
    this.name = 'HttpStatusError';
  }
}

/** 429, 5xx, timeouts or connection errors on every attempt. */
export class RetriesExhaustedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RetriesExhaustedError';
  }
}

/** A 2xx whose body is not JSON. */
export class BadResponseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadResponseError';
  }
}

const MAX_MESSAGE = 500;

export class HttpClient {
  readonly #apiKey: string | undefined;
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  readonly stats: HttpStats = { requests: 0, attempts: 0, retries: 0 };

  private readonly opts: Omit<HttpOptions, 'apiKey'>;

  constructor(options: HttpOptions) {
    const { apiKey, ...opts } = options;
    this.opts = opts;
    this.#apiKey = apiKey || undefined;
  }

  get(url: string): Promise<unknown> {
    return this.request('GET', url, undefined);
  }

  post(url: string, body: unknown): Promise<unknown> {
    return this.request('POST', url, JSON.stringify(body));
  }

  /** Masks the API key wherever a message might repeat it. */
  mask(text: string): string {
    return this.#apiKey ? text.split(this.#apiKey).join('***') : text;
  }

  private async request(method: string, url: string, body: string | undefined): Promise<unknown> {
    this.stats.requests++;
    await this.acquire();
    try {
      return await this.withRetries(method, url, body);
    } finally {
      this.release();
    }
  }

  private async withRetries(method: string, url: string, body: string | undefined): Promise<unknown> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.#apiKey) headers.authorization = `Bearer ${this.#apiKey}`;
    for (let attempt = 0; ; attempt++) {
      this.stats.attempts++;
      let reason: string, retryAfterMs: number | undefined;
      try {
        const res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(this.opts.timeoutMs) });
        const text = await res.text();
        if (res.ok) {
          try {
            return JSON.parse(text);
          } catch {
            throw new BadResponseError(`${url} answered ${res.status} with a body that is not JSON: ${this.mask(text.slice(0, 200))}`);
          }
        }
        const { message, param } = this.errorOf(text);
        if (res.status !== 429 && res.status < 500) throw new HttpStatusError(res.status, message, param, url);
        reason = `${res.status}: ${message}`;
        retryAfterMs = retryAfter(res.headers.get('retry-after'));
      } catch (error) {
        if (error instanceof HttpStatusError || error instanceof BadResponseError) throw error;
        reason = this.networkReason(error);
      }
      if (attempt >= this.opts.maxRetries) {
        throw new RetriesExhaustedError(`${method} ${url} failed after ${attempt + 1} attempts; last: ${reason}`);
      }
      this.stats.retries++;
      const backoff = Math.min(this.opts.retryMaxMs, this.opts.retryBaseMs * 2 ** attempt) * (0.5 + Math.random() / 2);
      await sleep(Math.min(this.opts.retryMaxMs, retryAfterMs ?? backoff));
    }
  }

  /** The OpenAI-style {error: {message, param}} of an error body, else its start. */
  private errorOf(text: string): { message: string; param: string | null } {
    let message = text.trim().slice(0, MAX_MESSAGE) || '(empty body)', param: string | null = null;
    try {
      const json = JSON.parse(text) as { error?: { message?: unknown; param?: unknown } | string; message?: unknown; detail?: unknown };
      const err = json.error;
      if (typeof err === 'string') message = err;
      else if (err && typeof err.message === 'string') { message = err.message; param = typeof err.param === 'string' ? err.param : null; }
      else if (typeof json.message === 'string') message = json.message;
      else if (typeof json.detail === 'string') message = json.detail;
    } catch {
      // not JSON: keep the text
    }
    return { message: this.mask(message.slice(0, MAX_MESSAGE)), param };
  }

  private networkReason(error: unknown): string {
    const err = error as Error & { cause?: { code?: string; message?: string } };
    if (err?.name === 'TimeoutError' || err?.name === 'AbortError') return `no response within ${this.opts.timeoutMs} ms`;
    const detail = err?.cause?.code ?? err?.cause?.message ?? err?.message ?? String(error);
    return this.mask(`connection failed (${detail})`);
  }

  private acquire(): Promise<void> {
    if (this.active < this.opts.concurrency) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}

function retryAfter(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
