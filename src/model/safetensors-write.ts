// Safetensors writing: single files and sharded checkpoints with a transformers-compatible index.
// Files are written to `<name>.tmp` and renamed, so a crash never leaves a half-written file under the
// real name. Tensor data is streamed from the Float32Arrays (F32) or through a small reused conversion
// buffer (F16/BF16, converted in C), so writing never holds a second copy of the weights.
import fs from 'node:fs';
import path from 'node:path';
import { native } from '../core/native.js';
import { FileFormatError, SafetensorsError } from '../core/errors.js';

/** A tensor to write: fp32 data in row-major order, stored as `dtype` (default F32). */
export interface TensorToWrite { shape: number[]; data: Float32Array; dtype?: 'F32' | 'F16' | 'BF16' }

const BYTES = { F32: 4, F16: 2, BF16: 2 } as const;
const WRITE_CHUNK_BYTES = 256 << 20; // writeSync takes at most 2^31-1 bytes per call
const CONVERT_CHUNK_ELEMENTS = 1 << 20;
const SINGLE_FILE = 'model.safetensors';
const INDEX_FILE = 'model.safetensors.index.json';
const SHARD_PATTERN = /^model-\d{5}-of-\d{5}\.safetensors$/;

interface Planned { name: string; tensor: TensorToWrite; dtype: 'F32' | 'F16' | 'BF16'; bytes: number }

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function osReason(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? String(err);
}

/** Checks every tensor (shape vs data length, dtype, reserved name) and sorts them by name. */
function plan(file: string, tensors: Map<string, TensorToWrite> | Record<string, TensorToWrite>): Planned[] {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const planned = entries.map(([name, tensor]): Planned => {
    const bad = (problem: string): never => {
      throw new SafetensorsError(`cannot write ${file}: tensor ${JSON.stringify(name)} ${problem}`);
    };
    if (name === '__metadata__') bad('uses the reserved name __metadata__');
    const dtype = tensor.dtype ?? 'F32';
    if (!Object.hasOwn(BYTES, dtype)) bad(`has dtype ${JSON.stringify(dtype)}; writable dtypes are F32, F16, BF16`);
    if (!(tensor.data instanceof Float32Array)) bad('data must be a Float32Array');
    if (!Array.isArray(tensor.shape) || !tensor.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      bad(`shape must be non-negative integers, got ${JSON.stringify(tensor.shape)}`);
    }
    const elements = tensor.shape.reduce((p, d) => p * d, 1);
    if (elements !== tensor.data.length) bad(`has shape [${tensor.shape.join(', ')}] (${elements} elements) but ${tensor.data.length} values`);
    return { name, tensor, dtype, bytes: elements * BYTES[dtype] };
  });
  return planned.sort((a, b) => byName(a.name, b.name));
}

/** Header JSON (keys in the given order, written by hand so integer-like names are not reordered), space-padded to a multiple of 8. */
function encodeHeader(planned: Planned[], metadata: Record<string, string> | undefined): Uint8Array {
  const parts: string[] = [];
  if (metadata !== undefined) parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  let offset = 0;
  for (const t of planned) {
    const entry = { dtype: t.dtype, shape: t.tensor.shape, data_offsets: [offset, offset + t.bytes] };
    parts.push(`${JSON.stringify(t.name)}:${JSON.stringify(entry)}`);
    offset += t.bytes;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded).fill(0x20);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  return out;
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.byteLength;) {
    done += fs.writeSync(fd, bytes, done, Math.min(WRITE_CHUNK_BYTES, bytes.byteLength - done));
  }
}

function writeTensorData(fd: number, t: Planned, scratch: { buf: Uint16Array | null }): void {
  const data = t.tensor.data;
  if (t.dtype === 'F32') {
    writeAll(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return;
  }
  scratch.buf ??= new Uint16Array(CONVERT_CHUNK_ELEMENTS);
  for (let i = 0; i < data.length; i += CONVERT_CHUNK_ELEMENTS) {
    const n = Math.min(CONVERT_CHUNK_ELEMENTS, data.length - i);
    const half = scratch.buf.subarray(0, n);
    if (t.dtype === 'F16') native.f32ToF16(half, data.subarray(i, i + n));
    else native.f32ToBf16(half, data.subarray(i, i + n));
    writeAll(fd, new Uint8Array(half.buffer, 0, n * 2));
  }
}

/** Writes `bytes` produced by `fill(fd)` to `file` atomically: `file.tmp`, then rename; the tmp file is removed on failure. */
function writeAtomically(file: string, fill: (fd: number) => void): void {
  const tmp = `${file}.tmp`;
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'w');
    fill(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, file);
  } catch (err) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    if (err instanceof SafetensorsError) throw err;
    throw new FileFormatError(`cannot write ${file}: ${osReason(err)}`);
  }
}

