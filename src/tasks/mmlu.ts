// MMLU (Hendrycks et al. 2021), original release layout mmlu/data/{dev,test}/<subject>_{dev,test}.csv
// (no header: question, A, B, C, D, answer), k-shot (default 5) in the lm-evaluation-harness
// formulation (mmlu/default/_default_template_yaml):
//   header:   "The following are multiple choice questions (with answers) about {subject, _ -> space}.\n\n"
//   example:  "{question.strip()}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\nAnswer:"
//   prompt:   header + (example + " " + answer + "\n\n") for the first k dev questions + example
//   choices:  " A" / " B" / " C" / " D"
// This is the original evaluation's format too, except that it strips the question and writes the
// subject with a single space (the original's format_subject put two spaces after "about").
// CRLF inside quoted fields (one dev question) becomes LF. --limit is per subject: the first N test
// questions of every subject, in file order. --subsets names subjects and/or categories to evaluate. Metrics: accuracy per subject; per category (stem,
// humanities, social_sciences, other — the standard map below) and overall, both micro (over
// questions, `acc`) and macro (mean of subject accuracies, `acc_macro`, with a stratified bootstrap CI).
import { UsageError } from '../core/errors.js';
import { datasetFile, DatasetFormatError, readCsv } from '../data/files.js';
import { applyLimit, choiceMetrics, choiceSampleRecord, ChoiceItem, correctness, scoreChoices, ScoredItem } from './choice-scoring.js';
import { provenance } from './dataset-files.js';
import { macroMeanMetric } from './stats.js';
import { DatasetFile, MetricValue, Task, TaskContext, TaskResult } from './task.js';

export type MmluCategory = 'stem' | 'humanities' | 'social_sciences' | 'other';

/** The 57 subjects and their categories, as in the MMLU paper's categories.py and lm-eval. */
export const MMLU_SUBJECTS: Record<string, MmluCategory> = {
  abstract_algebra: 'stem', anatomy: 'stem', astronomy: 'stem', business_ethics: 'other', clinical_knowledge: 'other',
  college_biology: 'stem', college_chemistry: 'stem', college_computer_science: 'stem', college_mathematics: 'stem',
  college_medicine: 'other', college_physics: 'stem', computer_security: 'stem', conceptual_physics: 'stem',
  econometrics: 'social_sciences', electrical_engineering: 'stem', elementary_mathematics: 'stem', formal_logic: 'humanities',
  global_facts: 'other', high_school_biology: 'stem', high_school_chemistry: 'stem', high_school_computer_science: 'stem',
  high_school_european_history: 'humanities', high_school_geography: 'social_sciences',
  high_school_government_and_politics: 'social_sciences', high_school_macroeconomics: 'social_sciences',
  high_school_mathematics: 'stem', high_school_microeconomics: 'social_sciences', high_school_physics: 'stem',
  high_school_psychology: 'social_sciences', high_school_statistics: 'stem', high_school_us_history: 'humanities',
  high_school_world_history: 'humanities', human_aging: 'other', human_sexuality: 'social_sciences',
  international_law: 'humanities', jurisprudence: 'humanities', logical_fallacies: 'humanities', machine_learning: 'stem',
  management: 'other', marketing: 'other', medical_genetics: 'other', miscellaneous: 'other', moral_disputes: 'humanities',
  moral_scenarios: 'humanities', nutrition: 'other', philosophy: 'humanities', prehistory: 'humanities',
  professional_accounting: 'other', professional_law: 'humanities', professional_medicine: 'other',
  professional_psychology: 'social_sciences', public_relations: 'social_sciences', security_studies: 'social_sciences',
  sociology: 'social_sciences', us_foreign_policy: 'social_sciences', virology: 'other', world_religions: 'humanities',
};

export const MMLU_LETTERS = ['A', 'B', 'C', 'D'] as const;
const MMLU_TEST_ITEMS = 14042;
const MMLU_DEV_ITEMS = 285;
export const MMLU_DEFAULT_SHOTS = 5;

