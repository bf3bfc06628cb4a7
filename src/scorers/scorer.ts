// The Scorer interface: text -> score, each scorer with an id and version stored with every score.
// Tasks receive scorers through TaskContext; a scorer failure is data (an error Outcome), excluded
// from means and counted in n_failed, never a zero.
import { Outcome } from '../backends/backend.js';

export type ScoreKind = 'toxicity' | 'regard' | 'sentiment' | 'moderation';

export interface ScoreValue {
  /**
   * The primary score. toxicity/moderation: probability-like in [0, 1] (higher = more toxic);
   * sentiment: VADER compound in [-1, 1]; regard: P(negative) in [0, 1].
   */
  score: number;
  /** Per-label figures (class probabilities, moderation categories, VADER pos/neu/neg). */
  labels?: Record<string, number>;
  /** regard: the argmax label (negative / neutral / positive / other). */
  label?: string;
}

export interface Scorer {
  /** e.g. "vader", "toxigen-roberta", "perspective". */
  readonly id: string;
  /** Bumped whenever the scorer's outputs for the same text may change (model hash, lexicon hash, API version). */
  readonly version: string;
  readonly kind: ScoreKind;
  /** One line on what the score means and where it comes from (shown in results). */
  readonly description: string;
  score(texts: string[], opts?: { onProgress?: (p: { done: number; total: number }) => void }): Promise<Outcome<ScoreValue>[]>;
  close?(): Promise<void>;
}

/** Where scorers find their resources. */
export interface ScorerContext {
  /** The data directory (VADER lexicon, profanity lists). */
  dataDir: string;
  /** Loads a classifier model folder or hub id (model/hub handles the cache and offline switch). */
  offline?: boolean;
}
