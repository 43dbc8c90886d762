import type { DuckDBType } from '@duckdb/node-api';
import type { Frame } from '../frame/index.js';
import { escapeHtml, formatCount } from './escape.js';
import { DISPLAY_CSS } from './css.js';
import { cellClass, cellToHtml, cellToText, DEFAULT_CELL_LIMITS, shortTypeName, type CellLimits } from './values.js';

/** Options for {@link frameToHtml} and {@link frameToText}. */
export interface TableOptions {
  /** Rows to show. Default 20. */
  limit?: number;
  /** Characters of a string value shown before it is cut. Default 80. */
  maxChars?: number;
  /** Entries of a list or map shown before "+N more". Default 10. */
  maxItems?: number;
}

/** The first rows of a Frame with their column types, and its total row count. */
export interface TablePreview {
  names: string[];
  types: DuckDBType[];
  rows: unknown[][];
  total: number;
}

/**
 * Reads the first `limit` rows of a Frame and counts all of them; both in DuckDB.
 * @example const { names, rows, total } = await previewFrame(df, 5);
 */
export async function previewFrame(df: Frame, limit: number): Promise<TablePreview> {
  if (!Number.isInteger(limit) || limit < 0) throw new Error(`limit must be a non-negative integer, got ${limit}`);
  const sql = await df.toSql();
  const result = await df.session.run(`SELECT * FROM (${sql}) LIMIT ${limit}`);
  const total = Number(await df.session.scalar<bigint | number>(`SELECT count(*) FROM (${sql})`));
  return { names: result.columnNames(), types: result.columnTypes(), rows: result.getRowsJS() as unknown[][], total };
}

/**
 * Renders the first rows of a Frame as an HTML table: column names with their types in the header,
 * text left- and numbers right-aligned, timestamps on one line, nested values collapsed to one
 * line that expands on click, NULLs styled, long strings cut (full value in the tooltip), the
 * total row count ("showing 20 of 12,345 rows"). A wide table scrolls sideways with its first
 * column kept in view. Colours follow the JupyterLab theme. All data is HTML-escaped.
 *
 * @example
 * const html = await frameToHtml(df, { limit: 50 });
 * tslab.display.html(html);
 */
export async function frameToHtml(df: Frame, options: TableOptions = {}): Promise<string> {
  return previewToHtml(await previewFrame(df, options.limit ?? 20), options);
}

/**
 * The HTML table of a {@link TablePreview} (see {@link frameToHtml}).
 * @example previewToHtml(await previewFrame(df, 5))
 */
export function previewToHtml(preview: TablePreview, options: TableOptions = {}): string {
  const { names, types, rows, total } = preview;
  const limits = cellLimits(options);
  const classes = types.map((t, i) => [cellClass(t), i === 0 ? 'wl-sticky' : ''].filter(Boolean).join(' '));
  const attr = (i: number): string => (classes[i] ? ` class="${classes[i]}"` : '');
  const head = names
    .map((name, i) => {
      const type = types[i]!;
      return `<th${attr(i)} title="${escapeHtml(type.toString())}">${escapeHtml(name)}<br><span class="wl-type">${escapeHtml(shortTypeName(type))}</span></th>`;
    })
    .join('');
  const body = rows.map((row) => `<tr>${row.map((v, i) => `<td${attr(i)}>${cellToHtml(v, types[i]!, limits)}</td>`).join('')}</tr>`).join('\n');
  return `${DISPLAY_CSS}<div class="wl-table"><table class="wl-frame"><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table></div><div class="wl-caption">${escapeHtml(rowCountNotice(rows.length, total))}</div>`;
}

/**
 * Renders the first rows of a Frame as a plain-text table for terminals, with the row count.
 * @example console.log(await frameToText(df, { limit: 10 }));
 */
export async function frameToText(df: Frame, options: TableOptions = {}): Promise<string> {
  const { names, types, rows, total } = await previewFrame(df, options.limit ?? 20);
  const limits = { ...cellLimits(options), maxChars: Math.min(cellLimits(options).maxChars, 40) };
  const header = names.map((n, i) => `${n} (${shortTypeName(types[i]!)})`);
  const cells = rows.map((row) => row.map((v, i) => cellToText(v, types[i]!, limits)));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (vals: string[]): string => `| ${vals.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`;
  const sep = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  return [sep, line(header), sep, ...cells.map(line), sep, rowCountNotice(rows.length, total)].join('\n');
}

/**
 * The caption under a table: "3 rows", or "showing 20 of 12,345 rows" when cut.
 * @example rowCountNotice(20, 12345) // => 'showing 20 of 12,345 rows'
 */
export function rowCountNotice(shown: number, total: number): string {
  if (shown >= total) return `${formatCount(total)} ${total === 1 ? 'row' : 'rows'}`;
  return `showing ${formatCount(shown)} of ${formatCount(total)} rows`;
}

function cellLimits(options: TableOptions): CellLimits {
  return {
    maxChars: options.maxChars ?? DEFAULT_CELL_LIMITS.maxChars,
    maxItems: options.maxItems ?? DEFAULT_CELL_LIMITS.maxItems,
  };
}
