// What a data directory holds, dataset by dataset: which files are present (list), and whether each
// present file is byte-identical to the reference copy (verify: SHA-256 against the manifest).
import fs from 'node:fs';
import { allFiles, DatasetEntry } from './catalogue.js';
import { dataPath, sha256File } from './files.js';
import { MANIFEST } from './manifest.js';

export type DatasetStatus = 'complete' | 'subset' | 'excerpt' | 'partial' | 'absent';

export interface DatasetPresence {
  name: string;
  title: string;
  license: string;
  status: DatasetStatus;
  /** Files present of all the dataset's files (reference copy + extras). */
  present: number;
  total: number;
  /** Reference-copy files that are missing. */
  missing: string[];
  note?: string;
  testUseOnly?: boolean;
}

const isFile = (p: string): boolean => fs.statSync(p, { throwIfNoEntry: false })?.isFile() === true;

/**
 * Presence of one dataset (no hashing): absent; partial (some reference-copy files missing);
 * subset (the reference copy's files, not the extras, or a dataset that is itself a sample);
 * excerpt; complete.
 */
export function datasetPresence(dataDir: string, d: DatasetEntry): DatasetPresence {
  const all = allFiles(d);
  const here = new Set(all.filter((f) => isFile(dataPath(dataDir, f))));
  const missing = d.files.filter((f) => !here.has(f));
  let status: DatasetStatus;
  if (here.size === 0) status = 'absent';
  else if (missing.length > 0) status = 'partial';
  else if (d.extent !== 'complete') status = d.extent;
  else status = here.size === all.length ? 'complete' : 'subset';
  return {
    name: d.name, title: d.title, license: d.license, status, present: here.size, total: all.length, missing,
    note: d.note, testUseOnly: d.testUseOnly,
  };
}

export type FileState = 'ok' | 'modified' | 'missing' | 'unverified' | 'optional-absent';

export interface FileCheck {
  path: string;
  /** ok: matches the manifest; modified: differs; missing: a reference-copy file is absent;
   *  unverified: present but the manifest has no hash for it; optional-absent: an extra file not present. */
  state: FileState;
  expected?: string;
  actual?: string;
}

export interface DatasetVerification {
  name: string;
  files: FileCheck[];
  ok: number;
  modified: number;
  missing: number;
  unverified: number;
}

/** SHA-256 of every file of the dataset against the manifest. */
export async function verifyDataset(dataDir: string, d: DatasetEntry): Promise<DatasetVerification> {
  const files: FileCheck[] = [];
  for (const f of allFiles(d)) {
    const abs = dataPath(dataDir, f), expected = MANIFEST[f]?.sha256;
    const extra = !d.files.includes(f);
    if (!isFile(abs)) {
      files.push({ path: f, state: extra ? 'optional-absent' : 'missing', expected });
      continue;
    }
    const actual = await sha256File(abs);
    if (expected === undefined) files.push({ path: f, state: 'unverified', actual });
    else files.push({ path: f, state: actual === expected ? 'ok' : 'modified', expected, actual });
  }
  const count = (s: FileState): number => files.filter((c) => c.state === s).length;
  return { name: d.name, files, ok: count('ok'), modified: count('modified'), missing: count('missing'), unverified: count('unverified') };
}
