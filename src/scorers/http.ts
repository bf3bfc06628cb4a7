// What the HTTP scorers share: a token-bucket rate limit, JSON POSTs with a per-request timeout and
// retries (exponential backoff on 429, 5xx and connection errors, honouring Retry-After), bounded
// concurrency, the offline switch, and secrets kept out of every message. A request that still fails
// is returned as an error string: the scorer records it as a failed Outcome (failures are data).
import { CompsafeError, UsageError } from '../core/errors.js';
import { offlineFromEnv } from '../core/env.js';

/** An HTTP scorer cannot be created: the offline switch is on or its API key is missing. (Bad options are UsageErrors.) */
export class ScorerUnavailableError extends CompsafeError {}

/**
 * True when the offline switch is on: `ctx.offline`, or COMPSAFE_OFFLINE set to 1/on/yes/true (as
 * model/hub and data/download read it). Either one is enough: an HTTP scorer must never be the
 * thing that reaches the network in an offline run.
 */
export function isOffline(ctxOffline: boolean | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  return ctxOffline === true || offlineFromEnv(env);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Token bucket: `ratePerSecond` tokens a second, at most `burst` saved up. `take()` resolves when a
 * token is available; waiters are served in call order.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  /** No token before this time (set when the server asks everyone to wait: 429 + Retry-After). */
  private pausedUntil = 0;
  private queue: Promise<void> = Promise.resolve();

  constructor(readonly ratePerSecond: number, readonly burst = 1, private readonly now: () => number = () => performance.now()) {
    if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) throw new UsageError(`rate limit must be a positive number of requests per second, got ${ratePerSecond}`);
    if (!(burst >= 1)) throw new UsageError(`token bucket burst must be at least 1, got ${burst}`);
    this.tokens = burst;
    this.last = this.now();
  }

  take(): Promise<void> {
    const turn = this.queue.then(() => this.acquire());
    this.queue = turn;
    return turn;
  }

  /** Holds every later take() for `ms` (the server's Retry-After applies to all our requests). */
  pauseFor(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.now() + ms);
  }

  private async acquire(): Promise<void> {
    for (;;) {
      if (this.now() < this.pausedUntil) {
        await sleep(Math.ceil(this.pausedUntil - this.now()));
        continue;
      }
      const t = this.now();
      this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.ratePerSecond);
      this.last = t;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await sleep(Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000));
    }
  }
}

export interface RetryPolicy {
  /** Retries after the first attempt. */
  retries: number;
  /** First backoff; doubles each retry. */
  backoffMs: number;
  /** Longest wait between attempts (also caps Retry-After). */
  maxBackoffMs: number;
  /** Per-request timeout. */
  timeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 5, backoffMs: 1000, maxBackoffMs: 60_000, timeoutMs: 30_000 };

export interface PostJsonOptions {
  /** The URL as shown in messages (without secrets such as `?key=`). */
  displayUrl: string;
  headers?: Record<string, string>;
  limiter: TokenBucket;
  policy: RetryPolicy;
  /** Strings that must never appear in a message (API keys). */
  secrets: string[];
}

export type PostResult = { ok: true; status: number; body: unknown; attempts: number } | { ok: false; error: string; attempts: number };

/** Replaces every secret in `text` with [redacted]. */
export function redact(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join('[redacted]');
  return out;
}

/** Milliseconds a Retry-After header asks for (delta-seconds or an HTTP date), or undefined. */
export function parseRetryAfter(value: string | null, nowMs = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** Backoff before retry number `retry` (0-based): backoffMs * 2^retry with jitter in [50%, 100%], capped. */
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const full = Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** retry);
  return full * (0.5 + 0.5 * random());
}

function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 408 || status >= 500;
}

/**
 * POSTs `payload` as JSON and parses a JSON reply. Each attempt takes a token from the limiter.
 * Retries 429/408/5xx and network errors/timeouts; other 4xx and unparsable bodies fail at once.
 */
