// `compsafe sweep`: compress each variant once, evaluate it on every task through the caching
// backend, store per-variant results. Re-running the same config resumes: compressed folders are
// reused, finished tasks are skipped, and unfinished ones are served from the cache up to where they
// stopped. RUN/ holds store.sqlite, manifest.json, models/<variant>/ and results/<variant>/<task>/.
import fs from 'node:fs';
import path from 'node:path';
import { Backend } from '../backends/backend.js';
import { NativeBackend } from '../backends/native.js';
import { OpenAIBackend } from '../backends/openai.js';
import { UsageError } from '../core/errors.js';
import { resolveDataDir } from '../data/corpora.js';
import { writeFileAtomic } from '../data/files.js';
import { weightFilesHash } from '../compress/export.js';
import { resolveCalibrationSource } from '../compress/calibration.js';
import { loadModel, loadModelFromDir, LoadedModel } from '../model/load.js';
import { evaluate, samplesFileName } from '../tasks/evaluate.js';
import { taskFor } from '../tasks/registry.js';
import { createScorer } from '../scorers/registry.js';
import { Scorer } from '../scorers/scorer.js';
import { CachedBackend, SweepInterruptedError } from './cached-backend.js';
import { hashOf } from './cache-key.js';
import { SweepConfig, TaskConfig } from './config.js';
import { addDataFiles, RunManifest, startManifest } from './manifest.js';
import { ResultStore } from './store.js';
import { planVariants, prepareVariant, VariantPlan } from './variants.js';

export const MANIFEST_FILE = 'manifest.json';

export type SweepEvent =
  | { type: 'variant'; index: number; total: number; name: string; phase: 'compress' | 'evaluate' | 'reused' }
  | { type: 'compress-progress'; index: number; total: number; name: string; done: number; totalSites: number }
  | { type: 'task-start'; index: number; total: number; variant: string; task: string; cached: boolean }
  | { type: 'task-progress'; index: number; total: number; variant: string; task: string; done: number; items: number; failures: number }
  | { type: 'task-end'; index: number; total: number; variant: string; task: string; seconds: number; error?: string; calls: number };

export interface SweepOptions {
  onEvent?: (e: SweepEvent) => void;
  /** Checked between batches; true stops the sweep (SweepInterruptedError) after the current batch. */
  shouldStop?: () => boolean;
  /** Wraps each variant's model backend before caching (tests count the calls that reach the model). */
  wrapBackend?: (inner: Backend) => Backend;
}

export interface SweepSummary {
  runDir: string;
  variants: number;
  tasks: number;
  /** Requests sent to the model (cache misses) and served from the store (hits). */
  backendCalls: number;
  cacheHits: number;
  /** Variant x task results already in the store (skipped). */
  storedTasks: number;
  failures: number;
  failedTasks: { variant: string; task: string; error: string }[];
  timing: { compressSeconds: number; evaluateSeconds: number; totalSeconds: number };
}

/**
 * The settings that determine a task's result on a variant; part of every cache key of the task, so
 * a changed scorer (id or version) or decoding never reuses another's outputs.
 */
export function taskSettings(t: TaskConfig, cfg: SweepConfig, scorers: Scorer[] = []): Record<string, unknown> {
  return {
    limit: t.limit ?? null, samples: t.samples ?? null, shots: t.shots ?? null, seed: t.seed ?? cfg.seed, seqlen: t.seqlen ?? null,
    subsets: t.subsets ?? null, decoding: t.decoding ?? null, scorers: scorers.map((s) => ({ id: s.id, version: s.version })),
  };
}

