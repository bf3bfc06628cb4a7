// The zero-shot suite: each task's lm-eval prompt pinned on real items, acc / acc_norm / suite means
// against scripted backends worked out independently from the raw files, HellaSwag from records
// written here in the official format, malformed data, and a run on the fixture model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { NativeBackend } from '../../src/backends/native.js';
import { DatasetMissingError } from '../../src/data/files.js';
import { loadModelFromDir } from '../../src/model/load.js';
import { loadArc } from '../../src/tasks/arc.js';
import { loadBoolq } from '../../src/tasks/boolq.js';
import { choiceLength } from '../../src/tasks/choice-scoring.js';
import { hellaswagPreprocess, loadHellaswag, pyCapitalize } from '../../src/tasks/hellaswag.js';
import { loadOpenbookqa } from '../../src/tasks/openbookqa.js';
import { TASKS } from '../../src/tasks/registry.js';
import { loadRte } from '../../src/tasks/rte.js';
import { loadWinogrande } from '../../src/tasks/winogrande.js';
import { shared, tempDir } from '../helpers/fixtures.js';
import { ScriptedBackend } from '../helpers/scripted-backend.js';

const dataDir = shared('data');

/** A data directory holding only the given files (relative path -> content). */
function dataDirWith(files: Record<string, string>): string {
  const dir = tempDir('compsafe-zeroshot-');
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
  return dir;
}
const jsonl = (records: unknown[]): string => records.map((r) => JSON.stringify(r)).join('\n') + '\n';

// Three records in the official hellaswag_val.jsonl format: an ActivityNet one (verbatim from the
// release), a WikiHow-style one with [header]/[title]/[step] markup and a string label (as the HF
// packaging writes it), and one with only `ctx` whose second ending the scripted backend fails.
const HELLASWAG = [
  {
    ind: 24, activity_label: 'Roof shingle removal', ctx_a: 'A man is sitting on a roof.', ctx_b: 'he', ctx: 'A man is sitting on a roof. he',
    split: 'val', split_type: 'indomain', label: 3, source_id: 'activitynet~v_-JhWjGDPHMY',
    endings: ['is using wrap to wrap a pair of skis.', 'is ripping level tiles off.', "is holding a rubik's cube.", 'starts pulling up roofing on a roof.'],
  },
  {
    ind: 7, activity_label: 'Home and Garden', ctx_a: '[header] How to make tea [title] Boil the water.', ctx_b: '[step] Fill a KETTLE with  cold water',
    ctx: '[header] How to make tea [title] Boil the water. [step] Fill a KETTLE with  cold water', split: 'val', split_type: 'zeroshot', label: '0',
    source_id: 'wikihow~1', endings: ['[substeps] Let it steep for three minutes.', 'Pour the water [title] into a cup.', '  Drink it   quickly.  ', 'Throw the kettle away.'],
  },
  { ind: 9, activity_label: 'Running', ctx: 'A woman runs along a track.', label: 0, endings: ['She crosses the line.', 'FAIL', 'She sings.', 'She sleeps.'] },
];

