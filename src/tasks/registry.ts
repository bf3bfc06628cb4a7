// Tasks by name. A new benchmark is a new file in tasks/ and one line here.
import { UsageError } from '../core/errors.js';
import { Task } from './task.js';
import { c4Task, textFileTask, tinystoriesTask, wikitext2Task } from './perplexity.js';
import { dialectTask } from './dialect.js';
import { bbqTask } from './bbq.js';
import { truthfulqaMcTask } from './truthfulqa-mc.js';
import { arcChallengeTask, arcEasyTask } from './arc.js';
import { boolqTask } from './boolq.js';
import { hellaswagTask } from './hellaswag.js';
import { mmluTask } from './mmlu.js';
import { openbookqaTask } from './openbookqa.js';
import { rteTask } from './rte.js';
import { winograndeTask } from './winogrande.js';
import { zeroshotTask } from './zeroshot.js';
import { unqoverTask } from './unqover.js';
import { rtpTask } from './rtp.js';
import { toxigenTask } from './toxigen.js';
import { boldTask } from './bold.js';
import { holisticbiasrTask } from './holisticbiasr.js';
import { advpromptsetTask } from './advpromptset.js';

export const TASKS: Record<string, Task> = {
  wikitext2: wikitext2Task,
  c4: c4Task,
  tinystories: tinystoriesTask,
  dialect: dialectTask,
  bbq: bbqTask,
  truthfulqa_mc: truthfulqaMcTask,
  mmlu: mmluTask,
  boolq: boolqTask,
  rte: rteTask,
  hellaswag: hellaswagTask,
  winogrande: winograndeTask,
  arc_easy: arcEasyTask,
  arc_challenge: arcChallengeTask,
  openbookqa: openbookqaTask,
  zeroshot: zeroshotTask,
  unqover: unqoverTask,
  rtp: rtpTask,
  toxigen: toxigenTask,
  bold: boldTask,
  holisticbiasr: holisticbiasrTask,
  advpromptset: advpromptsetTask,
};

/** Parameterised tasks, named `PREFIX:ARG` (e.g. `text:notes.txt`): the prefix -> a task built for ARG. */
export const TASK_FAMILIES: Record<string, { usage: string; make(arg: string): Task }> = {
  text: { usage: 'text:FILE', make: textFileTask },
};

export function taskFor(name: string): Task {
  const t = TASKS[name];
  if (t) return t;
  const colon = name.indexOf(':');
  const family = colon > 0 ? TASK_FAMILIES[name.slice(0, colon)] : undefined;
  if (family) return family.make(name.slice(colon + 1));
  const available = [...Object.keys(TASKS), ...Object.values(TASK_FAMILIES).map((f) => f.usage)];
  throw new UsageError(`unknown task "${name}"; available: ${available.join(', ')}`);
}
