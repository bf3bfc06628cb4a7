// Calibration data for the layer-wise compression methods: `--nsamples` windows of `--seqlen` tokens
// drawn with `--seed`, following the reference implementations (GPTQ / SparseGPT / Wanda `get_c4`,
// `get_wikitext2`), with our PRNG in place of Python's `random`:
//
//   rng = Xoshiro128(seed, stream 0)              (src/model/sampling.ts)
//   randint(lo, hi) = lo + u % (hi - lo + 1), u a nextU32() draw, redrawn while u falls in the top
//                     partial range (so every value is equally likely), hi inclusive as in Python
//   C4 (documents, one JSON {"text"} per line of c4/c4_sample.jsonl):
//     for each sample: repeat d = randint(0, #docs - 1), ids = encode(doc d) (BOS as the tokenizer adds it)
//                      until len(ids) > seqlen; start = randint(0, len(ids) - seqlen - 1);
//                      sample = ids[start : start + seqlen]
//   wikitext2 / FILE (one text): ids = encode(whole text) once;
//     for each sample: start = randint(0, len(ids) - seqlen - 1); sample = ids[start : start + seqlen]
//
// wikitext2 calibrates on the train split (wikitext2/wiki.train.raw), never on the test split that the
// perplexity protocol scores. Windows are drawn independently (they may overlap), as in the references.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { FileFormatError, UsageError } from '../core/errors.js';
import { resolveDataDir } from '../data/corpora.js';
import { Xoshiro128 } from '../model/sampling.js';
import { TextTokenizer } from '../model/tokenizer.js';

export const CALIBRATION_DEFAULTS = { source: 'c4', nsamples: 128, seed: 0, seqlen: 2048 } as const;

export const CALIBRATION_PROCEDURE =
  'xoshiro128** seeded (seed, stream 0); randint by rejection, hi inclusive; c4: per sample, redraw a document until its ' +
  'tokenization (BOS as the tokenizer adds it) is longer than seqlen, then a random start; text: tokenize once, a random start per sample';

const NAMED: Record<string, { file: string; describe: string; kind: 'documents' | 'text' }> = {
  c4: { file: 'c4/c4_sample.jsonl', describe: 'C4 en calibration documents (allenai/c4 en train shard 0)', kind: 'documents' },
  wikitext2: { file: 'wikitext2/wiki.train.raw', describe: 'WikiText-2 raw train split', kind: 'text' },
};

export interface CalibrationSource {
  /** 'c4', 'wikitext2', or 'file'. */
  kind: 'c4' | 'wikitext2' | 'file';
  /** Absolute path of the file read. */
  file: string;
  /** Machine-independent name for the recipe: the path inside the data directory, or the file's base name. */
  name: string;
  documents: boolean;
}

export interface CalibrationSet {
  source: CalibrationSource;
  /** SHA-256 (hex) of the calibration file. */
  sha256: string;
  nsamples: number;
  seqlen: number;
  seed: number;
  /** nsamples windows of exactly seqlen token ids. */
  samples: number[][];
  procedure: string;
}

/** The calibration window: the flag (default 2048) capped by the model's context. */
export function calibrationSeqlen(flag: number | undefined, maxPositions: number): number {
  return Math.min(flag ?? CALIBRATION_DEFAULTS.seqlen, maxPositions);
}

/** Where `--calib` points; fails (before any model work) when the file is missing. */
export function resolveCalibrationSource(calib: string, dataDir?: string): CalibrationSource {
  const named = NAMED[calib];
  if (named) {
    const dir = resolveDataDir(dataDir);
    const file = path.join(dir, named.file);
    if (!fs.existsSync(file)) {
      const hint = calib === 'wikitext2' ? ' (the train split: calibrating on the test split would leak into its perplexity)' : '';
      throw new FileFormatError(`--calib ${calib}: ${named.describe} not found at ${file}${hint}; pass --data-dir (or set COMPSAFE_DATA_DIR) to a folder holding ${named.file}, or --calib FILE with plain text`);
    }
    return { kind: calib as 'c4' | 'wikitext2', file: path.resolve(file), name: named.file, documents: named.kind === 'documents' };
  }
  if (!fs.existsSync(calib) || !fs.statSync(calib).isFile()) {
    throw new UsageError(`--calib "${calib}" is neither ${Object.keys(NAMED).join(' nor ')} nor an existing text file`);
  }
  return { kind: 'file', file: path.resolve(calib), name: path.basename(calib), documents: false };
}