test('prompts: BoolQ, RTE, WinoGrande, ARC, OpenBookQA on real items', () => {
  const boolq = loadBoolq(dataDir).items;
  assert.equal(boolq.length, 3270);
  assert.equal(boolq[8].context, "Persons driving into Canada must have their vehicle's registration document and proof of insurance.\nQuestion: can u drive in canada with us license?\nAnswer:");
  assert.deepEqual(boolq[8].continuations, [' no', ' yes']);
  assert.equal(boolq[8].gold, 1);
  assert.equal(boolq[0].gold, 0);

  const rte = loadRte(dataDir).items;
  assert.equal(rte.length, 277);
  assert.equal(rte[0].context, 'Dana Reeve, the widow of the actor Christopher Reeve, has died of lung cancer at age 44, according to the Christopher Reeve Foundation.\nQuestion: Christopher Reeve had an accident. True or False?\nAnswer:');
  assert.deepEqual(rte[0].continuations, [' True', ' False']);
  assert.equal(rte[0].gold, 1); // not_entailment -> " False"
  assert.equal(rte[1].gold, 0); // entailment -> " True"

  const wino = loadWinogrande(dataDir).items;
  assert.equal(wino.length, 1267);
  assert.deepEqual(wino[0].context, ['Sarah was a much better surgeon than Maria so Sarah', 'Sarah was a much better surgeon than Maria so Maria']);
  assert.deepEqual(wino[0].continuations, [' always got the easier cases.', ' always got the easier cases.']);
  assert.equal(wino[0].gold, 1);
  assert.equal(wino[1].gold, 0);
  assert.equal(wino[0].id, '3FCO4VKOZ4BJQ6IFC0VAIBK4KTWE7U-2');

  const easy = loadArc(dataDir, 'arc_easy').items;
  assert.equal(easy.length, 2376);
  assert.equal(easy[0].context, 'Question: Which statement best explains why photosynthesis is the foundation of most food webs?\nAnswer:');
  assert.equal(easy[0].continuations[0], ' Sunlight is the source of energy for nearly all ecosystems.');
  assert.equal(easy[0].gold, 0);
  assert.deepEqual(easy[500].continuations, [' nitrogen', ' oxygen', ' carbon dioxide', ' hydrogen', ' water vapor']); // five choices, A-E
  assert.equal(easy[500].gold, 1);
  assert.deepEqual(easy[93].choices, ['decrease', 'increase', 'remain the same']); // three choices
  const challenge = loadArc(dataDir, 'arc_challenge').items;
  assert.equal(challenge.length, 1172);
  assert.equal(challenge[44].id, 'NYSEDREGENTS_2008_8_34'); // labels "1"-"4", answerKey "2"
  assert.equal(challenge[44].context, 'Question: Which statement best describes the energy changes that occur while a child is riding on a sled down a steep, snow-covered hill?\nAnswer:');
  assert.equal(challenge[44].gold, 1);

  const obqa = loadOpenbookqa(dataDir).items;
  assert.equal(obqa.length, 500);
  assert.equal(obqa[1].context, 'There is most likely going to be fog around:');
  assert.deepEqual(obqa[1].continuations, [' a marsh', ' a tundra', ' the plains', ' a desert']);
  assert.equal(obqa[1].gold, 0);
});

test('HellaSwag: the official format, preprocessing and capitalisation as the harness does them', () => {
  assert.equal(pyCapitalize('he'), 'He');
  assert.equal(pyCapitalize('[step] Fill a KETTLE'), '[step] fill a kettle');
  assert.equal(hellaswagPreprocess('  Drink it   quickly.  '), 'Drink it  quickly.'); // one pass of "  " -> " "
  const dir = dataDirWith({ 'hellaswag/hellaswag_val.jsonl': jsonl(HELLASWAG) });
  const items = loadHellaswag(dir).items;
  assert.equal(items[0].context, 'Roof shingle removal: A man is sitting on a roof. He');
  assert.deepEqual(items[0].continuations, [' is using wrap to wrap a pair of skis.', ' is ripping level tiles off.', " is holding a rubik's cube.", ' starts pulling up roofing on a roof.']);
  assert.equal(items[0].gold, 3);
  assert.equal(items[0].id, '24');
  assert.equal(items[1].context, 'Home and Garden: How to make tea. Boil the water. fill a kettle with cold water');
  assert.deepEqual(items[1].choices, [' Let it steep for three minutes.', 'Pour the water. into a cup.', 'Drink it  quickly.', 'Throw the kettle away.']);
  assert.equal(items[1].continuations[0], '  Let it steep for three minutes.');
  assert.equal(items[1].gold, 0);
  assert.equal(items[2].context, 'Running: A woman runs along a track.');
});

test('HellaSwag metrics: acc and acc_norm by hand, a failed request counted and excluded', async () => {
  const dir = dataDirWith({ 'hellaswag/hellaswag_val.jsonl': jsonl(HELLASWAG) });
  const table: Record<string, number> = {
    ' is using wrap to wrap a pair of skis.': -10, ' is ripping level tiles off.': -6, " is holding a rubik's cube.": -7, ' starts pulling up roofing on a roof.': -7.5,
    '  Let it steep for three minutes.': -3,
  };
  const backend = new ScriptedBackend((r) => (r.continuation === ' FAIL' ? 'scripted failure' : table[r.continuation] ?? -5));
  const res = await TASKS.hellaswag.run({ backend, dataDir: dir, seed: 3 });
  // Roof (gold 3): acc picks -6 (ending 1, wrong); per character -10/37, -6/27, -7/26, -7.5/36 ->
  // ending 3 (right). Tea (gold 0): -3 beats -5 summed and per character (32 vs 27, 18, 22 chars).
  assert.equal(res.metrics.acc.value, 0.5);
  assert.equal(res.metrics.acc_norm.value, 1);
  assert.equal(res.metrics.acc.n_scored, 2);
  assert.equal(res.metrics.acc.n_failed, 1);
  assert.equal(res.metrics.acc_norm.n_failed, 1);
  assert.deepEqual(res.samples.map((s) => [s.chosen, s.chosen_norm, s.gold]), [[1, 3, 3], [0, 0, 0], [null, null, 0]]);
  assert.match(String(res.samples[2].error), /choice 1: scripted failure/);
  assert.equal(res.dataset.complete, false);
  assert.equal(res.dataset.files[0].path, 'hellaswag/hellaswag_val.jsonl');
});

