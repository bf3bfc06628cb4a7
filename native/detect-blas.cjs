// Build-time BLAS detection for binding.gyp. Prints one word: the backend to link.
//   openblas   - cblas.h and libopenblas link (Linux, or anywhere OpenBLAS is installed)
//   accelerate - macOS Accelerate framework
//   fallback   - portable C kernels (never fails)
// COMPSAFE_BLAS=fallback|openblas|accelerate forces a choice.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

function compiles(flags) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'compsafe-blas-'));
  const src = path.join(dir, 't.c');
  fs.writeFileSync(src, '#include <cblas.h>\nint main(void){float a=1,b=1,c=0;cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasNoTrans,1,1,1,1.f,&a,1,&b,1,0.f,&c,1);return c==1.f?0:1;}\n');
  try {
    execFileSync(process.env.CC || 'cc', [src, '-o', path.join(dir, 't'), ...flags], { stdio: 'ignore' });
    execFileSync(path.join(dir, 't'), { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function detect() {
  const forced = process.env.COMPSAFE_BLAS;
  if (forced === 'fallback' || forced === 'openblas' || forced === 'accelerate') return forced;
  if (process.platform === 'darwin') return 'accelerate';
  if (compiles(['-lopenblas'])) return 'openblas';
  if (compiles(['-I/usr/include/openblas', '-lopenblas'])) return 'openblas';
  return 'fallback';
}

const what = process.argv[2];
const backend = detect();
if (what === 'cflags') {
  process.stdout.write(backend === 'openblas' && fs.existsSync('/usr/include/openblas') ? '-I/usr/include/openblas' : '');
} else {
  process.stdout.write(backend);
}
