// HellaSwag (Zellers et al. 2019), the official hellaswag_val.jsonl (10,042 items; fields ctx_a,
// ctx_b, ctx, endings, label, activity_label, ind), in the lm-evaluation-harness formulation
// (hellaswag/utils.py):
//   query:   preprocess(activity_label + ": " + ctx_a + " " + capitalize(ctx_b))
//   choices: " " + preprocess(ending), for each of the four endings
//   preprocess: strip; " [title]" -> ". "; drop every "[...]" (WikiHow artifacts); "  " -> " " (one pass)
//   capitalize: Python's str.capitalize (first character upper case, the rest lower case)
// A record without ctx_a/ctx_b uses `ctx` in their place. Metrics: acc and acc_norm (log-probability
// over the preprocessed ending's length in characters). Item ids are `ind` when present.
import { datasetFile, readJsonl } from '../data/files.js';
import { ChoiceItem, choiceTask, completeness } from './choice-scoring.js';
import { provenance, RecordReader } from './dataset-files.js';

/** rowanz/hellaswag's data/hellaswag_val.jsonl, where the data directory keeps it. */
export const HELLASWAG_FILE = 'hellaswag/hellaswag_val.jsonl';
const HELLASWAG_VAL_ITEMS = 10042;

export function hellaswagPreprocess(text: string): string {
  return text.trim().replaceAll(' [title]', '. ').replace(/\[.*?\]/g, '').replaceAll('  ', ' ');
}

/** Python's str.capitalize. */
export function pyCapitalize(s: string): string {
  const [first = '', ...rest] = [...s];
  return first.toUpperCase() + rest.join('').toLowerCase();
}

export function hellaswagQuery(activityLabel: string, ctxA: string, ctxB: string): string {
  return hellaswagPreprocess(`${activityLabel}: ${ctxA} ${pyCapitalize(ctxB)}`);
}

export function loadHellaswag(dataDir: string): { items: ChoiceItem[]; file: string } {
  const file = datasetFile(dataDir, HELLASWAG_FILE);
  const items = readJsonl(file).map((rec, index): ChoiceItem => {
    const r = RecordReader.of(file, rec);
    const split = r.has('ctx_a') ? { a: r.string('ctx_a'), b: r.has('ctx_b') ? r.string('ctx_b') : '' } : { a: r.string('ctx'), b: '' };
    const endings = r.array('endings').map((e, i) => (typeof e === 'string' ? e : r.fail(`endings[${i}] must be a string`)));
    if (endings.length < 2) r.fail(`field "endings" must hold at least 2 endings, got ${endings.length}`);
    // The official file has integer labels; the HF packaging has them as strings.
    const raw = r.value.label;
    const label = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
    if (typeof label !== 'number' || !Number.isInteger(label) || label < 0 || label >= endings.length) {
      return r.fail(`field "label" must index one of the ${endings.length} endings, got ${JSON.stringify(raw)}`);
    }
    const choices = endings.map(hellaswagPreprocess);
    const ind = r.value.ind;
    return {
      id: typeof ind === 'number' || typeof ind === 'string' ? String(ind) : String(index),
      context: hellaswagQuery(r.string('activity_label'), split.a, split.b),
      continuations: choices.map((c) => ` ${c}`),
      choices,
      gold: label,
    };
  });
  return { items, file };
}

export const hellaswagTask = choiceTask({
  name: 'hellaswag',
  description: 'HellaSwag validation (sentence completion), zero-shot, lm-eval formulation; acc, acc_norm',
  version: '1',
  formulation: 'preprocess("{activity_label}: {ctx_a} {ctx_b.capitalize()}") -> " " + preprocess(ending) for each ending',
  norm: true,
  load(dataDir) {
    const { items, file } = loadHellaswag(dataDir);
    return { items, files: [provenance(dataDir, file)], ...completeness(items.length, HELLASWAG_VAL_ITEMS, 'the HellaSwag validation set') };
  },
});
