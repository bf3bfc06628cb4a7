// The Backend interface: everything a task may ask of a model. Tasks never import model/ or
// compress/; the same task runs in-process (native) or against an OpenAI-compatible server.
// A request carries everything that determines its result (including the seed), so results can be
// cached by request and a remote server can reproduce them.
import { PerplexityResult } from '../model/scoring.js';

export type { PerplexityResult };

/** A result or the reason it failed. Failures are data: stored, counted, never scored as zero. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: string };

export interface LoglikelihoodRequest {
  context: string;
  continuation: string;
}

export interface LoglikelihoodValue {
  /** Sum of the continuation's token log-probabilities (nats). */
  logprob: number;
  /** Whether greedy decoding would produce the continuation. */
  greedy: boolean;
  /** Continuation tokens scored. */
  tokens: number;
  /** Continuation length in characters and UTF-8 bytes, for length-normalised scores. */
  chars: number;
  bytes: number;
}

export interface GenerateRequest {
  prompt: string;
  maxNewTokens: number;
  minNewTokens?: number;
  /** 0 = greedy. */
  temperature: number;
  topP: number;
  /** 0 = off. */
  topK: number;
  /** The request's seed; sample `sampleIndex` draws from stream sampleIndex of this seed. */
  seed: number;
  sampleIndex: number;
  stop?: string[];
  /** Render the prompt with the model's chat template as one user message. */
  chat?: boolean;
}

export interface GenerateValue {
  /** The continuation alone. */
  text: string;
  tokens: number;
  finishReason: 'eos' | 'stop' | 'length' | 'context';
}

export interface BackendProgress {
  onProgress?: (p: { done: number; total: number }) => void;
}

export interface BackendInfo {
  /** 'native' or 'openai'. */
  kind: string;
  /** The model as the user named it (folder, hub id, or server model name). */
  model: string;
  maxPositions: number;
  /** Identity of the exact weights (content hash) when known: cache keys use it. */
  modelHash?: string;
}

export interface Backend {
  readonly info: BackendInfo;
  loglikelihood(requests: LoglikelihoodRequest[], opts?: BackendProgress): Promise<Outcome<LoglikelihoodValue>[]>;
  generate(requests: GenerateRequest[], opts?: BackendProgress): Promise<Outcome<GenerateValue>[]>;
  /** Perplexity of a text under the protocol of ARCHITECTURE.md. */
  perplexity(text: string, seqlen: number, opts?: BackendProgress): Promise<PerplexityResult>;
  close?(): Promise<void>;
}

/**
 * Indices of generation requests grouped by everything but the sample index: the members of a group
 * are samples of one (prompt, decoding settings, seed) and can share one prefill / one `n` request.
 */
export function groupBySampleSettings(requests: readonly GenerateRequest[]): number[][] {
  const groups = new Map<string, number[]>();
  requests.forEach((r, i) => {
    const key = JSON.stringify([r.prompt, r.maxNewTokens, r.minNewTokens ?? 0, r.temperature, r.topP, r.topK, r.seed, r.stop ?? [], r.chat ?? false]);
    const g = groups.get(key);
    if (g) g.push(i);
    else groups.set(key, [i]);
  });
  return [...groups.values()];
}
