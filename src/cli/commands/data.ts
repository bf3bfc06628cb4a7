import { parseArgs } from 'node:util';
import { UsageError } from '../../core/errors.js';
import { DATASETS, datasetByName, datasetNames, DatasetEntry } from '../../data/catalogue.js';
import { resolveDataDir } from '../../data/corpora.js';
import { DataFetchError, fetchDataset } from '../../data/download.js';
import { datasetPresence, verifyDataset } from '../../data/inventory.js';
import { Flags } from '../args.js';

export const usage = 'compsafe data list | verify [NAME...] | fetch NAME... [--data-dir D] [--offline] [--force] [--json]';

export async function run(argv: string[], setup: (f: Flags) => void): Promise<void> {
  let parsed: { values: Flags; positionals: string[] };
  try {
    parsed = parseArgs({
      args: argv, allowPositionals: true, strict: true,
      options: { 'data-dir': { type: 'string' }, offline: { type: 'boolean' }, force: { type: 'boolean' }, json: { type: 'boolean' }, quiet: { type: 'boolean' }, threads: { type: 'string' } },
    }) as { values: Flags; positionals: string[] };
  } catch (e) {
    throw new UsageError(`data: ${(e as Error).message.split('\n').map((l) => l.trim()).filter(Boolean).join(' ')}`);
  }
  const f = parsed.values;
  setup(f);
  const [sub, ...names] = parsed.positionals;
  const dataDir = resolveDataDir(typeof f['data-dir'] === 'string' ? f['data-dir'] : undefined);
  const json = f.json === true;
  if (sub === 'list') {
    if (names.length) throw new UsageError('data list takes no names');
    return list(dataDir, json);
  }
  if (sub === 'verify') return verify(dataDir, names.length ? names.map(lookup) : undefined, json);
  if (sub === 'fetch') {
    if (!names.length) throw new UsageError(`data fetch needs a dataset name; datasets: ${datasetNames().join(', ')}`);
    return fetchAll(dataDir, names.map(lookup), { offline: f.offline === true ? true : undefined, force: f.force === true, quiet: f.quiet === true, json });
  }
  throw new UsageError(`data: unknown subcommand "${sub ?? ''}"; use list, verify or fetch`);
}

function lookup(name: string): DatasetEntry {
  const d = datasetByName(name);
  if (!d) throw new UsageError(`unknown dataset "${name}"; datasets: ${datasetNames().join(', ')}`);
  return d;
}

function list(dataDir: string, json: boolean): void {
  const rows = DATASETS.map((d) => datasetPresence(dataDir, d));
  if (json) {
    process.stdout.write(JSON.stringify({ dataDir, datasets: rows }) + '\n');
    return;
  }
  process.stdout.write(`data directory: ${dataDir}\n`);
  const nameW = Math.max(...rows.map((r) => r.name.length)), files = (r: (typeof rows)[number]): string => `${r.present}/${r.total} files`;
  const filesW = Math.max(...rows.map((r) => files(r).length));
  for (const r of rows) {
    const extra = [r.license, r.testUseOnly ? 'test use only' : '', r.status !== 'absent' && r.note ? r.note : ''].filter(Boolean).join('; ');
    process.stdout.write(`${r.name.padEnd(nameW)}  ${r.status.padEnd(8)}  ${files(r).padStart(filesW)}  ${extra}\n`);
  }
}

async function verify(dataDir: string, only: DatasetEntry[] | undefined, json: boolean): Promise<void> {
  // Without names: every dataset that is at least partly present.
  const targets = only ?? DATASETS.filter((d) => datasetPresence(dataDir, d).status !== 'absent');
  const results = [];
  for (const d of targets) results.push(await verifyDataset(dataDir, d));
  const modified = results.reduce((a, r) => a + r.modified, 0);
  const missing = results.reduce((a, r) => a + r.missing, 0);
  if (json) {
    process.stdout.write(JSON.stringify({ dataDir, datasets: results }) + '\n');
  } else {
    if (targets.length === 0) process.stdout.write(`no known dataset is present in ${dataDir}\n`);
    for (const r of results) {
      const parts = [`${r.ok} ok`, `${r.modified} modified`, `${r.missing} missing`, ...(r.unverified ? [`${r.unverified} without a reference hash`] : [])];
      process.stdout.write(`${r.name}: ${parts.join(', ')}\n`);
      for (const c of r.files) {
        if (c.state === 'modified') process.stdout.write(`  MODIFIED  ${c.path}: expected sha256 ${c.expected}, got ${c.actual}\n`);
        else if (c.state === 'missing') process.stdout.write(`  MISSING   ${c.path}\n`);
        else if (c.state === 'unverified') process.stdout.write(`  UNVERIFIED ${c.path}: sha256 ${c.actual} (no reference hash)\n`);
      }
    }
  }
  if (modified > 0) throw new DataFetchError(`${modified} file(s) differ from the manifest in ${dataDir}`);
  if (missing > 0 && only) throw new DataFetchError(`${missing} file(s) missing from ${dataDir}`);
}

async function fetchAll(dataDir: string, targets: DatasetEntry[], o: { offline?: boolean; force: boolean; quiet: boolean; json: boolean }): Promise<void> {
  let failed = 0, manual = 0, firstError = '';
  for (const d of targets) {
    let last = 0;
    const results = await fetchDataset(d, dataDir, {
      offline: o.offline, force: o.force,
      onProgress: o.quiet ? undefined : (p) => {
        const now = Date.now();
        if (now - last < 1000 && !(p.total !== null && p.bytes >= p.total)) return;
        last = now;
        const mb = (b: number): string => (b / 2 ** 20).toFixed(1);
        process.stderr.write(`downloading ${p.file}: ${mb(p.bytes)}${p.total !== null ? `/${mb(p.total)}` : ''} MiB\n`);
      },
    });
    failed += results.filter((r) => r.state === 'failed').length;
    firstError ||= results.find((r) => r.state === 'failed')?.error ?? '';
    manual += results.filter((r) => r.state === 'manual').length;
    if (o.json) {
      process.stdout.write(JSON.stringify({ dataset: d.name, dataDir, files: results }) + '\n');
      continue;
    }
    const n = (s: string): number => results.filter((r) => r.state === s).length;
    process.stdout.write(`${d.name}: ${n('downloaded')} downloaded, ${n('present')} already present, ${n('failed')} failed -> ${dataDir}\n`);
    for (const r of results) {
      if (r.state === 'failed') process.stdout.write(`  FAILED    ${r.path}: ${r.error}\n`);
      else if (r.state === 'manual') process.stdout.write(`  MANUAL    ${r.path}: ${d.manual ?? 'no download URL'}\n`);
      else if (r.state === 'downloaded' && !r.verified) process.stdout.write(`  UNVERIFIED ${r.path}: sha256 ${r.sha256} (no reference hash)\n`);
    }
  }
  if (failed > 0) throw new DataFetchError(`${failed} file(s) could not be downloaded (first: ${firstError})`);
  if (manual > 0) throw new DataFetchError(`${manual} file(s) need manual steps; see the lines above`);
}
