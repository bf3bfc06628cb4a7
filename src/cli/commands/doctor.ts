import { doctor } from '../../core/doctor.js';
import { COMMON_OPTIONS, Flags, parseFlags } from '../args.js';

export const usage = 'compsafe doctor [--threads N] [--json]';

export async function run(argv: string[], setup: (f: Flags) => void): Promise<void> {
  const f = parseFlags(argv, { ...COMMON_OPTIONS }, 'doctor');
  setup(f);
  const r = doctor();
  if (f.json) {
    process.stdout.write(JSON.stringify(r) + '\n');
    return;
  }
  const m = r.machine;
  process.stdout.write(
    [
      `BLAS backend : ${r.blas}${r.lapack ? ' (with LAPACK)' : ' (C Cholesky/inverse)'}`,
      `threads      : ${r.threads}${r.openmp ? ' (OpenMP element-wise kernels)' : ''}`,
      `sgemm        : ${r.sgemmGflops} GFLOP/s (${r.sgemmSize}^3, fp32)`,
      `machine      : ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.platform}/${m.arch}, node ${m.node}`,
    ].join('\n') + '\n',
  );
}
