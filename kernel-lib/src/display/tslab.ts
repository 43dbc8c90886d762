/**
 * The tslab kernel this process may run in: finding it, sending HTML to the cell that runs, and
 * holding a cell open until output it started asynchronously is written.
 */
import { createRequire } from 'node:module';
import path from 'node:path';

/** The part of tslab's `Display` that winlake uses (tslab is a dev tool, not a dependency). */
export interface TslabDisplay {
  html(s: string): void;
  text(s: string): void;
}
interface TslabPublic {
  display: TslabDisplay;
  newDisplay(): TslabDisplay;
}
/** A display message writer of tslab's kernel, bound to the execute request it was made for. */
type WriteDisplayData = (data: { data: Record<string, string>; metadata: object; transient: object }, update: boolean) => void;
interface TslabJupyter {
  lastWriteDisplayData: WriteDisplayData | null;
  JupyterHandlerImpl?: { prototype: { handleExecuteImpl?: (...args: unknown[]) => Promise<unknown> } };
}
interface Tslab {
  public: TslabPublic;
  jupyter: TslabJupyter;
}

const require = createRequire(import.meta.url);
let found: Tslab | null | undefined;
const pending: Promise<unknown>[] = [];

/**
 * The tslab kernel's modules, or undefined outside a tslab kernel. Looks for the kernel's already
 * loaded `tslab/dist/jupyter.js` instead of importing tslab, so that outside notebooks nothing is
 * loaded (tslab pulls in a TypeScript compiler), and so that output goes to the very module
 * instance the kernel wired to Jupyter.
 */
export function tslab(): TslabPublic | undefined {
  return kernel()?.public;
}

function kernel(): Tslab | undefined {
  if (found === undefined) {
    const marker = `${path.sep}tslab${path.sep}dist${path.sep}jupyter.js`;
    const kernelFile = Object.keys(require.cache).find((file) => file.endsWith(marker));
    found = kernelFile
      ? { public: require(path.join(path.dirname(kernelFile), 'public.js')) as TslabPublic, jupyter: require(kernelFile) as TslabJupyter }
      : null;
    if (found) holdCellsForPendingOutput(found.jupyter);
  }
  return found ?? undefined;
}

/**
 * tslab prints a cell's last expression with a synchronous `console.log` and replies "done" right
 * after; a Frame needs DuckDB (asynchronous) to render. So the kernel's per-cell handler is wrapped
 * to wait for output started during the cell before it replies: the HTML lands in that cell, before
 * the next one runs, for JupyterLab and nbclient alike. (tslab 1.0.x; without the hook the output
 * still arrives, just after the reply.)
 */
function holdCellsForPendingOutput(jupyter: TslabJupyter): void {
  const proto = jupyter.JupyterHandlerImpl?.prototype;
  const original = proto?.handleExecuteImpl;
  if (!proto || !original) return;
  proto.handleExecuteImpl = async function (this: unknown, ...args: unknown[]): Promise<unknown> {
    try {
      return await original.apply(this, args);
    } finally {
      while (pending.length) await Promise.allSettled(pending.splice(0));
    }
  };
}

/**
 * Sends HTML to the running cell (or to `target`, a display made by `newDisplay()`); false when
 * there is no notebook to send it to.
 */
export function showHtml(html: string, target?: TslabDisplay): boolean {
  const t = tslab();
  if (!t) return false;
  try {
    (target ?? t.display).html(html);
    return true;
  } catch {
    // tslab throws "Not ready" when its module is loaded but no cell is executing.
    return false;
  }
}

/**
 * Renders HTML asynchronously into the cell that is running now (even if it has finished by then),
 * and keeps that cell open until it is written. False outside a notebook.
 * @example showHtmlLater(frameToHtml(df))
 */
export function showHtmlLater(html: Promise<string>, onError: (err: unknown) => string): boolean {
  const write = kernel()?.jupyter.lastWriteDisplayData;
  if (!write) return false;
  const send = (markup: string): void => write({ data: { 'text/html': markup }, metadata: {}, transient: {} }, false);
  pending.push(html.then(send, (err: unknown) => send(onError(err))));
  return true;
}
