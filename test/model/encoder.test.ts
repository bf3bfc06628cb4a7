// BERT / RoBERTa sequence classification against a naive double-precision forward written from
// transformers' modeling code; packed batching against single texts; truncation; the bidirectional
// attention kernel against naive loops; and the errors of broken folders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { native } from '../../src/core/native.js';
import { ModelMismatchError, UnsupportedArchitectureError } from '../../src/core/errors.js';
import { EncoderClassifier } from '../../src/model/encoders/bert.js';
import { TextClassifier } from '../../src/model/encoders/text-classifier.js';
import { writeRandomEncoder, RandomEncoder } from '../helpers/random-encoder.js';
import { referenceEncoderLogits, erf } from '../helpers/reference-encoder.js';
import { randomArray, tempDir } from '../helpers/fixtures.js';

const TEXTS = [
  'Hello world!',
  'The quick brown fox jumps over the lazy dog, again and again.',
  '',
  'Ünïcödé and émojis 🙂 are tokenized too; numbers 12345 as well.',
];

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]} (tol ${tol})`);
  }
}

const models = new Map<string, { dir: string; enc: RandomEncoder; classifier: TextClassifier }>();
function model(family: 'bert' | 'roberta', hiddenAct = 'gelu'): { dir: string; enc: RandomEncoder; classifier: TextClassifier } {
  const key = `${family}/${hiddenAct}`;
  if (!models.has(key)) {
    const dir = tempDir(`compsafe-${family}-`);
    const enc = writeRandomEncoder(dir, { family, labels: ['a', 'b', 'c'], hiddenAct, seed: family === 'bert' ? 11 : 23 });
    models.set(key, { dir, enc, classifier: TextClassifier.fromDir(dir) });
  }
  return models.get(key)!;
}

test('reference erf matches known values', () => {
  assert.ok(Math.abs(erf(0.5) - 0.5204998778130465) < 1e-13);
  assert.ok(Math.abs(erf(-2) + 0.9953222650189527) < 1e-13);
  assert.ok(Math.abs(erf(4) - 0.9999999845827421) < 1e-14);
  assert.ok(Math.abs(erf(-4.9) + 0.99999999999578) < 1e-13);
  assert.ok(Math.abs(erf(2.6) - 0.9997639655834707) < 1e-13);
});

for (const family of ['bert', 'roberta'] as const) {
  test(`${family}: single-text logits equal the naive reference`, () => {
    const { enc, classifier } = model(family);
    for (const text of TEXTS) {
      const ids = classifier.encode(text);
      const special = family === 'bert' ? [101, 102] : [0, 2];
      assert.equal(ids[0], special[0], 'first token is [CLS] / <s>');
      assert.equal(ids[ids.length - 1], special[1], 'last token is [SEP] / </s>');
      const got = classifier.model.forward([ids]);
      assertClose(got, referenceEncoderLogits(enc, [ids])[0], 2e-4, `${family} "${text}"`);
    }
  });

  test(`${family}: a packed batch of different lengths equals single texts and the padded reference`, () => {
    const { enc, classifier } = model(family);
    const batch = classifier.logits(TEXTS, { batchTokens: 1 }); // budget floors at maxTokens: several sequences per call
    const ids = TEXTS.map((t) => classifier.encode(t));
    const reference = referenceEncoderLogits(enc, ids);  // one padded batch, attention-masked
    TEXTS.forEach((text, i) => {
      const single = classifier.model.forward([ids[i]]);
      assertClose(batch[i], single, 1e-5, `batch vs single "${text}"`);
      assertClose(batch[i], reference[i], 2e-4, `batch vs reference "${text}"`);
    });
    // One forward over all, in another order.
    const order = [2, 0, 3, 1];
    const all = classifier.model.forward(order.map((i) => ids[i]));
    order.forEach((i, j) => assertClose(all.subarray(j * 3, j * 3 + 3), batch[i], 1e-5, `order ${j}`));
  });

  test(`${family}: long texts are truncated to max_position_embeddings (special tokens kept)`, () => {
    const { enc, classifier } = model(family);
    const maxTokens = classifier.model.config.maxTokens;
    assert.equal(maxTokens, family === 'bert' ? 64 : 64);
    const long = Array.from({ length: 200 }, (_, i) => `word${i}`).join(' ');
    const ids = classifier.encode(long);
    assert.equal(ids.length, maxTokens);
    const full = classifier.tokenizer.encode(long);
    assert.deepEqual(ids.slice(0, -1), full.slice(0, maxTokens - 1));
    assert.equal(ids[ids.length - 1], full[full.length - 1]);
    const [got] = classifier.logits([long, 'short']);
    assertClose(got, referenceEncoderLogits(enc, [ids])[0], 2e-4, 'truncated');
    assert.throws(() => classifier.model.forward([full]), /takes 1\.\.64/);
  });
}

test('tanh-approximate GELU (gelu_new) follows hidden_act', () => {
  const { enc, classifier } = model('bert', 'gelu_new');
  const ids = classifier.encode('a short text');
  assertClose(classifier.model.forward([ids]), referenceEncoderLogits(enc, [ids])[0], 2e-4, 'gelu_new');
});

test('encoderAttention: each query sees its own sequence only (direct and GEMM paths)', () => {
  const nh = 4, hd = 8, width = nh * hd, stride = 3 * width;
  // 70 and 48 take the GEMM path; 47 (direct, 47*47*4 scores) needs more scratch than the longest sequence's 70*70.
  const lens = [1, 5, 0, 70, 47, 3, 48];
  const starts = new Int32Array(lens.length + 1);
  lens.forEach((l, i) => { starts[i + 1] = starts[i] + l; });
  const rows = starts[lens.length];
  const qkv = randomArray(rows * stride, 5, 1);
  const out = new Float32Array(rows * width);
  native.encoderAttention(out, qkv, qkv.subarray(width), qkv.subarray(2 * width), rows, starts, lens.length, nh, hd, stride, 0.35);
  for (let s = 0; s < lens.length; s++) {
    for (let r = starts[s]; r < starts[s + 1]; r++) {
      for (let h = 0; h < nh; h++) {
        const scores: number[] = [];
        for (let j = starts[s]; j < starts[s + 1]; j++) {
          let d = 0;
          for (let i = 0; i < hd; i++) d += qkv[r * stride + h * hd + i] * qkv[j * stride + width + h * hd + i];
          scores.push(d * 0.35);
        }
        const m = Math.max(...scores), e = scores.map((v) => Math.exp(v - m)), z = e.reduce((a, b) => a + b, 0);
        for (let i = 0; i < hd; i++) {
          let o = 0;
          e.forEach((w, j) => { o += (w / z) * qkv[(starts[s] + j) * stride + 2 * width + h * hd + i]; });
          assert.ok(Math.abs(out[r * width + h * hd + i] - o) < 1e-5, `seq ${s} row ${r} head ${h} dim ${i}`);
        }
      }
    }
  }
});

test('encoderAttention validates its sizes', () => {
  const q = new Float32Array(4 * 8), out = new Float32Array(4 * 8);
  assert.throws(() => native.encoderAttention(out, q, q, q, 4, new Int32Array([0, 2, 3]), 2, 2, 4, 8, 1), /seqStarts.*ends at 3 but rows=4/);
  assert.throws(() => native.encoderAttention(out, q, q, q, 4, new Int32Array([0, 3, 2, 4]), 3, 2, 4, 8, 1), /seqStarts.*decreases/);
  assert.throws(() => native.encoderAttention(out, q, q, q, 4, new Int32Array([1, 4]), 1, 2, 4, 8, 1), /must start at 0/);
  assert.throws(() => native.encoderAttention(out, q, q, q, 4, new Int32Array([0, 4]), 1, 2, 4, 4, 1), /stride=4 is smaller/);
  assert.throws(() => native.encoderAttention(out, q, q, q, 5, new Int32Array([0, 5]), 1, 2, 4, 8, 1), /has 32 elements/);
  assert.throws(() => native.encoderAttention(out, q, q, q, 4, new Int32Array([0]), 1, 2, 4, 8, 1), /seqStarts/);
  assert.throws(() => native.encoderAttention(q, q, q, q, 4, new Int32Array([0, 4]), 1, 2, 4, 8, 1), /overlap/);
});

test('broken folders: unsupported model_type, missing tensor, wrong shape', () => {
  const dir = tempDir('compsafe-broken-');
  writeRandomEncoder(dir, { family: 'bert', layers: 1 });
  const configFile = path.join(dir, 'config.json');
  const config = JSON.parse(fs.readFileSync(configFile, 'utf8'));
  fs.writeFileSync(configFile, JSON.stringify({ ...config, model_type: 'deberta' }));
  assert.throws(() => EncoderClassifier.fromDir(dir), (e: Error) => e instanceof UnsupportedArchitectureError && /"deberta".*bert, roberta/.test(e.message));
  fs.writeFileSync(configFile, JSON.stringify({ ...config, num_hidden_layers: 2 }));
  assert.throws(() => EncoderClassifier.fromDir(dir), (e: Error) => e instanceof ModelMismatchError && /bert\.encoder\.layer\.1/.test(e.message));
  fs.writeFileSync(configFile, JSON.stringify({ ...config, intermediate_size: 48 }));
  assert.throws(() => EncoderClassifier.fromDir(dir), (e: Error) => e instanceof ModelMismatchError && /intermediate\.dense\.weight has shape \[64, 32\].*\[48, 32\]/.test(e.message));
});

test('roberta from slow tokenizer files (vocab.json + merges.txt, no post-processor) gets <s> ... </s> from config.json', () => {
  const { dir, classifier } = model('roberta');
  const slow = tempDir('compsafe-roberta-slow-');
  for (const f of ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt']) fs.copyFileSync(path.join(dir, f), path.join(slow, f));
  const slowClassifier = TextClassifier.fromDir(slow);
  for (const text of [...TEXTS, Array.from({ length: 100 }, (_, i) => `w${i}`).join(' ')]) {
    assert.deepEqual(slowClassifier.encode(text), classifier.encode(text), JSON.stringify(text));
  }
});
