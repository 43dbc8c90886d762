/**
 * How Frames, schemas, scan reports (and, through {@link inspectRich}, streaming queries) show
 * themselves when printed: a cell's last expression in a tslab notebook renders as HTML, a
 * terminal gets one descriptive line instead of the object's internals.
 */
import { Frame, schemaTree, setFramePresenter, type Presentable, type SchemaField } from '../frame/index.js';
import { DISPLAY_CSS } from './css.js';
import { escapeHtml } from './escape.js';
import { display } from './notebook.js';
import { isScanReport, scanReportText, scanReportToHtml } from './scan-report.js';
import { schemaToHtml } from './schema.js';
import { frameToHtml } from './table.js';
import { showHtml, showHtmlLater, tslab } from './tslab.js';

/**
 * An error as a notebook shows it in place of the output that failed: its message only.
 * @example errorToHtml(new Error('no table named "x"'))
 */
export function errorToHtml(err: unknown): string {
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return `${DISPLAY_CSS}<pre class="wl-error">${escapeHtml(message)}</pre>`;
}

/**
 * What `util.inspect` returns for a value that rendered itself as HTML: nothing, and the newline
 * `console.log` adds is dropped too, so the cell shows the HTML alone. Only an exact "\n" as the
 * very next write is dropped; tslab re-installs stdout's writer for every cell anyway.
 */
function renderedAsHtml(): string {
  const write = process.stdout.write;
  process.stdout.write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]): boolean {
    process.stdout.write = write;
    if (chunk === '\n') return true;
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof process.stdout.write;
  return '';
}

/**
 * The `util.inspect` result for a value with a rich form: in a notebook, at the top level (a
 * cell's last expression, `console.log(value)`), the HTML is shown and nothing printed; elsewhere
 * the text form is returned.
 * @example [inspect.custom](depth, opts) { return inspectRich(() => statusHtml(this), () => statusText(this), depth === opts.depth); }
 */
export function inspectRich(html: () => string, text: () => string, topLevel: boolean): string {
  if (topLevel && tslab() && showHtml(html())) return renderedAsHtml();
  return text();
}

function inspectValue(value: Presentable, topLevel: boolean): string {
  if (value instanceof Frame) {
    if (topLevel && showHtmlLater(frameToHtml(value), errorToHtml)) return renderedAsHtml();
    return `${value.describe()}: await df.show() or display(df) to see rows`;
  }
  if (isScanReport(value)) return inspectRich(() => scanReportToHtml(value), () => scanReportText(value), topLevel);
  const fields = value as SchemaField[];
  return inspectRich(() => schemaToHtml(fields), () => schemaTree(fields), topLevel);
}

setFramePresenter({
  inspect: inspectValue,
  show: (frame, n) => display(frame, { limit: n }),
});
// Finding the kernel early installs its hold-the-cell hook before a cell needs it.
tslab();
