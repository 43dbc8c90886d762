import { Frame, schemaTree, type SchemaField } from '../frame/index.js';
import { escapeHtml, formatCount, unescapeHtml } from './escape.js';
import { schemaToHtml } from './schema.js';
import { isScanReport, scanReportText, scanReportToHtml } from './scan-report.js';
import { frameToHtml, frameToText, type TableOptions } from './table.js';
import { showHtml, tslab } from './tslab.js';
import { isRecords, recordsToHtml, recordsToText } from './records.js';

/**
 * True when rich output can be shown: this process is a tslab kernel.
 * @example if (inNotebook()) console.log('rich output on');
 */
export function inNotebook(): boolean {
  return tslab() !== undefined;
}

/** HTML that {@link display} shows as is. */
export class Html {
  constructor(readonly html: string) {}
  toString(): string {
    return this.html;
  }
}

/**
 * Marks a string as trusted HTML for {@link display}; escape any data inside it with `escapeHtml`.
 * @example display(html(`<h3>${escapeHtml(title)}</h3>`));
 */
export function html(markup: string): Html {
  return new Html(markup);
}

/**
 * Shows a value: in a tslab notebook as HTML (a Frame as a table, a `SchemaField[]` as a tree, a
 * scan report (`await df.explain()`) as files and bytes skipped per stage, a list of plain records
 * (`await listTables()`) as a table, an
 * SVG chart, {@link Html} or a string starting with `<` as itself, other strings and values as
 * preformatted text), elsewhere as text on stdout.
 *
 * @example
 * await display(df);                              // table of the first 20 rows + row count
 * await display(await df.schema());               // collapsible schema tree
 * await display(await df.explain());              // what a Delta scan reads and skips
 * await display(await chartTopValues(df, 'process_name'));
 */
export async function display(value: unknown, options: TableOptions = {}): Promise<void> {
  if (value instanceof Frame) {
    if (inNotebook() && showHtml(await frameToHtml(value, options))) return;
    console.log(await frameToText(value, options));
    return;
  }
  if (isScanReport(value)) {
    if (showHtml(scanReportToHtml(value))) return;
    console.log(scanReportText(value));
    return;
  }
  if (isSchema(value)) {
    if (showHtml(schemaToHtml(value))) return;
    console.log(schemaTree(value));
    return;
  }
  if (isRecords(value)) {
    if (showHtml(recordsToHtml(value, { limit: options.limit }))) return;
    console.log(recordsToText(value, { limit: options.limit }));
    return;
  }
  if (value instanceof Html) {
    if (showHtml(value.html)) return;
    console.log(htmlToText(value.html));
    return;
  }
  if (typeof value === 'string') {
    const markup = /^\s*</.test(value);
    if (markup && showHtml(value)) return;
    if (!markup) {
      if (!showHtml(`<pre>${escapeHtml(value)}</pre>`)) console.log(value);
      return;
    }
    console.log(/^\s*<svg/.test(value) ? svgSummary(value) : htmlToText(value));
    return;
  }
  const text = typeof value === 'object' && value !== null ? JSON.stringify(value, bigintSafe, 2) : String(value);
  if (!showHtml(`<pre>${escapeHtml(text)}</pre>`)) console.log(text);
}

function isSchema(value: unknown): value is SchemaField[] {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((f: unknown) => typeof f === 'object' && f !== null && 'name' in f && 'type' in f && 'kind' in f && 'children' in f)
  );
}

function bigintSafe(_key: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

/** A terminal cannot draw SVG: name the chart by its title text instead. */
function svgSummary(svg: string): string {
  const texts = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => unescapeHtml(m[1] ?? ''));
  return `[chart: ${texts[texts.length - 1] ?? 'untitled'} — ${formatCount(svg.length)} bytes of SVG; display it in a notebook]`;
}

/**
 * Plain text of HTML for terminals: one line per list item, table row or block, list nesting
 * shown by indentation, `<style>` dropped, entities decoded.
 * @example htmlToText('<ul><li>a<ul><li>b</li></ul></li></ul>') // => 'a\n  b'
 */
