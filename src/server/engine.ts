// The model behind the server: one job at a time on the (synchronous) engine, jobs waiting in a FIFO
// queue. Jobs of the same kind that wait together run as one batch (one generate call, one scoring
// pass), which is safe because every sample draws from its own (seed, sample index) stream and so
// does not depend on what else shares its batch. Between batches the event loop runs, so requests
// keep arriving (and are refused with 429 once the server's admission limit is reached).
import { CausalLM } from '../model/causal-lm.js';
import { generate, GenerationRequest, GenerationSample } from '../model/generate.js';
import { promptLogprobs, PromptTokenLogprob } from '../model/scoring.js';
import { TextTokenizer } from '../model/tokenizer.js';

export type PromptLogprobs = (PromptTokenLogprob | null)[][];

interface Pending<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

type Job =
  | ({ kind: 'generate'; requests: GenerationRequest[] } & Pending<GenerationSample[]>)
  | ({ kind: 'score'; prompts: number[][]; top: number } & Pending<PromptLogprobs>);

export interface EngineLimits {
  /** Sequences (prompts x samples) generated together at most; one larger job still runs alone. */
  maxBatchSequences: number;
  /** Prompt tokens scored together at most. */
  maxBatchTokens: number;
}

export interface EngineStats {
  batches: number;
  jobs: number;
}

export class Engine {
  private readonly queue: Job[] = [];
  private running = false;
  private idleWaiters: (() => void)[] = [];
  readonly stats: EngineStats = { batches: 0, jobs: 0 };

  constructor(
    private readonly model: CausalLM,
    private readonly tokenizer: TextTokenizer,
    private readonly limits: EngineLimits = { maxBatchSequences: 64, maxBatchTokens: 16384 },
  ) {}

  /** Samples of the requests (requestIndex relative to this call), once the engine gets to them. */
  generate(requests: GenerationRequest[]): Promise<GenerationSample[]> {
    if (requests.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => this.enqueue({ kind: 'generate', requests, resolve, reject }));
  }

  /** Per-token log-probabilities of each prompt with `top` alternatives (entry 0 null). */
  score(prompts: number[][], top: number): Promise<PromptLogprobs> {
    if (prompts.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => this.enqueue({ kind: 'score', prompts, top, resolve, reject }));
  }

  /** Jobs waiting or running. */
  get pending(): number {
    return this.queue.length + (this.running ? 1 : 0);
  }

  /** Resolves once no job is queued or running. */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private enqueue(job: Job): void {
    this.queue.push(job);
    this.schedule();
  }

  private schedule(): void {
    if (this.running) return;
    if (this.queue.length === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
      return;
    }
    this.running = true;
    // setImmediate, not a microtask: pending socket reads are handled first, so requests that
    // arrived meanwhile join this batch (or are refused) instead of waiting behind it.
    setImmediate(() => {
      try {
        this.runBatch(this.takeBatch());
      } finally {
        this.running = false;
        this.schedule();
      }
    });
  }

  /** The first job and every queued job of its kind that fits the batch limits with it. */
  private takeBatch(): Job[] {
    const head = this.queue.shift()!;
    const batch: Job[] = [head];
    let size = this.sizeOf(head);
    const budget = head.kind === 'generate' ? this.limits.maxBatchSequences : this.limits.maxBatchTokens;
    for (let i = 0; i < this.queue.length;) {
      const job = this.queue[i], s = this.sizeOf(job);
      if (job.kind === head.kind && size + s <= budget) {
        batch.push(job);
        size += s;
        this.queue.splice(i, 1);
      } else i++;
    }
    return batch;
  }

  private sizeOf(job: Job): number {
    if (job.kind === 'generate') return job.requests.reduce((n, r) => n + (r.sampleIndices?.length ?? r.samples ?? 1), 0);
    return job.prompts.reduce((n, p) => n + p.length, 0);
  }

  private runBatch(batch: Job[]): void {
    this.stats.batches++;
    this.stats.jobs += batch.length;
    try {
      const results = this.compute(batch);
      batch.forEach((job, i) => (job.resolve as (v: unknown) => void)(results[i]));
    } catch (error) {
      if (batch.length === 1) { batch[0].reject(error); return; }
      // One bad job must not fail the others that happened to share its batch: run each alone.
      for (const job of batch) {
        try {
          (job.resolve as (v: unknown) => void)(this.compute([job])[0]);
        } catch (e) {
          job.reject(e);
        }
      }
    }
  }

  private compute(batch: Job[]): unknown[] {
    if (batch[0].kind === 'generate') {
      const jobs = batch as Extract<Job, { kind: 'generate' }>[];
      const all = jobs.flatMap((j) => j.requests);
      const samples = generate(this.model, this.tokenizer, all);
      const out: GenerationSample[][] = jobs.map(() => []);
      const owner: { job: number; offset: number }[] = [];
      jobs.forEach((j, ji) => {
        const offset = owner.length;
        for (let k = 0; k < j.requests.length; k++) owner.push({ job: ji, offset });
      });
      for (const s of samples) {
        const o = owner[s.requestIndex];
        out[o.job].push({ ...s, requestIndex: s.requestIndex - o.offset });
      }
      return out;
    }
    const jobs = batch as Extract<Job, { kind: 'score' }>[];
    const top = Math.max(...jobs.map((j) => j.top));
    const scored = promptLogprobs(this.model, jobs.flatMap((j) => j.prompts), top);
    let at = 0;
    return jobs.map((j) => {
      const mine = scored.slice(at, at + j.prompts.length);
      at += j.prompts.length;
      // Alternatives are sorted, so a smaller `top` is a prefix.
      return j.top === top ? mine : mine.map((p) => p.map((e) => (e ? { ...e, top: e.top.slice(0, j.top) } : null)));
    });
  }
}
