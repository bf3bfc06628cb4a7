import { UsageError } from '../../core/errors.js';
import { aggregateRun } from '../../report/aggregate.js';
import { formatReport, ReportFormat } from '../../report/format.js';
import { COMMON_OPTIONS, Flags, parseFlags, required, str } from '../args.js';
import fs from 'node:fs';
import path from 'node:path';

export const usage = 'compsafe report --run DIR [--format table|json|csv]';

export async function run(argv: string[], setup: (f: Flags) => void): Promise<void> {
  const f = parseFlags(argv, { ...COMMON_OPTIONS, run: { type: 'string' }, format: { type: 'string' } }, 'report');
  setup(f);
  const runDir = required(f, 'run', 'report');
  const format = str(f, 'format') ?? (f.json ? 'json' : 'table');
  if (format !== 'table' && format !== 'json' && format !== 'csv') throw new UsageError(`--format must be table, json or csv, got "${format}"`);
  if (!fs.existsSync(path.join(runDir, 'store.sqlite'))) throw new UsageError(`report: ${runDir} holds no store.sqlite; pass the --out folder of a sweep`);
  process.stdout.write(formatReport(aggregateRun(runDir), format as ReportFormat));
}
