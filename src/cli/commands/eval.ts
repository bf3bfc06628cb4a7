import { CompsafeError, UsageError } from '../../core/errors.js';
import { Backend } from '../../backends/backend.js';
import { NativeBackend } from '../../backends/native.js';
import { OpenAIBackend } from '../../backends/openai.js';
import { resolveDataDir } from '../../data/corpora.js';
import { loadModel } from '../../model/load.js';
import { evaluate, formatResultsTable, resolveTasks } from '../../tasks/evaluate.js';
import { COMMON_OPTIONS, Flags, float, int, parseFlags, required, str } from '../args.js';
import { createScorer } from '../../scorers/registry.js';
import { Scorer } from '../../scorers/scorer.js';
import { Progress } from '../progress.js';
import { hubOptions, HUB_OPTIONS } from './shared.js';

export const usage =
  'compsafe eval --model M [--backend native|openai --base-url URL [--concurrency N]] --tasks t1,t2 [--limit N] [--samples K] ' +
  '[--shots K] [--seed S] [--seqlen L] [--subsets A,B] [--data-dir D] [--scorer s1,s2=ARG] [--max-new-tokens N] ' +
  '[--temperature T (0 = greedy)] [--top-p P] [--reference-model M] --out DIR [--json]';

/** One or more tasks of an eval run failed; the others' results are in results.json. */
export class TaskFailedError extends CompsafeError {}

export async function run(argv: string[], setup: (f: Flags) => void): Promise<void> {
  const f = parseFlags(argv, {
    ...COMMON_OPTIONS, ...HUB_OPTIONS, model: { type: 'string' }, tasks: { type: 'string' }, limit: { type: 'string' },
    samples: { type: 'string' }, shots: { type: 'string' }, seed: { type: 'string' }, seqlen: { type: 'string' },
    subsets: { type: 'string' }, 'data-dir': { type: 'string' }, out: { type: 'string' },
    backend: { type: 'string' }, 'base-url': { type: 'string' }, concurrency: { type: 'string' },
    // generation tasks (issue 5)
    scorer: { type: 'string' }, 'max-new-tokens': { type: 'string' }, temperature: { type: 'string' }, 'top-p': { type: 'string' },
    'reference-model': { type: 'string' },
  }, 'eval');
  setup(f);
  const modelSpec = required(f, 'model', 'eval');
  const outDir = required(f, 'out', 'eval');
  // Task names are checked before the model loads.
  const tasks = resolveTasks(required(f, 'tasks', 'eval').split(','));
  const limit = int(f, 'limit', undefined, 1);
  const samples = int(f, 'samples', undefined, 1, 100000);
  const shots = int(f, 'shots', undefined, 0, 100);
  const seed = int(f, 'seed', 0, 0, 0xffffffff)!;
  const seqlen = int(f, 'seqlen', undefined, 2);
  const subsetsFlag = str(f, 'subsets');
  const subsets = subsetsFlag?.split(',').map((s) => s.trim()).filter(Boolean);
  if (subsetsFlag !== undefined && !subsets?.length) throw new UsageError('--subsets needs at least one name');
  const dataDir = resolveDataDir(str(f, 'data-dir'));
  // -- generation tasks (issue 5): decoding overrides and scorers, created before the model loads.
  const decodingFlags = {
    maxNewTokens: int(f, 'max-new-tokens', undefined, 1, 100000), temperature: float(f, 'temperature', undefined, 0, 100),
    topP: float(f, 'top-p', undefined, 0, 1),
  };
  const decoding = Object.values(decodingFlags).some((v) => v !== undefined) ? decodingFlags : undefined;
  const scorerFlag = str(f, 'scorer');
  const scorerSpecs = scorerFlag?.split(',').map((s) => s.trim()).filter(Boolean);
  if (scorerFlag !== undefined && !scorerSpecs?.length) throw new UsageError('--scorer needs at least one scorer');
  const scorers: Scorer[] = [];
  for (const spec of scorerSpecs ?? []) scorers.push(await createScorer(spec, { dataDir }));
  const dupScorer = scorers.find((s, i) => scorers.findIndex((t) => t.id === s.id) !== i);
  if (dupScorer) throw new UsageError(`scorer "${dupScorer.id}" is listed twice in --scorer`);
  const kind = str(f, 'backend') ?? 'native';
  if (kind !== 'native' && kind !== 'openai') throw new UsageError(`--backend must be native or openai, got "${kind}"`);
  const baseUrl = str(f, 'base-url');
  if (kind === 'openai' && !baseUrl) throw new UsageError('eval: --backend openai needs --base-url URL (e.g. http://127.0.0.1:8000/v1)');
  if (kind === 'native' && baseUrl) throw new UsageError('eval: --base-url is only for --backend openai');

  // native: the model runs in-process; openai: --model names the model the server serves.
  const backend: Backend = kind === 'openai'
    ? await OpenAIBackend.connect({ baseUrl: baseUrl!, model: modelSpec, concurrency: int(f, 'concurrency', undefined, 1, 256) })
    : new NativeBackend(await loadModel(modelSpec, { hub: hubOptions(f) }), modelSpec);
  // Generation quality is measured under --reference-model (e.g. the dense model) when given.
  const referenceSpec = str(f, 'reference-model');
  const referenceBackend = referenceSpec ? new NativeBackend(await loadModel(referenceSpec, { hub: hubOptions(f) }), referenceSpec) : undefined;
  if (seqlen !== undefined && seqlen > backend.info.maxPositions) {
    throw new UsageError(`--seqlen ${seqlen} exceeds the model's context of ${backend.info.maxPositions} positions`);
  }
  const quiet = f.quiet === true;
  let progress: Progress | undefined;
  const results = await evaluate({
    backend, tasks, outDir, dataDir, seed, limit, shots, samples, seqlen, subsets, scorers, decoding, referenceBackend,
    onProgress: (p) => progress?.update(p.done, p.total),
    onTask: (e) => {
      if (e.phase === 'start') {
        progress = new Progress(e.task, quiet);
        return;
      }
      progress?.done();
      if (!quiet) process.stderr.write(`${e.task}: ${e.error ? `FAILED (${e.error})` : 'done'} in ${e.seconds!.toFixed(1)}s\n`);
    },
  });
  await backend.close?.();
  for (const s of scorers) await s.close?.();
  if (f.json) process.stdout.write(JSON.stringify(results) + '\n');
  else process.stdout.write(formatResultsTable(results) + `results: ${outDir}/results.json\n`);
  const failed = Object.values(results.tasks).filter((t) => t.status === 'error');
  if (failed.length > 0) {
    const first = failed[0] as { task: string; error: string };
    throw new TaskFailedError(`${failed.length} of ${tasks.length} task(s) failed; ${first.task}: ${first.error}`);
  }
}
