import fs from 'node:fs';
import { UsageError } from '../../core/errors.js';
import { loadModel } from '../../model/load.js';
import { perplexity } from '../../model/scoring.js';
import { readPerplexityCorpus } from '../../data/corpora.js';
import { COMMON_OPTIONS, Flags, int, parseFlags, required, str } from '../args.js';
import { Progress } from '../progress.js';
import { hubOptions, HUB_OPTIONS } from './shared.js';

export const usage = 'compsafe perplexity --model M (--text FILE | --dataset wikitext2|c4|tinystories) [--seqlen N] [--data-dir D] [--json]';

export async function run(argv: string[], setup: (f: Flags) => void): Promise<void> {
  const f = parseFlags(argv, {
    ...COMMON_OPTIONS, ...HUB_OPTIONS, model: { type: 'string' }, text: { type: 'string' }, dataset: { type: 'string' },
    seqlen: { type: 'string' }, 'data-dir': { type: 'string' },
  }, 'perplexity');
  setup(f);
  const modelSpec = required(f, 'model', 'perplexity');
  const textFile = str(f, 'text'), dataset = str(f, 'dataset');
  if ((textFile === undefined) === (dataset === undefined)) throw new UsageError('perplexity: give exactly one of --text FILE or --dataset NAME');
  let seqlen = int(f, 'seqlen', undefined, 2);
  let text: string, source: string;
  if (textFile !== undefined) {
    if (!fs.existsSync(textFile) || !fs.statSync(textFile).isFile()) throw new UsageError(`perplexity: --text file ${textFile} does not exist`);
    text = fs.readFileSync(textFile, 'utf8');
    source = textFile;
  } else {
    const c = readPerplexityCorpus(dataset!, str(f, 'data-dir'));
    text = c.text;
    source = c.file;
  }
  const loaded = await loadModel(modelSpec, { hub: hubOptions(f) });
  seqlen ??= Math.min(loaded.config.maxPositions, 2048);
  const progress = new Progress('perplexity', f.quiet === true);
  const r = perplexity(loaded.model, loaded.tokenizer, text, seqlen, { onProgress: (p) => progress.update(p.done, p.total, 'windows') });
  progress.done();
  if (f.json) {
    process.stdout.write(JSON.stringify({ model: modelSpec, source, ...r }) + '\n');
  } else {
    process.stdout.write(`perplexity ${r.perplexity.toFixed(4)}  (nll/token ${r.nllPerToken.toFixed(4)}, ${r.scored} scored of ${r.tokens} tokens, ${r.windows} windows of ${r.seqlen})\n`);
  }
}
