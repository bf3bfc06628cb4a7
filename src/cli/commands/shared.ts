import { HubOptions } from '../../model/hub.js';
import { Flags, str } from '../args.js';

export const HUB_OPTIONS = {
  offline: { type: 'boolean' },
  revision: { type: 'string' },
  'cache-dir': { type: 'string' },
} as const;

/** Hub settings from flags; HF_TOKEN and the other variables are read by the hub module itself. */
export function hubOptions(f: Flags): HubOptions {
  const o: HubOptions = {};
  if (f.offline === true) o.offline = true;
  const rev = str(f, 'revision'), cache = str(f, 'cache-dir');
  if (rev) o.revision = rev;
  if (cache) o.cacheDir = cache;
  if (process.stderr.isTTY) {
    let last = 0;
    o.onProgress = (p) => {
      const now = Date.now();
      if (now - last < 250 && p.total !== null && p.bytes < p.total) return;
      last = now;
      const mb = (b: number): string => (b / 2 ** 20).toFixed(1);
      process.stderr.write(`\r\x1b[Kdownloading ${p.file}: ${mb(p.bytes)}${p.total ? `/${mb(p.total)}` : ''} MiB`);
      if (p.total !== null && p.bytes >= p.total) process.stderr.write('\n');
    };
  }
  return o;
}
