// WinoGrande 1.1 dev (Sakaguchi et al. 2020), dev.jsonl (+ dev-labels.lst), with the partial
// evaluation of lm-evaluation-harness (winogrande/preprocess_winogrande.py): for each option the
// context is the sentence up to the blank with the option substituted, and what is scored is the
// same continuation after the blank:
//   contexts:     sentence[:i] + option1,  sentence[:i] + option2        (i = index of "_")
//   continuation: " " + sentence[i+1:].strip()
//   gold:         answer "1" -> option1, "2" -> option2
// The answer comes from the record's "answer" field or, when absent, from dev-labels.lst (line n
// labels record n); when both exist they must agree. Metric: acc. Item ids are the qID.
import fs from 'node:fs';
import path from 'node:path';
import { datasetFile, DatasetFormatError, readJsonl } from '../data/files.js';
import { ChoiceItem, choiceTask, completeness } from './choice-scoring.js';
import { provenance, RecordReader } from './dataset-files.js';
import { DatasetFile } from './task.js';

export const WINOGRANDE_FILE = 'winogrande/winogrande_1.1/dev.jsonl';
const WINOGRANDE_DEV_ITEMS = 1267;

/** The partial-evaluation requests for one sentence: a context per option and the shared continuation. */
export function winograndeRequests(sentence: string, options: [string, string]): { contexts: string[]; continuation: string } {
  const blank = sentence.indexOf('_');
  if (blank < 0) throw new Error('the sentence has no "_" blank');
  return { contexts: options.map((o) => sentence.slice(0, blank) + o), continuation: ` ${sentence.slice(blank + 1).trim()}` };
}

function readLabels(file: string): string[] | undefined {
  if (!fs.existsSync(file)) return undefined;
  return fs.readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '');
}

export function loadWinogrande(dataDir: string): { items: ChoiceItem[]; files: DatasetFile[] } {
  const file = datasetFile(dataDir, WINOGRANDE_FILE);
  const labelsFile = path.join(path.dirname(file), 'dev-labels.lst');
  const labels = readLabels(labelsFile);
  const records = readJsonl(file);
  if (labels && labels.length !== records.length) throw new DatasetFormatError(`${labelsFile} has ${labels.length} labels for the ${records.length} records of ${file}`);
  const items = records.map((rec, index): ChoiceItem => {
    const r = RecordReader.of(file, rec);
    const inline = r.has('answer') ? r.string('answer') : undefined;
    const answer = inline ?? labels?.[index];
    if (answer === undefined) r.fail(`no "answer" field and no ${labelsFile}`);
    if (inline !== undefined && labels && labels[index] !== inline) r.fail(`"answer" ${inline} disagrees with line ${index + 1} of ${labelsFile} (${labels[index]})`);
    if (answer !== '1' && answer !== '2') r.fail(`the answer must be "1" or "2", got ${JSON.stringify(answer)}`);
    const options: [string, string] = [r.string('option1'), r.string('option2')];
    const sentence = r.string('sentence');
    if (!sentence.includes('_')) r.fail('field "sentence" has no "_" blank');
    const { contexts, continuation } = winograndeRequests(sentence, options);
    return { id: r.has('qID') ? r.string('qID') : String(index), context: contexts, continuations: [continuation, continuation], choices: options, gold: answer === '1' ? 0 : 1 };
  });
  const files = [provenance(dataDir, file)];
  if (labels) files.push(provenance(dataDir, labelsFile));
  return { items, files };
}

export const winograndeTask = choiceTask({
  name: 'winogrande',
  description: 'WinoGrande 1.1 dev (pronoun resolution), zero-shot partial evaluation, lm-eval formulation; acc',
  version: '1',
  formulation: 'context sentence[:blank] + option (one per option) -> " " + sentence[blank+1:].strip()',
  norm: false,
  load(dataDir) {
    const { items, files } = loadWinogrande(dataDir);
    return { items, files, ...completeness(items.length, WINOGRANDE_DEV_ITEMS, 'the WinoGrande 1.1 dev set') };
  },
});
