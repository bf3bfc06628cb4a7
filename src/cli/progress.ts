// Progress on stderr: one line that updates in place on a terminal (items done / total, rate, ETA),
// and at most one line every few seconds when stderr is a file or pipe.

export class Progress {
  private readonly started = Date.now();
  private lastPrint = 0;
  private printed = false;

  constructor(private readonly label: string, private readonly quiet = false) {}

  update(done: number, total: number, unit = 'items'): void {
    if (this.quiet) return;
    const now = Date.now(), tty = process.stderr.isTTY === true;
    if (done < total && now - this.lastPrint < (tty ? 200 : 5000)) return;
    this.lastPrint = now;
    const secs = (now - this.started) / 1000, rate = secs > 0 ? done / secs : 0;
    const eta = rate > 0 ? (total - done) / rate : 0;
    const line = `${this.label}: ${done}/${total} ${unit}, ${rate.toFixed(1)} ${unit}/s, ETA ${formatDuration(eta)}`;
    if (tty) process.stderr.write(`\r\x1b[K${line}`);
    else process.stderr.write(`${line}\n`);
    this.printed = true;
  }

  done(): void {
    if (this.printed && process.stderr.isTTY) process.stderr.write('\n');
  }
}

export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${Math.round(s % 60)}s`;
  return `${Math.floor(s / 3600)}h${Math.round((s % 3600) / 60)}m`;
}
