// A real Backend with answers known in advance, so task metrics can be computed by hand:
// - loglikelihood: the continuation's tokens are its whitespace-separated words and its NLL is its
//   length in characters (logprob = -chars), so a text's per-token NLL is chars / words;
//   a continuation containing "FAIL" fails (as a remote server might), and one with no words fails
//   as the native backend does for a continuation that encodes to no tokens.
// - perplexity: one token per character plus BOS, windows under the protocol, ln 2 per scored token
//   (perplexity exactly 2).
// - generate: the first maxNewTokens characters of "abcdefghij", per request.
import { Backend, BackendInfo, BackendProgress, GenerateRequest, GenerateValue, LoglikelihoodRequest, LoglikelihoodValue, Outcome, PerplexityResult } from '../../src/backends/backend.js';

export class LengthBackend implements Backend {
  readonly info: BackendInfo;
  readonly loglikelihoodCalls: LoglikelihoodRequest[][] = [];
  readonly perplexityCalls: { text: string; seqlen: number }[] = [];

  constructor(maxPositions = 512) {
    this.info = { kind: 'length', model: 'length-backend', maxPositions };
  }

  async loglikelihood(requests: LoglikelihoodRequest[], opts: BackendProgress = {}): Promise<Outcome<LoglikelihoodValue>[]> {
    this.loglikelihoodCalls.push(requests);
    const out = requests.map((r): Outcome<LoglikelihoodValue> => {
      const text = r.continuation;
      if (text.includes('FAIL')) return { ok: false, error: 'the server refused the request' };
      const tokens = text.split(/\s+/).filter(Boolean).length;
      if (tokens === 0) return { ok: false, error: 'the continuation encodes to no tokens' };
      return { ok: true, value: { logprob: -text.length, greedy: false, tokens, chars: text.length, bytes: Buffer.byteLength(text) } };
    });
    opts.onProgress?.({ done: requests.length, total: requests.length });
    return out;
  }

  async generate(requests: GenerateRequest[]): Promise<Outcome<GenerateValue>[]> {
    return requests.map((r) => ({ ok: true, value: { text: 'abcdefghij'.slice(0, r.maxNewTokens), tokens: Math.min(10, r.maxNewTokens), finishReason: 'length' } }));
  }

  async perplexity(text: string, seqlen: number, opts: BackendProgress = {}): Promise<PerplexityResult> {
    this.perplexityCalls.push({ text, seqlen });
    const tokens = text.length + 1, windows = Math.ceil(tokens / seqlen), scored = tokens - windows;
    const nll = scored * Math.LN2;
    opts.onProgress?.({ done: windows, total: windows });
    return { perplexity: Math.exp(nll / scored), nll, nllPerToken: nll / scored, scored, tokens, windows, seqlen, protocol: 'length-backend' };
  }
}
