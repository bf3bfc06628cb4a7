// The run manifest (RUN/manifest.json and the store's runs table): what produced the results.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineFacts, MachineFacts } from '../core/doctor.js';
import { native, NativeInfo } from '../core/native.js';
import { packageVersion } from '../tasks/evaluate.js';
import { DatasetFile } from '../tasks/task.js';
import { SweepConfig } from './config.js';

export interface RunManifest {
  format: 'compsafe-sweep-manifest/1';
  compsafe_version: string;
  git_commit: string | null;
  started: string;
  config: SweepConfig;
  seeds: { sweep: number; calibration: number; tasks: Record<string, number> };
  base_model: { spec: string; dir: string; weights_sha256: string };
  native: NativeInfo;
  machine: MachineFacts;
  /** Dataset files the tasks read, with SHA-256, as the tasks reported them. */
  data_files: DatasetFile[];
  variants: { name: string; method: string; spec_hash: string; variant_hash: string; dir: string; reused: boolean; compress_seconds: number }[];
  timing: { compress_seconds: number; evaluate_seconds: number; total_seconds: number } | null;
}

/** HEAD of the git checkout compsafe runs from, or null (installed package, no git). */
export function gitCommit(): string | null {
  try {
    const here = path.dirname(fileURLToPath(import.meta.url));
    const out = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: here, stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).toString().trim();
    return /^[0-9a-f]{40}$/.test(out) ? out : null;
  } catch {
    return null;
  }
}

export function startManifest(config: SweepConfig, base: RunManifest['base_model']): RunManifest {
  return {
    format: 'compsafe-sweep-manifest/1',
    compsafe_version: packageVersion(),
    git_commit: gitCommit(),
    started: new Date().toISOString(),
    config,
    seeds: {
      sweep: config.seed, calibration: config.calibration.seed,
      tasks: Object.fromEntries(config.tasks.map((t) => [t.name, t.seed ?? config.seed])),
    },
    base_model: base,
    native: native.info(),
    machine: machineFacts(),
    data_files: [],
    variants: [],
    timing: null,
  };
}

/** Adds dataset files not yet listed (by path and hash). */
export function addDataFiles(m: RunManifest, files: DatasetFile[]): void {
  for (const f of files) if (!m.data_files.some((g) => g.path === f.path && g.sha256 === f.sha256)) m.data_files.push(f);
  m.data_files.sort((a, b) => a.path.localeCompare(b.path));
}
