// Plain-text corpora for perplexity, resolved inside the data directory (--data-dir /
// COMPSAFE_DATA_DIR / ~/.cache/compsafe/data). Each entry names its canonical file layout.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileFormatError, UsageError } from '../core/errors.js';

export function resolveDataDir(explicit?: string): string {
  return explicit ?? process.env.COMPSAFE_DATA_DIR ?? path.join(os.homedir(), '.cache', 'compsafe', 'data');
}

interface Corpus {
  file: string;
  describe: string;
  read(file: string): string;
}

const normalizeNewlines = (s: string): string => s.replace(/\r\n?/g, '\n');

export const PERPLEXITY_CORPORA: Record<string, Corpus> = {
  wikitext2: {
    file: 'wikitext2/wiki.test.raw',
    describe: 'WikiText-2 raw test split',
    read: (f) => normalizeNewlines(fs.readFileSync(f, 'utf8')),
  },
  c4: {
    file: 'c4/c4_sample.jsonl',
    describe: 'C4 en documents, joined by blank lines',
    read: (f) => fs.readFileSync(f, 'utf8').split('\n').filter((l) => l.trim()).map((l, i) => {
      try {
        const rec = JSON.parse(l) as { text?: unknown };
        if (typeof rec.text !== 'string') throw new Error('no "text" field');
        return rec.text;
      } catch (e) {
        throw new FileFormatError(`${f}: line ${i + 1} is not a C4 record (${(e as Error).message})`);
      }
    }).join('\n\n'),
  },
  tinystories: {
    file: 'tinystories/TinyStories-valid-excerpt.txt',
    describe: 'TinyStories validation excerpt',
    read: (f) => normalizeNewlines(fs.readFileSync(f, 'utf8')),
  },
};

/** Reads a perplexity corpus by name from the data directory, or fails saying where it looked. */
export function readPerplexityCorpus(name: string, dataDir?: string): { text: string; file: string } {
  const corpus = PERPLEXITY_CORPORA[name];
  if (!corpus) throw new UsageError(`unknown --dataset "${name}"; available: ${Object.keys(PERPLEXITY_CORPORA).join(', ')}`);
  const dir = resolveDataDir(dataDir);
  const file = path.join(dir, corpus.file);
  if (!fs.existsSync(file)) {
    throw new FileFormatError(`${corpus.describe} not found at ${file}; pass --data-dir (or set COMPSAFE_DATA_DIR) to a folder holding ${corpus.file}`);
  }
  return { text: corpus.read(file), file };
}
