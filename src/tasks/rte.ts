// RTE (SuperGLUE packaging, val.jsonl), in the lm-evaluation-harness formulation
// (super_glue/rte/default.yaml):
//   prompt:  "{premise}\nQuestion: {hypothesis} True or False?\nAnswer:"
//   choices: " True" / " False"
// Labels: "entailment" (SuperGLUE label 0) -> " True"; "not_entailment" (label 1) -> " False".
// Both the string labels of this file and the integer labels of the HF packaging are read.
// Metric: acc. Item ids are the record's idx.
import { datasetFile, readJsonl } from '../data/files.js';
import { ChoiceItem, choiceTask, completeness } from './choice-scoring.js';
import { provenance, RecordReader } from './dataset-files.js';

export const RTE_FILE = 'rte/val.jsonl';
const RTE_VAL_ITEMS = 277;

export const rtePrompt = (premise: string, hypothesis: string): string => `${premise}\nQuestion: ${hypothesis} True or False?\nAnswer:`;

/** SuperGLUE's label order: 0 = entailment (" True"), 1 = not_entailment (" False"). */
export function rteGold(r: RecordReader): number {
  const label = r.value.label;
  if (label === 'entailment' || label === 0) return 0;
  if (label === 'not_entailment' || label === 1) return 1;
  return r.fail(`field "label" must be "entailment" or "not_entailment" (or 0/1), got ${JSON.stringify(label)}`);
}

export function loadRte(dataDir: string): { items: ChoiceItem[]; file: string } {
  const file = datasetFile(dataDir, RTE_FILE);
  const items = readJsonl(file).map((rec, index): ChoiceItem => {
    const r = RecordReader.of(file, rec);
    const idx = r.value.idx;
    return {
      id: typeof idx === 'number' || typeof idx === 'string' ? String(idx) : String(index),
      context: rtePrompt(r.string('premise'), r.string('hypothesis')),
      continuations: [' True', ' False'],
      choices: ['True', 'False'],
      gold: rteGold(r),
    };
  });
  return { items, file };
}

export const rteTask = choiceTask({
  name: 'rte',
  description: 'RTE validation (textual entailment), zero-shot, lm-eval formulation; acc',
  version: '1',
  formulation: '"{premise}\\nQuestion: {hypothesis} True or False?\\nAnswer:" -> " True" (entailment) | " False" (not_entailment)',
  norm: false,
  load(dataDir) {
    const { items, file } = loadRte(dataDir);
    return { items, files: [provenance(dataDir, file)], ...completeness(items.length, RTE_VAL_ITEMS, 'the RTE validation set') };
  },
});
