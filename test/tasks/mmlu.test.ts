// MMLU: the CSV parser on the real release files, the lm-eval prompt on real questions, the
// per-subject / per-category / micro / macro metrics against a scripted backend worked by hand,
// and a run on the fixture model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NativeBackend } from '../../src/backends/native.js';
import { loadModelFromDir } from '../../src/model/load.js';
import {
  loadMmlu, MMLU_SUBJECTS, mmluHeader, mmluItems, mmluPrompt, mmluTask, parseMmluCsv, selectMmluSubjects,
} from '../../src/tasks/mmlu.js';
import { TASKS } from '../../src/tasks/registry.js';
import { shared } from '../helpers/fixtures.js';
import { ScriptedBackend } from '../helpers/scripted-backend.js';

const dataDir = shared('data');
const csv = (split: 'dev' | 'test', subject: string): string => shared('data', 'mmlu', 'data', split, `${subject}_${split}.csv`);

test('the parser reads every release file as CSV: 14,042 test and 285 dev questions', () => {
  const subjects = loadMmlu(dataDir);
  assert.equal(subjects.length, 57);
  assert.equal(subjects.reduce((a, s) => a + s.test.length, 0), 14042);
  assert.equal(subjects.reduce((a, s) => a + s.dev.length, 0), 285);
  for (const s of subjects) assert.equal(s.dev.length, 5, s.subject);
  const counts = Object.values(MMLU_SUBJECTS).reduce<Record<string, number>>((a, c) => ({ ...a, [c]: (a[c] ?? 0) + 1 }), {});
  assert.deepEqual(counts, { stem: 19, other: 13, social_sciences: 12, humanities: 13 });
});

test('CRLF files with line breaks inside quoted fields', () => {
  // nutrition_test.csv is CRLF and every question ends in a quoted line break: 306 rows, 614 lines.
  const nutrition = parseMmluCsv(csv('test', 'nutrition'));
  assert.equal(nutrition.length, 306);
  assert.equal(nutrition[0].question, 'Which foods tend to be consumed in lower quantities in Wales and Scotland (as of 2020)?\n');
  assert.deepEqual(nutrition[0].options, ['Meat', 'Confectionary', 'Fruits and vegetables', 'Potatoes']);
  assert.equal(nutrition[0].answer, 2);
  assert.equal(nutrition[305].answer, 3);
  assert.equal(parseMmluCsv(csv('test', 'elementary_mathematics')).length, 378);
  assert.equal(parseMmluCsv(csv('test', 'professional_accounting')).length, 282);
  // The one field holding CRLF comes out with LF.
  const q = parseMmluCsv(csv('dev', 'college_mathematics'))[2].question;
  assert.equal(q, 'Let A be a real 2x2 matrix. Which of the following statements must be true?\nI. All of the entries of A^2 are nonnegative.\n' +
    'II. The determinant of A^2 is nonnegative.\nIII. If A has two distinct eigenvalues, then A^2 has two distinct eigenvalues.');
});

test('prompts: lm-eval header, k dev demonstrations, the question ending in "Answer:"', () => {
  const [algebra, nutrition] = loadMmlu(dataDir, ['abstract_algebra', 'nutrition']);
  const item = mmluItems(algebra, 5, 1)[0];
  assert.equal(item.context,
    'The following are multiple choice questions (with answers) about abstract algebra.\n\n' +
    'Find all c in Z_3 such that Z_3[x]/(x^2 + c) is a field.\nA. 0\nB. 1\nC. 2\nD. 3\nAnswer: B\n\n' +
    'Statement 1 | If aH is an element of a factor group, then |aH| divides |a|. Statement 2 | If H and K are subgroups of G then HK is a subgroup of G.\nA. True, True\nB. False, False\nC. True, False\nD. False, True\nAnswer: B\n\n' +
    'Statement 1 | Every element of a group generates a cyclic subgroup of the group. Statement 2 | The symmetric group S_10 has 10 elements.\nA. True, True\nB. False, False\nC. True, False\nD. False, True\nAnswer: C\n\n' +
    'Statement 1| Every function from a finite set onto itself must be one to one. Statement 2 | Every subgroup of an abelian group is abelian.\nA. True, True\nB. False, False\nC. True, False\nD. False, True\nAnswer: A\n\n' +
    'Find the characteristic of the ring 2Z.\nA. 0\nB. 3\nC. 12\nD. 30\nAnswer: A\n\n' +
    'Find the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18)) over Q.\nA. 0\nB. 4\nC. 2\nD. 6\nAnswer:');
  assert.deepEqual(item.continuations, [' A', ' B', ' C', ' D']);
  assert.equal(item.gold, 1);
  assert.equal(item.id, 'abstract_algebra/0');
  assert.deepEqual(item.groups, { subject: 'abstract_algebra', category: 'stem' });
  // Zero-shot; the question's trailing line break is stripped as lm-eval does.
  assert.equal(mmluItems(nutrition, 0, 1)[0].context,
    'The following are multiple choice questions (with answers) about nutrition.\n\n' +
    'Which foods tend to be consumed in lower quantities in Wales and Scotland (as of 2020)?\nA. Meat\nB. Confectionary\nC. Fruits and vegetables\nD. Potatoes\nAnswer:');
  assert.equal(mmluHeader('high_school_government_and_politics'),
    'The following are multiple choice questions (with answers) about high school government and politics.\n\n');
  // One demonstration: the first dev question with its answer, a blank line, then the question.
  const one = mmluPrompt('nutrition', nutrition.dev.slice(0, 1), nutrition.test[0]);
  assert.ok(one.startsWith(`${mmluHeader('nutrition')}${nutrition.dev[0].question.trim()}\nA. `));
  assert.equal(one.split('\nAnswer: ').length, 2);
  assert.throws(() => mmluItems(nutrition, 6, 1), /--shots 6 exceeds the 5 dev questions of MMLU nutrition/);
});

