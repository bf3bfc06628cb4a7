// Safetensors reading: header parsing with full validation, streaming reads of tensors into fp32, and
// checkpoint folders (single file or sharded with an index). Format: u64 LE header length N, N bytes of
// UTF-8 JSON {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {str: str}}, then the
// data section; offsets are relative to the data section. Validation follows the Rust `safetensors`
// crate (which is what Python loads through): tensors must tile the data section exactly, no overlaps,
// no holes, no trailing bytes. Every inconsistency throws SafetensorsError naming the file.
import fs from 'node:fs';
import path from 'node:path';
import { native } from '../core/native.js';
import { FileFormatError, ModelMismatchError, SafetensorsError } from '../core/errors.js';

export { writeSafetensors, writeShardedSafetensors } from './safetensors-write.js';
export type { TensorToWrite } from './safetensors-write.js';

/** Element types the safetensors format defines. */
export type SafetensorsDtype = 'BOOL' | 'U8' | 'I8' | 'I16' | 'U16' | 'I32' | 'U32' | 'I64' | 'U64' | 'F16' | 'BF16' | 'F32'
  | 'F64' | 'F8_E4M3' | 'F8_E5M2';

/** One tensor's entry in a header; `begin`/`end` are byte offsets relative to the data section. */
export interface TensorInfo { name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }

/** A validated header. `dataOffset` is the absolute file position of the data section (8 + header length). */
export interface SafetensorsHeader {
  file: string;
  dataOffset: number;
  fileSize: number;
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
}

const DTYPE_BYTES: Record<SafetensorsDtype, number> = {
  BOOL: 1, U8: 1, I8: 1, I16: 2, U16: 2, I32: 4, U32: 4, I64: 8, U64: 8,
  F16: 2, BF16: 2, F32: 4, F64: 8, F8_E4M3: 1, F8_E5M2: 1,
};
const MAX_HEADER_BYTES = 100_000_000; // the Rust crate's limit
const READ_CHUNK_BYTES = 256 << 20; // readSync takes at most 2^31-1 bytes per call
const CONVERT_CHUNK_ELEMENTS = 1 << 20; // scratch for F16/BF16/F64 -> F32: 2-8 MiB, reused

function fail(file: string, problem: string): never {
  throw new SafetensorsError(`${file}: ${problem}`);
}

