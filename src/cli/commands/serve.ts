import { UsageError } from '../../core/errors.js';
import { loadModel } from '../../model/load.js';
import { startServer } from '../../server/openai-server.js';
import { COMMON_OPTIONS, Flags, int, parseFlags, required, str } from '../args.js';
import { hubOptions, HUB_OPTIONS } from './shared.js';

export const usage =
  'compsafe serve --model M [--port P] [--host 127.0.0.1] [--max-concurrency N] [--max-n N] [--max-body-mb N] [--served-model-name NAME]';

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

export async function run(argv: string[], setup: (f: Flags) => void): Promise<void> {
  const f = parseFlags(argv, {
    ...COMMON_OPTIONS, ...HUB_OPTIONS, model: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' },
    'max-concurrency': { type: 'string' }, 'max-n': { type: 'string' }, 'max-body-mb': { type: 'string' }, 'served-model-name': { type: 'string' },
  }, 'serve');
  setup(f);
  const modelSpec = required(f, 'model', 'serve');
  const port = int(f, 'port', 8000, 0, 65535)!;
  const host = str(f, 'host') ?? '127.0.0.1';
  if (host === '') throw new UsageError('serve: --host needs a value');
  const maxConcurrency = int(f, 'max-concurrency', 64, 1, 100000)!;
  const maxN = int(f, 'max-n', 128, 1, 4096)!;
  const maxBodyBytes = int(f, 'max-body-mb', 8, 1, 1024)! * 2 ** 20;
  const modelName = str(f, 'served-model-name') ?? modelSpec;
  const quiet = f.quiet === true;

  const loaded = await loadModel(modelSpec, { hub: hubOptions(f) });
  let server;
  try {
    server = await startServer({ loaded, modelName, host, port, maxConcurrency, maxN, maxBodyBytes, log: quiet ? null : undefined });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new UsageError(`serve: port ${port} on ${host} is in use; pick another with --port (0 = any free port)`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new UsageError(`serve: cannot bind to --host ${host} (${code})`);
    throw e;
  }
  if (!LOOPBACK.test(host)) process.stderr.write(`compsafe serve: warning: listening on ${host} without authentication; anyone who can reach it can use the model\n`);
  process.stderr.write(`compsafe serve: ${modelName} (context ${loaded.model.info.maxPositions}) at ${server.url}/v1 — Ctrl-C stops\n`);

  // The first signal stops cleanly (requests in progress finish); a second one exits at once.
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) process.exit(130);
      stopping = true;
      process.stderr.write(`compsafe serve: ${signal}: stopping\n`);
      void server.close().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  const s = server.stats();
  process.stderr.write(`compsafe serve: stopped after ${s.requests} requests (${s.rejected} refused as over the limit)\n`);
}
