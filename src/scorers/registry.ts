// Scorers by spec. A spec is `id` or `id=ARG` (e.g. `toxigen-roberta=/path/to/folder`); a new scorer is
// a new file and one line here.
import { UsageError } from '../core/errors.js';
import { Scorer, ScorerContext } from './scorer.js';

export type ScorerFactory = (arg: string | undefined, ctx: ScorerContext) => Promise<Scorer>;

export const SCORERS: Record<string, ScorerFactory> = {};

export async function createScorer(spec: string, ctx: ScorerContext): Promise<Scorer> {
  const eq = spec.indexOf('=');
  const id = eq < 0 ? spec : spec.slice(0, eq), arg = eq < 0 ? undefined : spec.slice(eq + 1);
  const factory = SCORERS[id];
  if (!factory) throw new UsageError(`unknown scorer "${id}"; available: ${Object.keys(SCORERS).join(', ')}`);
  return factory(arg, ctx);
}