export interface MmluQuestion {
  question: string;
  options: [string, string, string, string];
  /** Index of the answer (0-3). */
  answer: number;
}

/** Parses one MMLU CSV (no header; CRLF or LF; quoted fields may hold line breaks). */
export function parseMmluCsv(file: string): MmluQuestion[] {
  return readCsv(file).map(({ line, value: row }) => {
    if (row.length !== 6) throw new DatasetFormatError(`${file}:${line}: ${row.length} columns; expected 6 (question, A, B, C, D, answer)`);
    const answer = MMLU_LETTERS.indexOf(row[5].trim() as (typeof MMLU_LETTERS)[number]);
    if (answer < 0) throw new DatasetFormatError(`${file}:${line}: answer ${JSON.stringify(row[5])}; expected A, B, C or D`);
    const [question, a, b, c, d] = row.slice(0, 5).map((f) => f.replace(/\r\n/g, '\n'));
    return { question, options: [a, b, c, d], answer };
  });
}

export const mmluHeader = (subject: string): string => `The following are multiple choice questions (with answers) about ${subject.split('_').join(' ')}.\n\n`;

/** One question as lm-eval writes it, ending in "Answer:" (and " X" for a demonstration). */
export function mmluExample(q: MmluQuestion, withAnswer: boolean): string {
  const lines = [q.question.trim(), ...q.options.map((o, i) => `${MMLU_LETTERS[i]}. ${o}`), 'Answer:'];
  return lines.join('\n') + (withAnswer ? ` ${MMLU_LETTERS[q.answer]}` : '');
}

/** The k-shot prompt: header, the demonstrations each followed by a blank line, the question. */
export function mmluPrompt(subject: string, demonstrations: MmluQuestion[], q: MmluQuestion): string {
  return mmluHeader(subject) + demonstrations.map((d) => `${mmluExample(d, true)}\n\n`).join('') + mmluExample(q, false);
}

export const mmluFile = (split: 'dev' | 'test', subject: string): string => `mmlu/data/${split}/${subject}_${split}.csv`;

export interface MmluSubjectData {
  subject: string;
  dev: MmluQuestion[];
  test: MmluQuestion[];
  files: { dev: string; test: string };
}

/**
 * The subjects named by --subsets: subject names and category names (stem, humanities,
 * social_sciences, other), case-insensitive, in the standard subject order; all 57 when none.
 */
export function selectMmluSubjects(requested: string[] | undefined): string[] {
  const all = Object.keys(MMLU_SUBJECTS);
  if (!requested || requested.length === 0) return all;
  const chosen = new Set<string>();
  for (const raw of requested) {
    const name = raw.trim().toLowerCase().replace(/[ -]/g, '_');
    const bySubject = all.filter((s) => s === name), byCategory = all.filter((s) => MMLU_SUBJECTS[s] === name);
    if (bySubject.length + byCategory.length === 0) {
      throw new UsageError(`unknown MMLU subject or category "${raw}"; categories: stem, humanities, social_sciences, other; subjects: ${all.join(', ')}`);
    }
    for (const s of [...bySubject, ...byCategory]) chosen.add(s);
  }
  return all.filter((s) => chosen.has(s));
}

/** Reads the dev and test file of each subject; a missing file is an error naming it and how to get MMLU. */
export function loadMmlu(dataDir: string, subjects: string[] = Object.keys(MMLU_SUBJECTS)): MmluSubjectData[] {
  return subjects.map((subject) => {
    const dev = datasetFile(dataDir, mmluFile('dev', subject)), test = datasetFile(dataDir, mmluFile('test', subject));
    return { subject, dev: parseMmluCsv(dev), test: parseMmluCsv(test), files: { dev, test } };
  });
}

