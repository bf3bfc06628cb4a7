// The in-process backend: the native engine behind the Backend interface.
import { Backend, BackendInfo, BackendProgress, GenerateRequest, GenerateValue, LoglikelihoodRequest, LoglikelihoodValue, Outcome, groupBySampleSettings } from './backend.js';
import { LoadedModel } from '../model/load.js';
import { loglikelihoodOfIds, perplexity, PerplexityResult, splitContinuation } from '../model/scoring.js';
import { generate, GenerationRequest } from '../model/generate.js';
import { encodeChat } from '../model/tokenizer.js';

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0];

export class NativeBackend implements Backend {
  readonly info: BackendInfo;

  constructor(readonly loaded: LoadedModel, modelName: string, modelHash?: string) {
    this.info = { kind: 'native', model: modelName, maxPositions: loaded.config.maxPositions, modelHash };
  }

  async loglikelihood(requests: LoglikelihoodRequest[], opts: BackendProgress = {}): Promise<Outcome<LoglikelihoodValue>[]> {
    const { model, tokenizer } = this.loaded, max = this.info.maxPositions;
    const out: Outcome<LoglikelihoodValue>[] = new Array(requests.length);
    // Requests that cannot be scored fail alone; the rest run together.
    const valid: { index: number; pair: { context: number[]; continuation: number[] } }[] = [];
    requests.forEach((r, index) => {
      try {
        const pair = splitContinuation(tokenizer, r);
        if (pair.continuation.length === 0) throw new Error('the continuation encodes to no tokens');
        if (pair.continuation.length >= max) throw new Error(`the continuation has ${pair.continuation.length} tokens; the context window is ${max}`);
        valid.push({ index, pair });
      } catch (e) {
        out[index] = { ok: false, error: message(e) };
      }
    });
    const res = loglikelihoodOfIds(model, valid.map((v) => v.pair), opts);
    valid.forEach((v, i) => {
      const r = requests[v.index];
      out[v.index] = {
        ok: true,
        value: { logprob: res[i].logprob, greedy: res[i].greedy, tokens: res[i].tokens, chars: r.continuation.length, bytes: Buffer.byteLength(r.continuation, 'utf8') },
      };
    });
    return out;
  }

  async generate(requests: GenerateRequest[], opts: BackendProgress = {}): Promise<Outcome<GenerateValue>[]> {
    const { model, tokenizer } = this.loaded;
    const out: Outcome<GenerateValue>[] = new Array(requests.length);
    // Requests that differ only in sample index share one prefill.
    const groups = groupBySampleSettings(requests);
    const batch: GenerationRequest[] = [], owners: number[][] = [];
    for (const members of groups) {
      const r = requests[members[0]];
      try {
        const prompt = r.chat ? encodeChat(tokenizer, [{ role: 'user', content: r.prompt }], { addGenerationPrompt: true }) : tokenizer.encode(r.prompt);
        if (prompt.length >= this.info.maxPositions) throw new Error(`the prompt has ${prompt.length} tokens; the context window is ${this.info.maxPositions}`);
        batch.push({
          prompt, maxNewTokens: r.maxNewTokens, minNewTokens: r.minNewTokens, temperature: r.temperature, topP: r.topP,
          topK: r.topK, seed: r.seed, sampleIndices: [...new Set(members.map((i) => requests[i].sampleIndex))], stop: r.stop,
        });
        owners.push(members);
      } catch (e) {
        for (const i of members) out[i] = { ok: false, error: message(e) };
      }
    }
    const samples = generate(model, tokenizer, batch, { onProgress: opts.onProgress });
    for (const s of samples) {
      for (const i of owners[s.requestIndex]) {
        if (requests[i].sampleIndex === s.sampleIndex) out[i] = { ok: true, value: { text: s.text, tokens: s.tokens.length, finishReason: s.finishReason } };
      }
    }
    return out;
  }

  async perplexity(text: string, seqlen: number, opts: BackendProgress = {}): Promise<PerplexityResult> {
    return perplexity(this.loaded.model, this.loaded.tokenizer, text, seqlen, opts);
  }
}