export async function postJson(url: string, payload: unknown, opts: PostJsonOptions): Promise<PostResult> {
  const { policy, secrets } = opts;
  let lastError = '';
  for (let attempt = 0; attempt <= policy.retries; attempt++) {
    await opts.limiter.take();
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...opts.headers },
        body: JSON.stringify(payload),
        signal: AbortSignal.timeout(policy.timeoutMs),
      });
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      const why = err.name === 'TimeoutError' ? `timed out after ${policy.timeoutMs} ms` : `connection failed (${err.cause?.code ?? err.cause?.message ?? err.message})`;
      lastError = redact(`POST ${opts.displayUrl}: ${why}`, secrets);
      if (attempt < policy.retries) await sleep(backoffDelay(attempt, policy));
      continue;
    }
    let text: string;
    try {
      text = await response.text();
    } catch (e) {
      lastError = redact(`POST ${opts.displayUrl}: reading the reply failed (${(e as Error).message})`, secrets);
      if (attempt < policy.retries) await sleep(backoffDelay(attempt, policy));
      continue;
    }
    if (!response.ok) {
      const excerpt = text.replace(/\s+/g, ' ').slice(0, 200);
      lastError = redact(`POST ${opts.displayUrl}: HTTP ${response.status}${excerpt ? `: ${excerpt}` : ''}`, secrets);
      if (!isRetryableStatus(response.status)) return { ok: false, error: lastError, attempts: attempt + 1 };
      if (attempt < policy.retries) {
        const asked = parseRetryAfter(response.headers.get('retry-after'));
        if (asked !== undefined) opts.limiter.pauseFor(Math.min(policy.maxBackoffMs, asked));
        await sleep(Math.min(policy.maxBackoffMs, asked ?? backoffDelay(attempt, policy)));
      }
      continue;
    }
    try {
      return { ok: true, status: response.status, body: JSON.parse(text), attempts: attempt + 1 };
    } catch {
      return { ok: false, error: redact(`POST ${opts.displayUrl}: reply is not JSON: ${JSON.stringify(text.slice(0, 120))}`, secrets), attempts: attempt + 1 };
    }
  }
  return { ok: false, error: `${lastError} (gave up after ${policy.retries + 1} attempts)`, attempts: policy.retries + 1 };
}

/** Runs `fn` over `items` with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let k = next++; k < items.length; k = next++) out[k] = await fn(items[k], k);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

/** Options every HTTP scorer takes in its spec argument (`id=qps=2,timeout=10`) or environment. */
export interface HttpScorerOptions {
  qps: number;
  concurrency: number;
  policy: RetryPolicy;
  /** The rest of the spec's key=value pairs, for the scorer's own options. */
  extra: Map<string, string>;
}

/**
 * Parses `key=value` pairs separated by commas. Known keys: qps, concurrency, retries, timeout (s),
 * backoff (s). Explicit spec > environment (`${envPrefix}_QPS`, ...) > defaults.
 */
export function parseHttpScorerOptions(scorerId: string, arg: string | undefined, defaults: { qps: number; concurrency: number }, envPrefix: string, env: NodeJS.ProcessEnv = process.env): HttpScorerOptions {
  const pairs = new Map<string, string>();
  for (const part of (arg ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new UsageError(`${scorerId}: option "${part}" is not key=value (e.g. ${scorerId}=qps=2,timeout=30)`);
    pairs.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const take = (key: string): string | undefined => {
    const v = pairs.get(key);
    pairs.delete(key);
    return v ?? env[`${envPrefix}_${key.toUpperCase()}`];
  };
  const num = (key: string, fallback: number, min: number, integer = false): number => {
    const raw = take(key);
    if (raw === undefined || raw === '') return fallback;
    const v = Number(raw);
    if (!Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) {
      throw new UsageError(`${scorerId}: ${key} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got "${raw}"`);
    }
    return v;
  };
  const qps = num('qps', defaults.qps, 0);
  if (qps === 0) throw new UsageError(`${scorerId}: qps must be a number > 0, got 0`);
  const concurrency = num('concurrency', defaults.concurrency, 1, true);
  const policy: RetryPolicy = {
    retries: num('retries', DEFAULT_RETRY.retries, 0, true),
    timeoutMs: num('timeout', DEFAULT_RETRY.timeoutMs / 1000, 0.001) * 1000,
    backoffMs: num('backoff', DEFAULT_RETRY.backoffMs / 1000, 0) * 1000,
    maxBackoffMs: DEFAULT_RETRY.maxBackoffMs,
  };
  return { qps, concurrency, policy, extra: pairs };
}

/** Rejects options the scorer does not know, naming the ones it does. */
export function rejectUnknownOptions(scorerId: string, extra: Map<string, string>, known: string[]): void {
  const unknown = [...extra.keys()].filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    throw new UsageError(`${scorerId}: unknown option ${unknown.map((u) => `"${u}"`).join(', ')}; known: qps, concurrency, retries, timeout, backoff${known.length ? `, ${known.join(', ')}` : ''}`);
  }
}

/** A base URL from the environment or the default, without a trailing slash. */
export function baseUrl(envVar: string, fallback: string, env: NodeJS.ProcessEnv = process.env): string {
  const v = env[envVar]?.trim();
  return (v && v.length > 0 ? v : fallback).replace(/\/+$/, '');
}
