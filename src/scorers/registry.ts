// Scorers by spec. A spec is `id` or `id=ARG` (e.g. `toxigen-roberta=/path/to/folder`); a new scorer is
// a new file and one line here.
import { UsageError } from '../core/errors.js';
import { Scorer, ScorerContext } from './scorer.js';
import { createVaderScorer } from './vader.js';
import { createLexiconScorer } from './lexicon.js';
import { createOpenAIModerationScorer } from './openai-moderation.js';
import { createPerspectiveScorer } from './perspective.js';
import { createRegardScorer, createToxicBertScorer, createToxigenRobertaScorer } from './classifier.js';

export type ScorerFactory = (arg: string | undefined, ctx: ScorerContext) => Promise<Scorer>;

export const SCORERS: Record<string, ScorerFactory> = {
  vader: createVaderScorer,
  lexicon: createLexiconScorer,
  'openai-moderation': createOpenAIModerationScorer,
  perspective: createPerspectiveScorer,
  'toxigen-roberta': createToxigenRobertaScorer,
  regard: createRegardScorer,
  'toxic-bert': createToxicBertScorer,
};

export async function createScorer(spec: string, ctx: ScorerContext): Promise<Scorer> {
  const eq = spec.indexOf('=');
  const id = eq < 0 ? spec : spec.slice(0, eq), arg = eq < 0 ? undefined : spec.slice(eq + 1);
  const factory = SCORERS[id];
  if (!factory) throw new UsageError(`unknown scorer "${id}"; available: ${Object.keys(SCORERS).join(', ')}`);
  return factory(arg, ctx);
}
