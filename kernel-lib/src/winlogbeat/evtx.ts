/**
 * Windows `.evtx` files, read through pyevtx-rs (the PyPI wheel `evtx`, built on the Rust `evtx`
 * crate that evtx_dump is made of) in the project venv: a child Python process streams the records
 * as evtx_dump-layout JSON lines, which the layout converter already knows (`Event.System`,
 * `Event.EventData`). Records flow through a pipe with backpressure, so a large file is never held
 * in memory, and the reader can stop early (the child is killed).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { SourcedDocument } from './files.js';

const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SCRIPT = path.join(PACKAGE_ROOT, 'kernel-lib', 'python', 'evtx_records.py');

/**
 * True for a path the EVTX reader takes (by its extension).
 * @example isEvtxPath('incident/Security.evtx') // => true
 */
export function isEvtxPath(file: string): boolean {
  return /\.evtx$/i.test(file);
}

/**
 * The Python that has the `evtx` wheel: `WINLAKE_PYTHON`, else the project venv's
 * (`.venv/bin/python`, made by `.ci/setup-python.sh`).
 * @example evtxPython() // => '/repo/.venv/bin/python'
 */
export function evtxPython(): string {
  const configured = process.env.WINLAKE_PYTHON;
  if (configured) return configured;
  const venv = path.join(PACKAGE_ROOT, '.venv', process.platform === 'win32' ? 'Scripts' : 'bin', process.platform === 'win32' ? 'python.exe' : 'python');
  if (existsSync(venv)) return venv;
  throw new Error(
    `reading .evtx files needs Python with the 'evtx' package: no venv at ${path.dirname(path.dirname(venv))} ` +
      `(run: bash .ci/setup-python.sh) and WINLAKE_PYTHON is not set`,
  );
}

/**
 * Every record of an `.evtx` file as an evtx_dump JSON document, in file order.
 * Throws naming the file when it is not an EVTX file or a record cannot be parsed.
 *
 * @example
 * for await (const d of readEvtxDocuments('Security.evtx')) console.log(d.index, d.value);
 */
export async function* readEvtxDocuments(file: string): AsyncGenerator<SourcedDocument> {
  if (!existsSync(file)) throw new Error(`${file}: no such file`);
  const child = spawn(evtxPython(), [SCRIPT, file], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    if (stderr.join('').length < 8192) stderr.push(s);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  // Start listening before consuming: a spawn error is reported by `exited`, not as an unhandled rejection.
  exited.catch(() => {});
  let index = 0;
  let finished = false;
  try {
    const lines = createInterface({ input: child.stdout, crlfDelay: Number.POSITIVE_INFINITY });
    for await (const line of lines) {
      if (line === '') continue;
      index++;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (err) {
        throw new Error(`${file}: record ${index}: the EVTX parser wrote invalid JSON: ${(err as Error).message}`);
      }
      yield { file, member: undefined, index, value };
    }
    const { code, signal } = await exited.catch((err: unknown) => {
      throw new Error(`${file}: cannot start the EVTX parser (${evtxPython()}): ${(err as Error).message}`);
    });
    finished = true;
    if (code !== 0) {
      const why = stderr.join('').trim() || `exit ${code ?? signal}`;
      throw new Error(why.startsWith(file) ? why : `${file}: ${why}`);
    }
  } finally {
    if (!finished) child.kill();
  }
}
