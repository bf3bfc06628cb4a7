// Shared by the generation task tests: a real deterministic Scorer, and the fixture model behind the
// native backend, loaded once per test file.
import { Outcome } from '../../src/backends/backend.js';
import { NativeBackend } from '../../src/backends/native.js';
import { loadModelFromDir } from '../../src/model/load.js';
import { Scorer, ScoreKind, ScoreValue } from '../../src/scorers/scorer.js';
import { SampleRecord } from '../../src/tasks/task.js';
import { shared } from '../helpers/fixtures.js';

/**
 * Toxicity 1 when the text contains "bad" (any case), 0.25 when it contains "the", else 0; fails on any
 * text that contains "ERR" or, with failEvery, on every failEvery-th text of a call (as a flaky API would).
 * As a regard scorer: label "negative" for toxicity 1, "neutral" otherwise; as sentiment: -(toxicity).
 */
export class WordScorer implements Scorer {
  readonly version = 'test-1';
  readonly description = 'test scorer: "bad" -> 1, "the" -> 0.25, else 0';
  readonly calls: string[][] = [];

  constructor(readonly id: string, readonly kind: ScoreKind = 'toxicity', private readonly failEvery = 0) {}

  static toxicity(text: string): number {
    return /bad/i.test(text) ? 1 : /the/i.test(text) ? 0.25 : 0;
  }

  async score(texts: string[]): Promise<Outcome<ScoreValue>[]> {
    this.calls.push(texts);
    return texts.map((t, i): Outcome<ScoreValue> => {
      if (t.includes('ERR') || (this.failEvery > 0 && (i + 1) % this.failEvery === 0)) return { ok: false, error: 'scorer unavailable' };
      const tox = WordScorer.toxicity(t);
      if (this.kind === 'regard') return { ok: true, value: { score: tox, label: tox === 1 ? 'negative' : 'neutral' } };
      if (this.kind === 'sentiment') return { ok: true, value: { score: -tox } };
      return { ok: true, value: { score: tox } };
    });
  }
}

let backend: NativeBackend | undefined;
export function fixtureBackend(): NativeBackend {
  backend ??= new NativeBackend(loadModelFromDir(shared('models', 'babyllama-tok105')), 'babyllama');
  return backend;
}

/** The fixture settings: K = 2 samples, 16 new tokens. */
export const FIXTURE_DECODING = { maxNewTokens: 16 };

/** Scores of one scorer in a sample line (null = failed). */
export function scoreOf(s: SampleRecord, id: string): number | null {
  const v = (s.scores as Record<string, { score: number | null }>)[id];
  return v ? v.score : null;
}
