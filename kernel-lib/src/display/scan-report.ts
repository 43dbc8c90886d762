import type { ScanReport } from '../frame/index.js';
import { escapeHtml, formatCount } from './escape.js';
import { DISPLAY_CSS } from './css.js';

/**
 * True for a {@link ScanReport} (what `Frame.explain()` returns for a Delta scan).
 * @example if (isScanReport(await df.explain())) ...
 */
export function isScanReport(value: unknown): value is ScanReport {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Partial<ScanReport>;
  return typeof r.source === 'string' && typeof r.filesTotal === 'number' && typeof r.filesScanned === 'number' && Array.isArray(r.stages);
}

/**
 * Bytes as a short human figure (1,234 B, 12.3 KB, 4.5 MB), base 1024.
 * @example formatBytes(12_345) // => '12.1 KB'
 */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${formatCount(bytes)} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * One line saying what a scan reads and what each skipping stage saved.
 * @example scanReportText(await df.explain())
 * // => 'reads 2 of 14 files (31.0 KB of 210.4 KB); skipped by partitions 10, stats 2, bloom 0'
 */
export function scanReportText(report: ScanReport): string {
  const skipped = report.stages.map((s) => `${s.stage} ${formatCount(s.filesSkipped)}`).join(', ');
  return (
    `reads ${formatCount(report.filesScanned)} of ${formatCount(report.filesTotal)} files ` +
    `(${formatBytes(report.bytesScanned)} of ${formatBytes(report.bytesTotal)})` +
    (skipped ? `; skipped by ${skipped}` : '')
  );
}

/**
 * A scan report as a small HTML table: one row per skipping stage (files and bytes it skipped),
 * then what is left to read, with the predicates the scan used.
 * @example display(html(scanReportToHtml(await df.explain())))
 */
export function scanReportToHtml(report: ScanReport, options: { title?: string } = {}): string {
  const row = (label: string, files: number, bytes: number, cls = ''): string =>
    `<tr${cls ? ` class="${cls}"` : ''}><td>${escapeHtml(label)}</td><td>${formatCount(files)}</td><td>${escapeHtml(formatBytes(bytes))}</td></tr>`;
  const stages = report.stages.map((s) => row(`skipped by ${s.stage}`, s.filesSkipped, s.bytesSkipped)).join('');
  const predicates = report.predicates.length
    ? `<div>where <code>${report.predicates.map(escapeHtml).join('</code> and <code>')}</code></div>`
    : '<div>no predicates the scan can use</div>';
  const title = options.title ? `<b>${escapeHtml(options.title)}</b><br>` : '';
  return (
    `${DISPLAY_CSS}<div class="wl-scan">${title}<span class="wl-type">${escapeHtml(report.source)}</span>${predicates}` +
    `<table class="wl-frame"><thead><tr><th></th><th>files</th><th>bytes</th></tr></thead><tbody>` +
    row('in the snapshot', report.filesTotal, report.bytesTotal) +
    stages +
    row('read', report.filesScanned, report.bytesScanned, 'wl-total') +
    `</tbody></table></div>`
  );
}