test('--subsets picks subjects and categories; unknown names are usage errors', () => {
  assert.equal(selectMmluSubjects(undefined).length, 57);
  assert.equal(selectMmluSubjects(['STEM']).length, 19);
  assert.deepEqual(selectMmluSubjects(['sociology', 'abstract algebra']), ['abstract_algebra', 'sociology']);
  assert.throws(() => selectMmluSubjects(['astrology']), /unknown MMLU subject or category "astrology"/);
});

test('metrics against a scripted backend: per subject, per category, micro and macro, failures counted', async () => {
  // Golds of the first 4 test questions: abstract_algebra B C D B, philosophy C D D D,
  // sociology C A B D. The backend always prefers " D" and fails every request of sociology/1.
  const failing = parseMmluCsv(csv('test', 'sociology'))[1].question.trim();
  const backend = new ScriptedBackend((r) => (r.context.includes(failing) ? 'scripted failure' : r.continuation === ' D' ? -1 : -2));
  const res = await TASKS.mmlu.run({ backend, dataDir, seed: 7, limit: 4, shots: 0, subsets: ['abstract_algebra', 'philosophy', 'sociology'] });
  assert.equal(backend.requests.length, 48);
  // Correct: abstract_algebra 1 of 4, philosophy 3 of 4, sociology 1 of 3 scored (C, B wrong; D right).
  assert.equal(res.metrics.acc.value, 5 / 11);
  assert.equal(res.metrics.acc.n_scored, 11);
  assert.equal(res.metrics.acc.n_failed, 1);
  assert.ok(Math.abs(res.metrics.acc_macro.value! - (1 / 4 + 3 / 4 + 1 / 3) / 3) < 1e-12);
  assert.equal(res.metrics.acc_macro.n_failed, 1);
  assert.deepEqual(Object.keys(res.groups.subject), ['abstract_algebra', 'philosophy', 'sociology']);
  assert.equal(res.groups.subject.abstract_algebra.acc.value, 0.25);
  assert.equal(res.groups.subject.philosophy.acc.value, 0.75);
  assert.equal(res.groups.subject.sociology.acc.value, 1 / 3);
  assert.deepEqual(Object.keys(res.groups.category), ['stem', 'humanities', 'social_sciences']);
  assert.equal(res.groups.category.stem.acc.value, 0.25);
  assert.equal(res.groups.category.humanities.acc_macro.value, 0.75);
  assert.equal(res.groups.category.social_sciences.acc.n_failed, 1);
  const ci = res.metrics.acc.ci!;
  assert.ok(ci[0] <= 5 / 11 && 5 / 11 <= ci[1]);
  const failed = res.samples.find((s) => s.id === 'sociology/1')!;
  assert.equal(failed.chosen, null);
  assert.equal(failed.logprobs, null);
  assert.match(String(failed.error), /scripted failure/);
  const first = res.samples[0];
  assert.deepEqual(first.logprobs, [-2, -2, -2, -1]);
  assert.equal(first.chosen, 3);
  assert.equal(first.gold, 1);
  assert.equal(first.correct, false);
  assert.equal(res.config.shots, 0);
  assert.equal(res.dataset.complete, false);
  assert.equal(res.dataset.files.length, 6);
  assert.match(res.dataset.files[0].sha256, /^[0-9a-f]{64}$/);
  // The same seed gives the same CIs.
  const again = await mmluTask.run({ backend, dataDir, seed: 7, limit: 4, shots: 0, subsets: ['abstract_algebra', 'philosophy', 'sociology'] });
  assert.deepEqual(again.metrics, res.metrics);
});

test('end to end on the fixture model: 5-shot, one question per subject', async () => {
  const backend = new NativeBackend(loadModelFromDir(shared('models', 'babyllama-tok105')), 'babyllama-tok105');
  let progress = 0;
  const res = await TASKS.mmlu.run({ backend, dataDir, seed: 1, limit: 1, onProgress: (p) => { progress = p.done; assert.equal(p.task, 'mmlu'); } });
  assert.equal(progress, 57 * 4);
  assert.equal(res.config.shots, 5);
  assert.equal(res.samples.length, 57);
  assert.equal(res.metrics.acc.n_scored + res.metrics.acc.n_failed, 57);
  assert.equal(res.metrics.acc.n_failed, 0);
  assert.equal(Object.keys(res.groups.subject).length, 57);
  assert.deepEqual(Object.fromEntries(Object.entries(res.groups.category).map(([c, m]) => [c, m.acc.n_scored])), { stem: 19, humanities: 13, social_sciences: 12, other: 13 });
  const correct = res.samples.map((s) => (s.correct ? 1 : 0) as number);
  assert.equal(res.metrics.acc.value, correct.reduce((a, b) => a + b, 0) / 57);
  // One question per subject: the macro mean equals the micro mean.
  assert.ok(Math.abs(res.metrics.acc_macro.value! - res.metrics.acc.value!) < 1e-12);
  for (const s of res.samples) {
    const lps = s.logprobs as number[];
    assert.equal(lps.length, 4);
    for (const lp of lps) assert.ok(Number.isFinite(lp) && lp < 0);
    assert.equal(s.chosen, lps.indexOf(Math.max(...lps)));
    assert.match(String(s.prompt), /^The following are multiple choice questions \(with answers\) about [a-z ]+\.\n\n[\s\S]*\nAnswer:$/);
  }
  assert.equal(res.dataset.complete, true);
  assert.equal(res.dataset.files.length, 114);
});