/** Opens a file for reading; a missing or unreadable path is a FileFormatError with the OS reason. */
function openForRead(file: string): number {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    throw new FileFormatError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (!stat.isFile()) throw new FileFormatError(`cannot read ${file}: not a regular file`);
  try {
    return fs.openSync(file, 'r');
  } catch (err) {
    throw new FileFormatError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/** Fills `target` from `position` on, in chunks; a short file (changed since its header was read) is an error. */
function readFully(fd: number, file: string, target: Uint8Array, position: number): void {
  let done = 0;
  while (done < target.byteLength) {
    const want = Math.min(READ_CHUNK_BYTES, target.byteLength - done);
    let got: number;
    try {
      got = fs.readSync(fd, target, done, want, position + done);
    } catch (err) {
      throw new FileFormatError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    if (got === 0) fail(file, `unexpected end of file at byte ${position + done} (file changed while reading?)`);
    done += got;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Validates one header entry and returns it as a TensorInfo (offsets not yet checked against each other). */
function parseEntry(file: string, name: string, entry: unknown, dataLength: number): TensorInfo {
  const label = `tensor ${JSON.stringify(name)}`;
  if (!isObject(entry)) fail(file, `${label}: header entry must be an object {dtype, shape, data_offsets}`);
  const { dtype, shape, data_offsets: offsets } = entry;
  if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_BYTES, dtype)) {
    fail(file, `${label}: unknown dtype ${JSON.stringify(dtype) ?? 'undefined'}; known: ${Object.keys(DTYPE_BYTES).join(', ')}`);
  }
  if (!Array.isArray(shape) || !shape.every(isIndex)) {
    fail(file, `${label}: shape must be an array of non-negative integers, got ${JSON.stringify(shape) ?? 'undefined'}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !isIndex(offsets[0]) || !isIndex(offsets[1])) {
    fail(file, `${label}: data_offsets must be two non-negative integers, got ${JSON.stringify(offsets) ?? 'undefined'}`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) fail(file, `${label}: data_offsets [${begin}, ${end}] end before they begin`);
  const size = DTYPE_BYTES[dtype as SafetensorsDtype];
  let bytes = size;
  for (const d of shape as number[]) {
    bytes *= d;
    if (!Number.isSafeInteger(bytes)) fail(file, `${label}: shape [${shape.join(', ')}] is too large`);
  }
  if (end - begin !== bytes) {
    fail(file, `${label}: ${dtype} [${shape.join(', ')}] needs ${bytes} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
  }
  if (end > dataLength) {
    fail(file, `${label}: data ends at byte ${end} of the data section, which holds only ${dataLength} bytes (file truncated?)`);
  }
  return { name, dtype: dtype as SafetensorsDtype, shape: [...(shape as number[])], begin, end };
}

/** Tensors must tile [0, dataLength) exactly: sorted by offset, each begins where the previous ended. */
function checkLayout(file: string, infos: TensorInfo[], dataLength: number): void {
  const sorted = [...infos].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  let previous = '';
  for (const t of sorted) {
    if (t.begin < expected) fail(file, `tensor ${JSON.stringify(t.name)} overlaps ${JSON.stringify(previous)} (begins at byte ${t.begin}, before ${expected})`);
    if (t.begin > expected) {
      const after = previous ? `after ${JSON.stringify(previous)} ` : 'at the start of the data section ';
      fail(file, `hole of ${t.begin - expected} bytes ${after}before ${JSON.stringify(t.name)}`);
    }
    expected = t.end;
    previous = t.name;
  }
  if (expected !== dataLength) fail(file, `${dataLength - expected} unused bytes after the last tensor (data section is ${dataLength} bytes)`);
}

/** Reads and validates the header of a safetensors file without reading any tensor data. */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  const fd = openForRead(file);
  try {
    const fileSize = fs.fstatSync(fd).size;
    if (fileSize < 8) fail(file, `file is ${fileSize} bytes, too short to be safetensors (needs an 8-byte header length)`);
    const prefix = new Uint8Array(8);
    readFully(fd, file, prefix, 0);
    const headerLength = new DataView(prefix.buffer).getBigUint64(0, true);
    if (headerLength === 0n) fail(file, 'header length is 0');
    if (headerLength > BigInt(MAX_HEADER_BYTES)) fail(file, `header length ${headerLength} exceeds the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`);
    if (headerLength > BigInt(fileSize - 8)) fail(file, `header length ${headerLength} runs past the end of the ${fileSize}-byte file (truncated?)`);
    const n = Number(headerLength);
    const raw = new Uint8Array(n);
    readFully(fd, file, raw, 8);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
    } catch {
      fail(file, 'header is not valid UTF-8');
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      fail(file, `header is not valid JSON (${(err as Error).message.split('\n')[0]})`);
    }
    if (!isObject(json)) fail(file, 'header must be a JSON object');
    const dataOffset = 8 + n;
    const dataLength = fileSize - dataOffset;
    const tensors = new Map<string, TensorInfo>();
    let metadata: Record<string, string> = {};
    for (const [name, entry] of Object.entries(json)) {
      if (name === '__metadata__') {
        if (entry === null) continue;
        if (!isObject(entry) || !Object.values(entry).every((v) => typeof v === 'string')) {
          fail(file, '__metadata__ must be an object of string keys to string values');
        }
        metadata = Object.fromEntries(Object.entries(entry as Record<string, string>));
        continue;
      }
      tensors.set(name, parseEntry(file, name, entry, dataLength));
    }
    checkLayout(file, [...tensors.values()], dataLength);
    return { file, dataOffset, fileSize, tensors, metadata };
  } finally {
    fs.closeSync(fd);
  }
}

/** Converts a tensor stored as 16- or 64-bit floats into `out`, streaming through a bounded scratch buffer. */
function readConverted(fd: number, header: SafetensorsHeader, info: TensorInfo, out: Float32Array): void {
  const bytesPer = DTYPE_BYTES[info.dtype];
  const chunk = Math.min(CONVERT_CHUNK_ELEMENTS, out.length);
  const scratch = bytesPer === 2 ? new Uint16Array(chunk) : new Float64Array(chunk);
  const scratchBytes = new Uint8Array(scratch.buffer);
  for (let i = 0; i < out.length; i += chunk) {
    const n = Math.min(chunk, out.length - i);
    readFully(fd, header.file, scratchBytes.subarray(0, n * bytesPer), header.dataOffset + info.begin + i * bytesPer);
    const dst = out.subarray(i, i + n);
    if (scratch instanceof Float64Array) dst.set(scratch.subarray(0, n)); // typed-array set narrows f64 -> f32 natively
    else if (info.dtype === 'F16') native.f16ToF32(dst, scratch.subarray(0, n));
    else native.bf16ToF32(dst, scratch.subarray(0, n));
  }
}

/**
 * Reads tensors as fp32 (F32 copied, F16/BF16/F64 converted). `names` restricts what is read; by default
 * every tensor in the header. Data is read from disk straight into each result (F32) or through a small
 * reused scratch buffer (other dtypes), so peak memory is the fp32 size of what is returned.
 * Throws SafetensorsError for non-float dtypes (and FP8) requested as float, ModelMismatchError for a name
 * the file does not hold.
 */
export function readTensorsF32(header: SafetensorsHeader, names?: Iterable<string>): Map<string, { shape: number[]; data: Float32Array }> {
  const wanted = names === undefined ? [...header.tensors.keys()] : [...names];
  const infos = wanted.map((name) => {
    const info = header.tensors.get(name);
    if (!info) throw new ModelMismatchError(`${header.file}: no tensor ${JSON.stringify(name)} (file holds ${header.tensors.size} tensors)`);
    if (info.dtype !== 'F32' && info.dtype !== 'F16' && info.dtype !== 'BF16' && info.dtype !== 'F64') {
      fail(header.file, `tensor ${JSON.stringify(name)} has dtype ${info.dtype}; only F32, F16, BF16 and F64 can be read as fp32`);
    }
    return info;
  });
  const result = new Map<string, { shape: number[]; data: Float32Array }>();
  if (infos.length === 0) return result;
  const fd = openForRead(header.file);
  try {
    // The file may have been replaced since its header was read; a size check catches the common case.
    const size = fs.fstatSync(fd).size;
    if (size !== header.fileSize) fail(header.file, `file is now ${size} bytes but was ${header.fileSize} when its header was read`);
    for (const info of infos) {
      const data = new Float32Array((info.end - info.begin) / DTYPE_BYTES[info.dtype]);
      if (info.dtype === 'F32') readFully(fd, header.file, new Uint8Array(data.buffer), header.dataOffset + info.begin);
      else if (data.length > 0) readConverted(fd, header, info, data);
      result.set(info.name, { shape: [...info.shape], data });
    }
  } finally {
    fs.closeSync(fd);
  }
  return result;
}

const SINGLE_FILE = 'model.safetensors';
const INDEX_FILE = 'model.safetensors.index.json';

/** Resolves a shard name from an index; it must be a plain file name inside the checkpoint folder. */
function shardPath(dir: string, indexFile: string, shard: unknown, tensor: string): string {
  if (typeof shard !== 'string' || shard === '' || path.isAbsolute(shard) || shard.split(/[\\/]/).includes('..')) {
    fail(indexFile, `weight_map maps ${JSON.stringify(tensor)} to ${JSON.stringify(shard)}, which is not a file name inside the checkpoint folder`);
  }
  return path.join(dir, shard);
}

/**
 * A checkpoint folder: `model.safetensors`, or `model.safetensors.index.json` + shards (weight_map
 * name -> shard file). As in transformers, a single `model.safetensors` wins when both are present.
 * Returns name -> header of the file holding it. A missing folder, file or shard is a FileFormatError;
 * an index that names a tensor its shard lacks, or a tensor stored in two shards, is a SafetensorsError.
 */
export function openCheckpoint(dir: string): { tensors: Map<string, { header: SafetensorsHeader; info: TensorInfo }> } {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new FileFormatError(`checkpoint folder ${dir} does not exist`);
  const tensors = new Map<string, { header: SafetensorsHeader; info: TensorInfo }>();
  const single = path.join(dir, SINGLE_FILE);
  if (fs.existsSync(single)) {
    const header = readSafetensorsHeader(single);
    for (const info of header.tensors.values()) tensors.set(info.name, { header, info });
    return { tensors };
  }
  const indexFile = path.join(dir, INDEX_FILE);
  if (!fs.existsSync(indexFile)) {
    const present = fs.readdirSync(dir).filter((f) => /\.(safetensors|bin|pt|pth|gguf)$/.test(f));
    const found = present.length > 0 ? `; found ${present.slice(0, 5).join(', ')}${present.length > 5 ? ', ...' : ''}` : '';
    throw new FileFormatError(`${dir}: no ${SINGLE_FILE} or ${INDEX_FILE} (only safetensors weights are supported)${found}`);
  }
  let index: unknown;
  try {
    index = JSON.parse(fs.readFileSync(indexFile, 'utf8'));
  } catch (err) {
    fail(indexFile, `not valid JSON (${(err as Error).message.split('\n')[0]})`);
  }
  const weightMap = isObject(index) ? index.weight_map : undefined;
  if (!isObject(weightMap)) fail(indexFile, 'must be a JSON object with a "weight_map" object (tensor name -> shard file)');
  const byShard = new Map<string, string[]>();
  for (const [name, shard] of Object.entries(weightMap)) {
    const file = shardPath(dir, indexFile, shard, name);
    const names = byShard.get(file);
    if (names) names.push(name);
    else byShard.set(file, [name]);
  }
  for (const [file, names] of byShard) {
    if (!fs.existsSync(file)) {
      throw new FileFormatError(`${indexFile}: shard ${path.basename(file)} (holding ${JSON.stringify(names[0])} and ${names.length - 1} more) is missing`);
    }
    const header = readSafetensorsHeader(file);
    for (const name of names) {
      if (!header.tensors.has(name)) fail(indexFile, `lists ${JSON.stringify(name)} in shard ${path.basename(file)}, which does not contain it`);
    }
    // Tensors a shard holds beyond its index entries still load; only a second copy is an error.
    for (const info of header.tensors.values()) {
      const other = tensors.get(info.name);
      if (other) fail(indexFile, `tensor ${JSON.stringify(info.name)} is stored in both ${path.basename(other.header.file)} and ${path.basename(file)}`);
      tensors.set(info.name, { header, info });
    }
  }
  return { tensors };
}
