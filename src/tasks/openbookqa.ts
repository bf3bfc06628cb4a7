// OpenBookQA (Mihaylov et al. 2018), official Main/test.jsonl, in the lm-evaluation-harness
// formulation (openbookqa/openbookqa.yaml): the prompt is the question stem alone (no "Question:"
// prefix, no trailing "Answer:"), each choice is scored as " {choice text}", gold is the position of
// answerKey among the labels. Metrics: acc and acc_norm (log-probability over the choice text's
// length in characters). Item ids are the record's id.
import { datasetFile } from '../data/files.js';
import { arcItem, readAi2Questions } from './arc.js';
import { ChoiceItem, choiceTask, completeness } from './choice-scoring.js';
import { provenance } from './dataset-files.js';

export const OPENBOOKQA_FILE = 'openbookqa/Main/test.jsonl';
const OPENBOOKQA_TEST_ITEMS = 500;

export function loadOpenbookqa(dataDir: string): { items: ChoiceItem[]; file: string } {
  const file = datasetFile(dataDir, OPENBOOKQA_FILE);
  const items = readAi2Questions(file).map((q) => ({ ...arcItem(q), context: q.stem }));
  return { items, file };
}

export const openbookqaTask = choiceTask({
  name: 'openbookqa',
  description: 'OpenBookQA main test (elementary science), zero-shot, lm-eval formulation; acc, acc_norm',
  version: '1',
  formulation: '"{question_stem}" -> " {choice text}" for each choice',
  norm: true,
  load(dataDir) {
    const { items, file } = loadOpenbookqa(dataDir);
    return { items, files: [provenance(dataDir, file)], ...completeness(items.length, OPENBOOKQA_TEST_ITEMS, 'the OpenBookQA test set') };
  },
});
