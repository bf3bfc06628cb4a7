import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  openCheckpoint, readSafetensorsHeader, readTensorsF32, writeSafetensors, writeShardedSafetensors,
  type SafetensorsHeader, type TensorToWrite,
} from '../../src/model/safetensors.js';
import { FileFormatError, ModelMismatchError, SafetensorsError } from '../../src/core/errors.js';
import { randomArray, rng, shared, tempDir } from '../helpers/fixtures.js';

const dir = tempDir('compsafe-safetensors-');
let fileCounter = 0;
const freshPath = (name = 'x'): string => path.join(dir, `${name}-${fileCounter++}.safetensors`);

// ---- naive reference conversions (numeric, independent of the C kernels) ----
function roundHalfEven(v: number): number {
  const r = Math.floor(v);
  const diff = v - r;
  return diff > 0.5 || (diff === 0.5 && r % 2 === 1) ? r + 1 : r;
}
function naiveF32ToF16Bits(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  if (Number.isNaN(x)) return 0x7e00;
  const a = Math.abs(x);
  if (a === Infinity) return sign | 0x7c00;
  if (a === 0) return sign;
  if (a < 2 ** -14) return sign | roundHalfEven(a / 2 ** -24); // subnormal; 1024 carries into the smallest normal
  let e = Math.floor(Math.log2(a));
  while (2 ** e > a) e--;
  while (2 ** (e + 1) <= a) e++;
  const bits = ((e + 15) << 10) + roundHalfEven(a / 2 ** (e - 10)) - 1024; // mantissa carry bumps the exponent
  return sign | Math.min(bits, 0x7c00);
}
function naiveF16BitsToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
const view = new DataView(new ArrayBuffer(4));
function naiveF32ToBf16Bits(x: number): number {
  view.setFloat32(0, x, true);
  const u = view.getUint32(0, true);
  if (Number.isNaN(x)) return 0x7fc0;
  const upper = u >>> 16;
  const lower = u & 0xffff;
  return (lower > 0x8000 || (lower === 0x8000 && (upper & 1) === 1) ? upper + 1 : upper) & 0xffff;
}
function naiveBf16BitsToF32(b: number): number {
  view.setUint32(0, (b << 16) >>> 0, true);
  return view.getFloat32(0, true);
}
const isNaN16 = (bits: number, expMask: number): boolean => (bits & expMask) === expMask && (bits & ~expMask & 0x7fff) !== 0;

function sameFloat(actual: number, expected: number, where: string): void {
  if (Number.isNaN(expected)) assert.ok(Number.isNaN(actual), `${where}: expected NaN, got ${actual}`);
  else assert.ok(Object.is(actual, expected), `${where}: expected ${expected}, got ${actual}`);
}

/** A file made of an explicit header (string or raw bytes) and data section; `length` overrides the u64 header length. */
function rawFile(header: string | Uint8Array, data: Uint8Array = new Uint8Array(0), length?: bigint): string {
  const json = typeof header === 'string' ? new TextEncoder().encode(header) : header;
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, length ?? BigInt(json.length), true);
  const file = freshPath('raw');
  fs.writeFileSync(file, Buffer.concat([prefix, json, data]));
  return file;
}
const headerOf = (entries: Record<string, unknown>): string => JSON.stringify(entries);

test('reads the stories260K fixture: names, shapes, metadata and sane values', () => {
  const header = readSafetensorsHeader(shared('models', 'stories260K', 'model.safetensors'));
  assert.equal(header.tensors.size, 47);
  assert.equal(header.dataOffset % 8, 0);
  assert.deepEqual(header.tensors.get('model.embed_tokens.weight')?.shape, [512, 64]);
  assert.deepEqual(header.tensors.get('model.layers.0.self_attn.k_proj.weight')?.shape, [32, 64]);
  assert.deepEqual(header.tensors.get('model.layers.4.mlp.down_proj.weight')?.shape, [64, 172]);
  assert.deepEqual(header.tensors.get('model.norm.weight')?.shape, [64]);
  assert.equal(header.metadata.format, 'pt');
  for (const info of header.tensors.values()) assert.equal(info.dtype, 'F32');
  const tensors = readTensorsF32(header, ['model.embed_tokens.weight', 'model.norm.weight']);
  assert.deepEqual([...tensors.keys()], ['model.embed_tokens.weight', 'model.norm.weight']);
  const embed = tensors.get('model.embed_tokens.weight')!.data;
  assert.equal(embed.length, 512 * 64);
  assert.ok(embed.every(Number.isFinite));
  const rms = Math.sqrt(embed.reduce((s, v) => s + v * v, 0) / embed.length);
  assert.ok(rms > 1e-3 && rms < 10, `embedding rms ${rms}`);
  const norm = tensors.get('model.norm.weight')!.data;
  assert.ok(norm.some((v) => v !== 0) && norm.every(Number.isFinite));
  // The first F32 of the data section, decoded independently of the reader.
  const bytes = fs.readFileSync(header.file);
  const first = [...header.tensors.values()].find((t) => t.begin === 0)!;
  const firstValue = readTensorsF32(header, [first.name]).get(first.name)!.data[0];
  assert.equal(firstValue, bytes.readFloatLE(header.dataOffset));
  assert.equal(openCheckpoint(path.dirname(header.file)).tensors.size, 47);
});

