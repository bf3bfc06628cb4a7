// Text, CSV and JSON renderings of a RunReport (see aggregate.ts).
import { ReportRow, RunReport } from './aggregate.js';

export type ReportFormat = 'table' | 'json' | 'csv';

function num(v: number | null): string {
  if (v === null) return '-';
  if (Number.isInteger(v) && Math.abs(v) < 1e9) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(3) : v.toFixed(4);
}

function signed(v: number | null): string {
  return v === null ? '-' : v >= 0 ? `+${num(v)}` : num(v);
}

function table(header: string[], rows: string[][], numeric: Set<number>): string {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => r[c].length)));
  const line = (r: string[]): string => r.map((cell, c) => (numeric.has(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n') + '\n';
}

const ci = (r: ReportRow): string => (r.ci_low === null || r.ci_high === null ? '' : `[${num(r.ci_low)}, ${num(r.ci_high)}]`);

/** One table of overall metrics, then one table per task with groups, then task failures. */
export function formatTable(report: RunReport): string {
  let out = table(['variant', 'task', 'metric', 'value', '95% CI', 'n', 'failed', 'vs dense'],
    report.overall.map((r) => [r.variant, r.task, r.metric, num(r.value), ci(r), String(r.n_scored), String(r.n_failed), r.variant === 'dense' ? '' : signed(r.delta)]),
    new Set([3, 5, 6, 7]));
  for (const task of report.tasks) {
    const rows = report.groups.filter((r) => r.task === task);
    if (rows.length === 0) continue;
    out += `\n${task} by group\n`;
    out += table(['variant', 'group', 'metric', 'value', '95% CI', 'n', 'failed', 'vs dense'],
      rows.map((r) => [r.variant, `${r.axis}=${r.group}`, r.metric, num(r.value), ci(r), String(r.n_scored), String(r.n_failed), r.variant === 'dense' ? '' : signed(r.delta)]),
      new Set([3, 5, 6, 7]));
  }
  const failed = report.status.filter((s) => s.status !== 'ok');
  if (failed.length > 0) {
    out += '\n' + failed.map((s) => `${s.status === 'error' ? 'FAILED' : 'MISSING'} ${s.variant} / ${s.task}${s.error ? `: ${s.error}` : ''}`).join('\n') + '\n';
  }
  out += `\n${report.variants.length} variants x ${report.tasks.length} tasks; ${report.failures} failed request(s) recorded\n`;
  return out;
}

const CSV_COLUMNS: (keyof ReportRow)[] = ['variant', 'method', 'task', 'axis', 'group', 'metric', 'value', 'ci_low', 'ci_high', 'n_scored', 'n_failed', 'dense', 'delta'];

function csvCell(v: string | number | null): string {
  if (v === null) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One CSV row per metric (overall rows have empty axis and group); numbers at full precision. */
export function formatCsv(report: RunReport): string {
  const rows = [...report.overall, ...report.groups];
  return [CSV_COLUMNS.join(','), ...rows.map((r) => CSV_COLUMNS.map((c) => csvCell(r[c])).join(','))].join('\n') + '\n';
}

export function formatReport(report: RunReport, format: ReportFormat): string {
  if (format === 'json') return JSON.stringify(report, null, 2) + '\n';
  if (format === 'csv') return formatCsv(report);
  return formatTable(report);
}