export function sha256File(file: string): string {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 22);
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/** Uniform integer in [lo, hi] (inclusive, as Python's random.randint), unbiased by rejection. */
export function randint(rng: Xoshiro128, lo: number, hi: number): number {
  const span = hi - lo + 1;
  if (!(span >= 1) || span > 2 ** 32) throw new RangeError(`randint range [${lo}, ${hi}] is empty or too wide`);
  const limit = Math.floor(2 ** 32 / span) * span;
  let u: number;
  do u = rng.nextU32(); while (u >= limit);
  return lo + (u % span);
}

function readDocuments(file: string): string[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((line, i) => {
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch (e) {
      throw new FileFormatError(`${file}: line ${i + 1} is not JSON (${(e as Error).message})`);
    }
    const text = (rec as { text?: unknown } | null)?.text;
    if (typeof text !== 'string') throw new FileFormatError(`${file}: line ${i + 1} has no "text" string`);
    return text;
  });
}

export interface CalibrationOptions {
  nsamples?: number;
  seqlen: number;
  seed?: number;
}

/** Draws the calibration windows from a resolved source (see the procedure at the top of this file). */
export function sampleCalibration(tok: TextTokenizer, source: CalibrationSource, opts: CalibrationOptions): CalibrationSet {
  const nsamples = opts.nsamples ?? CALIBRATION_DEFAULTS.nsamples, seed = opts.seed ?? CALIBRATION_DEFAULTS.seed, seqlen = opts.seqlen;
  if (!Number.isInteger(nsamples) || nsamples < 1) throw new UsageError(`--nsamples must be a positive integer, got ${nsamples}`);
  if (!Number.isInteger(seqlen) || seqlen < 2) throw new UsageError(`--seqlen must be an integer >= 2, got ${seqlen}`);
  const rng = new Xoshiro128(seed, 0);
  const samples: number[][] = [];
  if (source.documents) {
    const docs = readDocuments(source.file);
    if (docs.length === 0) throw new FileFormatError(`${source.file} holds no documents`);
    const encoded = new Map<number, number[]>();
    const tooShort = new Set<number>();
    for (let s = 0; s < nsamples; s++) {
      let ids: number[];
      for (;;) {
        const d = randint(rng, 0, docs.length - 1);
        let e = encoded.get(d);
        if (!e) { e = tok.encode(docs[d], { addSpecialTokens: true }); encoded.set(d, e); }
        if (e.length > seqlen) { ids = e; break; }
        tooShort.add(d);
        if (tooShort.size === docs.length) {
          throw new UsageError(`--calib ${source.name}: no document is longer than --seqlen ${seqlen} tokens; lower --seqlen or use a corpus with longer documents`);
        }
      }
      const start = randint(rng, 0, ids.length - seqlen - 1);
      samples.push(ids.slice(start, start + seqlen));
    }
  } else {
    const text = fs.readFileSync(source.file, 'utf8').replace(/\r\n?/g, '\n');
    const ids = tok.encode(text, { addSpecialTokens: true });
    if (ids.length <= seqlen) {
      throw new UsageError(`--calib ${source.name}: the text has ${ids.length} tokens; windows of --seqlen ${seqlen} need more than ${seqlen} (give more text or a smaller --seqlen)`);
    }
    for (let s = 0; s < nsamples; s++) {
      const start = randint(rng, 0, ids.length - seqlen - 1);
      samples.push(ids.slice(start, start + seqlen));
    }
  }
  return { source, sha256: sha256File(source.file), nsamples, seqlen, seed, samples, procedure: CALIBRATION_PROCEDURE };
}
