// openai-moderation against a local server speaking the moderation protocol: normal replies (batched,
// order kept), 429 + Retry-After then success, 500s until retries run out, malformed replies, the
// rate limit, timeouts, connection errors, and the key: sent as a bearer token, never in a message.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createOpenAIModerationScorer } from '../../src/scorers/openai-moderation.js';
import { createScorer } from '../../src/scorers/registry.js';
import { ScorerUnavailableError } from '../../src/scorers/http.js';
import { UsageError } from '../../src/core/errors.js';
import { ScoreValue } from '../../src/scorers/scorer.js';
import { Outcome } from '../../src/backends/backend.js';
import { closedPort, ProtocolServer, RecordedRequest } from './protocol-server.js';

const KEY = 'sk-test-SECRET-4f9a7c';
const ctx = { dataDir: '/nonexistent', offline: false };
const server = new ProtocolServer();

before(async () => {
  await server.start();
  process.env.OPENAI_API_KEY = KEY;
  process.env.COMPSAFE_OPENAI_MODERATION_URL = server.url;
  delete process.env.COMPSAFE_OFFLINE;
});
after(() => server.stop());

/** hate = length of the text / 100; the other categories fixed. */
function moderationReply(req: RecordedRequest): { body: unknown } {
  const input = (req.body as { input: string[] }).input;
  return {
    body: {
      id: 'modr-1', model: 'omni-moderation-2024-09-26',
      results: input.map((text) => ({ flagged: false, categories: { hate: false, violence: false }, category_scores: { hate: text.length / 100, violence: 0.25, 'self-harm': 0.001 } })),
    },
  };
}

const fast = 'retries=2,backoff=0.01,qps=1000,timeout=5';
const values = (outs: Outcome<ScoreValue>[]): (number | string)[] => outs.map((o) => (o.ok ? o.value.score : o.error));

test('openai-moderation: protocol, batching, order, labels, bearer key', async () => {
  server.reset((req) => moderationReply(req));
  const scorer = await createOpenAIModerationScorer(`${fast},batch=2,concurrency=3`, ctx);
  assert.equal(scorer.id, 'openai-moderation');
  assert.equal(scorer.kind, 'moderation');
  assert.equal(scorer.version, 'v1-omni-moderation-latest');
  assert.ok(!scorer.version.includes(KEY) && !scorer.description.includes(KEY));
  const texts = ['a', 'bb', 'ccc', 'dddd', 'eeeee'];
  const outs = await scorer.score(texts);
  assert.deepEqual(values(outs), [0.01, 0.02, 0.03, 0.04, 0.05]);
  assert.deepEqual(outs[2], { ok: true, value: { score: 0.03, labels: { hate: 0.03, violence: 0.25, 'self-harm': 0.001 } } });
  assert.equal(server.requests.length, 3);
  for (const r of server.requests) {
    assert.equal(r.method, 'POST');
    assert.equal(r.path, '/v1/moderations');
    assert.equal(r.headers.authorization, `Bearer ${KEY}`);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal((r.body as { model: string }).model, 'omni-moderation-latest');
  }
  const inputs = server.requests.map((r) => (r.body as { input: string[] }).input).sort((a, b) => a[0].localeCompare(b[0]));
  assert.deepEqual(inputs, [['a', 'bb'], ['ccc', 'dddd'], ['eeeee']]);
  const other = await createOpenAIModerationScorer('model=text-moderation-stable', ctx);
  assert.equal(other.version, 'v1-text-moderation-stable');
});

test('openai-moderation: 429 with Retry-After is waited out, then the reply counts', async () => {
  server.reset((req, k) => (k === 0 ? { status: 429, headers: { 'retry-after': '1' }, body: { error: { message: 'Rate limit reached' } } } : moderationReply(req)));
  const scorer = await createOpenAIModerationScorer(fast, ctx);
  const t0 = performance.now();
  const outs = await scorer.score(['hello']);
  const elapsed = performance.now() - t0;
  assert.deepEqual(values(outs), [0.05]);
  assert.equal(server.requests.length, 2);
  assert.ok(elapsed >= 950, `waited ${elapsed} ms for Retry-After: 1`);
  assert.ok(server.requests[1].at - server.requests[0].at >= 950);
});

test('openai-moderation: 500s until retries run out -> error Outcomes for the whole batch, counted attempts', async () => {
  server.reset(() => ({ status: 500, body: { error: { message: 'The server had an error' } } }));
  const scorer = await createOpenAIModerationScorer(`${fast},batch=4`, ctx);
  const outs = await scorer.score(['x', 'y']);
  assert.equal(server.requests.length, 3); // 1 + 2 retries
  for (const o of outs) {
    assert.equal(o.ok, false);
    if (!o.ok) {
      assert.match(o.error, /HTTP 500/);
      assert.match(o.error, /gave up after 3 attempts/);
      assert.ok(!o.error.includes(KEY));
    }
  }
});

