// The result store: one SQLite file (store.sqlite) per run directory.
//   runs       one row per invocation: config, manifest, status
//   variants   model variants: name, recipe, content hash of the weights, folder
//   cache      successful backend results by cache key (see cache-key.ts); errors are never cached
//   failures   every failed request, appended (failures are data, counted in the report)
//   results    per variant x task: the task's result without samples, or its error
//   metrics    per variant x task x (axis, group) x metric: value, CI, n_scored, n_failed
// WAL journal and one transaction per batch: a kill at any moment loses at most the batch in flight.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { MetricValue, TaskResult } from '../tasks/task.js';

export const STORE_FILE = 'store.sqlite';
const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT, started TEXT NOT NULL, finished TEXT, status TEXT NOT NULL,
  config_json TEXT NOT NULL, manifest_json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS variants (
  name TEXT PRIMARY KEY, position INTEGER NOT NULL, method TEXT NOT NULL, spec_hash TEXT NOT NULL,
  weights_sha256 TEXT NOT NULL, variant_hash TEXT NOT NULL, dir TEXT NOT NULL, recipe_json TEXT, compress_seconds REAL);
CREATE TABLE IF NOT EXISTS cache (
  key TEXT PRIMARY KEY, kind TEXT NOT NULL, variant_hash TEXT NOT NULL, task TEXT NOT NULL,
  request_json TEXT NOT NULL, value_json TEXT NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS failures (
  id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, kind TEXT NOT NULL, variant_hash TEXT NOT NULL,
  task TEXT NOT NULL, request_json TEXT NOT NULL, error TEXT NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
  variant TEXT NOT NULL, task TEXT NOT NULL, settings_hash TEXT NOT NULL, status TEXT NOT NULL,
  version TEXT, result_json TEXT, error TEXT, seconds REAL NOT NULL, finished TEXT NOT NULL,
  PRIMARY KEY (variant, task));
CREATE TABLE IF NOT EXISTS metrics (
  variant TEXT NOT NULL, task TEXT NOT NULL, axis TEXT NOT NULL, grp TEXT NOT NULL, metric TEXT NOT NULL,
  value REAL, ci_lo REAL, ci_hi REAL, n_scored INTEGER NOT NULL, n_failed INTEGER NOT NULL,
  PRIMARY KEY (variant, task, axis, grp, metric));
`;

export interface VariantRow {
  name: string;
  position: number;
  method: string;
  specHash: string;
  weightsSha256: string;
  variantHash: string;
  dir: string;
  recipe: unknown;
  compressSeconds: number | null;
}

export interface MetricRow {
  variant: string;
  task: string;
  /** '' for the task's overall metrics. */
  axis: string;
  group: string;
  metric: string;
  value: number | null;
  ci: [number, number] | null;
  n_scored: number;
  n_failed: number;
}

export interface ResultRow {
  variant: string;
  task: string;
  settingsHash: string;
  status: 'ok' | 'error';
  version: string | null;
  result: Omit<TaskResult, 'samples'> | null;
  error: string | null;
  seconds: number;
}

export interface CachedEntry {
  key: string;
  kind: string;
  variantHash: string;
  task: string;
  request: unknown;
}

export class ResultStore {
  private readonly db: Database.Database;

  private constructor(db: Database.Database) {
    this.db = db;
  }

  /** Opens (creating when `create`) the store of a run directory. */
  static open(runDir: string, opts: { create?: boolean; readonly?: boolean } = {}): ResultStore {
    const file = path.join(runDir, STORE_FILE);
    if (!opts.create && !fs.existsSync(file)) throw new Error(`${runDir} holds no ${STORE_FILE}; is it a sweep run folder?`);
    if (opts.create) fs.mkdirSync(runDir, { recursive: true });
    const db = new Database(file, { readonly: opts.readonly === true, fileMustExist: !opts.create });
    if (!opts.readonly) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.exec(SCHEMA);
      const v = db.prepare('SELECT value FROM meta WHERE key = ?').get('schema') as { value: string } | undefined;
      if (!v) db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('schema', String(SCHEMA_VERSION));
      else if (v.value !== String(SCHEMA_VERSION)) throw new Error(`${file} has store schema ${v.value}; this compsafe reads ${SCHEMA_VERSION}`);
    }
    return new ResultStore(db);
  }

  close(): void {
    this.db.close();
  }

  // ------------------------------------------------------------ runs

  startRun(config: unknown, manifest: unknown): number {
    const r = this.db.prepare('INSERT INTO runs (started, status, config_json, manifest_json) VALUES (?, ?, ?, ?)')
      .run(new Date().toISOString(), 'running', JSON.stringify(config), JSON.stringify(manifest));
    return Number(r.lastInsertRowid);
  }

  finishRun(id: number, status: 'complete' | 'interrupted' | 'failed'): void {
    this.db.prepare('UPDATE runs SET finished = ?, status = ? WHERE id = ?').run(new Date().toISOString(), status, id);
  }

  runs(): { id: number; started: string; finished: string | null; status: string; config: unknown; manifest: unknown }[] {
    const rows = this.db.prepare('SELECT * FROM runs ORDER BY id').all() as
      { id: number; started: string; finished: string | null; status: string; config_json: string; manifest_json: string }[];
    return rows.map((r) => ({ id: r.id, started: r.started, finished: r.finished, status: r.status, config: JSON.parse(r.config_json), manifest: JSON.parse(r.manifest_json) }));
  }

  // ------------------------------------------------------------ variants

  putVariant(v: VariantRow): void {
    this.db.prepare(`INSERT INTO variants (name, position, method, spec_hash, weights_sha256, variant_hash, dir, recipe_json, compress_seconds)
      VALUES (@name, @position, @method, @specHash, @weightsSha256, @variantHash, @dir, @recipe, @compressSeconds)
      ON CONFLICT(name) DO UPDATE SET position = excluded.position, method = excluded.method, spec_hash = excluded.spec_hash,
        weights_sha256 = excluded.weights_sha256, variant_hash = excluded.variant_hash, dir = excluded.dir,
        recipe_json = excluded.recipe_json, compress_seconds = COALESCE(excluded.compress_seconds, variants.compress_seconds)`)
      .run({ ...v, recipe: v.recipe === null ? null : JSON.stringify(v.recipe) });
  }

  variants(): VariantRow[] {
    const rows = this.db.prepare('SELECT * FROM variants ORDER BY position, name').all() as Record<string, unknown>[];
    return rows.map((r) => ({
      name: r.name as string, position: r.position as number, method: r.method as string, specHash: r.spec_hash as string,
      weightsSha256: r.weights_sha256 as string, variantHash: r.variant_hash as string, dir: r.dir as string,
      recipe: r.recipe_json === null ? null : JSON.parse(r.recipe_json as string), compressSeconds: r.compress_seconds as number | null,
    }));
  }

  // ------------------------------------------------------------ cache

  /** Stored values for the keys that have one. */
  lookup(keys: string[]): Map<string, unknown> {
    const get = this.db.prepare('SELECT value_json FROM cache WHERE key = ?').pluck();
    const out = new Map<string, unknown>();
    for (const k of keys) {
      const v = get.get(k) as string | undefined;
      if (v !== undefined) out.set(k, JSON.parse(v));
    }
    return out;
  }

  /** Commits one batch: successful values into the cache, failures appended; all or nothing. */
  commitBatch(ok: (CachedEntry & { value: unknown })[], failed: (CachedEntry & { error: string })[]): void {
    const now = new Date().toISOString();
    const put = this.db.prepare(`INSERT OR REPLACE INTO cache (key, kind, variant_hash, task, request_json, value_json, created)
      VALUES (?, ?, ?, ?, ?, ?, ?)`);
    const fail = this.db.prepare(`INSERT INTO failures (key, kind, variant_hash, task, request_json, error, created)
      VALUES (?, ?, ?, ?, ?, ?, ?)`);
    this.db.transaction(() => {
      for (const e of ok) put.run(e.key, e.kind, e.variantHash, e.task, JSON.stringify(e.request), JSON.stringify(e.value), now);
      for (const e of failed) fail.run(e.key, e.kind, e.variantHash, e.task, JSON.stringify(e.request), e.error, now);
    })();
  }

  cacheSize(): number {
    return this.db.prepare('SELECT COUNT(*) FROM cache').pluck().get() as number;
  }

  failureCount(): number {
    return this.db.prepare('SELECT COUNT(*) FROM failures').pluck().get() as number;
  }

  // ------------------------------------------------------------ results and metrics

  /** Replaces the result (and metrics) of one variant x task in one transaction. */
  putResult(r: ResultRow): void {
    const del = this.db.prepare('DELETE FROM metrics WHERE variant = ? AND task = ?');
    const ins = this.db.prepare(`INSERT INTO metrics (variant, task, axis, grp, metric, value, ci_lo, ci_hi, n_scored, n_failed)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    const put = this.db.prepare(`INSERT OR REPLACE INTO results (variant, task, settings_hash, status, version, result_json, error, seconds, finished)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    const metric = (axis: string, group: string, name: string, m: MetricValue): void => {
      ins.run(r.variant, r.task, axis, group, name, m.value, m.ci?.[0] ?? null, m.ci?.[1] ?? null, m.n_scored, m.n_failed);
    };
    this.db.transaction(() => {
      del.run(r.variant, r.task);
      put.run(r.variant, r.task, r.settingsHash, r.status, r.version, r.result === null ? null : JSON.stringify(r.result), r.error, r.seconds, new Date().toISOString());
      if (r.result) {
        for (const [name, m] of Object.entries(r.result.metrics)) metric('', '', name, m);
        for (const [axis, groups] of Object.entries(r.result.groups)) {
          for (const [group, metrics] of Object.entries(groups)) for (const [name, m] of Object.entries(metrics)) metric(axis, group, name, m);
        }
      }
    })();
  }

  result(variant: string, task: string): ResultRow | undefined {
    const r = this.db.prepare('SELECT * FROM results WHERE variant = ? AND task = ?').get(variant, task) as Record<string, unknown> | undefined;
    return r && toResultRow(r);
  }

  results(): ResultRow[] {
    return (this.db.prepare('SELECT * FROM results ORDER BY variant, task').all() as Record<string, unknown>[]).map(toResultRow);
  }

  metrics(): MetricRow[] {
    const rows = this.db.prepare('SELECT * FROM metrics ORDER BY variant, task, axis, grp, metric').all() as Record<string, unknown>[];
    return rows.map((r) => ({
      variant: r.variant as string, task: r.task as string, axis: r.axis as string, group: r.grp as string, metric: r.metric as string,
      value: r.value as number | null, ci: r.ci_lo === null || r.ci_hi === null ? null : [r.ci_lo as number, r.ci_hi as number],
      n_scored: r.n_scored as number, n_failed: r.n_failed as number,
    }));
  }
}

function toResultRow(r: Record<string, unknown>): ResultRow {
  return {
    variant: r.variant as string, task: r.task as string, settingsHash: r.settings_hash as string, status: r.status as 'ok' | 'error',
    version: r.version as string | null, result: r.result_json === null ? null : JSON.parse(r.result_json as string),
    error: r.error as string | null, seconds: r.seconds as number,
  };
}