export function htmlToText(markup: string): string {
  let depth = 0;
  const out: string[] = [];
  let line = '';
  const flush = (): void => {
    if (line.trim()) out.push(`${'  '.repeat(Math.max(0, depth - 1))}${line.trim()}`);
    line = '';
  };
  const cleaned = markup.replaceAll(/<style[\s\S]*?<\/style>/gi, '');
  for (const token of cleaned.split(/(<[^>]*>)/)) {
    if (!token.startsWith('<')) {
      line += unescapeHtml(token.replaceAll(/\s+/g, ' '));
      continue;
    }
    const tag = /^<\/?\s*([a-z0-9]+)/i.exec(token)?.[1]?.toLowerCase() ?? '';
    const closing = token.startsWith('</');
    if (tag === 'ul' || tag === 'ol') {
      flush();
      depth += closing ? -1 : 1;
    } else if (tag === 'br') {
      line += ' ';
    } else if (['li', 'tr', 'div', 'p', 'summary', 'h1', 'h2', 'h3', 'h4', 'pre'].includes(tag)) {
      flush();
    } else if ((tag === 'td' || tag === 'th') && closing) {
      line += ' | ';
    }
  }
  flush();
  return out.join('\n');
}

/**
 * One micro-batch of a streaming query, as its progress callback reports it. The shape accepts a
 * `StreamingQuery`'s progress as it is (durations per phase, lag per partition), so
 * `onProgress: progressDisplay()` needs no adapter.
 */
export interface StreamProgress {
  batchId: number | bigint;
  numInputRows: number | bigint;
  inputRowsPerSecond?: number | null;
  processedRowsPerSecond?: number | null;
  /** The batch's duration in ms, or its phases with the total. */
  durationMs?: number | { total: number; [phase: string]: number } | null;
  /** How far the source is ahead of what was read (e.g. Kafka offsets), when known; per partition it is summed. */
  lag?: number | bigint | Readonly<Record<string, number>> | null;
}

/** A batch's total duration in ms, whichever form the progress gave it in. */
function totalMs(d: StreamProgress['durationMs']): number | null {
  if (d == null) return null;
  return typeof d === 'number' ? d : d.total;
}

/** The total lag over partitions, or the single figure given. */
function totalLag(lag: StreamProgress['lag']): number | bigint | null {
  if (lag == null || typeof lag === 'number' || typeof lag === 'bigint') return lag ?? null;
  return Object.values(lag).reduce((s, n) => s + n, 0);
}

/** Options for {@link progressDisplay}. */
export interface ProgressDisplayOptions {
  /** A heading for the HTML block, e.g. the query's name. */
  title?: string;
  /** Batches kept in the HTML block (newest last). Default 8. */
  keep?: number;
  /** Least time between two redraws in a notebook. Default 250 ms. */
  throttleMs?: number;
  /** Where terminal lines go. Default console.log. */
  log?: (line: string) => void;
}

/** A progress sink for a streaming query. Call `done()` when the query stops, to draw the last state. */
export interface ProgressDisplay {
  (progress: StreamProgress): void;
  done(): void;
}

/**
 * A progress callback for streaming queries. In a tslab notebook it redraws one HTML block in place
 * (the last batches and running totals, at most every `throttleMs`); in a terminal it prints one
 * line per batch.
 *
 * @example
 * const progress = progressDisplay({ title: 'bronze ingest' });
 * const query = await startStream({ ..., onProgress: progress });
 * await query.stop(); progress.done();
 */
