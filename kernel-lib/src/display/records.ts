import { DISPLAY_CSS } from './css.js';
import { escapeHtml } from './escape.js';
import { rowCountNotice } from './table.js';

/** A list of plain records (`listTables()`, history, a build report): what console.table would get. */
export type Records = readonly Record<string, unknown>[];

/**
 * True for a non-empty array of plain objects (not a schema, which has its own tree).
 * @example isRecords([{ name: 'process', rows: 10 }]) // => true
 */
export function isRecords(value: unknown): value is Records {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((r: unknown) => typeof r === 'object' && r !== null && !Array.isArray(r) && Object.getPrototypeOf(r) === Object.prototype)
  );
}

function columnsOf(rows: Records): string[] {
  return [...new Set(rows.flatMap((r) => Object.keys(r)))];
}

/** A value as one line: strings as they are (no quotes, no doubled backslashes), the rest compact JSON. */
function valueText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
  return String(v);
}

function columnClass(rows: Records, column: string): string {
  const present = rows.map((r) => r[column]).filter((v) => v !== null && v !== undefined);
  if (present.length && present.every((v) => typeof v === 'number' || typeof v === 'bigint')) return 'wl-n';
  if (present.length && present.every((v) => v instanceof Date)) return 'wl-t';
  return 'wl-s';
}

/**
 * A list of records as the same HTML table a Frame gets (theme colours, aligned, escaped) — what
 * notebooks use instead of `console.table`, which wraps, quotes strings and doubles backslashes.
 * @example display(await listTables())  // uses recordsToHtml in a notebook
 */
export function recordsToHtml(rows: Records, options: { limit?: number } = {}): string {
  const limit = options.limit ?? 100;
  const shown = rows.slice(0, limit);
  const columns = columnsOf(shown);
  const classes = columns.map((c, i) => `${columnClass(shown, c)}${i === 0 ? ' wl-sticky' : ''}`);
  const head = columns.map((c, i) => `<th class="${classes[i]}">${escapeHtml(c)}</th>`).join('');
  const body = shown
    .map((r) => `<tr>${columns.map((c, i) => `<td class="${classes[i]}">${escapeHtml(valueText(r[c]))}</td>`).join('')}</tr>`)
    .join('\n');
  return `${DISPLAY_CSS}<div class="wl-table"><table class="wl-frame"><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table></div><div class="wl-caption">${escapeHtml(rowCountNotice(shown.length, rows.length))}</div>`;
}

/**
 * A list of records as a plain-text table for terminals.
 * @example console.log(recordsToText([{ a: 1 }]))
 */
export function recordsToText(rows: Records, options: { limit?: number } = {}): string {
  const shown = rows.slice(0, options.limit ?? 100);
  const columns = columnsOf(shown);
  const cells = shown.map((r) => columns.map((c) => valueText(r[c]).replaceAll(/\r?\n/g, '⏎')));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (vals: string[]): string => `| ${vals.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`;
  const sep = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  return [sep, line(columns), sep, ...cells.map(line), sep, rowCountNotice(shown.length, rows.length)].join('\n');
}
