// The shared HTTP machinery: token bucket timing, Retry-After parsing, backoff bounds, redaction,
// bounded concurrency, option parsing (explicit > environment > defaults).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, baseUrl, DEFAULT_RETRY, isOffline, mapLimit, parseHttpScorerOptions, parseRetryAfter, redact, TokenBucket } from '../../src/scorers/http.js';

test('TokenBucket: a burst is free, then one token per 1/rate seconds, in call order', async () => {
  const bucket = new TokenBucket(50, 3);
  const t0 = performance.now();
  const order: number[] = [];
  const times: number[] = [];
  await Promise.all(Array.from({ length: 8 }, (_, k) => bucket.take().then(() => { order.push(k); times.push(performance.now() - t0); })));
  assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.ok(times[2] < 40, `burst of 3 took ${times[2]} ms`);
  // 5 more tokens at 50/s: >= 100 ms after the burst (minus timer slack).
  assert.ok(times[7] >= 95, `8 takes with burst 3 at 50/s ended at ${times[7]} ms`);
  assert.ok(times[7] < 400, `too slow: ${times[7]} ms`);
  assert.throws(() => new TokenBucket(0), /positive number/);
  assert.throws(() => new TokenBucket(5, 0.5), /burst/);
});

test('TokenBucket.pauseFor holds every later take', async () => {
  const bucket = new TokenBucket(1000, 5);
  bucket.pauseFor(120);
  const t0 = performance.now();
  await Promise.all([bucket.take(), bucket.take()]);
  assert.ok(performance.now() - t0 >= 110, `${performance.now() - t0} ms`);
});

test('parseRetryAfter: delta-seconds, HTTP dates, garbage', () => {
  assert.equal(parseRetryAfter('3'), 3000);
  assert.equal(parseRetryAfter(' 0 '), 0);
  assert.equal(parseRetryAfter('1.5'), 1500);
  const now = Date.parse('Mon, 30 Nov 2026 06:00:00 GMT');
  assert.equal(parseRetryAfter('Mon, 30 Nov 2026 06:00:07 GMT', now), 7000);
  assert.equal(parseRetryAfter('Mon, 30 Nov 2026 05:59:00 GMT', now), 0);
  assert.equal(parseRetryAfter('soon'), undefined);
  assert.equal(parseRetryAfter(null), undefined);
  assert.equal(parseRetryAfter(''), undefined);
});

test('backoffDelay: doubles per retry, jitter within [50%, 100%], capped', () => {
  const policy = { ...DEFAULT_RETRY, backoffMs: 100, maxBackoffMs: 1000 };
  assert.equal(backoffDelay(0, policy, () => 1), 100);
  assert.equal(backoffDelay(0, policy, () => 0), 50);
  assert.equal(backoffDelay(3, policy, () => 1), 800);
  assert.equal(backoffDelay(4, policy, () => 1), 1000);
  assert.equal(backoffDelay(10, policy, () => 0), 500);
});

test('redact: every occurrence of every secret', () => {
  assert.equal(redact('key=abc&x=abc; Bearer sk-1', ['abc', 'sk-1', '']), 'key=[redacted]&x=[redacted]; Bearer [redacted]');
});

test('mapLimit: order kept, never more than the limit in flight', async () => {
  let inFlight = 0, peak = 0;
  const out = await mapLimit([5, 1, 4, 2, 3, 0], 2, async (v, k) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    await new Promise((r) => setTimeout(r, v));
    inFlight--;
    return `${k}:${v}`;
  });
  assert.deepEqual(out, ['0:5', '1:1', '2:4', '3:2', '4:3', '5:0']);
  assert.equal(peak, 2);
  assert.deepEqual(await mapLimit([], 4, async () => 1), []);
});

test('parseHttpScorerOptions: explicit > environment > defaults; unknown keys left for the scorer', () => {
  const env = { X_QPS: '7', X_RETRIES: '1', X_TIMEOUT: '2' };
  const fromEnv = parseHttpScorerOptions('x', undefined, { qps: 1, concurrency: 4 }, 'X', env);
  assert.equal(fromEnv.qps, 7);
  assert.equal(fromEnv.concurrency, 4);
  assert.deepEqual(fromEnv.policy, { retries: 1, timeoutMs: 2000, backoffMs: 1000, maxBackoffMs: 60_000 });
  const explicit = parseHttpScorerOptions('x', 'qps=0.5, retries=0,model=m', { qps: 1, concurrency: 4 }, 'X', env);
  assert.equal(explicit.qps, 0.5);
  assert.equal(explicit.policy.retries, 0);
  assert.deepEqual([...explicit.extra], [['model', 'm']]);
  assert.throws(() => parseHttpScorerOptions('x', 'retries=1.5', { qps: 1, concurrency: 4 }, 'X', {}), /retries must be an integer >= 0, got "1.5"/);
  assert.throws(() => parseHttpScorerOptions('x', 'concurrency=0', { qps: 1, concurrency: 4 }, 'X', {}), /concurrency must be an integer >= 1/);
});

test('isOffline and baseUrl read the switch and overrides from the environment', () => {
  assert.equal(isOffline(undefined, {}), false);
  assert.equal(isOffline(true, {}), true);
  assert.equal(isOffline(false, { COMPSAFE_OFFLINE: '1' }), true);
  assert.equal(isOffline(undefined, { COMPSAFE_OFFLINE: 'True' }), true);
  assert.equal(isOffline(undefined, { COMPSAFE_OFFLINE: '0' }), false);
  assert.equal(baseUrl('U', 'https://api.example.com/', {}), 'https://api.example.com');
  assert.equal(baseUrl('U', 'https://api.example.com', { U: 'http://127.0.0.1:9/' }), 'http://127.0.0.1:9');
});
