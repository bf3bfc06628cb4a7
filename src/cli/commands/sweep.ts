import { loadSweepConfig, sweepConfigJsonSchema } from '../../runs/config.js';
import { runSweep, SweepEvent } from '../../runs/sweep.js';
import { SweepInterruptedError } from '../../runs/cached-backend.js';
import { COMMON_OPTIONS, Flags, int, parseFlags, required, str } from '../args.js';
import { formatDuration } from '../progress.js';

export const usage = 'compsafe sweep --config sweep.yaml [--resume] [--out DIR] [--data-dir D] [--limit N] [--json] | compsafe sweep --schema';

/** One status line on stderr: variants done/total, the task's requests done/total, rate, ETA, failures. */
class SweepStatus {
  private last = 0;
  private printed = false;
  private taskStarted = Date.now();
  private failures = 0;
  constructor(private readonly quiet: boolean) {}

  private write(line: string, force: boolean): void {
    if (this.quiet) return;
    const now = Date.now(), tty = process.stderr.isTTY === true;
    if (!force && now - this.last < (tty ? 200 : 5000)) return;
    this.last = now;
    process.stderr.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
    this.printed = true;
  }

  event(e: SweepEvent): void {
    const head = (index: number, total: number, name: string): string => `sweep ${index}/${total} variants done | ${name}`;
    if (e.type === 'variant' && e.phase === 'compress') this.write(`${head(e.index, e.total, e.name)} compressing`, true);
    else if (e.type === 'compress-progress') this.write(`${head(e.index, e.total, e.name)} compressing ${e.done}/${e.totalSites} layers`, e.done === e.totalSites);
    else if (e.type === 'task-start') {
      this.taskStarted = Date.now();
      this.write(`${head(e.index, e.total, e.variant)} ${e.task}${e.cached ? ' (stored)' : ''} | ${this.failures} failed`, true);
    } else if (e.type === 'task-progress') {
      this.failures = Math.max(this.failures, e.failures);
      const secs = (Date.now() - this.taskStarted) / 1000, rate = secs > 0 ? e.done / secs : 0;
      const eta = rate > 0 ? (e.items - e.done) / rate : Infinity;
      this.write(`${head(e.index, e.total, e.variant)} ${e.task} ${e.done}/${e.items} requests, ${rate.toFixed(1)}/s, ETA ${formatDuration(eta)} | ${this.failures} failed`, false);
    } else if (e.type === 'task-end' && e.error) {
      this.write(`${e.variant} / ${e.task}: FAILED (${e.error})`, true);
      this.done();
    }
  }

  done(): void {
    if (this.printed && process.stderr.isTTY) process.stderr.write('\n');
    this.printed = false;
  }
}

export async function run(argv: string[], setup: (f: Flags) => void): Promise<void> {
  const f = parseFlags(argv, {
    ...COMMON_OPTIONS, config: { type: 'string' }, resume: { type: 'boolean' }, out: { type: 'string' },
    'data-dir': { type: 'string' }, limit: { type: 'string' }, schema: { type: 'boolean' },
  }, 'sweep');
  setup(f);
  if (f.schema) {
    process.stdout.write(JSON.stringify(sweepConfigJsonSchema(), null, 2) + '\n');
    return;
  }
  const configFile = required(f, 'config', 'sweep');
  // --resume is the default behaviour (a re-run continues from the store); the flag documents intent.
  const cfg = loadSweepConfig(configFile, { out: str(f, 'out'), dataDir: str(f, 'data-dir'), limit: int(f, 'limit', undefined, 1) });
  const status = new SweepStatus(f.quiet === true);
  // First Ctrl-C: finish the batch in flight, commit it, stop. Second: leave at once.
  let stopping = false;
  const onSigint = (): void => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stderr.write('\nstopping after the current batch (Ctrl-C again to quit at once)\n');
  };
  process.on('SIGINT', onSigint);
  const extra = [str(f, 'out') ? ` --out ${str(f, 'out')}` : '', str(f, 'data-dir') ? ` --data-dir ${str(f, 'data-dir')}` : '', str(f, 'limit') ? ` --limit ${str(f, 'limit')}` : ''].join('');
  try {
    const summary = await runSweep(cfg, { shouldStop: () => stopping, onEvent: (e) => status.event(e) });
    status.done();
    if (f.json) process.stdout.write(JSON.stringify(summary) + '\n');
    else {
      const t = summary.timing;
      process.stdout.write(`${summary.variants} variants x ${summary.tasks} tasks in ${t.totalSeconds.toFixed(1)} s ` +
        `(compression ${t.compressSeconds.toFixed(1)} s, evaluation ${t.evaluateSeconds.toFixed(1)} s); ` +
        `${summary.backendCalls} requests computed, ${summary.cacheHits} from the store, ${summary.storedTasks} task results reused, ${summary.failures} failed\n` +
        `results: ${summary.runDir}/store.sqlite (compsafe report --run ${summary.runDir})\n`);
      for (const ft of summary.failedTasks) process.stdout.write(`FAILED ${ft.variant} / ${ft.task}: ${ft.error}\n`);
    }
  } catch (e) {
    status.done();
    if (e instanceof SweepInterruptedError) {
      throw new SweepInterruptedError(`stopped; everything up to the last batch is stored. Resume with: compsafe sweep --config ${configFile} --resume${extra}`);
    }
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
