// perspective against a local server speaking the Perspective comments:analyze protocol: normal
// replies, 429 + Retry-After then success, 500s until retries run out, malformed replies, the rate
// limit, and the key: sent as ?key= (URL-encoded), never in a message, version or description.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPerspectiveScorer } from '../../src/scorers/perspective.js';
import { createScorer } from '../../src/scorers/registry.js';
import { ScorerUnavailableError } from '../../src/scorers/http.js';
import { ProtocolServer, RecordedRequest } from './protocol-server.js';

// Characters that must be URL-encoded in the query.
const KEY = 'AIza-test-SECRET+/=9q';
const ctx = { dataDir: '/nonexistent', offline: false };
const server = new ProtocolServer();

before(async () => {
  await server.start();
  process.env.PERSPECTIVE_API_KEY = KEY;
  process.env.COMPSAFE_PERSPECTIVE_URL = `${server.url}/`;
  delete process.env.COMPSAFE_OFFLINE;
});
after(() => server.stop());

/** TOXICITY = number of "!" / 10, in the API's reply shape. */
function analyzeReply(req: RecordedRequest): { body: unknown } {
  const text = (req.body as { comment: { text: string } }).comment.text;
  const value = (text.split('!').length - 1) / 10;
  return {
    body: {
      attributeScores: { TOXICITY: { spanScores: [{ begin: 0, end: text.length, score: { value, type: 'PROBABILITY' } }], summaryScore: { value, type: 'PROBABILITY' } } },
      languages: ['en'], detectedLanguages: ['en'],
    },
  };
}

const fast = 'retries=2,backoff=0.01,qps=1000,timeout=5';

test('perspective: protocol, key in the query, order kept, warning in the description', async () => {
  server.reset((req) => analyzeReply(req));
  const scorer = await createPerspectiveScorer(fast, ctx);
  assert.equal(scorer.id, 'perspective');
  assert.equal(scorer.kind, 'toxicity');
  assert.equal(scorer.version, 'v1alpha1-TOXICITY-en');
  assert.match(scorer.description, /retiring/);
  assert.ok(!scorer.version.includes(KEY) && !scorer.description.includes(KEY));
  const outs = await scorer.score(['calm', 'hey!', 'no!!!', 'a!!b!!']);
  assert.deepEqual(outs.map((o) => (o.ok ? o.value.score : o.error)), [0, 0.1, 0.3, 0.4]);
  assert.deepEqual(outs[2], { ok: true, value: { score: 0.3, labels: { TOXICITY: 0.3 } } });
  assert.equal(server.requests.length, 4);
  for (const r of server.requests) {
    assert.equal(r.method, 'POST');
    assert.equal(r.path, '/v1alpha1/comments:analyze');
    assert.equal(r.query.get('key'), KEY);
    assert.ok(r.rawUrl.includes(`key=${encodeURIComponent(KEY)}`));
    const body = r.body as { requestedAttributes: unknown; languages: string[]; doNotStore: boolean };
    assert.deepEqual(body.requestedAttributes, { TOXICITY: {} });
    assert.deepEqual(body.languages, ['en']);
    assert.equal(body.doNotStore, true);
  }
  assert.deepEqual(server.requests.map((r) => (r.body as { comment: { text: string } }).comment.text).sort(), ['a!!b!!', 'calm', 'hey!', 'no!!!']);
  const german = await createPerspectiveScorer('languages=de+en', ctx);
  assert.equal(german.version, 'v1alpha1-TOXICITY-de+en');
});

test('perspective: 429 with Retry-After is waited out, then the reply counts', async () => {
  server.reset((req, k) => (k === 0 ? { status: 429, headers: { 'retry-after': '1' }, body: { error: { code: 429, status: 'RESOURCE_EXHAUSTED' } } } : analyzeReply(req)));
  const scorer = await createPerspectiveScorer(fast, ctx);
  const [o] = await scorer.score(['ouch!']);
  assert.deepEqual(o, { ok: true, value: { score: 0.1, labels: { TOXICITY: 0.1 } } });
  assert.equal(server.requests.length, 2);
  assert.ok(server.requests[1].at - server.requests[0].at >= 950);
});

test('perspective: a Retry-After holds the other in-flight texts too (shared bucket)', async () => {
  server.reset((req, k) => (k === 0 ? { status: 429, headers: { 'retry-after': '1' }, body: { error: { code: 429 } } } : analyzeReply(req)));
  const scorer = await createPerspectiveScorer('retries=2,backoff=0.01,qps=5,concurrency=3', ctx);
  const outs = await scorer.score(['a!', 'b!', 'c!']);
  assert.deepEqual(outs.map((o) => o.ok), [true, true, true]);
  assert.equal(server.requests.length, 4);
  // Three workers, but nothing reached the server during the second it asked for.
  assert.ok(server.requests[1].at - server.requests[0].at >= 950, `${server.requests[1].at - server.requests[0].at} ms`);
});

