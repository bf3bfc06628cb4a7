// BoolQ (Clark et al. 2019), official dev.jsonl, in the lm-evaluation-harness formulation
// (super_glue/boolq/default.yaml, version 2):
//   prompt:  "{passage}\nQuestion: {question}?\nAnswer:"
//   choices: " no" / " yes"        gold: answer false -> " no", true -> " yes"
// Metric: acc (the harness reports no acc_norm here). Item ids are the 0-based line index.
import { datasetFile, readJsonl } from '../data/files.js';
import { ChoiceItem, choiceTask, completeness } from './choice-scoring.js';
import { provenance, RecordReader } from './dataset-files.js';

export const BOOLQ_FILE = 'boolq/dev.jsonl';
const BOOLQ_DEV_ITEMS = 3270;

export const boolqPrompt = (passage: string, question: string): string => `${passage}\nQuestion: ${question}?\nAnswer:`;

export function loadBoolq(dataDir: string): { items: ChoiceItem[]; file: string } {
  const file = datasetFile(dataDir, BOOLQ_FILE);
  const items = readJsonl(file).map((rec, index): ChoiceItem => {
    const r = RecordReader.of(file, rec);
    const answer = r.value.answer;
    if (typeof answer !== 'boolean') r.fail(`field "answer" must be true or false, got ${JSON.stringify(answer)}`);
    return {
      id: String(index),
      context: boolqPrompt(r.string('passage'), r.string('question')),
      continuations: [' no', ' yes'],
      choices: ['no', 'yes'],
      gold: answer ? 1 : 0,
    };
  });
  return { items, file };
}

export const boolqTask = choiceTask({
  name: 'boolq',
  description: 'BoolQ dev (yes/no questions about a passage), zero-shot, lm-eval formulation; acc',
  version: '1',
  formulation: '"{passage}\\nQuestion: {question}?\\nAnswer:" -> " no" | " yes"',
  norm: false,
  load(dataDir) {
    const { items, file } = loadBoolq(dataDir);
    return { items, files: [provenance(dataDir, file)], ...completeness(items.length, BOOLQ_DEV_ITEMS, 'the BoolQ dev set') };
  },
});
