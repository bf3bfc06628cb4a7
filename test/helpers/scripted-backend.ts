// A real Backend whose log-likelihoods come from a function of the request, so that a task's
// expected metrics can be worked out by hand. Returning a string makes that request fail.
import { Backend, BackendInfo, GenerateRequest, GenerateValue, LoglikelihoodRequest, LoglikelihoodValue, Outcome, PerplexityResult } from '../../src/backends/backend.js';

export type Script = (req: LoglikelihoodRequest) => number | string;

export class ScriptedBackend implements Backend {
  readonly info: BackendInfo = { kind: 'scripted', model: 'scripted', maxPositions: 1 << 20 };
  /** Every request received, in order. */
  readonly requests: LoglikelihoodRequest[] = [];

  constructor(private readonly script: Script) {}

  async loglikelihood(requests: LoglikelihoodRequest[]): Promise<Outcome<LoglikelihoodValue>[]> {
    this.requests.push(...requests);
    return requests.map((r) => {
      const lp = this.script(r);
      if (typeof lp === 'string') return { ok: false, error: lp };
      return { ok: true, value: { logprob: lp, greedy: false, tokens: 1, chars: r.continuation.length, bytes: Buffer.byteLength(r.continuation) } };
    });
  }

  async generate(_requests: GenerateRequest[]): Promise<Outcome<GenerateValue>[]> {
    throw new Error('ScriptedBackend does not generate');
  }

  async perplexity(_text: string, _seqlen: number): Promise<PerplexityResult> {
    throw new Error('ScriptedBackend does not compute perplexity');
  }
}