test('the suite against a constant backend: acc = first choice, acc_norm = longest choice, means by hand', async () => {
  // Every continuation scores -1: acc takes the first choice (ties go first), acc_norm the choice
  // with the most characters. The expected values come from the raw files, read here directly.
  const backend = new ScriptedBackend(() => -1);
  const limit = 40;
  const raw = (rel: string): Record<string, any>[] => fs.readFileSync(path.join(dataDir, rel), 'utf8').split('\n').filter((l) => l.trim()).slice(0, limit).map((l) => JSON.parse(l));
  const frac = (xs: boolean[]): number => xs.filter(Boolean).length / xs.length;
  const longest = (texts: string[]): number => texts.reduce((best, t, i) => (choiceLength(t) > choiceLength(texts[best]) ? i : best), 0);
  const ai2 = (rel: string) => {
    const rs = raw(rel);
    const gold = (r: Record<string, any>): number => r.question.choices.findIndex((c: { label: string }) => c.label === r.answerKey.trim());
    return {
      acc: frac(rs.map((r) => gold(r) === 0)),
      acc_norm: frac(rs.map((r) => gold(r) === longest(r.question.choices.map((c: { text: string }) => c.text)))),
    };
  };
  const expected: Record<string, { acc: number; acc_norm?: number }> = {
    boolq: { acc: frac(raw('boolq/dev.jsonl').map((r) => r.answer === false)) },
    rte: { acc: frac(raw('rte/val.jsonl').map((r) => r.label === 'entailment')) },
    winogrande: { acc: frac(raw('winogrande/winogrande_1.1/dev.jsonl').map((r) => r.answer === '1')) },
    arc_easy: ai2('arc/ARC-Easy/ARC-Easy-Test.jsonl'),
    arc_challenge: ai2('arc/ARC-Challenge/ARC-Challenge-Test.jsonl'),
    openbookqa: ai2('openbookqa/Main/test.jsonl'),
  };
  const res = await TASKS.zeroshot.run({ backend, dataDir, seed: 11, limit });
  assert.deepEqual(res.config.tasks, ['boolq', 'rte', 'winogrande', 'arc_easy', 'arc_challenge', 'openbookqa']);
  assert.deepEqual(res.config.missing, ['hellaswag']);
  assert.equal(res.dataset.complete, false);
  assert.match(String(res.dataset.note), /missing \(left out of the means\): hellaswag/);
  for (const [task, want] of Object.entries(expected)) {
    const got = res.groups.task[task];
    assert.ok(Math.abs(got.acc.value! - want.acc) < 1e-12, `${task} acc ${got.acc.value} != ${want.acc}`);
    assert.equal(got.acc.n_scored, limit);
    if (want.acc_norm === undefined) assert.equal(got.acc_norm, undefined, task);
    else assert.ok(Math.abs(got.acc_norm.value! - want.acc_norm) < 1e-12, `${task} acc_norm ${got.acc_norm.value} != ${want.acc_norm}`);
  }
  const tasks = Object.values(expected);
  assert.ok(Math.abs(res.metrics.mean_acc.value! - tasks.reduce((a, t) => a + t.acc, 0) / 6) < 1e-12);
  assert.ok(Math.abs(res.metrics.mean_acc_norm.value! - tasks.reduce((a, t) => a + (t.acc_norm ?? t.acc), 0) / 6) < 1e-12);
  assert.equal(res.metrics.mean_acc.n_scored, 6 * limit);
  const ci = res.metrics.mean_acc.ci!;
  assert.ok(ci[0] <= res.metrics.mean_acc.value! && res.metrics.mean_acc.value! <= ci[1]);
  assert.equal(res.samples.length, 6 * limit);
  assert.equal(res.samples[0].id, 'boolq/0');
  assert.equal(res.samples[0].task, 'boolq');
  // --subsets picks tasks; a named task whose data is missing is an error, not a silent skip.
  const two = await TASKS.zeroshot.run({ backend, dataDir, seed: 11, limit: 5, subsets: ['RTE', 'openbookqa'] });
  assert.deepEqual(two.config.tasks, ['rte', 'openbookqa']);
  await assert.rejects(TASKS.zeroshot.run({ backend, dataDir, seed: 11, limit: 5, subsets: ['hellaswag'] }), DatasetMissingError);
  await assert.rejects(TASKS.zeroshot.run({ backend, dataDir, seed: 11, subsets: ['piqa'] }), /unknown task "piqa" of the zero-shot suite/);
});

