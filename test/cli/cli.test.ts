// The compsafe command line as a user runs it: real processes, real files, a real local hub server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot, shared, tempDir } from '../helpers/fixtures.js';
import { startHubServer } from '../helpers/hub-server.js';

interface Run { code: number; stdout: string; stderr: string }

function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [path.join(repoRoot, 'bin', 'compsafe.js'), ...args], {
      env: { ...process.env, HF_HUB_OFFLINE: undefined, COMPSAFE_OFFLINE: undefined, ...env, COMPSAFE_DEBUG: undefined },
    });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const baby = shared('models', 'babyllama-tok105');
const stories = shared('models', 'stories260K');
const work = tempDir('compsafe-cli-');
const excerpt = path.join(work, 'excerpt.txt');
fs.writeFileSync(excerpt, fs.readFileSync(shared('data', 'tinystories', 'TinyStories-valid-excerpt.txt'), 'utf8').slice(0, 4000));

test('perplexity --json prints the protocol fields; --dataset reads the data directory', async () => {
  const r = await cli(['perplexity', '--model', baby, '--text', excerpt, '--seqlen', '256', '--json', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.ok(Math.abs(out.perplexity - 2.556575) < 5e-6, String(out.perplexity));
  assert.equal(out.tokens, 3999);
  assert.equal(out.seqlen, 256);
  assert.equal(out.scored, 3999 - 16);
  assert.match(out.protocol, /non-overlapping windows/);
  const d = await cli(['perplexity', '--model', baby, '--dataset', 'tinystories', '--data-dir', shared('data'), '--json', '--threads', '1']);
  assert.equal(d.code, 0, d.stderr);
  assert.equal(JSON.parse(d.stdout).seqlen, 256);  // default: the model's context
});

test('generate: greedy reproduces the reference story; seeded samples are reproducible', async () => {
  const g = await cli(['generate', '--model', stories, '--prompt', 'Once upon a time', '--max-new-tokens', '20']);
  assert.equal(g.code, 0, g.stderr);
  assert.ok(g.stdout.startsWith('Once upon a time, there was a little girl named Lily.'), g.stdout);
  const args = ['generate', '--model', baby, '--prompt', 'The dog', '--temperature', '1', '--top-k', '20', '--seed', '5', '--samples', '2', '--max-new-tokens', '15', '--json'];
  const [a, b] = await Promise.all([cli(args), cli(args)]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.stdout, b.stdout);
  const lines = a.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.sample), [0, 1]);
  assert.ok(lines.every((l) => l.seed === 5 && l.tokens.length <= 15));
});

test('a hub id downloads through HF_ENDPOINT into HF_HUB_CACHE once, then works offline', async () => {
  const server = await startHubServer({ repos: { 'tiny/stories260K': stories }, lfsRedirect: true });
  const cache = path.join(work, 'hub-cache');
  const env = { HF_ENDPOINT: server.url, HF_HUB_CACHE: cache, HF_TOKEN: undefined };
  try {
    const r = await cli(['generate', '--model', 'tiny/stories260K', '--prompt', 'Once upon a time', '--max-new-tokens', '8'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.startsWith('Once upon a time, there was a little girl'), r.stdout);
    assert.ok(fs.existsSync(path.join(cache, 'models--tiny--stories260K', 'refs', 'main')));
  } finally {
    await server.close();
  }
  const off = await cli(['generate', '--model', 'tiny/stories260K', '--prompt', 'Once upon a time', '--max-new-tokens', '8', '--offline'], env);
  assert.equal(off.code, 0, off.stderr);
  const missing = await cli(['generate', '--model', 'tiny/other', '--prompt', 'x', '--offline'], env);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /HubError: .*offline/i);
});