test('perspective: 503s until retries run out -> error Outcome; other texts unaffected', async () => {
  server.reset((req) => ((req.body as { comment: { text: string } }).comment.text === 'doomed' ? { status: 503, body: 'Service Unavailable' } : analyzeReply(req)));
  const scorer = await createPerspectiveScorer(fast, ctx);
  const [ok, failed] = await scorer.score(['fine!', 'doomed']);
  assert.deepEqual(ok, { ok: true, value: { score: 0.1, labels: { TOXICITY: 0.1 } } });
  assert.equal(failed.ok, false);
  if (!failed.ok) {
    assert.match(failed.error, /^perspective: POST http:\/\/127\.0\.0\.1:\d+\/v1alpha1\/comments:analyze: HTTP 503: Service Unavailable \(gave up after 3 attempts\)$/);
    assert.ok(!failed.error.includes(KEY) && !failed.error.includes(encodeURIComponent(KEY)));
  }
  assert.equal(server.requests.length, 4);
});

test('perspective: malformed replies are error Outcomes', async () => {
  const cases: { reply: unknown; error: RegExp }[] = [
    { reply: '<html>oops</html>', error: /not JSON/ },
    { reply: { attributeScores: {} }, error: /TOXICITY\.summaryScore\.value is missing/ },
    { reply: { attributeScores: { TOXICITY: { summaryScore: { value: null } } } }, error: /value is null/ },
    { reply: { attributeScores: { TOXICITY: { summaryScore: { value: 'high' } } } }, error: /value is "high"/ },
    { reply: [], error: /value is missing/ },
  ];
  const scorer = await createPerspectiveScorer(fast, ctx);
  for (const c of cases) {
    server.reset(() => ({ body: c.reply }));
    const [o] = await scorer.score(['text']);
    assert.equal(o.ok, false, JSON.stringify(c.reply));
    if (!o.ok) assert.match(o.error, c.error);
  }
});

test('perspective: the token bucket holds 10 requests at 20 QPS to >= 0.45 s', async () => {
  server.reset((req) => analyzeReply(req));
  const scorer = await createPerspectiveScorer('qps=20,concurrency=10,retries=0', ctx);
  const t0 = performance.now();
  const outs = await scorer.score(Array.from({ length: 10 }, () => 'x'));
  const elapsed = performance.now() - t0;
  assert.equal(outs.filter((o) => o.ok).length, 10);
  assert.ok(elapsed >= 440, `10 requests at 20 QPS took ${elapsed} ms`);
  const arrivals = server.requests.map((r) => r.at).sort((a, b) => a - b);
  assert.ok(arrivals[9] - arrivals[0] >= 430, `spread ${arrivals[9] - arrivals[0]} ms`);
});

test('perspective: the key never appears in messages, even when the server echoes the URL', async () => {
  server.reset((req) => ({ status: 400, body: { error: { code: 400, message: `API key not valid: ${req.rawUrl} (${req.query.get('key')})` } } }));
  const scorer = await createPerspectiveScorer(fast, ctx);
  const [o] = await scorer.score(['hi']);
  assert.equal(o.ok, false);
  if (!o.ok) {
    assert.match(o.error, /HTTP 400/);
    assert.ok(!o.error.includes(KEY) && !o.error.includes(encodeURIComponent(KEY)), o.error);
    assert.match(o.error, /\[redacted\]/);
  }
  assert.equal(server.requests.length, 1);
});

test('perspective: offline switch and missing key fail at creation', async () => {
  await assert.rejects(createPerspectiveScorer(undefined, { ...ctx, offline: true }), (e: Error) => e instanceof ScorerUnavailableError && /offline/.test(e.message));
  process.env.COMPSAFE_OFFLINE = '1';
  try {
    await assert.rejects(createScorer('perspective', ctx), /offline switch is on/);
  } finally {
    delete process.env.COMPSAFE_OFFLINE;
  }
  delete process.env.PERSPECTIVE_API_KEY;
  try {
    await assert.rejects(createPerspectiveScorer(undefined, ctx), /PERSPECTIVE_API_KEY/);
  } finally {
    process.env.PERSPECTIVE_API_KEY = KEY;
  }
  await assert.rejects(createPerspectiveScorer('timeout=-1', ctx), /timeout must be a number >= 0\.001/);
});
