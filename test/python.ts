/**
 * Runs python `deltalake` (delta-rs) scripts for the interop tests and the benchmark, in the project
 * venv (.ci/setup-python.sh).
 */
import { spawnSync } from 'node:child_process';
import { VENV_PYTHON } from '../kernel-lib/src/cli/lab.js';

/**
 * Appended to every script: delta-rs's tokio runtime can abort the interpreter's teardown after the
 * work is done ("terminate called without an active exception", delta-rs issue 2184), so the script
 * flushes its output and leaves with os._exit(0), which skips that teardown.
 */
const EXIT_CLEANLY = '\nimport os as _os, sys as _sys\n_sys.stdout.flush()\n_sys.stderr.flush()\n_os._exit(0)\n';

/**
 * Runs `script` with `args` (its `sys.argv[1:]`) and returns its stdout, trimmed. A non-zero exit
 * (an exception in the script) throws with the script's stderr.
 *
 * @example
 * const version = deltaPython('import sys\nfrom deltalake import DeltaTable\nprint(DeltaTable(sys.argv[1]).version())', [table]);
 */
export function deltaPython(script: string, args: string[] = [], what = 'delta-rs script'): string {
  const r = spawnSync(VENV_PYTHON, ['-c', script + EXIT_CLEANLY, ...args], { encoding: 'utf8', timeout: 300_000, maxBuffer: 1 << 26 });
  if (r.error) throw new Error(`${what}: could not run ${VENV_PYTHON} (${r.error.message}); run bash .ci/setup-python.sh`);
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status ?? r.signal}):\n${r.stderr}`);
  return r.stdout.trim();
}

/**
 * The last stdout line of {@link deltaPython} parsed as JSON (scripts print their result last).
 *
 * @example
 * const { version } = deltaPythonJson<{ version: number }>(script, [table]);
 */
export function deltaPythonJson<T>(script: string, args: string[] = [], what?: string): T {
  return JSON.parse(deltaPython(script, args, what).split('\n').pop()!) as T;
}
