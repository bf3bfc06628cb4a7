// Small helpers the accuracy tasks share on top of data/files: the provenance entry of a dataset
// file, and typed access to a record's fields with errors that name the file, line and field.
import path from 'node:path';
import { DatasetFormatError, describeValue, sha256FileSync } from '../data/files.js';
import { DatasetFile } from './task.js';

/** The provenance entry of a dataset file: its path relative to the data directory and its hash. */
export function provenance(dataDir: string, file: string): DatasetFile {
  return { path: path.relative(dataDir, file).split(path.sep).join('/'), sha256: sha256FileSync(file) };
}

/** Typed field access for one record; a missing or mistyped field fails with file:line and the field name. */
export class RecordReader {
  constructor(readonly file: string, readonly line: number, readonly value: Record<string, unknown>) {}

  static of(file: string, rec: { line: number; value: Record<string, unknown> }): RecordReader {
    return new RecordReader(file, rec.line, rec.value);
  }

  fail(message: string): never {
    throw new DatasetFormatError(`${this.file}:${this.line}: ${message}`);
  }

  has(name: string): boolean {
    return this.value[name] !== undefined;
  }

  string(name: string): string {
    const v = this.value[name];
    if (typeof v !== 'string') this.fail(`field "${name}" must be a string, got ${describeValue(v)}`);
    return v;
  }

  array(name: string): unknown[] {
    const v = this.value[name];
    if (!Array.isArray(v)) this.fail(`field "${name}" must be an array, got ${describeValue(v)}`);
    return v;
  }

  /** A nested object field (e.g. question in {question: {stem, choices}}), read with the same file:line. */
  object(name: string): RecordReader {
    const v = this.value[name];
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(`field "${name}" must be an object, got ${describeValue(v)}`);
    return new RecordReader(this.file, this.line, v as Record<string, unknown>);
  }
}