export function progressDisplay(options: ProgressDisplayOptions = {}): ProgressDisplay {
  const keep = options.keep ?? 8;
  const throttleMs = options.throttleMs ?? 250;
  const log = options.log ?? ((line: string) => console.log(line));
  const t = tslab();
  const block = t ? t.newDisplay() : undefined;
  const recent: StreamProgress[] = [];
  let batches = 0;
  let rows = 0;
  let lastDraw = 0;
  let pending = false;

  const draw = (): void => {
    pending = false;
    lastDraw = Date.now();
    if (!block || !showHtml(progressHtml(options.title, recent, batches, rows), block)) {
      const last = recent[recent.length - 1];
      if (last) log(progressLine(last));
    }
  };
  const sink = ((progress: StreamProgress): void => {
    batches += 1;
    rows += Number(progress.numInputRows);
    recent.push(progress);
    if (recent.length > keep) recent.shift();
    if (!block) {
      log(progressLine(progress));
      return;
    }
    if (Date.now() - lastDraw >= throttleMs) draw();
    else pending = true;
  }) as ProgressDisplay;
  sink.done = (): void => {
    if (block && pending) draw();
  };
  return sink;
}

/**
 * One terminal line for a batch.
 * @example progressLine({ batchId: 3, numInputRows: 5000, durationMs: 810 })
 * // => 'batch 3: 5,000 rows in 810 ms'
 */
export function progressLine(p: StreamProgress): string {
  const ms = totalMs(p.durationMs);
  const lag = totalLag(p.lag);
  const duration = ms != null ? ` in ${formatCount(Math.round(ms))} ms` : '';
  const parts = [`batch ${p.batchId}: ${formatCount(p.numInputRows)} rows${duration}`];
  if (p.inputRowsPerSecond != null) parts.push(`${formatCount(Math.round(p.inputRowsPerSecond))} rows/s in`);
  if (p.processedRowsPerSecond != null) parts.push(`${formatCount(Math.round(p.processedRowsPerSecond))} rows/s processed`);
  if (lag != null) parts.push(`lag ${formatCount(lag)}`);
  return parts.join(', ');
}

function progressHtml(title: string | undefined, recent: readonly StreamProgress[], batches: number, rows: number): string {
  const num = (v: number | bigint | null | undefined, digits = 0): string =>
    v == null ? '' : escapeHtml(typeof v === 'bigint' ? formatCount(v) : formatCount(Number(v.toFixed(digits))));
  const body = recent
    .map(
      (p) =>
        `<tr><td>${num(p.batchId)}</td><td>${num(p.numInputRows)}</td><td>${num(p.inputRowsPerSecond)}</td><td>${num(p.processedRowsPerSecond)}</td><td>${num(totalMs(p.durationMs))}</td><td>${num(totalLag(p.lag))}</td></tr>`,
    )
    .join('');
  const heading = title ? `<b>${escapeHtml(title)}</b> — ` : '';
  return `<div class="wl-progress" style="font:12px ui-monospace,monospace">${heading}${formatCount(batches)} batches, ${formatCount(rows)} rows
<table style="border-collapse:collapse"><tr><th>batch</th><th>rows</th><th>in rows/s</th><th>processed rows/s</th><th>ms</th><th>lag</th></tr>${body}</table></div>`;
}

/** What {@link queryStatusHtml} needs of a streaming query (a `StreamingQuery` fits as is). */
export interface QueryView {
  readonly id: string;
  readonly name: string | null;
  readonly status: { message: string };
  readonly recentProgress: readonly StreamProgress[];
}

/**
 * A streaming query's state as HTML: its name, status and its recent batches.
 * @example display(html(queryStatusHtml(query)))
 */
export function queryStatusHtml(q: QueryView, keep = 8): string {
  const rows = q.recentProgress.reduce((s, p) => s + Number(p.numInputRows), 0);
  return progressHtml(`streaming query ${q.name ?? q.id}: ${q.status.message}`, q.recentProgress.slice(-keep), q.recentProgress.length, rows);
}

/**
 * A streaming query's state in one line, with its last batch.
 * @example queryStatusText(query) // => 'streaming query bronze: Waiting for data; batch 3: 5,000 rows in 810 ms, ...'
 */
export function queryStatusText(q: QueryView): string {
  const last = q.recentProgress.at(-1);
  return `streaming query ${q.name ?? q.id}: ${q.status.message}${last ? `; ${progressLine(last)}` : ''}`;
}