export async function runSweep(cfg: SweepConfig, opts: SweepOptions = {}): Promise<SweepSummary> {
  const t0 = Date.now();
  const runDir = path.resolve(cfg.out!);
  const tasks = cfg.tasks.map((t) => ({ config: t, task: taskFor(t.name) }));  // unknown names fail before any work
  const plans: VariantPlan[] = planVariants(cfg);
  const remote = cfg.backend === 'native' ? null : cfg.backend;
  if (remote) {
    const missing = plans.map((p) => p.name).filter((n) => !remote.models[n]);
    if (missing.length) throw new UsageError(`backend.models names no served model for variant(s) ${missing.join(', ')}; variants of this config: ${plans.map((p) => p.name).join(', ')}`);
  }
  const dataDir = resolveDataDir(cfg.dataDir);
  // Calibration files must exist, and scorers load, before any model work.
  for (const p of plans) if (p.calibration) resolveCalibrationSource(p.calibration.source, dataDir);
  const scorersOf = new Map<string, Scorer[]>();
  for (const t of cfg.tasks) scorersOf.set(t.name, await Promise.all((t.scorers ?? []).map((spec) => createScorer(spec, { dataDir }))));
  const closeScorers = async (): Promise<void> => {
    for (const list of scorersOf.values()) for (const s of list) await s.close?.();
  };
  let baseLoaded: LoadedModel, base: { spec: string; dir: string; weightsSha256: string };
  try {
    baseLoaded = await loadModel(cfg.model);
    base = { spec: cfg.model, dir: baseLoaded.dir, weightsSha256: weightFilesHash(baseLoaded.dir).sha256 };
  } catch (e) {
    await closeScorers();
    throw e;
  }

  fs.mkdirSync(runDir, { recursive: true });
  const store = ResultStore.open(runDir, { create: true });
  const manifest: RunManifest = startManifest(cfg, { spec: base.spec, dir: base.dir, weights_sha256: base.weightsSha256 });
  const saveManifest = (): void => writeFileAtomic(path.join(runDir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
  saveManifest();
  const runId = store.startRun(cfg, manifest);
  const summary: SweepSummary = {
    runDir, variants: plans.length, tasks: tasks.length, backendCalls: 0, cacheHits: 0, storedTasks: 0, failures: 0, failedTasks: [],
    timing: { compressSeconds: 0, evaluateSeconds: 0, totalSeconds: 0 },
  };
  const stop = opts.shouldStop ?? (() => false);
  const emit = opts.onEvent ?? (() => {});
  try {
    for (const [index, plan] of plans.entries()) {
      const total = plans.length;
      const tc = Date.now();
      if (plan.params !== null) emit({ type: 'variant', index, total, name: plan.name, phase: 'compress' });
      const prepared = await prepareVariant(plan, runDir, base, dataDir, (done, totalSites) =>
        emit({ type: 'compress-progress', index, total, name: plan.name, done, totalSites }));
      summary.timing.compressSeconds += prepared.reused ? 0 : (Date.now() - tc) / 1000;
      store.putVariant({
        name: plan.name, position: index, method: plan.method, specHash: prepared.specHash, weightsSha256: prepared.weightsSha256,
        variantHash: prepared.variantHash, dir: prepared.dir, recipe: prepared.recipe, compressSeconds: prepared.reused ? null : prepared.compressSeconds,
      });
      const calib = (prepared.recipe as { calibration?: { file?: string; sha256?: string } | null } | null)?.calibration;
      if (calib?.file && calib.sha256) addDataFiles(manifest, [{ path: calib.file, sha256: calib.sha256 }]);
      manifest.variants.push({
        name: plan.name, method: plan.method, spec_hash: prepared.specHash, variant_hash: prepared.variantHash, dir: prepared.dir,
        reused: prepared.reused, compress_seconds: prepared.compressSeconds,
      });
      saveManifest();
      if (stop()) throw new SweepInterruptedError('stopped on request after compressing ' + plan.name);
      emit({ type: 'variant', index, total, name: plan.name, phase: 'evaluate' });

      const te = Date.now();
      // The server must serve this variant's folder (prepared.dir) under the mapped name: cache keys
      // use the local folder's hash, so a mismatch would mislabel results.
      const modelBackend: Backend = remote
        ? await OpenAIBackend.connect({ baseUrl: remote.baseUrl, model: remote.models[plan.name], concurrency: remote.concurrency })
        : new NativeBackend(plan.params === null ? baseLoaded : loadModelFromDir(prepared.dir), plan.name, prepared.variantHash);
      const cached = new CachedBackend(opts.wrapBackend ? opts.wrapBackend(modelBackend) : modelBackend, store, {
        variantHash: prepared.variantHash, batchSize: cfg.batchSize, shouldStop: stop,
      });
      for (const { config: tcfg, task } of tasks) {
        const scorers = scorersOf.get(task.name) ?? [];
        const settings = taskSettings(tcfg, cfg, scorers);
        const settingsHash = hashOf({ variant: prepared.variantHash, task: task.name, settings });
        const prior = store.result(plan.name, task.name);
        const done = prior?.status === 'ok' && prior.settingsHash === settingsHash;
        emit({ type: 'task-start', index, total, variant: plan.name, task: task.name, cached: done });
        if (done) {
          summary.storedTasks++;
          if (prior.result) addDataFiles(manifest, prior.result.dataset.files);
          continue;
        }
        cached.scope = { task: task.name, settings };
        const before = cached.stats.misses;
        const outDir = path.join(runDir, 'results', plan.name, samplesFileName(task.name).replace(/\.jsonl$/, ''));
        const results = await evaluate({
          backend: cached, tasks: [task], outDir, dataDir, seed: tcfg.seed ?? cfg.seed, limit: tcfg.limit, shots: tcfg.shots,
          samples: tcfg.samples, seqlen: tcfg.seqlen, subsets: tcfg.subsets, decoding: tcfg.decoding, scorers: scorers.length ? scorers : undefined,
          onProgress: (p) => emit({ type: 'task-progress', index, total, variant: plan.name, task: task.name, done: p.done, items: p.total, failures: cached.stats.failures }),
        });
        const entry = results.tasks[task.name];
        // evaluate() records a task's throw as its error; an interrupt is not a result.
        if (stop() || (entry.status === 'error' && entry.error.startsWith(`${SweepInterruptedError.name}:`))) {
          throw new SweepInterruptedError(`stopped on request during ${plan.name} / ${task.name}`);
        }
        if (entry.status === 'ok') {
          const { samples_file: _file, ...result } = entry;
          store.putResult({ variant: plan.name, task: task.name, settingsHash, status: 'ok', version: entry.version, result, error: null, seconds: entry.seconds });
          addDataFiles(manifest, entry.dataset.files);
        } else {
          store.putResult({ variant: plan.name, task: task.name, settingsHash, status: 'error', version: null, result: null, error: entry.error, seconds: entry.seconds });
          summary.failedTasks.push({ variant: plan.name, task: task.name, error: entry.error });
        }
        emit({ type: 'task-end', index, total, variant: plan.name, task: task.name, seconds: entry.seconds, error: entry.status === 'error' ? entry.error : undefined, calls: cached.stats.misses - before });
      }
      await modelBackend.close?.();
      summary.backendCalls += cached.stats.misses;
      summary.cacheHits += cached.stats.hits;
      summary.failures += cached.stats.failures;
      summary.timing.evaluateSeconds += (Date.now() - te) / 1000;
      saveManifest();
    }
    summary.timing.totalSeconds = (Date.now() - t0) / 1000;
    manifest.timing = { compress_seconds: summary.timing.compressSeconds, evaluate_seconds: summary.timing.evaluateSeconds, total_seconds: summary.timing.totalSeconds };
    saveManifest();
    store.finishRun(runId, summary.failedTasks.length > 0 ? 'failed' : 'complete');
    return summary;
  } catch (e) {
    store.finishRun(runId, e instanceof SweepInterruptedError ? 'interrupted' : 'failed');
    throw e;
  } finally {
    store.close();
    await closeScorers();
  }
}
