// The OpenAI-compatible backend against `compsafe serve` on loopback must give what the native
// backend gives in-process; against small hand-written servers it must retry, fail clearly when a
// feature is missing, and keep the API key out of every message.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { OpenAIBackend, BackendConfigError, ServerFeatureError } from '../../src/backends/openai.js';
import { NativeBackend } from '../../src/backends/native.js';
import { GenerateRequest } from '../../src/backends/backend.js';
import { startServer, OpenAIServer } from '../../src/server/openai-server.js';
import { loadModelFromDir, LoadedModel } from '../../src/model/load.js';
import { shared, tempDir } from '../helpers/fixtures.js';

const baby = loadModelFromDir(shared('models', 'babyllama-tok105'));
const stories = loadModelFromDir(shared('models', 'stories260K'));

/** stories260K with a chat template added (the fixtures have none). */
function chatModel(): LoadedModel {
  const src = shared('models', 'stories260K'), dir = path.join(tempDir('compsafe-chat-'), 'model');
  fs.mkdirSync(dir);
  for (const f of fs.readdirSync(src)) if (f !== 'tokenizer_config.json') fs.symlinkSync(path.join(src, f), path.join(dir, f));
  const config = JSON.parse(fs.readFileSync(path.join(src, 'tokenizer_config.json'), 'utf8'));
  config.chat_template = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}Once upon a time{% endif %}";
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config));
  return loadModelFromDir(dir);
}

const closers: (() => Promise<void>)[] = [];
after(async () => { await Promise.all(closers.map((c) => c())); });

async function serve(loaded: LoadedModel, name: string): Promise<OpenAIServer> {
  const s = await startServer({ loaded, modelName: name, port: 0, log: null });
  closers.push(() => s.close());
  return s;
}