test('openai-moderation: malformed replies are error Outcomes, never zeros', async () => {
  const cases: { reply: unknown; error: RegExp }[] = [
    { reply: '{"results": [', error: /not JSON/ },
    { reply: { results: 'nope' }, error: /expected 1 results, got no results array/ },
    { reply: { results: [] }, error: /expected 1 results, got 0 results/ },
    { reply: { results: [{ flagged: true }] }, error: /without category_scores/ },
    { reply: { results: [{ category_scores: { violence: 0.2 } }] }, error: /no "hate" score/ },
    { reply: { results: [{ category_scores: { hate: '0.9' } }] }, error: /category_scores\.hate is "0\.9", not a number/ },
  ];
  const scorer = await createOpenAIModerationScorer(fast, ctx);
  for (const c of cases) {
    server.reset(() => ({ body: c.reply }));
    const [o] = await scorer.score(['text']);
    assert.equal(o.ok, false, JSON.stringify(c.reply));
    if (!o.ok) assert.match(o.error, c.error);
    assert.equal(server.requests.length, 1, 'a malformed 200 reply is not retried');
  }
  // One bad result in a batch fails only its own text.
  server.reset(() => ({ body: { results: [{ category_scores: { hate: 0.5 } }, { category_scores: {} }] } }));
  const twoAtOnce = await createOpenAIModerationScorer(`${fast},batch=2`, ctx);
  const outs = await twoAtOnce.score(['good', 'bad']);
  assert.deepEqual(outs[0], { ok: true, value: { score: 0.5, labels: { hate: 0.5 } } });
  assert.equal(outs[1].ok, false);
});

test('openai-moderation: the token bucket holds 10 requests at 20 QPS to >= 0.45 s', async () => {
  server.reset((req) => moderationReply(req));
  const scorer = await createOpenAIModerationScorer('qps=20,batch=1,concurrency=10,retries=0', ctx);
  const t0 = performance.now();
  const outs = await scorer.score(Array.from({ length: 10 }, (_, k) => 'x'.repeat(k + 1)));
  const elapsed = performance.now() - t0;
  assert.equal(outs.filter((o) => o.ok).length, 10);
  assert.equal(server.requests.length, 10);
  assert.ok(elapsed >= 440, `10 requests at 20 QPS took ${elapsed} ms`);
  const arrivals = server.requests.map((r) => r.at).sort((a, b) => a - b);
  assert.ok(arrivals[9] - arrivals[0] >= 430, `spread ${arrivals[9] - arrivals[0]} ms`);
});

test('openai-moderation: the key never appears in messages, even when the server echoes it', async () => {
  server.reset((req) => ({ status: 401, body: { error: { message: `Incorrect API key provided: ${String(req.headers.authorization)}` } } }));
  const scorer = await createOpenAIModerationScorer(fast, ctx);
  const [o] = await scorer.score(['hi']);
  assert.equal(o.ok, false);
  if (!o.ok) {
    assert.match(o.error, /HTTP 401/);
    assert.match(o.error, /\[redacted\]/);
    assert.ok(!o.error.includes(KEY), o.error);
  }
  assert.equal(server.requests.length, 1, '401 is not retried');
});

test('openai-moderation: timeouts and connection errors are retried, then recorded as failures', async () => {
  server.reset((req) => ({ ...moderationReply(req), delayMs: 400 }));
  const slow = await createOpenAIModerationScorer('retries=1,backoff=0.01,timeout=0.1', ctx);
  const [timedOut] = await slow.score(['late']);
  assert.equal(timedOut.ok, false);
  if (!timedOut.ok) assert.match(timedOut.error, /timed out after 100 ms.*gave up after 2 attempts/);
  assert.equal(server.requests.length, 2);

  process.env.COMPSAFE_OPENAI_MODERATION_URL = `http://127.0.0.1:${await closedPort()}`;
  try {
    const nowhere = await createOpenAIModerationScorer('retries=2,backoff=0.01', ctx);
    const [refused] = await nowhere.score(['hi']);
    assert.equal(refused.ok, false);
    if (!refused.ok) assert.match(refused.error, /connection failed \(ECONNREFUSED\).*gave up after 3 attempts/);
  } finally {
    process.env.COMPSAFE_OPENAI_MODERATION_URL = server.url;
  }
});

test('openai-moderation: offline switch, missing key and bad options fail at creation', async () => {
  await assert.rejects(createOpenAIModerationScorer(undefined, { ...ctx, offline: true }), (e: Error) => e instanceof ScorerUnavailableError && /offline/.test(e.message));
  process.env.COMPSAFE_OFFLINE = '1';
  try {
    await assert.rejects(createScorer('openai-moderation', ctx), /offline switch is on/);
  } finally {
    delete process.env.COMPSAFE_OFFLINE;
  }
  delete process.env.OPENAI_API_KEY;
  try {
    await assert.rejects(createOpenAIModerationScorer(undefined, ctx), /OPENAI_API_KEY/);
  } finally {
    process.env.OPENAI_API_KEY = KEY;
  }
  await assert.rejects(createOpenAIModerationScorer('qps=0', ctx), (e: Error) => e instanceof UsageError && /qps must be a number > 0/.test(e.message));
  await assert.rejects(createOpenAIModerationScorer('qps=-2', ctx), /qps must be a number >= 0, got "-2"/);
  await assert.rejects(createOpenAIModerationScorer('batch=0', ctx), /batch must be an integer >= 1/);
  await assert.rejects(createOpenAIModerationScorer('colour=blue', ctx), /unknown option "colour"/);
  await assert.rejects(createOpenAIModerationScorer('qps', ctx), /not key=value/);
});
