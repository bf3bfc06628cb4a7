// ARC-Easy and ARC-Challenge (Clark et al. 2018), AI2 ARC-V1-Feb2018 *-Test.jsonl, in the
// lm-evaluation-harness formulation (arc/arc_easy.yaml; arc_challenge includes it):
//   prompt:  "Question: {question.stem}\nAnswer:"
//   choices: " {choice text}" for each choice (3-5 of them)
//   gold:    the position of answerKey among the choice labels ("A"-"E" or "1"-"4")
// Metrics: acc and acc_norm (log-probability over the choice text's length in characters).
// Item ids are the record's id. The AI2 question reader is shared with OpenBookQA.
import { datasetFile, readJsonl } from '../data/files.js';
import { ChoiceItem, choiceTask, completeness } from './choice-scoring.js';
import { provenance, RecordReader } from './dataset-files.js';

export interface Ai2Question {
  id: string;
  stem: string;
  choices: string[];
  /** Index of the answer among the choices. */
  gold: number;
}

/** Records in the AI2 question format: {id, question: {stem, choices: [{text, label}]}, answerKey}. */
export function readAi2Questions(file: string): Ai2Question[] {
  return readJsonl(file).map((rec) => {
    const r = RecordReader.of(file, rec);
    const q = r.object('question');
    const choices = q.array('choices').map((c, i) => {
      if (typeof c !== 'object' || c === null || Array.isArray(c)) return r.fail(`question.choices[${i}] must be an object`);
      const cr = new RecordReader(file, r.line, c as Record<string, unknown>);
      return { text: cr.string('text'), label: cr.string('label') };
    });
    if (choices.length < 2) r.fail(`question.choices must hold at least 2 choices, got ${choices.length}`);
    const key = r.string('answerKey').trim();
    const gold = choices.findIndex((c) => c.label === key);
    if (gold < 0) r.fail(`answerKey "${key}" is none of the choice labels ${choices.map((c) => c.label).join(', ')}`);
    return { id: r.string('id'), stem: q.string('stem'), choices: choices.map((c) => c.text), gold };
  });
}

export const arcPrompt = (question: string): string => `Question: ${question}\nAnswer:`;

export function arcItem(q: Ai2Question): ChoiceItem {
  return { id: q.id, context: arcPrompt(q.stem), continuations: q.choices.map((c) => ` ${c}`), choices: q.choices, gold: q.gold };
}

const ARC = {
  arc_easy: { folder: 'ARC-Easy', title: 'ARC-Easy', testItems: 2376 },
  arc_challenge: { folder: 'ARC-Challenge', title: 'ARC-Challenge', testItems: 1172 },
} as const;

export const arcTestFile = (name: keyof typeof ARC): string => `arc/${ARC[name].folder}/${ARC[name].folder}-Test.jsonl`;

export function loadArc(dataDir: string, name: keyof typeof ARC): { items: ChoiceItem[]; file: string } {
  const file = datasetFile(dataDir, arcTestFile(name));
  return { items: readAi2Questions(file).map(arcItem), file };
}

function arcTask(name: keyof typeof ARC) {
  const { title, testItems } = ARC[name];
  return choiceTask({
    name,
    description: `${title} test (grade-school science questions), zero-shot, lm-eval formulation; acc, acc_norm`,
    version: '1',
    formulation: '"Question: {question}\\nAnswer:" -> " {choice text}" for each choice',
    norm: true,
    load(dataDir) {
      const { items, file } = loadArc(dataDir, name);
      return { items, files: [provenance(dataDir, file)], ...completeness(items.length, testItems, `the ${title} test set`) };
    },
  });
}

export const arcEasyTask = arcTask('arc_easy');
export const arcChallengeTask = arcTask('arc_challenge');