/** Bad input: non-zero exit, exactly one line on stderr, no stack trace, nothing on stdout. */
async function failsCleanly(args: string[], pattern: RegExp): Promise<void> {
  const r = await cli(args);
  assert.notEqual(r.code, 0, `expected failure: ${args.join(' ')}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one stderr line for ${args.join(' ')}:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  assert.match(lines[0], pattern);
  assert.equal(r.stdout, '');
}

function brokenModel(name: string, edit: (dir: string) => void): string {
  const dir = path.join(work, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const f of fs.readdirSync(baby)) if (fs.statSync(path.join(baby, f)).isFile()) fs.copyFileSync(path.join(baby, f), path.join(dir, f));
  edit(dir);
  return dir;
}

test('bad input ends with one clear line and a non-zero exit', async () => {
  const editConfig = (patch: Record<string, unknown>) => (dir: string): void => {
    const file = path.join(dir, 'config.json');
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), ...patch }));
  };
  const truncated = brokenModel('truncated', (dir) => {
    const f = path.join(dir, 'model.safetensors');
    fs.writeFileSync(f, fs.readFileSync(f).subarray(0, 100000));
  });
  const lyingHeader = brokenModel('lying-header', (dir) => {
    const f = path.join(dir, 'model.safetensors'), buf = fs.readFileSync(f);
    buf.writeBigUInt64LE(BigInt(buf.length * 2), 0);
    fs.writeFileSync(f, buf);
  });
  const falcon = brokenModel('falcon', editConfig({ model_type: 'falcon' }));
  const wrongShape = brokenModel('wrong-shape', editConfig({ intermediate_size: 300 }));
  const noConfig = brokenModel('no-config', (dir) => fs.rmSync(path.join(dir, 'config.json')));
  const noWeights = brokenModel('no-weights', (dir) => fs.rmSync(path.join(dir, 'model.safetensors')));
  const ppl = (model: string, ...more: string[]): string[] => ['perplexity', '--model', model, '--text', excerpt, ...more];
  await Promise.all([
    failsCleanly(ppl(truncated), /SafetensorsError: .*model\.safetensors/),
    failsCleanly(ppl(lyingHeader), /SafetensorsError: .*header/i),
    failsCleanly(ppl(falcon), /UnsupportedArchitectureError: model_type "falcon" is not supported; supported: llama, mistral, qwen2/),
    failsCleanly(ppl(wrongShape), /ModelMismatchError: tensor "model\.layers\.0\.mlp\.gate_proj\.weight" has shape \[352,128\].*\[300,128\]/),
    failsCleanly(ppl(noConfig), /config\.json/),
    failsCleanly(ppl(noWeights), /safetensors/),
    failsCleanly(ppl(path.join(work, 'nowhere')), /nowhere/),
    failsCleanly(ppl(baby, '--seqlen', 'abc'), /UsageError: --seqlen must be an integer/),
    failsCleanly(ppl(baby, '--seqlen', '5000'), /UsageError: --seqlen 5000 exceeds the model's context of 256/),
    failsCleanly(ppl(baby, '--threads', '0'), /--threads must be an integer in \[1, 1024\]/),
    failsCleanly(['perplexity', '--model', baby], /exactly one of --text FILE or --dataset/),
    failsCleanly(['perplexity', '--model', baby, '--dataset', 'wikitext2', '--data-dir', work], /WikiText-2 .* not found .*--data-dir/),
    failsCleanly(['perplexity', '--model', baby, '--text', path.join(work, 'missing.txt')], /does not exist/),
    failsCleanly(['generate', '--model', baby, '--prompt', 'x', '--temperature=-1'], /--temperature must be a number in \[0, 100\]/),
    failsCleanly(['generate', '--model', baby, '--prompt', 'x', '--temperature', '-1'], /ambiguous.*use '--temperature=-XYZ'/),
    failsCleanly(['generate', '--model', baby, '--prompt', 'x', '--top-p', '2'], /--top-p must be a number/),
    failsCleanly(['generate', '--model', baby, '--prompt', 'x', '--chat'], /TokenizerError: .*has no chat_template/),
    failsCleanly(['generate', '--model', baby, '--bogus'], /Unknown option '--bogus'/),
    failsCleanly(['frobnicate'], /unknown command "frobnicate"/),
  ]);
});

test('doctor --json reports the BLAS backend, threads and a measured rate', async () => {
  const r = await cli(['doctor', '--json', '--threads', '2']);
  assert.equal(r.code, 0, r.stderr);
  const d = JSON.parse(r.stdout);
  assert.ok(['openblas', 'accelerate', 'fallback'].includes(d.blas));
  assert.equal(d.threads, 2);
  assert.ok(d.sgemmGflops > 0.1);
});
