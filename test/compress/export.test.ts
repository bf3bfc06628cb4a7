// Export and `compsafe compress`: the folder reloads and scores as the in-memory model, the same seed
// writes a byte-identical folder, and bad parameters end with one line and nothing written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { loadModelFromDir } from '../../src/model/load.js';
import { LayerwiseLM } from '../../src/model/causal-lm.js';
import { perplexity } from '../../src/model/scoring.js';
import { compressModel } from '../../src/compress/pipeline.js';
import { METHODS } from '../../src/compress/registry.js';
import { resolveCalibrationSource, sampleCalibration } from '../../src/compress/calibration.js';
import { exportCompressedModel, RECIPE_FILE, TIMING_FILE } from '../../src/compress/export.js';
import { CompressionParams } from '../../src/compress/types.js';
import { UsageError } from '../../src/core/errors.js';
import { repoRoot, shared, tempDir } from '../helpers/fixtures.js';

const baby = shared('models', 'babyllama-tok105');
const data = shared('data');
const text = fs.readFileSync(shared('data', 'tinystories', 'TinyStories-valid-excerpt.txt'), 'utf8').slice(0, 6000);
const work = tempDir('compsafe-compress-');
const textFile = path.join(work, 'excerpt-6000.txt');
fs.writeFileSync(textFile, text);

interface Run { code: number; stdout: string; stderr: string }
function cli(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [path.join(repoRoot, 'bin', 'compsafe.js'), ...args], { env: { ...process.env, COMPSAFE_DEBUG: undefined } });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

