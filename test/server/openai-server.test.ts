// The OpenAI-compatible server on loopback, in-process: responses checked against the engine and
// against an independent log-softmax over a plain forward pass; every kind of bad request answered
// with a JSON error naming the field; bodies, bursts and concurrency bounded; clean shutdown.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startServer, OpenAIServer } from '../../src/server/openai-server.js';
import { loadModelFromDir, LoadedModel } from '../../src/model/load.js';
import { generate } from '../../src/model/generate.js';
import { encodeChat } from '../../src/model/tokenizer.js';
import { shared, tempDir } from '../helpers/fixtures.js';

const stories = loadModelFromDir(shared('models', 'stories260K'));
const baby = loadModelFromDir(shared('models', 'babyllama-tok105'));

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

const servers: OpenAIServer[] = [];
async function serve(loaded: LoadedModel, extra: Partial<Parameters<typeof startServer>[0]> = {}): Promise<OpenAIServer> {
  const s = await startServer({ loaded, modelName: 'm', port: 0, log: null, ...extra });
  servers.push(s);
  return s;
}
after(async () => { await Promise.all(servers.map((s) => s.close())); });

interface Reply { status: number; body: any; headers: Headers }
async function post(s: OpenAIServer, route: string, body: unknown): Promise<Reply> {
  const res = await fetch(s.url + route, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

/** POSTs every body to /v1/completions on its own connection, all written in the same tick once every connection is open. */
async function rawBurst(s: OpenAIServer, bodies: unknown[]): Promise<{ status: number; head: string; body: string }[]> {
  const sockets = await Promise.all(bodies.map(() => new Promise<net.Socket>((resolve, reject) => {
    const socket = net.connect(s.port, s.host, () => resolve(socket));
    socket.on('error', reject);
  })));
  // Let the server accept every connection before anything is written.
  await new Promise((resolve) => setTimeout(resolve, 100));
  return Promise.all(sockets.map((socket, i) => new Promise<{ status: number; head: string; body: string }>((resolve) => {
    const data = JSON.stringify(bodies[i]);
    let reply = '';
    socket.on('data', (chunk) => { reply += chunk; });
    socket.on('end', () => {
      const [head, body] = reply.split('\r\n\r\n');
      resolve({ status: Number(head.split(' ')[1]), head, body });
    });
    socket.write(`POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(data)}\r\nconnection: close\r\n\r\n${data}`);
  })));
}

/** log-softmax of logits row `row`, in double precision, written out from the definition. */
function logSoftmaxRow(logits: Float32Array, vocab: number, row: number): number[] {
  const xs = Array.from(logits.subarray(row * vocab, (row + 1) * vocab));
  const m = Math.max(...xs), z = Math.log(xs.reduce((a, x) => a + Math.exp(x - m), 0)) + m;
  return xs.map((x) => x - z);
}

test('models, health, tokenize and detokenize', async () => {
  const s = await serve(stories);
  const models = await (await fetch(`${s.url}/v1/models`)).json();
  assert.deepEqual(models.data.map((m: { id: string; max_model_len: number }) => [m.id, m.max_model_len]), [['m', 512]]);
  assert.equal((await fetch(`${s.url}/health`)).status, 200);
  const t = await post(s, '/tokenize', { prompt: 'Once upon a time' });
  assert.equal(t.status, 200);
  assert.deepEqual(t.body.tokens, stories.tokenizer.encode('Once upon a time'));
  assert.equal(t.body.tokens[0], 1);
  assert.equal(t.body.count, t.body.tokens.length);
  assert.equal(t.body.max_model_len, 512);
  const plain = await post(s, '/tokenize', { prompt: 'Once upon a time', add_special_tokens: false });
  assert.deepEqual(plain.body.tokens, t.body.tokens.slice(1));
  const d = await post(s, '/detokenize', { tokens: plain.body.tokens });
  assert.equal(d.body.prompt, 'Once upon a time');
});

test('completions: greedy text, seeded choices as native samples 0..n-1, several prompts in prompt-major order', async () => {
  const s = await serve(stories);
  const greedy = await post(s, '/v1/completions', { model: 'm', prompt: 'Once upon a time', max_tokens: 20, temperature: 0 });
  assert.equal(greedy.status, 200, JSON.stringify(greedy.body));
  const ref = generate(stories.model, stories.tokenizer, [{ prompt: 'Once upon a time', maxNewTokens: 20 }])[0];
  assert.equal(greedy.body.choices[0].text, ref.text);
  assert.ok(ref.text.startsWith(', there was a little girl named Lily.'), ref.text);
  assert.equal(greedy.body.choices[0].finish_reason, 'length');
  assert.deepEqual(greedy.body.usage, { prompt_tokens: 5, completion_tokens: 20, total_tokens: 25 });

  const body = { prompt: ['The dog', 'Lily saw'], max_tokens: 12, temperature: 1, top_k: 20, seed: 7, n: 3 };
  const [a, b] = await Promise.all([post(s, '/v1/completions', body), post(s, '/v1/completions', body)]);
  assert.equal(a.status, 200, JSON.stringify(a.body));
  assert.deepEqual(a.body.choices, b.body.choices);
  const native = generate(stories.model, stories.tokenizer, ['The dog', 'Lily saw'].map((p) => ({ prompt: p, maxNewTokens: 12, temperature: 1, topK: 20, seed: 7, samples: 3 })));
  assert.deepEqual(a.body.choices.map((c: { index: number; text: string }) => [c.index, c.text]), native.map((x, i) => [i, x.text]));
  assert.equal(new Set(native.slice(0, 3).map((x) => x.text)).size, 3, 'three different samples');

  // Token-id prompts, echo without logprobs, stop strings with vLLM's stop_reason.
  const ids = stories.tokenizer.encode('Once upon a time');
  const stop = await post(s, '/v1/completions', { prompt: [ids], max_tokens: 40, temperature: 0, echo: true, stop: ['Lily'] });
  assert.equal(stop.body.choices[0].text, 'Once upon a time, there was a little girl named ');
  assert.equal(stop.body.choices[0].finish_reason, 'stop');
  assert.equal(stop.body.choices[0].stop_reason, 'Lily');
});

test('echo + logprobs: prompt token logprobs, alternatives and text offsets as OpenAI returns them', async () => {
  const s = await serve(baby);
  const prompt = 'The cat sat on the mat.';
  const r = await post(s, '/v1/completions', { prompt, max_tokens: 0, echo: true, logprobs: 3 });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const c = r.body.choices[0], lp = c.logprobs;
  assert.equal(c.text, prompt);
  const ids = baby.tokenizer.encode(prompt);
  assert.equal(lp.tokens.length, ids.length);
  assert.equal(lp.tokens[0], '<s>');
  assert.equal(lp.token_logprobs[0], null);
  assert.equal(lp.top_logprobs[0], null);
  const out = baby.model.forward([{ ids }], { logits: 'all' });
  for (let j = 1; j < ids.length; j++) {
    const ref = logSoftmaxRow(out.logits, out.vocab, j - 1);
    assert.ok(Math.abs(lp.token_logprobs[j] - ref[ids[j]]) < 1e-5, `token ${j}`);
    const top = Object.entries(lp.top_logprobs[j] as Record<string, number>);
    assert.equal(top.length, 3);
    const best = [...ref.keys()].sort((a, b) => ref[b] - ref[a]).slice(0, 3);
    top.forEach(([, v], k) => assert.ok(Math.abs(v - ref[best[k]]) < 1e-5, `alternative ${k} of token ${j}`));
  }
  // Offsets index the prompt: BOS has zero width at 0, every other token's text starts at its offset.
  assert.equal(lp.text_offset[0], 0);
  assert.equal(lp.text_offset[1], 0);
  for (let j = 1; j < ids.length; j++) assert.ok(prompt.slice(lp.text_offset[j]).startsWith(lp.tokens[j]), `offset of token ${j}`);
  assert.equal(lp.text_offset.at(-1) + lp.tokens.at(-1).length, prompt.length);
});

test('generated-token logprobs equal the log-softmax of a fresh forward over prompt + tokens', async () => {
  const s = await serve(stories);
  const r = await post(s, '/v1/completions', { prompt: 'Lily went', max_tokens: 6, temperature: 0.8, seed: 3, logprobs: 2, echo: true });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const lp = r.body.choices[0].logprobs, prompt = stories.tokenizer.encode('Lily went');
  const generated = r.body.usage.completion_tokens;
  assert.equal(lp.tokens.length, prompt.length + generated);
  // The same draw without logprobs: recording them changes nothing.
  const plain = generate(stories.model, stories.tokenizer, [{ prompt, maxNewTokens: 6, temperature: 0.8, seed: 3 }])[0];
  const withLp = generate(stories.model, stories.tokenizer, [{ prompt, maxNewTokens: 6, temperature: 0.8, seed: 3, logprobs: 2 }])[0];
  assert.deepEqual(withLp.tokens, plain.tokens);
  assert.equal(r.body.choices[0].text, 'Lily went' + plain.text);
  const all = [...prompt, ...plain.tokens];
  const out = stories.model.forward([{ ids: all }], { logits: 'all' });
  for (let k = 0; k < plain.tokens.length; k++) {
    const ref = logSoftmaxRow(out.logits, out.vocab, prompt.length - 1 + k);
    assert.ok(Math.abs(lp.token_logprobs[prompt.length + k] - ref[plain.tokens[k]]) < 1e-4, `generated token ${k}`);
    assert.ok(Math.abs(withLp.logprobs![k].logprob - ref[plain.tokens[k]]) < 1e-4);
    const best = ref.indexOf(Math.max(...ref));
    assert.equal(withLp.logprobs![k].top[0].id, best);
  }
  // Offsets of generated tokens continue after the echoed prompt.
  assert.equal(lp.text_offset[prompt.length], 'Lily went'.length);
});

test('chat completions through the chat template equal generation on the rendered conversation', async () => {
  const chat = chatModel();
  const s = await serve(chat);
  const messages = [{ role: 'user', content: 'Tell me a story.' }];
  const r = await post(s, '/v1/chat/completions', { messages, max_tokens: 15, temperature: 0.9, seed: 11, n: 2, logprobs: true, top_logprobs: 1 });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const ids = encodeChat(chat.tokenizer, messages, { addGenerationPrompt: true });
  const native = generate(chat.model, chat.tokenizer, [{ prompt: ids, maxNewTokens: 15, temperature: 0.9, seed: 11, samples: 2 }]);
  assert.deepEqual(r.body.choices.map((c: { message: { content: string } }) => c.message.content), native.map((x) => x.text));
  assert.equal(r.body.object, 'chat.completion');
  assert.equal(r.body.choices[0].message.role, 'assistant');
  assert.equal(r.body.choices[0].logprobs.content.length, native[0].tokens.length);
  assert.equal(r.body.usage.prompt_tokens, ids.length);
  // No template: a 400 that says so.
  const plain = await serve(stories);
  const e = await post(plain, '/v1/chat/completions', { messages, max_tokens: 5 });
  assert.equal(e.status, 400);
  assert.match(e.body.error.message, /chat_template/);
});

test('malformed requests get 400s that name the field; unknown model 404; unknown path 404; bad JSON 400', async () => {
  const s = await serve(baby, { maxN: 8 });
  const cases: [unknown, number, string | null, RegExp][] = [
    [{ prompt: 'a', max_tokens: 2, foo: 1 }, 400, 'foo', /unknown field "foo"; accepted fields: .*prompt/],
    [{ prompt: 'a', n: 9 }, 400, 'n', /at most 8/],
    [{ prompt: 'a', seed: '7' }, 400, 'seed', /seed: must be an integer/],
    [{ prompt: 'a', seed: 1.5 }, 400, 'seed', /integer/],
    [{ prompt: 'a '.repeat(100), max_tokens: 100 }, 400, 'max_tokens', /maximum context length is 256 tokens/],
    [{ prompt: 'a '.repeat(300), max_tokens: 0 }, 400, 'prompt', /maximum context length/],
    [{ prompt: 'a', stream: true }, 400, 'stream', /streaming is not supported/],
    [{ prompt: 'a', logprobs: 6 }, 400, 'logprobs', /logprobs/],
    [{ prompt: [1, 2, 500] }, 400, 'prompt', /token id 500 is outside the vocabulary of 105/],
    [{ prompt: ['a', 3] }, 400, 'prompt', /prompt: must be a string/],
    [{ prompt: 'a', temperature: -1 }, 400, 'temperature', /temperature/],
    [{ prompt: 'a', presence_penalty: 0.5 }, 400, 'presence_penalty', /not supported/],
    [{ prompt: 'a', max_tokens: 3, min_tokens: 4 }, 400, 'min_tokens', /more than max_tokens/],
    [{ max_tokens: 3 }, 400, 'prompt', /prompt: is required/],
    [[1, 2], 400, null, /expected object/i],
    [{ prompt: 'a', model: 'gpt-4' }, 404, 'model', /"gpt-4" does not exist; this server serves "m"/],
  ];
  for (const [body, status, param, pattern] of cases) {
    const r = await post(s, '/v1/completions', body);
    const label = JSON.stringify(body).slice(0, 60);
    assert.equal(r.status, status, `${label}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error.type, 'invalid_request_error', label);
    if (param !== null) assert.equal(r.body.error.param, param, `${label}: ${r.body.error.message}`);
    assert.match(r.body.error.message, pattern, label);
  }
  const chat = await post(s, '/v1/chat/completions', { messages: [{ role: 'user', content: 'hi', extra: 1 }] });
  assert.equal(chat.status, 400);
  assert.equal(chat.body.error.param, 'messages[0].extra');
  const bad = await post(s, '/v1/completions', '{"prompt": "a",');
  assert.equal(bad.status, 400);
  assert.match(bad.body.error.message, /not valid JSON/);
  const missing = await fetch(`${s.url}/v1/engines`);
  assert.equal(missing.status, 404);
  assert.match((await missing.json()).error.message, /no endpoint GET \/v1\/engines/);
  const wrongMethod = await fetch(`${s.url}/v1/completions`);
  assert.equal(wrongMethod.status, 405);
  // Still serving.
  assert.equal((await post(s, '/v1/completions', { prompt: 'a', max_tokens: 1 })).status, 200);
});

test('an oversized body gets 413 and the server keeps serving', async () => {
  const s = await serve(baby, { maxBodyBytes: 1 << 20 });
  const big = JSON.stringify({ prompt: 'x'.repeat(1.5 * 2 ** 20) });
  const r = await post(s, '/v1/completions', big);
  assert.equal(r.status, 413);
  assert.match(r.body.error.message, /larger than the server's limit of 1048576 bytes/);
  assert.equal((await post(s, '/v1/completions', { prompt: 'a', max_tokens: 1 })).status, 200);
});

test('a burst of 40 concurrent requests all complete; past --max-concurrency requests get 429', async () => {
  const s = await serve(stories);
  const started = Date.now();
  const replies = await Promise.all(Array.from({ length: 40 }, (_, i) => post(s, '/v1/completions', { prompt: `Tom ${i}`, max_tokens: 8, temperature: 1, seed: i })));
  assert.deepEqual(replies.map((r) => r.status), new Array(40).fill(200));
  // Each reply is what the request gets alone: batching does not change samples.
  const alone = await post(s, '/v1/completions', { prompt: 'Tom 17', max_tokens: 8, temperature: 1, seed: 17 });
  assert.equal(alone.body.choices[0].text, replies[17].body.choices[0].text);
  assert.ok(Date.now() - started < 20000);

  // 12 requests that reach the server at the same moment (connections opened first, then all written
  // in one tick) against a limit of 2: two are served, the rest refused.
  const small = await serve(stories, { maxConcurrency: 2 });
  const burst = await rawBurst(small, Array.from({ length: 12 }, (_, i) => ({ prompt: `Sue ${i}`, max_tokens: 30, temperature: 0 })));
  const statuses = burst.map((r) => r.status);
  assert.equal(statuses.filter((x) => x === 200).length, 2, String(statuses));
  assert.equal(statuses.filter((x) => x === 429).length, 10, String(statuses));
  const refused = burst.find((r) => r.status === 429)!;
  assert.match(refused.head, /retry-after: 1/i);
  assert.match(JSON.parse(refused.body).error.message, /--max-concurrency/);
  assert.equal(small.stats().rejected, statuses.filter((x) => x === 429).length);
  assert.equal((await post(small, '/v1/completions', { prompt: 'a', max_tokens: 1 })).status, 200);
});

test('close() lets requests in progress finish, then refuses connections', async () => {
  const s = await startServer({ loaded: stories, modelName: 'm', port: 0, log: null });
  const inFlight = post(s, '/v1/completions', { prompt: 'Once', max_tokens: 50, temperature: 0 });
  await new Promise((r) => setTimeout(r, 20));
  await s.close();
  assert.equal((await inFlight).status, 200);
  await assert.rejects(fetch(`${s.url}/v1/models`));
});
