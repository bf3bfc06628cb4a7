// Reading dataset files from the data directory: resolve a file (or fail saying what is present and
// how to get the dataset), hash it for provenance, and parse JSON, JSON Lines, CSV and tab-separated
// text with errors that name the file and the line. Also the atomic write every writer here uses.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseCsvSync } from 'csv-parse/sync';
import { FileFormatError } from '../core/errors.js';
import { datasetOfFile, howToGet } from './catalogue.js';

/** A dataset file is not in the data directory. */
export class DatasetMissingError extends FileFormatError {}

/** A dataset file is present but not in its dataset's format. */
export class DatasetFormatError extends FileFormatError {}

/** Relative dataset path (always '/'-separated) -> absolute path in the data directory. */
export function dataPath(dataDir: string, relPath: string): string {
  return path.join(dataDir, ...relPath.split('/'));
}

/**
 * The absolute path of `relPath` inside the data directory, or a DatasetMissingError naming the
 * dataset, what of its folder is present, and how to get it (`compsafe data fetch NAME` or the
 * catalogue's instructions).
 */
export function datasetFile(dataDir: string, relPath: string): string {
  const abs = dataPath(dataDir, relPath);
  if (fs.existsSync(abs) && fs.statSync(abs).isFile()) return abs;
  throw new DatasetMissingError(missingMessage(dataDir, relPath));
}

function missingMessage(dataDir: string, relPath: string): string {
  const entry = datasetOfFile(relPath);
  const what = entry ? `${entry.title} file ${relPath}` : `dataset file ${relPath}`;
  let present: string;
  if (!fs.existsSync(dataDir)) {
    present = `the data directory ${dataDir} does not exist`;
  } else {
    // The nearest existing folder on the way to the file, and what it holds.
    let dir = path.dirname(relPath);
    while (dir !== '.' && !fs.existsSync(dataPath(dataDir, dir))) dir = path.dirname(dir);
    const abs = dir === '.' ? dataDir : dataPath(dataDir, dir);
    const names = fs.readdirSync(abs).sort();
    const shown = names.slice(0, 12).join(', ') + (names.length > 12 ? `, ... (${names.length} in all)` : '');
    present = `${dir === '.' ? dataDir : `${dir}/`} holds ${names.length ? shown : 'nothing'}`;
  }
  const fix = entry ? howToGet(entry) : 'pass --data-dir (or set COMPSAFE_DATA_DIR) to the folder that holds it';
  return `${what} not found in the data directory ${dataDir} (${present}); ${fix}`;
}

/** SHA-256 (hex) of a file, streamed. */
export async function sha256File(file: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** SHA-256 (hex) of a file read whole (for small dataset files on synchronous paths). */
export function sha256FileSync(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

export interface JsonlRecord {
  /** 1-based line number in the file. */
  line: number;
  value: Record<string, unknown>;
}

/** Every non-blank line of a JSON Lines file, each a JSON object; a bad line fails with file:line. */
export function readJsonl(file: string): JsonlRecord[] {
  const out: JsonlRecord[] = [];
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i].endsWith('\r') ? lines[i].slice(0, -1) : lines[i];
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new DatasetFormatError(`${file}:${i + 1}: not valid JSON (${(e as Error).message})`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new DatasetFormatError(`${file}:${i + 1}: expected a JSON object, got ${describeValue(value)}`);
    }
    out.push({ line: i + 1, value: value as Record<string, unknown> });
  }
  return out;
}

/** A whole JSON file. A syntax error names the file and the line and column it occurred at. */
export function readJson(file: string): unknown {
  const text = fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  try {
    return JSON.parse(text);
  } catch (e) {
    const at = jsonErrorOffset(text);
    const before = text.slice(0, at);
    const line = before.split('\n').length, column = at - before.lastIndexOf('\n');
    throw new DatasetFormatError(`${file}:${line}:${column}: not valid JSON (${(e as Error).message.split('\n')[0].slice(0, 80)})`);
  }
}