/** A hand-written server on loopback; `handler` sees the parsed JSON body. */
async function fakeServer(handler: (req: http.IncomingMessage, body: any, res: http.ServerResponse) => void | Promise<void>): Promise<string> {
  const server = http.createServer((req, res) => {
    let data = '';
    req.on('data', (c) => { data += c; });
    req.on('end', () => { void handler(req, data ? JSON.parse(data) : undefined, res); });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

test('loglikelihood and perplexity through serve equal the native backend', async () => {
  const s = await serve(baby, 'baby');
  const remote = await OpenAIBackend.connect({ baseUrl: `${s.url}/v1`, model: 'baby' });
  assert.equal(remote.info.maxPositions, 256);
  const native = new NativeBackend(baby, 'baby');
  const pairs = [
    { context: 'Once upon a time', continuation: ' there was a little girl.' },
    { context: 'The cat sat on the ', continuation: 'mat.' },
    { context: 'Lily went to the park. She', continuation: ' saw a big dog' },
    { context: '', continuation: 'Once upon a time' },
    { context: 'Once upon a', continuation: ' time' },
  ];
  const [a, b] = await Promise.all([remote.loglikelihood(pairs), native.loglikelihood(pairs)]);
  a.forEach((x, i) => {
    const y = b[i];
    assert.ok(x.ok && y.ok, `pair ${i}: ${JSON.stringify([x, y])}`);
    if (!x.ok || !y.ok) return;
    assert.ok(Math.abs(x.value.logprob - y.value.logprob) < 1e-4, `pair ${i}: ${x.value.logprob} vs ${y.value.logprob}`);
    assert.equal(x.value.greedy, y.value.greedy, `greedy of pair ${i}`);
    assert.deepEqual([x.value.tokens, x.value.chars, x.value.bytes], [y.value.tokens, y.value.chars, y.value.bytes], `pair ${i}`);
  });
  assert.ok(b.some((y) => y.ok && y.value.greedy) && b.some((y) => y.ok && !y.value.greedy), 'both greedy and non-greedy pairs');

  const text = fs.readFileSync(shared('data', 'tinystories', 'TinyStories-valid-excerpt.txt'), 'utf8').slice(0, 3000);
  const progress: number[] = [];
  const [pr, pn] = await Promise.all([remote.perplexity(text, 64, { onProgress: (p) => progress.push(p.done) }), native.perplexity(text, 64)]);
  assert.ok(Math.abs(pr.perplexity / pn.perplexity - 1) < 1e-6, `${pr.perplexity} vs ${pn.perplexity}`);
  assert.deepEqual([pr.scored, pr.tokens, pr.windows, pr.seqlen, pr.protocol], [pn.scored, pn.tokens, pn.windows, pn.seqlen, pn.protocol]);
  assert.equal(progress.length, pr.windows);
  await assert.rejects(remote.perplexity(text, 512), /exceeds the model's context of 256/);
});

test('generation through serve equals the native backend: greedy, seeded samples 0..2 (in any subset), chat', async () => {
  const s = await serve(stories, 'stories');
  const remote = new OpenAIBackend({ baseUrl: s.url, model: 'stories' });
  const native = new NativeBackend(stories, 'stories');
  const base = { maxNewTokens: 24, temperature: 0, topP: 1, topK: 0, seed: 0, sampleIndex: 0 };
  const sampled = { prompt: 'The dog', maxNewTokens: 16, temperature: 1, topP: 0.95, topK: 40, seed: 42 };
  const requests: GenerateRequest[] = [
    { ...base, prompt: 'Once upon a time' },
    { ...base, prompt: 'Lily and Ben', stop: ['.'] },
    ...[0, 1, 2].map((k) => ({ ...sampled, sampleIndex: k })),
    { ...sampled, prompt: 'A bird', sampleIndex: 2 },
    { ...sampled, prompt: 'A bird', sampleIndex: 0, minNewTokens: 10, maxNewTokens: 12 },
  ];
  const [a, b] = await Promise.all([remote.generate(requests), native.generate(requests)]);
  a.forEach((x, i) => assert.deepEqual(x, b[i], `request ${i}`));
  assert.ok(b[0].ok && b[0].value.text.startsWith(', there was a little girl named Lily.'));
  assert.ok(b[1].ok && b[1].value.finishReason === 'stop');
  const texts = b.slice(2, 5).map((x) => (x.ok ? x.value.text : ''));
  assert.equal(new Set(texts).size, 3, 'three different samples');

  const chat = chatModel();
  const cs = await serve(chat, 'chat');
  const chatRemote = new OpenAIBackend({ baseUrl: `${cs.url}/v1/`, model: 'chat', chat: true });
  const chatNative = new NativeBackend(chat, 'chat');
  const chatRequests = [0, 1].map((k) => ({ ...sampled, prompt: 'Tell me a story.', sampleIndex: k, chat: true }));
  assert.deepEqual(await chatRemote.generate(chatRequests), await chatNative.generate(chatRequests));
});

test('429 and 5xx are retried with backoff: two 503s, then success, is three attempts', async () => {
  const s = await serve(stories, 'stories');
  let calls = 0;
  const url = await fakeServer(async (req, body, res) => {
    calls++;
    if (calls <= 2) return json(res, 503, { error: { message: 'warming up' } });
    const upstream = await fetch(`${s.url}${req.url}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    json(res, upstream.status, await upstream.json());
  });
  const backend = new OpenAIBackend({ baseUrl: url, model: 'stories', retryBaseMs: 5, maxRetries: 4 });
  const request = { prompt: 'Once upon a time', maxNewTokens: 10, temperature: 0, topP: 1, topK: 0, seed: 0, sampleIndex: 0 };
  const [out] = await backend.generate([request]);
  const [ref] = await new NativeBackend(stories, 'stories').generate([request]);
  assert.deepEqual(out, ref);
  assert.deepEqual(backend.stats, { requests: 1, attempts: 3, retries: 2 });

  // Always overloaded: the request fails as data once the retries are spent.
  const busy = await fakeServer((_req, _body, res) => {
    res.setHeader('retry-after', '0');
    json(res, 429, { error: { message: 'slow down' } });
  });
  const gaveUp = new OpenAIBackend({ baseUrl: busy, model: 'x', retryBaseMs: 1, maxRetries: 2 });
  const [failed] = await gaveUp.generate([request]);
  assert.ok(!failed.ok);
  assert.match(failed.ok ? '' : failed.error, /after 3 attempts; last: 429: slow down/);
  // Nothing listening: connection errors are retried too, then reported.
  const vacant = http.createServer();
  await new Promise<void>((resolve) => vacant.listen(0, '127.0.0.1', resolve));
  const port = (vacant.address() as AddressInfo).port;
  await new Promise((resolve) => vacant.close(resolve));
  const closed = new OpenAIBackend({ baseUrl: `http://127.0.0.1:${port}/v1`, model: 'x', retryBaseMs: 1, maxRetries: 1 });
  const [refused] = await closed.generate([request]);
  assert.match(refused.ok ? '' : refused.error, /after 2 attempts; last: connection failed \(ECONNREFUSED\)/);
  await assert.rejects(OpenAIBackend.connect({ baseUrl: `http://127.0.0.1:${port}/v1`, model: 'x', retryBaseMs: 1, maxRetries: 0 }), BackendConfigError);
});

test('a server without logprobs, echo or /tokenize gets a clear error, not wrong numbers', async () => {
  const url = await fakeServer((req, body, res) => {
    if (req.url === '/v1/completions') {
      return json(res, 200, { choices: [{ index: 0, text: body.echo ? body.prompt : ' hi', finish_reason: 'length' }], usage: { prompt_tokens: 3, completion_tokens: 0 } });
    }
    json(res, 404, { error: { message: 'not found' } });
  });
  const backend = new OpenAIBackend({ baseUrl: url, model: 'x', retryBaseMs: 1 });
  await assert.rejects(backend.loglikelihood([{ context: 'a', continuation: ' b' }]), (e: Error) => {
    assert.ok(e instanceof ServerFeatureError);
    assert.match(e.message, /returned no logprobs for a log-likelihood request .*need prompt logprobs with echo/);
    return true;
  });
  await assert.rejects(backend.perplexity('some text', 16), (e: Error) => e instanceof ServerFeatureError && /has no .*\/tokenize \(404\)/.test(e.message));
  // Logprobs, but of a generated token instead of the echoed prompt.
  const noEcho = await fakeServer((_req, _body, res) => json(res, 200, {
    choices: [{ index: 0, text: ' b', finish_reason: 'length', logprobs: { tokens: [' b'], token_logprobs: [-0.5], top_logprobs: [{ ' b': -0.5 }], text_offset: [0] } }],
  }));
  await assert.rejects(new OpenAIBackend({ baseUrl: noEcho, model: 'x' }).loglikelihood([{ context: 'a', continuation: ' b' }]), /ignored echo: true/);
  // n is not honoured (one choice for n = 3): a clear error instead of missing samples.
  const req = { prompt: 'a', maxNewTokens: 2, temperature: 1, topP: 1, topK: 0, seed: 1 };
  await assert.rejects(backend.generate([0, 1, 2].map((k) => ({ ...req, sampleIndex: k }))), /returned 1 choices for n = 3/);
});

test('the API key is sent as Bearer and appears in no error message; unknown models and refused keys are configuration errors', async () => {
  const key = 'sk-test-0123456789abcdef';
  const seen: (string | undefined)[] = [];
  const url = await fakeServer((req, _body, res) => {
    seen.push(req.headers.authorization);
    if (req.url === '/v1/models') return json(res, 200, { object: 'list', data: [{ id: 'served', object: 'model' }] });
    // A server that echoes the header into its error message.
    if (req.headers['x-case'] === undefined && req.url === '/v1/completions') return json(res, 400, { error: { message: `bad request from ${req.headers.authorization}`, param: 'prompt' } });
    json(res, 401, { error: { message: `invalid key ${req.headers.authorization}` } });
  });
  const backend = new OpenAIBackend({ baseUrl: url, model: 'served', apiKey: key, retryBaseMs: 1 });
  const [out] = await backend.loglikelihood([{ context: 'a', continuation: ' b' }]);
  assert.ok(!out.ok);
  assert.match(out.ok ? '' : out.error, /refused the request \(400, prompt\): bad request from Bearer \*\*\*/);
  assert.ok(!JSON.stringify(out).includes(key));
  assert.deepEqual(seen, [`Bearer ${key}`]);
  await assert.rejects(backend.perplexity('text', 8), (e: Error) => e instanceof BackendConfigError && /refused the API key \(401\)/.test(e.message) && !e.message.includes(key));
  await assert.rejects(OpenAIBackend.connect({ baseUrl: url, model: 'other', apiKey: key }), /serves "served", not "other"/);
  assert.ok(!JSON.stringify(backend).includes(key), 'the key is not a serialisable field');
  const previous = process.env.OPENAI_API_KEY;
  process.env.OPENAI_API_KEY = 'sk-from-env';
  try {
    await new OpenAIBackend({ baseUrl: url, model: 'served' }).loglikelihood([{ context: 'a', continuation: ' b' }]);
    assert.equal(seen.at(-1), 'Bearer sk-from-env');
  } finally {
    if (previous === undefined) delete process.env.OPENAI_API_KEY;
    else process.env.OPENAI_API_KEY = previous;
  }
  assert.throws(() => new OpenAIBackend({ baseUrl: 'http://example.com/v1', model: 'x', offline: true }), /offline mode .* only loopback/);
  assert.throws(() => new OpenAIBackend({ baseUrl: 'not a url', model: 'x' }), BackendConfigError);
});
