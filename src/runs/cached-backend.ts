// A caching Backend: each request's cache key is looked up in the result store and only misses go to
// the inner backend. Requests run in fixed chunks of `batchSize` (chunk boundaries depend only on the
// request list, so a resumed run recomputes exactly the chunks an uninterrupted run computed); each
// chunk's results are committed in one transaction. Failures are recorded and never cached.
// Every task gets caching and resume through this one seam.
import { Backend, BackendInfo, BackendProgress, GenerateRequest, GenerateValue, LoglikelihoodRequest, LoglikelihoodValue, Outcome, PerplexityResult } from '../backends/backend.js';
import { CompsafeError } from '../core/errors.js';
import { CacheScope, cacheKey, RequestKind, sha256Hex } from './cache-key.js';
import { ResultStore } from './store.js';

/** The run was asked to stop (Ctrl-C); everything up to the last committed batch is stored. */
export class SweepInterruptedError extends CompsafeError {
  override readonly exitCode = 130;
}

export interface CacheStats {
  hits: number;
  misses: number;
  failures: number;
}

export interface CachedBackendOptions {
  /** Identity of the exact weights the inner backend serves. */
  variantHash: string;
  /** Requests per committed batch (64). */
  batchSize?: number;
  /** Checked before each batch; when true the wrapper throws SweepInterruptedError. */
  shouldStop?: () => boolean;
}

export class CachedBackend implements Backend {
  readonly info: BackendInfo;
  /** What the current requests belong to; part of every key. Set by the orchestrator per task. */
  scope: CacheScope = { task: '' };
  readonly stats: CacheStats = { hits: 0, misses: 0, failures: 0 };
  private readonly batchSize: number;

  constructor(private readonly inner: Backend, private readonly store: ResultStore, private readonly opts: CachedBackendOptions) {
    this.info = { ...inner.info, modelHash: opts.variantHash };
    this.batchSize = opts.batchSize ?? 64;
  }

  /** Yields to the event loop (the native engine computes synchronously, so a Ctrl-C handler runs only here), then honours a stop. */
  private async checkStop(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    if (this.opts.shouldStop?.()) throw new SweepInterruptedError('stopped on request after the last committed batch');
  }

  private async cached<R, V>(kind: RequestKind, requests: R[], run: (misses: R[], progress: BackendProgress) => Promise<Outcome<V>[]>,
    opts: BackendProgress): Promise<Outcome<V>[]> {
    const out: Outcome<V>[] = new Array(requests.length);
    const scope = this.scope;
    for (let start = 0; start < requests.length; start += this.batchSize) {
      await this.checkStop();
      const chunk = requests.slice(start, start + this.batchSize);
      const keys = chunk.map((request) => cacheKey({ variantHash: this.opts.variantHash, backendKind: this.inner.info.kind, kind, scope, request }));
      const hits = this.store.lookup(keys);
      const missIdx: number[] = [];
      chunk.forEach((_, i) => {
        const v = hits.get(keys[i]);
        if (v !== undefined) out[start + i] = { ok: true, value: v as V };
        else missIdx.push(i);
      });
      this.stats.hits += chunk.length - missIdx.length;
      if (missIdx.length > 0) {
        this.stats.misses += missIdx.length;
        const done = chunk.length - missIdx.length;
        const res = await run(missIdx.map((i) => chunk[i]), {
          onProgress: (p) => opts.onProgress?.({ done: start + done + p.done, total: requests.length }),
        });
        const ok: Parameters<ResultStore['commitBatch']>[0] = [], failed: Parameters<ResultStore['commitBatch']>[1] = [];
        missIdx.forEach((i, j) => {
          const r = res[j];
          out[start + i] = r;
          const entry = { key: keys[i], kind, variantHash: this.opts.variantHash, task: scope.task, request: chunk[i] };
          if (r.ok) ok.push({ ...entry, value: r.value });
          else failed.push({ ...entry, error: r.error });
        });
        this.stats.failures += failed.length;
        this.store.commitBatch(ok, failed);
      }
      opts.onProgress?.({ done: Math.min(start + chunk.length, requests.length), total: requests.length });
    }
    return out;
  }

  loglikelihood(requests: LoglikelihoodRequest[], opts: BackendProgress = {}): Promise<Outcome<LoglikelihoodValue>[]> {
    return this.cached('loglikelihood', requests, (m, p) => this.inner.loglikelihood(m, p), opts);
  }

  generate(requests: GenerateRequest[], opts: BackendProgress = {}): Promise<Outcome<GenerateValue>[]> {
    return this.cached('generate', requests, (m, p) => this.inner.generate(m, p), opts);
  }

  /** Keyed by the text's hash and the window length; a throw is not cached. */
  async perplexity(text: string, seqlen: number, opts: BackendProgress = {}): Promise<PerplexityResult> {
    await this.checkStop();
    const request = { textSha256: sha256Hex(text), chars: text.length, seqlen };
    const key = cacheKey({ variantHash: this.opts.variantHash, backendKind: this.inner.info.kind, kind: 'perplexity', scope: this.scope, request });
    const hit = this.store.lookup([key]).get(key);
    if (hit !== undefined) {
      this.stats.hits++;
      return hit as PerplexityResult;
    }
    this.stats.misses++;
    const entry = { key, kind: 'perplexity', variantHash: this.opts.variantHash, task: this.scope.task, request };
    let value: PerplexityResult;
    try {
      value = await this.inner.perplexity(text, seqlen, opts);
    } catch (e) {
      this.stats.failures++;
      this.store.commitBatch([], [{ ...entry, error: (e instanceof Error ? e.message : String(e)).split('\n')[0] }]);
      throw e;
    }
    this.store.commitBatch([{ ...entry, value }], []);
    return value;
  }

  async close(): Promise<void> {
    await this.inner.close?.();
  }
}