/** The scored items of one subject: its first `limit` test questions, each after the first k dev questions. */
export function mmluItems(data: MmluSubjectData, shots: number, limit: number | undefined): ChoiceItem[] {
  if (shots > data.dev.length) throw new UsageError(`--shots ${shots} exceeds the ${data.dev.length} dev questions of MMLU ${data.subject}; use --shots ${data.dev.length} or fewer`);
  const demonstrations = data.dev.slice(0, shots);
  return applyLimit(data.test, limit).map((q, row) => ({
    id: `${data.subject}/${row}`,
    context: mmluPrompt(data.subject, demonstrations, q),
    continuations: MMLU_LETTERS.map((l) => ` ${l}`),
    choices: [...MMLU_LETTERS],
    gold: q.answer,
    groups: { subject: data.subject, category: MMLU_SUBJECTS[data.subject] },
  }));
}

/** acc (micro, over questions) and acc_macro (mean over subjects) for a set of scored items. */
export function mmluAggregate(scored: ScoredItem[], seed: number): Record<string, MetricValue> {
  const bySubject = new Map<string, (number | null)[]>();
  for (const s of scored) {
    const subject = s.item.groups?.subject ?? '';
    const list = bySubject.get(subject) ?? [];
    bySubject.set(subject, list);
    list.push(correctness(s));
  }
  return { acc: choiceMetrics(scored, seed, false).acc, acc_macro: macroMeanMetric([...bySubject.values()], seed) };
}

export const mmluTask: Task = {
  name: 'mmlu',
  description: 'MMLU test (57 subjects), k-shot (default 5) with the subject\'s dev questions, lm-eval formulation; accuracy per subject, category, micro and macro',
  async run(ctx: TaskContext): Promise<TaskResult> {
    const shots = ctx.shots ?? MMLU_DEFAULT_SHOTS;
    if (!Number.isInteger(shots) || shots < 0) throw new UsageError(`--shots must be a non-negative integer, got ${shots}`);
    const subjects = loadMmlu(ctx.dataDir, selectMmluSubjects(ctx.subsets));
    const items = subjects.flatMap((d) => mmluItems(d, shots, ctx.limit));
    const scored = await scoreChoices(ctx.backend, items, (p) => ctx.onProgress?.({ task: 'mmlu', ...p }));

    const groups: TaskResult['groups'] = { subject: {}, category: {} };
    for (const { subject } of subjects) groups.subject[subject] = { acc: choiceMetrics(scored.filter((s) => s.item.groups?.subject === subject), ctx.seed, false).acc };
    for (const category of ['stem', 'humanities', 'social_sciences', 'other'] as const) {
      const inCategory = scored.filter((s) => s.item.groups?.category === category);
      if (inCategory.length > 0) groups.category[category] = mmluAggregate(inCategory, ctx.seed);
    }
    const testRows = subjects.reduce((a, d) => a + d.test.length, 0), devRows = subjects.reduce((a, d) => a + d.dev.length, 0);
    const complete = testRows === MMLU_TEST_ITEMS && devRows === MMLU_DEV_ITEMS;
    const files: DatasetFile[] = subjects.flatMap((d) => [provenance(ctx.dataDir, d.files.dev), provenance(ctx.dataDir, d.files.test)]);
    return {
      task: 'mmlu',
      version: '1',
      config: {
        shots, limit_per_subject: ctx.limit ?? null, items: items.length, subjects: subjects.map((d) => d.subject), seed: ctx.seed,
        formulation: 'lm-eval default: header "The following are multiple choice questions (with answers) about {subject}.\\n\\n", ' +
          'k dev demonstrations "{question}\\nA. ..\\nB. ..\\nC. ..\\nD. ..\\nAnswer: X\\n\\n", then the question ending "Answer:" -> " A" | " B" | " C" | " D"',
      },
      dataset: {
        files, complete,
        ...(complete ? {} : { note: `${subjects.length} of 57 subjects: ${testRows} of ${MMLU_TEST_ITEMS} test and ${devRows} of ${MMLU_DEV_ITEMS} dev questions` }),
      },
      metrics: mmluAggregate(scored, ctx.seed),
      groups,
      samples: scored.map((s) => choiceSampleRecord(s, false)),
    };
  },
};
