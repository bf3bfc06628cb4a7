// Machine and engine facts, with a measured sgemm rate, for `compsafe doctor` and benchmark records.
import os from 'node:os';
import { native, NativeInfo } from './native.js';

export interface MachineFacts {
  node: string;
  platform: string;
  arch: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
}

export function machineFacts(): MachineFacts {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
  };
}

/** Best-of-`reps` GFLOP/s of a square sgemm C = A B^T (the layout of a linear layer). */
export function measureSgemm(n = 1024, reps = 5, forceFallback: 0 | 1 = 0): number {
  const A = new Float32Array(n * n).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const B = A.slice().reverse(), C = new Float32Array(n * n);
  native.sgemm(0, 1, n, n, n, 1, A, n, B, n, 0, C, n, forceFallback);  // warm-up: threads, pages
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t = process.hrtime.bigint();
    native.sgemm(0, 1, n, n, n, 1, A, n, B, n, 0, C, n, forceFallback);
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e9);
  }
  return (2 * n * n * n) / best / 1e9;
}

export interface DoctorReport extends NativeInfo {
  machine: MachineFacts;
  sgemmGflops: number;
  sgemmSize: number;
}

export function doctor(): DoctorReport {
  const size = 1024;
  return { ...native.info(), machine: machineFacts(), sgemmGflops: Math.round(measureSgemm(size) * 10) / 10, sgemmSize: size };
}
