/**
 * Named points in the write, commit and checkpoint paths where the fault suite crashes a writer or
 * fills its disk, so that each step's on-disk leftovers are tested, not assumed. Inert unless the
 * environment variable `WINLAKE_FAULT` names a point: `<point>=<action>[*<times>]`, several
 * separated by commas. Actions: `kill` (SIGKILL this process, as an OOM kill or power cut would),
 * `stop` (SIGSTOP: the test resumes it with SIGCONT after racing it), `enospc` (throw the error a
 * full disk gives). `*<times>` fires only on the first N passes.
 */

/** The places a fault can be injected, in the order a write passes them. */
export type FaultPoint =
  /** Data files are written and placed; nothing is committed yet. */
  | 'write.files-written'
  /** About to write the temporary commit file (an `enospc` here is a full disk at commit time). */
  | 'commit.temp-write'
  /** The complete temporary commit file is written and synced, not yet linked to its version. */
  | 'commit.temp-written'
  /** The commit is linked to its version; the temporary name is not yet removed. */
  | 'commit.linked'
  /** The checkpoint's NDJSON input is written; DuckDB has not written the Parquet yet. */
  | 'checkpoint.ndjson-written'
  /** The temporary checkpoint Parquet is complete, not yet renamed to its final name. */
  | 'checkpoint.parquet-written'
  /** The checkpoint is in place; `_last_checkpoint` does not point at it yet. */
  | 'checkpoint.renamed'
  /** The temporary `_last_checkpoint` is written, not yet renamed over the old one. */
  | 'checkpoint.last-temp-written';

const passes = new Map<string, number>();

/**
 * Injects the fault `WINLAKE_FAULT` asks for at `point`, if any; returns at once otherwise.
 * @example faultPoint('commit.temp-written'); // WINLAKE_FAULT=commit.temp-written=kill kills here
 */
export function faultPoint(point: FaultPoint): void {
  const spec = process.env.WINLAKE_FAULT;
  if (!spec) return;
  for (const entry of spec.split(',')) {
    const m = /^\s*([\w.-]+)=(kill|stop|enospc)(?:\*(\d+))?\s*$/.exec(entry);
    if (!m || m[1] !== point) continue;
    const key = `${spec}\u0000${entry}`;
    const seen = (passes.get(key) ?? 0) + 1;
    passes.set(key, seen);
    if (m[3] !== undefined && seen > Number(m[3])) continue;
    if (m[2] === 'kill') process.kill(process.pid, 'SIGKILL');
    else if (m[2] === 'stop') process.kill(process.pid, 'SIGSTOP');
    else throw Object.assign(new Error(`ENOSPC: no space left on device (injected by WINLAKE_FAULT at ${point})`), { code: 'ENOSPC' });
  }
}
