// The multiple-choice protocol of ARCHITECTURE.md, shared by the likelihood benchmarks: each option
// is scored as a continuation of the prompt by the backend; the summed-log-probability choice and
// the length-normalised choice are both kept. An item whose options did not all score is a failure
// (its first error kept), never a guess.
import { Backend, LoglikelihoodRequest, LoglikelihoodValue, Outcome } from '../backends/backend.js';

export interface ChoiceQuestion {
  /** The prompt every option continues. */
  context: string;
  /** The options, as continuations (with their leading space). */
  choices: string[];
}

export interface ChoiceScores {
  /** Summed log-probability of each option (nats). */
  logprobs: number[];
  /** Tokens of each option, as the backend scored them. */
  tokens: number[];
  /** Index of the highest summed log-probability (first on ties, as numpy's argmax). */
  chosen: number;
  /**
   * Index of the highest log-probability per character of the option text (optionLength):
   * lm-evaluation-harness's `acc_norm`.
   */
  chosenNorm: number;
}

/**
 * The length acc_norm divides by: code points (Python's len()) of the option text without the
 * leading space that joins it to the prompt, as lm-evaluation-harness counts it; at least 1.
 */
export const optionLength = (continuation: string): number => Math.max(1, [...continuation.replace(/^ /, '')].length);

/** Index of the largest value; the first one on ties. */
export function argmax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** log(sum(exp(x))) without overflow. */
export function logSumExp(values: readonly number[]): number {
  const m = Math.max(...values);
  if (!Number.isFinite(m)) return m;
  let s = 0;
  for (const v of values) s += Math.exp(v - m);
  return m + Math.log(s);
}

/** Requests per backend call: bounds memory and gives progress on large tasks. */
const REQUESTS_PER_CALL = 1024;

/** Sends log-likelihood requests in bounded chunks; `onProgress` counts requests. */
export async function scoreRequests(
  backend: Backend,
  requests: readonly LoglikelihoodRequest[],
  onProgress?: (p: { done: number; total: number }) => void,
): Promise<Outcome<LoglikelihoodValue>[]> {
  const outcomes: Outcome<LoglikelihoodValue>[] = [];
  for (let start = 0; start < requests.length; start += REQUESTS_PER_CALL) {
    const chunk = requests.slice(start, start + REQUESTS_PER_CALL);
    const res = await backend.loglikelihood(chunk, { onProgress: (p) => onProgress?.({ done: start + p.done, total: requests.length }) });
    if (res.length !== chunk.length) throw new Error(`the backend answered ${res.length} of ${chunk.length} loglikelihood requests`);
    outcomes.push(...res);
    onProgress?.({ done: start + chunk.length, total: requests.length });
  }
  return outcomes;
}

/** Scores every option of every question. `onProgress` counts requests (options), not questions. */
export async function scoreChoices(
  backend: Backend,
  questions: readonly ChoiceQuestion[],
  onProgress?: (p: { done: number; total: number }) => void,
): Promise<Outcome<ChoiceScores>[]> {
  const requests: LoglikelihoodRequest[] = questions.flatMap((q) => q.choices.map((continuation) => ({ context: q.context, continuation })));
  const outcomes = await scoreRequests(backend, requests, onProgress);
  let at = 0;
  return questions.map((q): Outcome<ChoiceScores> => {
    const mine = outcomes.slice(at, at + q.choices.length);
    at += q.choices.length;
    const values: LoglikelihoodValue[] = [];
    for (const o of mine) {
      if (!o.ok) return { ok: false, error: o.error };
      values.push(o.value);
    }
    const logprobs = values.map((v) => v.logprob);
    return {
      ok: true,
      value: {
        logprobs,
        tokens: values.map((v) => v.tokens),
        chosen: argmax(logprobs),
        chosenNorm: argmax(logprobs.map((lp, i) => lp / optionLength(q.choices[i]))),
      },
    };
  });
}
