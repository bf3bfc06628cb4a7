// compsafe command-line entry: dispatch to one command module; every failure becomes one line on
// stderr and a non-zero exit code (COMPSAFE_DEBUG=1 adds the stack).
import { CompsafeError, UsageError } from '../core/errors.js';
import { configureThreads } from '../core/native.js';
import { Flags, int } from './args.js';

interface Command {
  usage: string;
  run(argv: string[], setup: (f: Flags) => void): Promise<void>;
}

const COMMANDS: Record<string, () => Promise<Command>> = {
  doctor: () => import('./commands/doctor.js'),
  perplexity: () => import('./commands/perplexity.js'),
  generate: () => import('./commands/generate.js'),
  serve: () => import('./commands/serve.js'),
  eval: () => import('./commands/eval.js'),
  data: () => import('./commands/data.js'),
  compress: () => import('./commands/compress.js'),
  sweep: () => import('./commands/sweep.js'),
  report: () => import('./commands/report.js'),
};

function setup(f: Flags): void {
  configureThreads(int(f, 'threads', undefined, 1, 1024));
}

function help(): string {
  return ['usage: compsafe <command> [flags]', '', 'commands:'].join('\n') + '\n';
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    const mods = await Promise.all(Object.values(COMMANDS).map((load) => load()));
    process.stdout.write(help() + mods.map((m) => `  ${m.usage}`).join('\n') + '\n');
    return name ? 0 : 2;
  }
  const load = COMMANDS[name];
  try {
    if (!load) throw new UsageError(`unknown command "${name}"; commands: ${Object.keys(COMMANDS).join(', ')}`);
    const cmd = await load();
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(`usage: ${cmd.usage}\n`);
      return 0;
    }
    await cmd.run(rest, setup);
    return 0;
  } catch (e) {
    const err = e as Error;
    const where = err instanceof CompsafeError ? err.name : err instanceof RangeError || err instanceof TypeError ? 'invalid input' : 'internal error';
    process.stderr.write(`compsafe ${name}: ${where}: ${(err.message ?? String(e)).split('\n')[0]}\n`);
    if (process.env.COMPSAFE_DEBUG) process.stderr.write(`${err.stack}\n`);
    return err instanceof CompsafeError ? err.exitCode : 1;
  }
}