/**
 * Offset of the first syntax error in a text that JSON.parse rejected (V8's messages do not always
 * carry a position): a strict recursive-descent scan of the JSON grammar.
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const ws = (): void => { while (i < text.length && ' \t\r\n'.includes(text[i])) i++; };
  const fail = (): never => { throw i; };
  const lit = (word: string): void => { if (text.startsWith(word, i)) i += word.length; else fail(); };
  const str = (): void => {
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text.charCodeAt(i) < 0x20) fail();
      if (text[i] === '\\') {
        i++;
        if (text[i] === 'u') { if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail(); i += 4; } else if (!'"\\/bfnrt'.includes(text[i] ?? 'x')) fail();
      }
      i++;
    }
    if (i >= text.length) fail();
    i++;
  };
  const num = (): void => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m || m[0] === '' || m[0] === '-') fail();
    i += m![0].length;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++; ws();
      if (text[i] === '}') { i++; return; }
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        str(); ws();
        if (text[i] !== ':') fail();
        i++; value(); ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return; }
        fail();
      }
    } else if (c === '[') {
      i++; ws();
      if (text[i] === ']') { i++; return; }
      for (;;) {
        value(); ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return; }
        fail();
      }
    } else if (c === '"') str();
    else if (c === 't') lit('true');
    else if (c === 'f') lit('false');
    else if (c === 'n') lit('null');
    else num();
  };
  try {
    value(); ws();
    return i < text.length ? i : text.length;
  } catch (at) {
    return Math.min(at as number, text.length);
  }
}

export interface CsvOptions {
  /** First row holds column names; rows become objects. Default false (rows are string arrays). */
  header?: boolean;
  delimiter?: string;
}

export interface CsvRow<T> {
  /** 1-based line on which the row starts (quoted fields may span lines). */
  line: number;
  value: T;
}

/**
 * A CSV file parsed as CSV (quoted fields may hold commas, quotes and line breaks; CRLF or LF; a
 * UTF-8 BOM is dropped). Rows of the wrong width fail with file:line.
 */
export function readCsv(file: string, opts: CsvOptions & { header: true }): CsvRow<Record<string, string>>[];
export function readCsv(file: string, opts?: CsvOptions): CsvRow<string[]>[];
export function readCsv(file: string, opts: CsvOptions = {}): CsvRow<string[] | Record<string, string>>[] {
  const buf = fs.readFileSync(file);
  let rows: { record: string[]; info: { bytes: number } }[];
  try {
    rows = parseCsvSync(buf, { bom: true, delimiter: opts.delimiter ?? ',', info: true, skip_empty_lines: true, relax_column_count: false }) as typeof rows;
  } catch (e) {
    const err = e as Error & { lines?: number };
    throw new DatasetFormatError(`${file}${err.lines ? `:${err.lines}` : ''}: not valid CSV (${err.message.split('\n')[0]})`);
  }
  // A record starts where the previous one ended (info.bytes counts through its line break).
  let newlines = 0, scanned = 0;
  const lineAt = (offset: number): number => {
    for (; scanned < offset; scanned++) if (buf[scanned] === 0x0a) newlines++;
    return newlines + 1;
  };
  const out: CsvRow<string[] | Record<string, string>>[] = [];
  let start = 0;
  for (const r of rows) {
    out.push({ line: lineAt(start), value: r.record });
    start = r.info.bytes;
  }
  if (!opts.header) return out;
  const header = out.shift();
  const columns = header ? (header.value as string[]) : [];
  return out.map((r) => ({ line: r.line, value: Object.fromEntries(columns.map((c, k) => [c, (r.value as string[])[k]])) }));
}

/**
 * The non-blank lines of a tab-separated text file, each split into exactly `columns` fields;
 * a line with another count fails with file:line.
 */
export function readTsvLines(file: string, columns: number): { line: number; fields: string[] }[] {
  const out: { line: number; fields: string[] }[] = [];
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i].endsWith('\r') ? lines[i].slice(0, -1) : lines[i];
    if (text.trim() === '') continue;
    const fields = text.split('\t');
    if (fields.length !== columns) {
      throw new DatasetFormatError(`${file}:${i + 1}: expected ${columns} tab-separated fields, found ${fields.length}`);
    }
    out.push({ line: i + 1, fields });
  }
  return out;
}

/** Short description of a JSON value for error messages. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing (missing)';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return `${typeof v} ${JSON.stringify(v).slice(0, 40)}`;
}

/**
 * Writes `data` to `file` so that readers see the old content or the new, never a torn file: write
 * a temporary sibling, flush it, rename it over the target.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array | Iterable<string>): void {
  const tmp = `${file}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    if (typeof data === 'string' || data instanceof Uint8Array) fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    else for (const chunk of data) fs.writeSync(fd, chunk);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
}
