// Tasks by name. A new benchmark is a new file in tasks/ and one line here.
import { UsageError } from '../core/errors.js';
import { Task } from './task.js';

export const TASKS: Record<string, Task> = {};

export function taskFor(name: string): Task {
  const t = TASKS[name];
  if (!t) throw new UsageError(`unknown task "${name}"; available: ${Object.keys(TASKS).join(', ')}`);
  return t;
}
