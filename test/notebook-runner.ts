/**
 * Executes Jupyter notebooks headless with the tslab kernel (nbclient in the project venv), for the
 * notebook tests. The notebook in git is never written: the executed copy goes to a temp folder.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { VENV_JUPYTER_DATA, VENV_PYTHON } from '../kernel-lib/src/cli/lab.js';

/** One output of an executed code cell (nbformat v4). */
export interface CellOutput {
  output_type: 'stream' | 'display_data' | 'execute_result' | 'error';
  name?: string;
  text?: string | string[];
  data?: Record<string, string | string[]>;
  ename?: string;
  evalue?: string;
  traceback?: string[];
}

/** An executed notebook: its code cells' sources and outputs, and how long it took. */
export interface ExecutedNotebook {
  /** The executed copy, when `keepExecuted` was asked for (failed runs always keep it). */
  executedPath?: string;
  durationMs: number;
  cells: { source: string; outputs: CellOutput[] }[];
}

/** A notebook cell that failed: names the cell, shows its source and its error output. */
export class NotebookCellError extends Error {
  constructor(
    readonly notebook: string,
    readonly cellIndex: number,
    readonly source: string,
    readonly output: string,
    readonly executedPath: string,
  ) {
    super(`${path.basename(notebook)}: cell ${cellIndex} failed\n--- source ---\n${source}\n--- error ---\n${output}\n--- executed copy: ${executedPath} ---`);
    this.name = 'NotebookCellError';
  }
}

// nbclient runs the cells; a cell fails on an `error` reply (tslab also replies `error` for type
// errors, which it prints on stderr) — we report that cell's source and its stderr/error outputs.
const RUNNER = String.raw`
import json, sys, time
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError
src, out, cwd, timeout, kernel = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
nb = nbformat.read(src, as_version=4)
client = NotebookClient(nb, timeout=timeout, kernel_name=kernel, allow_errors=False,
                        resources={'metadata': {'path': cwd}})
started = time.time()
failure = None
try:
    client.execute()
except (CellExecutionError, CellTimeoutError) as err:
    index = next((i for i, c in enumerate(nb.cells) if c.cell_type == 'code' and
                  any(o.get('output_type') == 'error' or o.get('name') == 'stderr' for o in c.get('outputs', []))), None)
    if index is None:
        index = next((i for i, c in reversed(list(enumerate(nb.cells))) if c.cell_type == 'code' and c.get('execution_count')), -1)
    failure = {'cell': index, 'message': str(err)}
nbformat.write(nb, out)
json.dump({'failure': failure, 'seconds': time.time() - started}, sys.stdout)
`;

/**
 * Runs every cell of a notebook with the tslab kernel (kernel working folder: the notebook's own
 * folder) and returns the outputs; rejects with {@link NotebookCellError} on the first failing cell.
 * Needs `ensureTslabKernel()` first.
 *
 * @example const nb = await executeNotebook('notebooks/00-smoke.ipynb', { timeoutSec: 120 });
 */
export async function executeNotebook(
  notebookPath: string,
  options: { timeoutSec?: number; env?: NodeJS.ProcessEnv; keepExecuted?: boolean } = {},
): Promise<ExecutedNotebook> {
  const source = path.resolve(notebookPath);
  const tempFolder = mkdtempSync(path.join(os.tmpdir(), 'winlake-nb-'));
  const executedPath = path.join(tempFolder, path.basename(source));
  const timeoutSec = options.timeoutSec ?? 120;
  const env = {
    ...process.env,
    ...options.env,
    JUPYTER_PATH: [VENV_JUPYTER_DATA, process.env.JUPYTER_PATH].filter(Boolean).join(path.delimiter),
  };
  const started = Date.now();
  const { code, stdout, stderr } = await runProcess(
    VENV_PYTHON,
    ['-c', RUNNER, source, executedPath, path.dirname(source), String(timeoutSec), 'tslab'],
    env,
  );
  if (code !== 0) throw new Error(`nbclient failed on ${notebookPath} (exit ${code}):\n${stderr}${stdout}`);
  const report = JSON.parse(stdout) as { failure: { cell: number; message: string } | null };
  const nb = JSON.parse(readFileSync(executedPath, 'utf8')) as {
    cells: { cell_type: string; source: string | string[]; outputs?: CellOutput[] }[];
  };
  if (report.failure) {
    const cell = nb.cells[report.failure.cell];
    const cellOutput = (cell?.outputs ?? [])
      .filter((o) => o.output_type === 'error' || o.name === 'stderr')
      .map(outputText)
      .join('\n');
    throw new NotebookCellError(notebookPath, report.failure.cell, cell ? joinText(cell.source) : '?', cellOutput || report.failure.message, executedPath);
  }
  if (!options.keepExecuted) rmSync(tempFolder, { recursive: true, force: true });
  return {
    ...(options.keepExecuted ? { executedPath } : {}),
    durationMs: Date.now() - started,
    cells: nb.cells.filter((c) => c.cell_type === 'code').map((c) => ({ source: joinText(c.source), outputs: c.outputs ?? [] })),
  };
}

/** The readable text of one output: stream text, an error's traceback, or a display's plain text. */
export function outputText(o: CellOutput): string {
  if (o.output_type === 'error') return [`${o.ename}: ${o.evalue}`, ...(o.traceback ?? [])].join('\n');
  if (o.text !== undefined) return joinText(o.text);
  const data = o.data ?? {};
  return joinText(data['text/plain'] ?? data['text/html'] ?? '');
}

function joinText(text: string | string[]): string {
  return Array.isArray(text) ? text.join('') : text;
}

function runProcess(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}