function writePlanned(file: string, planned: Planned[], metadata: Record<string, string> | undefined): void {
  const header = encodeHeader(planned, metadata);
  const scratch: { buf: Uint16Array | null } = { buf: null };
  writeAtomically(file, (fd) => {
    writeAll(fd, header);
    for (const t of planned) writeTensorData(fd, t, scratch);
  });
}

function checkMetadata(file: string, metadata: Record<string, string>): void {
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') throw new SafetensorsError(`cannot write ${file}: metadata ${JSON.stringify(key)} must be a string, got ${typeof value}`);
  }
}

/**
 * Writes a valid safetensors file (header padded with spaces to a multiple of 8, tensors sorted by name,
 * contiguous data). Writes to `file + '.tmp'` then renames, so a failure never leaves a half file.
 * `metadata` defaults to `{format: 'pt'}`, which transformers expects of a safetensors checkpoint.
 * Throws SafetensorsError for inconsistent input (shape vs data length) and FileFormatError when the
 * file cannot be written.
 */
export function writeSafetensors(file: string, tensors: Map<string, TensorToWrite> | Record<string, TensorToWrite>,
  metadata: Record<string, string> = { format: 'pt' }): void {
  checkMetadata(file, metadata);
  writePlanned(file, plan(file, tensors), metadata);
}

/**
 * Writes tensors split into shards of at most maxShardBytes of tensor data (a larger tensor gets a shard of
 * its own) plus a correct index json: `model-00001-of-0000N.safetensors` naming, weight_map, and
 * metadata.total_size (sum of tensor bytes). Always writes the index, even for one shard. Creates `dir`;
 * removes a previous `model.safetensors`, index and stale `model-*-of-*.safetensors` shards there, so the
 * folder holds exactly one checkpoint. The index is written last, so an interrupted write leaves no index.
 */
export function writeShardedSafetensors(dir: string, tensors: Map<string, TensorToWrite>, maxShardBytes: number): void {
  if (!(maxShardBytes > 0)) throw new SafetensorsError(`cannot write ${dir}: maxShardBytes must be positive, got ${maxShardBytes}`);
  const planned = plan(dir, tensors);
  const shards: Planned[][] = [];
  let current: Planned[] = [];
  let currentBytes = 0;
  for (const t of planned) {
    if (current.length > 0 && currentBytes + t.bytes > maxShardBytes) {
      shards.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(t);
    currentBytes += t.bytes;
  }
  if (current.length > 0 || shards.length === 0) shards.push(current);

  const pad = (i: number): string => String(i).padStart(5, '0');
  const names = shards.map((_, i) => `model-${pad(i + 1)}-of-${pad(shards.length)}.safetensors`);
  try {
    fs.mkdirSync(dir, { recursive: true });
    for (const stale of [SINGLE_FILE, INDEX_FILE]) fs.rmSync(path.join(dir, stale), { force: true });
  } catch (err) {
    throw new FileFormatError(`cannot write ${dir}: ${osReason(err)}`);
  }
  const weightMap: [string, string][] = [];
  shards.forEach((shard, i) => {
    writePlanned(path.join(dir, names[i]!), shard, { format: 'pt' });
    for (const t of shard) weightMap.push([t.name, names[i]!]);
  });
  const totalSize = planned.reduce((s, t) => s + t.bytes, 0);
  const index = { metadata: { total_size: totalSize }, weight_map: Object.fromEntries(weightMap.sort((a, b) => byName(a[0], b[0]))) };
  const indexBytes = new TextEncoder().encode(`${JSON.stringify(index, null, 2)}\n`);
  writeAtomically(path.join(dir, INDEX_FILE), (fd) => writeAll(fd, indexBytes));
  for (const f of fs.readdirSync(dir)) {
    if (SHARD_PATTERN.test(f) && !names.includes(f)) fs.rmSync(path.join(dir, f), { force: true });
  }
}