test('malformed and missing data: errors name the file, line and field', async () => {
  const backend = new ScriptedBackend(() => -1);
  const boolq = dataDirWith({ 'boolq/dev.jsonl': jsonl([{ question: 'q', passage: 'p', answer: true }, { question: 'q', passage: 'p', answer: 'maybe' }]) });
  await assert.rejects(TASKS.boolq.run({ backend, dataDir: boolq, seed: 0 }), /boolq\/dev\.jsonl:2: field "answer" must be true or false/);
  const arc = dataDirWith({ 'arc/ARC-Easy/ARC-Easy-Test.jsonl': jsonl([{ id: 'x', question: { stem: 's', choices: [{ text: 'a', label: 'A' }, { text: 'b', label: 'B' }] }, answerKey: 'F' }]) });
  await assert.rejects(TASKS.arc_easy.run({ backend, dataDir: arc, seed: 0 }), /ARC-Easy-Test\.jsonl:1: answerKey "F" is none of the choice labels A, B/);
  const rte = dataDirWith({ 'rte/val.jsonl': '{"premise": "p", "hypothesis": "h", "label": "entailment"}\n{"premise": "p",\n' });
  await assert.rejects(TASKS.rte.run({ backend, dataDir: rte, seed: 0 }), /rte\/val\.jsonl:2: not valid JSON/);
  const wino = dataDirWith({
    'winogrande/winogrande_1.1/dev.jsonl': jsonl([{ qID: 'a', sentence: 'A _ b.', option1: 'x', option2: 'y', answer: '1' }]),
    'winogrande/winogrande_1.1/dev-labels.lst': '2\n',
  });
  await assert.rejects(TASKS.winogrande.run({ backend, dataDir: wino, seed: 0 }), /dev\.jsonl:1: "answer" 1 disagrees with line 1 of .*dev-labels\.lst \(2\)/);
  const empty = dataDirWith({});
  await assert.rejects(TASKS.openbookqa.run({ backend, dataDir: empty, seed: 0 }), (e: Error) => e instanceof DatasetMissingError && /openbookqa\/Main\/test\.jsonl/.test(e.message));
  await assert.rejects(TASKS.zeroshot.run({ backend, dataDir: empty, seed: 0 }), /no dataset of the zero-shot suite is in the data directory/);
  await assert.rejects(TASKS.boolq.run({ backend, dataDir, seed: 0, limit: 0 }), /--limit must be a positive integer/);
});

test('end to end on the fixture model: the suite with --limit 5, HellaSwag from a written file', async () => {
  const backend = new NativeBackend(loadModelFromDir(shared('models', 'babyllama-tok105')), 'babyllama-tok105');
  const res = await TASKS.zeroshot.run({ backend, dataDir, seed: 5, limit: 5 });
  assert.deepEqual(res.config.missing, ['hellaswag']);
  assert.equal(res.samples.length, 30);
  const accs = Object.values(res.groups.task).map((m) => m.acc.value!);
  assert.equal(accs.length, 6);
  assert.ok(Math.abs(res.metrics.mean_acc.value! - accs.reduce((a, b) => a + b, 0) / 6) < 1e-12);
  for (const m of Object.values(res.groups.task)) assert.equal(m.acc.n_scored + m.acc.n_failed, 5);
  for (const s of res.samples) {
    const lps = s.logprobs as number[];
    for (const lp of lps) assert.ok(Number.isFinite(lp) && lp < 0, String(lp));
    assert.equal(s.chosen, lps.indexOf(Math.max(...lps)));
    assert.equal(s.correct, s.chosen === s.gold);
  }
  const hs = await TASKS.hellaswag.run({ backend, dataDir: dataDirWith({ 'hellaswag/hellaswag_val.jsonl': jsonl(HELLASWAG) }), seed: 5 });
  assert.equal(hs.metrics.acc.n_scored, 3);
  assert.equal(hs.metrics.acc_norm.n_scored, 3);
  for (const s of hs.samples) {
    const lps = s.logprobs as number[], choices = s.choices as string[];
    const norm = lps.map((lp, i) => lp / [...choices[i]].length);
    assert.equal(s.chosen_norm, norm.indexOf(Math.max(...norm)));
  }
});