const specials = [0, -0, Infinity, -Infinity, NaN, 1, -1, 65504, 65519, 65520, -70000, 2 ** -14, 2 ** -14 - 2 ** -25, 2 ** -24,
  2 ** -25, 3 * 2 ** -25, 1.5 * 2 ** -24, 1e-8, -1e-7, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 1e-40, -1e-45, 3.4e38, 1.1754942e-38, 0.1, -123.456];

test('round trip F32/F16/BF16 with random data and special values against naive conversions', () => {
  const n = 5000;
  const data = new Float32Array(n);
  data.set(randomArray(n, 7, 4));
  for (let i = 0; i < 1000; i++) data[i] = data[i]! * 2 ** (Math.floor(i / 20) - 30); // spread over exponents incl. subnormal f16
  data.set(specials, 1000);
  const file = freshPath('roundtrip');
  const tensors = new Map<string, TensorToWrite>([
    ['b.f16', { shape: [50, 100], data, dtype: 'F16' }],
    ['a.f32', { shape: [n], data }],
    ['c.bf16', { shape: [5, 10, 100], data, dtype: 'BF16' }],
    ['d.scalar', { shape: [], data: new Float32Array([3.25]) }],
    ['e.empty', { shape: [0, 4], data: new Float32Array(0), dtype: 'F16' }],
  ]);
  writeSafetensors(file, tensors, { note: 'hello', format: 'pt' });
  const raw = fs.readFileSync(file);
  const headerLength = Number(raw.readBigUInt64LE(0));
  assert.equal(headerLength % 8, 0);
  const json = JSON.parse(raw.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, unknown>;
  assert.deepEqual(Object.keys(json), ['__metadata__', 'a.f32', 'b.f16', 'c.bf16', 'd.scalar', 'e.empty']);
  assert.ok(!fs.existsSync(`${file}.tmp`));

  const header = readSafetensorsHeader(file);
  assert.deepEqual(header.metadata, { note: 'hello', format: 'pt' });
  assert.equal(header.tensors.get('b.f16')?.dtype, 'F16');
  const back = readTensorsF32(header);
  assert.deepEqual(back.get('b.f16')!.shape, [50, 100]);
  assert.deepEqual(back.get('d.scalar'), { shape: [], data: new Float32Array([3.25]) });
  assert.deepEqual(back.get('e.empty'), { shape: [0, 4], data: new Float32Array(0) });
  const f32 = back.get('a.f32')!.data;
  for (let i = 0; i < n; i++) sameFloat(f32[i]!, data[i]!, `F32[${i}]`);
  const fp16 = back.get('b.f16')!.data;
  const bf16 = back.get('c.bf16')!.data;
  const f16At = header.dataOffset + header.tensors.get('b.f16')!.begin;
  const bf16At = header.dataOffset + header.tensors.get('c.bf16')!.begin;
  for (let i = 0; i < n; i++) {
    const x = data[i]!;
    const h = raw.readUInt16LE(f16At + 2 * i);
    const b = raw.readUInt16LE(bf16At + 2 * i);
    const wantH = naiveF32ToF16Bits(x);
    const wantB = naiveF32ToBf16Bits(x);
    if (Number.isNaN(x)) {
      assert.ok(isNaN16(h, 0x7c00) && isNaN16(b, 0x7f80), `NaN stored as ${h.toString(16)} / ${b.toString(16)}`);
    } else {
      assert.equal(h, wantH, `F16 bits of ${x} (index ${i})`);
      assert.equal(b, wantB, `BF16 bits of ${x} (index ${i})`);
    }
    sameFloat(fp16[i]!, naiveF16BitsToF32(wantH), `F16[${i}] = ${x}`);
    sameFloat(bf16[i]!, naiveBf16BitsToF32(wantB), `BF16[${i}] = ${x}`);
  }
  // Decoding every 16-bit pattern: reader (C kernels) vs naive decoders.
  const patterns = new Uint16Array(65536).map((_, i) => i);
  const bytes = new Uint8Array(patterns.buffer);
  const len = bytes.length;
  const f16File = rawFile(headerOf({ h: { dtype: 'F16', shape: [65536], data_offsets: [0, len] }, b: { dtype: 'BF16', shape: [65536], data_offsets: [len, 2 * len] } }),
    Buffer.concat([bytes, bytes]));
  const decoded = readTensorsF32(readSafetensorsHeader(f16File));
  const hAll = decoded.get('h')!.data;
  for (let i = 0; i < 65536; i++) sameFloat(hAll[i]!, naiveF16BitsToF32(i), `f16 pattern ${i.toString(16)}`);
  const bfAll = decoded.get('b')!.data;
  for (let i = 0; i < 65536; i++) sameFloat(bfAll[i]!, naiveBf16BitsToF32(i), `bf16 pattern ${i.toString(16)}`);
});

test('large F16/BF16 tensors stream through the conversion buffer; F64 is narrowed; non-float dtypes are refused', () => {
  const n = (1 << 20) + 12345;
  const data = randomArray(n, 11, 2);
  const file = freshPath('large');
  writeSafetensors(file, { h: { shape: [n], data, dtype: 'F16' }, b: { shape: [n], data, dtype: 'BF16' } });
  const back = readTensorsF32(readSafetensorsHeader(file));
  for (const i of [0, 1, (1 << 20) - 1, 1 << 20, n - 1]) {
    sameFloat(back.get('h')!.data[i]!, naiveF16BitsToF32(naiveF32ToF16Bits(data[i]!)), `F16[${i}]`);
    sameFloat(back.get('b')!.data[i]!, naiveBf16BitsToF32(naiveF32ToBf16Bits(data[i]!)), `BF16[${i}]`);
  }
  const f64 = new Float64Array([1.5, -2.25, 1e300, 0.1]);
  const i64 = new BigInt64Array([1n, -2n]);
  const mixed = rawFile(headerOf({ d: { dtype: 'F64', shape: [2, 2], data_offsets: [0, 32] }, i: { dtype: 'I64', shape: [2], data_offsets: [32, 48] } }),
    Buffer.concat([new Uint8Array(f64.buffer), new Uint8Array(i64.buffer)]));
  const header = readSafetensorsHeader(mixed);
  assert.deepEqual(readTensorsF32(header, ['d']).get('d'), { shape: [2, 2], data: new Float32Array([1.5, -2.25, Infinity, 0.1]) });
  assert.throws(() => readTensorsF32(header, ['i']), (e: unknown) => e instanceof SafetensorsError && /"i" has dtype I64/.test(e.message));
  assert.throws(() => readTensorsF32(header, ['nope']), ModelMismatchError);
  assert.throws(() => readSafetensorsHeader(path.join(dir, 'missing.safetensors')), (e: unknown) => e instanceof FileFormatError && /ENOENT/.test(e.message));
});

test('writer rejects inconsistent input and never leaves a half file', () => {
  const file = freshPath('bad-write');
  assert.throws(() => writeSafetensors(file, { w: { shape: [2, 3], data: new Float32Array(5) } }), /"w" has shape \[2, 3\] \(6 elements\) but 5 values/);
  assert.throws(() => writeSafetensors(file, { __metadata__: { shape: [1], data: new Float32Array(1) } }), SafetensorsError);
  assert.ok(!fs.existsSync(file) && !fs.existsSync(`${file}.tmp`));
  const inMissingDir = path.join(dir, 'no-such-dir', 'm.safetensors');
  assert.throws(() => writeSafetensors(inMissingDir, { w: { shape: [1], data: new Float32Array(1) } }), FileFormatError);
  assert.ok(!fs.existsSync(`${inMissingDir}.tmp`));
});

test('sharded write -> openCheckpoint -> read equals the original; bad indexes are clear errors', () => {
  const ckpt = path.join(dir, 'sharded');
  const tensors = new Map<string, TensorToWrite>();
  for (let i = 0; i < 12; i++) tensors.set(`layer.${i}.weight`, { shape: [8, 4 + i], data: randomArray(8 * (4 + i), 100 + i), dtype: i % 3 === 1 ? 'BF16' : 'F32' });
  tensors.set('huge', { shape: [1000], data: randomArray(1000, 5) }); // larger than a shard: gets its own
  writeShardedSafetensors(ckpt, tensors, 600);
  const index = JSON.parse(fs.readFileSync(path.join(ckpt, 'model.safetensors.index.json'), 'utf8')) as
    { metadata: { total_size: number }; weight_map: Record<string, string> };
  const shardFiles = [...new Set(Object.values(index.weight_map))].sort();
  assert.ok(shardFiles.length >= 4, `${shardFiles.length} shards`);
  shardFiles.forEach((f, i) => assert.equal(f, `model-${String(i + 1).padStart(5, '0')}-of-${String(shardFiles.length).padStart(5, '0')}.safetensors`));
  let total = 0;
  for (const [, t] of tensors) total += t.data.length * (t.dtype === 'BF16' ? 2 : 4);
  assert.equal(index.metadata.total_size, total);
  const { tensors: located } = openCheckpoint(ckpt);
  assert.deepEqual([...located.keys()].sort(), [...tensors.keys()].sort());
  const byFile = new Map<SafetensorsHeader, string[]>();
  for (const [name, { header }] of located) byFile.set(header, [...(byFile.get(header) ?? []), name]);
  for (const [header, names] of byFile) {
    const dataBytes = header.fileSize - header.dataOffset;
    assert.ok(dataBytes <= 600 || names.length === 1, `${header.file} holds ${dataBytes} bytes`);
    for (const [name, got] of readTensorsF32(header, names)) {
      const want = tensors.get(name)!;
      assert.deepEqual(got.shape, want.shape);
      const expected = want.dtype === 'BF16' ? want.data.map((x) => naiveBf16BitsToF32(naiveF32ToBf16Bits(x))) : want.data;
      assert.deepEqual(got.data, expected, name);
    }
  }
  // Rewriting with bigger shards removes the stale ones.
  writeShardedSafetensors(ckpt, tensors, 1e9);
  assert.deepEqual(fs.readdirSync(ckpt).sort(), ['model-00001-of-00001.safetensors', 'model.safetensors.index.json']);

  const bad = path.join(dir, 'bad-index');
  writeShardedSafetensors(bad, tensors, 600);
  const indexPath = path.join(bad, 'model.safetensors.index.json');
  const good = fs.readFileSync(indexPath, 'utf8');
  const goodMap = (JSON.parse(good) as { weight_map: Record<string, string> }).weight_map;
  const owner = goodMap['layer.0.weight']!;
  const edit = (change: (weightMap: Record<string, string>) => void): void => {
    const parsed = JSON.parse(good) as { weight_map: Record<string, string> };
    change(parsed.weight_map);
    fs.writeFileSync(indexPath, JSON.stringify(parsed));
  };
  edit((m) => { m['layer.0.weight'] = 'model-00099-of-00099.safetensors'; });
  assert.throws(() => openCheckpoint(bad), (e: unknown) => e instanceof FileFormatError && /shard model-00099-of-00099.safetensors .* is missing/.test(e.message));
  edit((m) => { m['ghost'] = owner; });
  assert.throws(() => openCheckpoint(bad), (e: unknown) => e instanceof SafetensorsError && e.message.includes(`"ghost" in shard ${owner}, which does not contain it`));
  edit((m) => { m['layer.0.weight'] = '../elsewhere.safetensors'; });
  assert.throws(() => openCheckpoint(bad), /not a file name inside the checkpoint folder/);
  fs.writeFileSync(indexPath, '{"weight_map": ');
  assert.throws(() => openCheckpoint(bad), (e: unknown) => e instanceof SafetensorsError && /not valid JSON/.test(e.message));
  fs.writeFileSync(indexPath, good);
  const victim = Object.values(goodMap).find((f) => f !== owner)!;
  const victimPath = path.join(bad, victim);
  const victimTensors = readTensorsF32(readSafetensorsHeader(victimPath));
  victimTensors.set('layer.0.weight', { shape: [8, 4], data: new Float32Array(32) });
  writeSafetensors(victimPath, victimTensors);
  assert.throws(() => openCheckpoint(bad), (e: unknown) => e instanceof SafetensorsError && /"layer.0.weight" is stored in both/.test(e.message));

  const empty = path.join(dir, 'empty');
  fs.mkdirSync(empty);
  fs.writeFileSync(path.join(empty, 'pytorch_model.bin'), '');
  assert.throws(() => openCheckpoint(empty), /no model.safetensors or model.safetensors.index.json .*found pytorch_model.bin/);
  assert.throws(() => openCheckpoint(path.join(dir, 'nowhere')), (e: unknown) => e instanceof FileFormatError && /does not exist/.test(e.message));
});

test('every malformed header is a SafetensorsError naming the file and the problem', () => {
  const f32 = (shape: number[], offsets: unknown[]): Record<string, unknown> => ({ dtype: 'F32', shape, data_offsets: offsets });
  const data16 = new Uint8Array(16);
  const cases: [string, () => string, RegExp][] = [
    ['empty file', () => { const p = freshPath('empty'); fs.writeFileSync(p, ''); return p; }, /is 0 bytes, too short/],
    ['shorter than 8 bytes', () => { const p = freshPath('short'); fs.writeFileSync(p, Buffer.from([1, 2, 3])); return p; }, /3 bytes, too short/],
    ['header length zero', () => rawFile(new Uint8Array(0)), /header length is 0/],
    ['header length over 100 MB', () => rawFile('{}', undefined, 200_000_000n), /exceeds the 100000000-byte limit/],
    ['header length past EOF', () => rawFile('{}', undefined, 50n), /header length 50 runs past the end of the 10-byte file/],
    ['header length u64 max', () => rawFile('{}', undefined, 0xffffffffffffffffn), /exceeds/],
    ['invalid UTF-8', () => rawFile(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])), /not valid UTF-8/],
    ['invalid JSON', () => rawFile('{"a": '), /not valid JSON/],
    ['JSON array', () => rawFile('[1, 2]'), /must be a JSON object/],
    ['JSON null', () => rawFile('null'), /must be a JSON object/],
    ['entry not an object', () => rawFile(headerOf({ w: 5 })), /"w": header entry must be an object/],
    ['unknown dtype', () => rawFile(headerOf({ w: { dtype: 'F128', shape: [1], data_offsets: [0, 16] } }), data16), /"w": unknown dtype "F128"/],
    ['dtype not a string', () => rawFile(headerOf({ w: { dtype: 4, shape: [4], data_offsets: [0, 16] } }), data16), /unknown dtype 4/],
    ['shape not an array', () => rawFile(headerOf({ w: f32(4 as unknown as number[], [0, 16]) }), data16), /shape must be an array of non-negative integers, got 4/],
    ['negative dimension', () => rawFile(headerOf({ w: f32([-4], [0, 16]) }), data16), /shape must be/],
    ['fractional dimension', () => rawFile(headerOf({ w: f32([1.5], [0, 16]) }), data16), /shape must be/],
    ['missing data_offsets', () => rawFile(headerOf({ w: { dtype: 'F32', shape: [4] } }), data16), /data_offsets must be two non-negative integers/],
    ['three data_offsets', () => rawFile(headerOf({ w: f32([4], [0, 16, 32]) }), data16), /data_offsets must be two/],
    ['negative offset', () => rawFile(headerOf({ w: f32([4], [-16, 0]) }), data16), /data_offsets must be two/],
    ['begin after end', () => rawFile(headerOf({ w: f32([0], [16, 0]) }), data16), /\[16, 0\] end before they begin/],
    ['size mismatch', () => rawFile(headerOf({ w: f32([3], [0, 16]) }), data16), /F32 \[3\] needs 12 bytes but data_offsets \[0, 16\] span 16/],
    ['huge shape', () => rawFile(headerOf({ w: f32([2 ** 40, 2 ** 40], [0, 16]) }), data16), /is too large/],
    ['offsets past the data section', () => rawFile(headerOf({ w: f32([8], [0, 32]) }), data16), /ends at byte 32 of the data section, which holds only 16 bytes/],
    ['overlapping tensors', () => rawFile(headerOf({ a: f32([3], [0, 12]), b: f32([2], [8, 16]) }), data16), /"b" overlaps "a"/],
    ['hole between tensors', () => rawFile(headerOf({ a: f32([1], [0, 4]), b: f32([2], [8, 16]) }), data16), /hole of 4 bytes after "a" before "b"/],
    ['hole at start', () => rawFile(headerOf({ b: f32([2], [8, 16]) }), data16), /hole of 8 bytes at the start/],
    ['trailing bytes', () => rawFile(headerOf({ a: f32([2], [0, 8]) }), data16), /8 unused bytes after the last tensor/],
    ['metadata value not a string', () => rawFile(headerOf({ __metadata__: { n: 1 } })), /__metadata__ must be an object of string keys to string values/],
    ['metadata not an object', () => rawFile(headerOf({ __metadata__: 'x' })), /__metadata__ must be/],
  ];
  for (const [what, make, pattern] of cases) {
    const file = make();
    assert.throws(() => readSafetensorsHeader(file), (e: unknown) => {
      assert.ok(e instanceof SafetensorsError, `${what}: got ${String(e)}`);
      assert.ok(e.message.startsWith(`${file}: `), `${what}: message does not name the file: ${e.message}`);
      assert.ok(!e.message.includes('\n'), `${what}: multi-line message`);
      assert.match(e.message, pattern, what);
      return true;
    }, what);
  }
  // A valid file whose data section was cut short is caught when the header is read.
  const whole = freshPath('whole');
  writeSafetensors(whole, { a: { shape: [4], data: new Float32Array(4) }, b: { shape: [4], data: new Float32Array(4) } });
  const cut = rawFile(new Uint8Array(0));
  fs.writeFileSync(cut, fs.readFileSync(whole).subarray(0, fs.statSync(whole).size - 3));
  assert.throws(() => readSafetensorsHeader(cut), /"b": data ends at byte 32 of the data section, which holds only 29 bytes \(file truncated\?\)/);
  // Valid edge cases: null metadata, empty header object, zero-sized tensors sharing an offset.
  assert.equal(readSafetensorsHeader(rawFile(headerOf({ __metadata__: null }))).tensors.size, 0);
  const zeros = readSafetensorsHeader(rawFile(headerOf({ z: f32([0], [0, 0]), a: f32([4], [0, 16]), y: f32([2, 0], [16, 16]) }), data16));
  assert.deepEqual([...zeros.tensors.keys()], ['z', 'a', 'y']);
});