function sha(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

test('the exported folder reloads and scores exactly as the in-memory compressed model (sparsegpt 50% + 4-bit g32)', (t) => {
  const m = loadModelFromDir(baby);
  const model = m.model as LayerwiseLM;
  const calibration = sampleCalibration(m.tokenizer, resolveCalibrationSource('c4', data), { nsamples: 8, seqlen: 128, seed: 1 });
  const params: CompressionParams = {
    method: 'sparsegpt', pattern: 'unstructured', sparsity: 0.5, bits: 4, groupSize: 32, symmetric: false, actOrder: false, staticGroups: false,
    percdamp: 0.01, blockSize: 128, threshold: 6, awqClip: true, awqGrid: 20, seed: 1,
  };
  const report = compressModel(model, METHODS.sparsegpt, params, calibration.samples);
  const out = path.join(work, 'api-out');
  const files = exportCompressedModel({ outDir: out, sourceDir: baby, sourceSpec: 'babyllama', model, report, calibration });
  assert.deepEqual(files, ['compsafe_recipe.json', 'compsafe_timing.json', 'config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
  const inMemory = perplexity(model, m.tokenizer, text, 256);
  const reloaded = loadModelFromDir(out);
  const fromDisk = perplexity(reloaded.model, reloaded.tokenizer, text, 256);
  assert.equal(fromDisk.perplexity, inMemory.perplexity);
  t.diagnostic(`sparsegpt 50% + 4-bit g32: perplexity ${inMemory.perplexity.toFixed(4)} on 6000 characters`);
  const recipe = JSON.parse(fs.readFileSync(path.join(out, RECIPE_FILE), 'utf8'));
  assert.equal(recipe.method, 'sparsegpt');
  assert.equal(recipe.parameters.bits, 4);
  assert.equal(recipe.parameters.groupSize, 32);
  assert.equal(recipe.calibration.sha256, sha(path.join(data, 'c4', 'c4_sample.jsonl')));
  assert.deepEqual([recipe.calibration.nsamples, recipe.calibration.seqlen, recipe.calibration.seed], [8, 128, 1]);
  assert.equal(recipe.sourceModel.weightFiles['model.safetensors'], sha(path.join(baby, 'model.safetensors')));
  assert.equal(recipe.result.linearLayers.length, 35);
  assert.equal(recipe.result.bits, 4);
  assert.ok(Math.abs(recipe.result.sparsity - 0.5) < 0.01);
  assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')).torch_dtype, 'float32');
  assert.ok(!JSON.stringify(recipe).match(/seconds|time/i), 'no timings in the recipe');
  // Every 32-column group of every row holds at most 16 distinct values.
  for (const s of reloaded.model.linearSites()) {
    const { weight, inFeatures: k } = s.linear;
    for (let i = 0; i < weight.length; i += 32) assert.ok(new Set(weight.subarray(i, i + 32)).size <= 16, `${s.layer} ${s.name} group at ${i % k}`);
  }
  assert.throws(() => exportCompressedModel({ outDir: out, sourceDir: baby, sourceSpec: 'babyllama', model, report, calibration }), UsageError);
});

test('compsafe compress end to end: same seed -> byte-identical folder (but the timing file); recipe and reload', async () => {
  const a = path.join(work, 'cli-a'), b = path.join(work, 'cli-b');
  const args = (out: string): string[] => ['compress', '--model', baby, '--method', 'sparsegpt', '--pattern', '2:4', '--calib', 'c4', '--data-dir', data,
    '--nsamples', '8', '--seqlen', '64', '--seed', '3', '--out', out, '--json'];
  const [ra, rb] = await Promise.all([cli(args(a)), cli(args(b))]);
  assert.equal(ra.code, 0, ra.stderr);
  assert.equal(rb.code, 0, rb.stderr);
  const summary = JSON.parse(ra.stdout);
  assert.equal(summary.method, 'sparsegpt');
  assert.equal(summary.sparsity, 0.5);
  assert.equal(summary.calibrationTokens, 8 * 64);
  const files = fs.readdirSync(a).sort();
  assert.deepEqual(fs.readdirSync(b).sort(), files);
  for (const f of files) if (f !== TIMING_FILE) assert.equal(sha(path.join(a, f)), sha(path.join(b, f)), f);
  const timing = JSON.parse(fs.readFileSync(path.join(a, TIMING_FILE), 'utf8'));
  assert.equal(timing.layers.length, 5);
  assert.ok(timing.totalSeconds > 0);
  const recipe = JSON.parse(fs.readFileSync(path.join(a, RECIPE_FILE), 'utf8'));
  assert.equal(recipe.parameters.pattern, '2:4');
  assert.equal(recipe.calibration.file, 'c4/c4_sample.jsonl');
  assert.equal(recipe.sourceModel.model, baby);
  assert.equal(recipe.compsafeVersion, JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).version);
  assert.deepEqual(recipe.result.layers.map((l: { sparsity: number }) => l.sparsity), [0.5, 0.5, 0.5, 0.5, 0.5]);
  const ppl = await cli(['perplexity', '--model', a, '--text', textFile, '--seqlen', '256', '--json', '--quiet']);
  assert.equal(ppl.code, 0, ppl.stderr);
  assert.ok(Number.isFinite(JSON.parse(ppl.stdout).perplexity));
  const mag = await cli(['compress', '--model', baby, '--method', 'magnitude', '--sparsity', '0.6', '--out', path.join(work, 'cli-mag'), '--quiet']);
  assert.equal(mag.code, 0, mag.stderr);
  assert.match(mag.stdout, /magnitude: sparsity 60\.00%/);
  assert.equal(JSON.parse(fs.readFileSync(path.join(work, 'cli-mag', RECIPE_FILE), 'utf8')).calibration, null);
});

test('every bad parameter: one line on stderr, non-zero exit, nothing written', async () => {
  const nonEmpty = path.join(work, 'non-empty');
  fs.mkdirSync(nonEmpty);
  fs.writeFileSync(path.join(nonEmpty, 'x'), '');
  const shortText = path.join(work, 'short.txt');
  fs.writeFileSync(shortText, 'Too short to calibrate on.');
  const emptyData = path.join(work, 'empty-data');
  fs.mkdirSync(emptyData);
  const cases: [string[], RegExp][] = [
    [['--method', 'magnitude', '--sparsity', '1'], /--sparsity must be in \[0, 1\)/],
    [['--method', 'magnitude', '--sparsity=-0.2'], /--sparsity must be in \[0, 1\), got "-0.2"/],
    [['--method', 'magnitude', '--sparsity', 'half'], /--sparsity must be a number/],
    [['--method', 'wanda', '--pattern', '4:4'], /N:M needs 1 <= N < M/],
    [['--method', 'magnitude', '--pattern', '1:3'], /in-features 128, 352 are not divisible by M=3/],
    [['--method', 'magnitude', '--pattern', '2:4', '--sparsity', '0.3'], /contradicts --pattern 2:4/],
    [['--method', 'sparsegpt', '--bits', '9'], /--bits must be an integer in \[2, 8\]/],
    [['--method', 'sparsegpt', '--bits', '1'], /--bits must be an integer in \[2, 8\]/],
    [['--method', 'sparsegpt', '--bits', '4', '--group-size', '48'], /--group-size 48 does not divide in-features 128, 352/],
    [['--method', 'sparsegpt', '--act-order'], /--act-order is not supported by sparsegpt/],
    [['--method', 'wanda', '--data-dir', emptyData], /FileFormatError: --calib c4: .*not found/],
    [['--method', 'wanda', '--calib', path.join(work, 'nope.txt')], /--calib ".*nope\.txt" is neither/],
    [['--method', 'wanda', '--calib', shortText, '--seqlen', '64'], /the text has \d+ tokens; windows of --seqlen 64 need more than 64/],
    [['--method', 'nosuch'], /unknown --method "nosuch"; available: magnitude, wanda, sparsegpt/],
    [['--method', 'magnitude', '--sym', '--asym'], /at most one of --sym and --asym/],
  ];
  const runs = await Promise.all(cases.map(([extra], i) => {
    const out = path.join(work, `bad-${i}`);
    return cli(['compress', '--model', baby, '--data-dir', data, '--nsamples', '4', '--seqlen', '32', '--out', out, ...extra]);
  }));
  runs.forEach((r, i) => {
    const [extra, pattern] = cases[i];
    assert.notEqual(r.code, 0, extra.join(' '));
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `${extra.join(' ')}: ${r.stderr}`);
    assert.match(lines[0], pattern, extra.join(' '));
    assert.equal(r.stdout, '');
    assert.ok(!fs.existsSync(path.join(work, `bad-${i}`)), `${extra.join(' ')} wrote its output`);
  });
  const existing = await cli(['compress', '--model', baby, '--method', 'magnitude', '--out', nonEmpty]);
  assert.equal(existing.code, 2);
  assert.match(existing.stderr.trim(), /^compsafe compress: UsageError: --out .* exists and is not empty/);
  assert.deepEqual(fs.readdirSync(nonEmpty), ['x']);
  assert.ok(!fs.readdirSync(work).some((f) => f.includes('.partial-')), 'no temporary folder left');
});
