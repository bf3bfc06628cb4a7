// Perplexity suites: WikiText-2 test, the C4 sample, the TinyStories excerpt, and any text file
// (`text:FILE`), each scored whole under the perplexity protocol of ARCHITECTURE.md through
// backend.perplexity. `--limit N` scores the first N documents (WikiText-2: articles; C4: records;
// TinyStories and text files: non-empty lines), a prefix of the same text. The scoring unit is
// the window: every metric's n_scored is the number of windows (no CI: one corpus-level number).
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../core/errors.js';
import { PERPLEXITY_CORPORA } from '../data/corpora.js';
import { datasetFile, readJsonl, sha256FileSync } from '../data/files.js';
import { MetricValue, Task, TaskContext, TaskResult } from './task.js';

export const PERPLEXITY_TASK_VERSION = '1';

/** Default window: the model's context, at most 2048 tokens. */
export function defaultSeqlen(maxPositions: number): number {
  return Math.min(maxPositions, 2048);
}

/** The first `n` documents of a text whose documents start at `starts` (character offsets, ascending). */
function prefixOfDocuments(text: string, starts: number[], n: number): string {
  return n >= starts.length ? text : text.slice(0, starts[n]).replace(/[\r\n]+$/, '');
}

/** Offsets at which non-empty lines start. */
function lineStarts(text: string): number[] {
  const starts: number[] = [];
  const re = /^.*\S.*$/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) starts.push(m.index);
  return starts;
}

/** Offsets of WikiText article headings (` = Title = `; section headings have two or more `=`). */
function wikitextArticleStarts(text: string): number[] {
  const starts: number[] = [];
  const re = /^ = [^=].* = ?$/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) starts.push(m.index);
  if (starts.length === 0 || starts[0] !== 0) starts.unshift(0);
  return starts;
}

interface CorpusText {
  text: string;
  documents: number;
  totalDocuments: number;
}

type Limiter = (file: string, fullText: string, limit: number | undefined) => CorpusText;

const byStarts = (starts: (text: string) => number[]): Limiter => (_file, text, limit) => {
  const s = starts(text);
  const n = limit === undefined ? s.length : Math.min(limit, s.length);
  return { text: prefixOfDocuments(text, s, n), documents: n, totalDocuments: s.length };
};

const c4Limiter: Limiter = (file, text, limit) => {
  const records = readJsonl(file);
  if (limit === undefined || limit >= records.length) return { text, documents: records.length, totalDocuments: records.length };
  // The corpus joins records with blank lines; the first N records joined the same way is its prefix.
  const texts = records.slice(0, limit).map((r) => String(r.value.text));
  return { text: texts.join('\n\n'), documents: limit, totalDocuments: records.length };
};

const LIMITERS: Record<string, { unit: string; limiter: Limiter }> = {
  wikitext2: { unit: 'articles', limiter: byStarts(wikitextArticleStarts) },
  c4: { unit: 'records', limiter: c4Limiter },
  tinystories: { unit: 'lines', limiter: byStarts(lineStarts) },
};

/** Scores one text and shapes the result; `source` names the file in samples and config. */
async function scoreText(name: string, ctx: TaskContext, corpus: CorpusText, unit: string, source: { path: string; sha256: string; complete: boolean; note?: string }): Promise<TaskResult> {
  const seqlen = ctx.seqlen ?? defaultSeqlen(ctx.backend.info.maxPositions);
  const r = await ctx.backend.perplexity(corpus.text, seqlen, {
    onProgress: (p) => ctx.onProgress?.({ task: name, done: p.done, total: p.total }),
  });
  const one = (value: number): MetricValue => ({ value: Number.isFinite(value) ? value : null, n_scored: r.scored > 0 ? r.windows : 0, n_failed: r.scored > 0 ? 0 : 1 });
  return {
    task: name,
    version: PERPLEXITY_TASK_VERSION,
    config: {
      seqlen: r.seqlen, protocol: r.protocol, file: source.path, document_unit: unit,
      documents: corpus.documents, documents_total: corpus.totalDocuments, limit: ctx.limit ?? null,
    },
    dataset: {
      files: [{ path: source.path, sha256: source.sha256 }],
      complete: source.complete && corpus.documents === corpus.totalDocuments,
      note: corpus.documents < corpus.totalDocuments ? `first ${corpus.documents} of ${corpus.totalDocuments} ${unit}` : source.note,
    },
    metrics: {
      perplexity: one(r.perplexity), nll_per_token: one(r.nllPerToken), nll: one(r.nll),
      scored: one(r.scored), tokens: one(r.tokens), windows: one(r.windows),
    },
    groups: {},
    samples: [{
      id: name, file: source.path, documents: corpus.documents, chars: corpus.text.length, perplexity: r.perplexity,
      nll: r.nll, nll_per_token: r.nllPerToken, scored: r.scored, tokens: r.tokens, windows: r.windows, seqlen: r.seqlen,
    }],
  };
}

/** A named corpus of the data directory (wikitext2, c4, tinystories). */
function corpusTask(name: keyof typeof LIMITERS & string, note?: string, complete = true): Task {
  const corpus = PERPLEXITY_CORPORA[name];
  return {
    name,
    description: `perplexity of the ${corpus.describe} (${corpus.file})`,
    async run(ctx) {
      const file = datasetFile(ctx.dataDir, corpus.file);
      const { unit, limiter } = LIMITERS[name];
      const text = limiter(file, corpus.read(file), ctx.limit);
      return scoreText(name, ctx, text, unit, { path: corpus.file, sha256: sha256FileSync(file), complete, note });
    },
  };
}

export const wikitext2Task = corpusTask('wikitext2', 'blank lines dropped and CRLF line ends: numbers differ slightly from published ones');
export const c4Task = corpusTask('c4', 'the first 1,000 documents of en/c4-train.00000-of-01024', false);
export const tinystoriesTask = corpusTask('tinystories', '30 KB excerpt of the validation split', false);

/** `text:FILE`: any UTF-8 text file, scored as is (as `compsafe perplexity --text` does); documents are its non-empty lines. */
export function textFileTask(file: string): Task {
  const name = `text:${file}`;
  return {
    name,
    description: `perplexity of the text file ${file}`,
    async run(ctx) {
      if (file === '') throw new UsageError('text:FILE needs a file name, e.g. --tasks text:notes.txt');
      const stat = fs.statSync(file, { throwIfNoEntry: false });
      if (!stat?.isFile()) throw new UsageError(`task ${name}: ${file} is not a file`);
      const full = fs.readFileSync(file, 'utf8');
      const text = byStarts(lineStarts)(file, full, ctx.limit);
      return scoreText(name, ctx, text, 'lines', { path: path.resolve(file), sha256: sha256FileSync(file), complete: true });
    },
  };
}