test('fuzz: truncations and byte flips either read cleanly or throw SafetensorsError', () => {
  const base = freshPath('fuzz-base');
  writeSafetensors(base, {
    'model.w': { shape: [3, 4], data: randomArray(12, 1) },
    'model.h': { shape: [5], data: randomArray(5, 2), dtype: 'F16' },
    'model.b': { shape: [2, 3], data: randomArray(6, 3), dtype: 'BF16' },
    's': { shape: [], data: new Float32Array([7]) },
  }, { format: 'pt', source: 'fuzz' });
  const original = fs.readFileSync(base);
  const headerEnd = 8 + Number(original.readBigUInt64LE(0));
  const random = rng(20240607);
  const target = freshPath('fuzz');
  const attempt = (bytes: Uint8Array, what: string): boolean => {
    fs.writeFileSync(target, bytes);
    try {
      const header = readSafetensorsHeader(target);
      readTensorsF32(header);
      return true;
    } catch (e) {
      if (e instanceof SafetensorsError) return false;
      assert.fail(`${what}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    }
  };
  for (let i = 0; i < 300; i++) {
    const length = Math.floor(random() * original.length);
    assert.equal(attempt(original.subarray(0, length), `truncated to ${length}`), false, `truncation to ${length} bytes was accepted`);
  }
  let accepted = 0;
  for (let i = 0; i < 300; i++) {
    const bytes = Buffer.from(original);
    const position = Math.floor(random() * (random() < 0.7 ? headerEnd : bytes.length));
    bytes[position] = random() < 0.5 ? Math.floor(random() * 256) : bytes[position]! ^ (1 << Math.floor(random() * 8));
    if (attempt(bytes, `byte ${position} set to ${bytes[position]}`)) accepted++;
  }
  assert.ok(accepted > 0 && accepted < 300, `${accepted} of 300 flipped files accepted`);
});
