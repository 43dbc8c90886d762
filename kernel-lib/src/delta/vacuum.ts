/**
 * VACUUM for Delta tables: deletes data files no version within the retention window needs —
 * files removed (by OPTIMIZE, overwrite, delete) longer ago than the retention, and untracked
 * orphans (crashed or lost writes) older than the retention, with the temporary files and empty
 * staging folders crashed winlake writers leave. In `_delta_log` it deletes only those temporary
 * files; never the files of the current version, files removed within the retention window, or
 * anything recent (a concurrent writer's uncommitted output).
 *
 * On a full disk the VACUUM START commit cannot be written. It is optional (no reader needs it),
 * so vacuum then deletes without it — freeing space is what a full disk needs most — and records
 * VACUUM END afterwards, in the space it freed; if even that fails for lack of space, the vacuum
 * stands unrecorded and `unlogged` says so. Any other failure to write START stops the vacuum
 * before it deletes anything.
 */
import { lstat, readdir, rmdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Session } from '../engine/session.js';
import { assertNotSymlink, isWithin, realPath } from '../engine/real-path.js';
import { DELTA_LOG_DIR, type CommitInfoAction, type RemoveAction } from './actions.js';
import { ConcurrentModificationError, commitActions } from './commit.js';
import { dataFilePath, latestVersion, listLog, mapLimit, readCommit } from './log.js';
import { loadSnapshot, type Snapshot } from './snapshot.js';

const HOUR_MS = 3_600_000;
/** Delta's default `delta.deletedFileRetentionDuration`: 7 days. */
export const DEFAULT_RETENTION_HOURS = 168;

/** Options of {@link vacuum}. */
export interface VacuumOptions {
  /** Keep files needed by versions of the last N hours (default: the table's `delta.deletedFileRetentionDuration`, else 168). */
  retentionHours?: number;
  /** List what would be deleted, delete nothing, commit nothing. */
  dryRun?: boolean;
  /** The current time (default: now); tests move it forward instead of waiting a week. */
  now?: Date | number;
  /** Allow a retention shorter than the table's (Delta's retentionDurationCheck): time travel and concurrent readers may break. */
  force?: boolean;
  /** DuckDB session for Parquet checkpoints (default: the notebook session, only if needed). */
  session?: Session;
}

/** What a vacuum deleted (or would delete). */
export interface VacuumResult {
  dryRun: boolean;
  /** Paths relative to the table root, with `/`, sorted. */
  files: string[];
  bytes: number;
  retentionHours: number;
  /** Empty `_winlake_staging_*` folders (and their empty subfolders) removed, relative to the table root. */
  dirs: string[];
  /** Versions of the VACUUM START and VACUUM END commits (absent for dry runs and no-op vacuums). */
  startVersion?: number;
  endVersion?: number;
  /** Why a START or END commit was not written (the disk was full); absent when both were. */
  unlogged?: string;
}

/**
 * Deletes files no longer needed by any version within the retention window.
 *
 * @example
 * const preview = await vacuum('/lake/silver/Process', { dryRun: true });
 * console.log(preview.files);
 * await vacuum('/lake/silver/Process'); // 168 hours, like Delta
 */
export async function vacuum(tablePathIn: string, opts: VacuumOptions = {}): Promise<VacuumResult> {
  const tablePath = path.resolve(tablePathIn);
  assertNotSymlink(tablePath, 'table folder');
  const snapshot = await loadSnapshot(tablePath, opts.session ? { session: opts.session } : {});
  const tableRetention = configuredRetentionHours(snapshot);
  const retentionHours = opts.retentionHours ?? tableRetention;
  if (!Number.isFinite(retentionHours) || retentionHours < 0) throw new Error(`retentionHours must be a non-negative number, got ${String(retentionHours)}`);
  if (retentionHours < tableRetention && !opts.force) {
    throw new Error(
      `refusing to vacuum ${tablePath} with a retention of ${retentionHours} hours: the table keeps ${tableRetention} hours ` +
        `(delta.deletedFileRetentionDuration). Files still needed by readers of recent versions, or by writers that have not committed yet, ` +
        `could be deleted. Pass { force: true } if you are sure (Delta: retentionDurationCheck.enabled=false)`,
    );
  }
  const now = opts.now === undefined ? Date.now() : opts.now instanceof Date ? opts.now.getTime() : opts.now;
  const cutoff = now - retentionHours * HOUR_MS;

  const keep = await filesToKeep(snapshot, cutoff);
  const realTable = realPath(tablePath);
  const stagingDirs: ListedDir[] = [];
  const candidates = [...(await listTableFiles(tablePath, new Set(snapshot.metadata.partitionColumns), stagingDirs)), ...(await listLogTempFiles(tablePath))];
  const doomed: { abs: string; rel: string; size: number }[] = [];
  for (const f of candidates) {
    if (f.mtimeMs >= cutoff) continue; // recent: maybe an uncommitted write in progress
    const owner = f.sidecarOf ?? f.abs;
    if (keep.has(owner)) continue;
    // The walk follows no symlink; the real path is checked too, so nothing outside is ever deleted.
    if (!isWithin(realTable, realPath(f.abs))) continue;
    doomed.push({ abs: f.abs, rel: f.rel, size: f.size });
  }
  doomed.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  const dirs = emptyAfter(stagingDirs, new Set(doomed.map((f) => f.abs)), cutoff);
  const bytes = doomed.reduce((s, f) => s + f.size, 0);
  const result: VacuumResult = { dryRun: opts.dryRun ?? false, files: doomed.map((f) => f.rel), bytes, retentionHours, dirs: dirs.map((d) => d.rel).sort() };
  if (opts.dryRun || (doomed.length === 0 && dirs.length === 0)) return result;

  try {
    result.startVersion = await commitInfoOnly(tablePath, 'VACUUM START', {
      operationParameters: {
        retentionCheckEnabled: !opts.force,
        specifiedRetentionMillis: retentionHours * HOUR_MS,
        defaultRetentionMillis: tableRetention * HOUR_MS,
      },
      operationMetrics: { numFilesToDelete: doomed.length, sizeOfDataToDelete: bytes },
    });
  } catch (err) {
    if (!isDiskFull(err)) throw err;
    result.unlogged = `VACUUM START was not written (${(err as Error).message}): the files were deleted without it`;
  }
  let deleted = 0;
  await mapLimit(doomed, 16, async (f) => {
    try {
      await unlink(f.abs);
      deleted++;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  });
  // Deepest first, so a folder is empty by the time it is removed; rmdir never removes a folder
  // a writer has put something in since it was listed.
  let removedDirs = 0;
  for (const d of dirs) {
    try {
      await rmdir(d.abs);
      removedDirs++;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    }
  }
  try {
    result.endVersion = await commitInfoOnly(tablePath, 'VACUUM END', {
      operationParameters: { status: 'COMPLETED' },
      operationMetrics: { numDeletedFiles: deleted, numVacuumedDirectories: removedDirs },
    });
  } catch (err) {
    if (!isDiskFull(err)) throw err;
    const end = `VACUUM END was not written (${(err as Error).message})`;
    result.unlogged = result.unlogged ? `${result.unlogged}; ${end}` : `${end}: the files were deleted`;
  }
  return result;
}

function isDiskFull(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/**
 * `delta.deletedFileRetentionDuration` in hours ('interval 7 days', '168 hours', ...), else 168.
 * @example configuredRetentionHours(await loadSnapshot('/lake/Process')) // => 48 for 'interval 2 days', 168 when unset
 */
export function configuredRetentionHours(snapshot: Snapshot): number {
  const raw = snapshot.metadata.configuration['delta.deletedFileRetentionDuration'];
  if (raw === undefined) return DEFAULT_RETENTION_HOURS;
  const m = /^\s*(?:interval\s+)?(\d+(?:\.\d+)?)\s*(week|day|hour|minute|second|millisecond)s?\s*$/i.exec(raw);
  if (!m) throw new Error(`delta.deletedFileRetentionDuration is not an interval: ${JSON.stringify(raw)}`);
  const perUnit: Record<string, number> = { week: 168, day: 24, hour: 1, minute: 1 / 60, second: 1 / 3600, millisecond: 1 / 3_600_000 };
  return Number(m[1]) * perUnit[m[2]!.toLowerCase()]!;
}

/**
 * Absolute paths of the data files some version within the window may read: the current files,
 * plus every file removed at or after the cutoff (by its deletionTimestamp or its commit's time).
 */
async function filesToKeep(snapshot: Snapshot, cutoff: number): Promise<Set<string>> {
  const keep = new Set<string>();
  const abs = (p: string): string | undefined => {
    try {
      return dataFilePath(snapshot.tablePath, p);
    } catch {
      return undefined; // a remote URI: not in this folder anyway
    }
  };
  for (const f of snapshot.files) {
    const a = abs(f.path);
    if (a) keep.add(a);
  }
  const listing = await listLog(snapshot.tablePath);
  const commits = await mapLimit(listing.commits, 32, (v) => readCommit(snapshot.tablePath, v));
  for (const actions of commits) {
    const info = actions.find((a): a is { commitInfo: CommitInfoAction } => 'commitInfo' in a)?.commitInfo;
    const committed = typeof info?.timestamp === 'number' ? info.timestamp : Number.POSITIVE_INFINITY;
    for (const a of actions) {
      if (!('remove' in a)) continue;
      const remove = a.remove as RemoveAction;
      const removedAt = Math.max(remove.deletionTimestamp ?? Number.POSITIVE_INFINITY, committed);
      if (removedAt < cutoff) continue;
      const p = abs(remove.path);
      if (p) keep.add(p);
    }
  }
  return keep;
}

interface ListedDir {
  abs: string;
  rel: string;
  mtimeMs: number;
  /** Files directly inside, absolute. */
  files: string[];
  /** Subfolders directly inside, absolute. */
  subdirs: string[];
}

/**
 * The staging folders (each `_winlake_staging_*` and the folders under it) that are empty once
 * `doomed` is deleted, deepest first: old enough (listed mtime before the cutoff, so no live writer
 * just made it) and holding only doomed files and such folders.
 */
function emptyAfter(dirs: readonly ListedDir[], doomed: ReadonlySet<string>, cutoff: number): ListedDir[] {
  const byPath = new Map(dirs.map((d) => [d.abs, d]));
  const memo = new Map<string, boolean>();
  const empties = (d: ListedDir): boolean => {
    let known = memo.get(d.abs);
    if (known === undefined) {
      known =
        d.mtimeMs < cutoff &&
        d.files.every((f) => doomed.has(f)) &&
        d.subdirs.every((s) => {
          const sub = byPath.get(s);
          return sub !== undefined && empties(sub);
        });
      memo.set(d.abs, known);
    }
    return known;
  };
  return dirs.filter(empties).sort((a, b) => b.abs.length - a.abs.length);
}

/** Temporary files winlake writers make in `_delta_log` (commits, checkpoints, `_last_checkpoint`). */
const LOG_TEMP_FILE = /^\.(?:\d{20}\.json\.[0-9a-f-]{36}|checkpoint-[0-9a-f-]{36}\.(?:ndjson|parquet)|_last_checkpoint\.[0-9a-f-]{36})\.tmp$/;

/** The temporary files crashed writers left in `_delta_log` (only winlake's own names, nothing else there). */
async function listLogTempFiles(tablePath: string): Promise<ListedFile[]> {
  const logDir = path.join(tablePath, DELTA_LOG_DIR);
  const names = (await readdir(logDir)).filter((n) => LOG_TEMP_FILE.test(n));
  const out: ListedFile[] = [];
  for (const name of names) {
    const abs = path.join(logDir, name);
    try {
      const st = await lstat(abs);
      if (st.isFile()) out.push({ abs, rel: `${DELTA_LOG_DIR}/${name}`, size: st.size, mtimeMs: st.mtimeMs });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // a live writer just renamed it
    }
  }
  return out;
}

interface ListedFile {
  abs: string;
  rel: string;
  size: number;
  mtimeMs: number;
  /** For a bloom sidecar `_delta_index/<name>.index.v1.parquet`: its data file's absolute path. */
  sidecarOf?: string;
}

const SIDECAR_DIR = '_delta_index';
const SIDECAR_SUFFIX = '.index.v1.parquet';
const STAGING_PREFIX = '_winlake_staging_';

/**
 * Every file a vacuum may consider: data files under the table and its partition folders, bloom
 * sidecars, and leftovers of crashed winlake writes (staging folders). Hidden names (`_x`, `.x`)
 * are skipped as Delta does — except partition folders (`_event_date=...`) — and `_delta_log` is
 * never entered.
 */
async function listTableFiles(tablePath: string, partitionColumns: ReadonlySet<string>, stagingDirs: ListedDir[]): Promise<ListedFile[]> {
  const out: ListedFile[] = [];
  const walk = async (dir: string, rel: string, inside: 'data' | 'sidecar' | 'staging'): Promise<void> => {
    let entries;
    let listed: ListedDir | undefined;
    try {
      // The folder's mtime before its entries are read: a file added later makes it newer.
      if (inside === 'staging') listed = { abs: dir, rel, mtimeMs: (await lstat(dir)).mtimeMs, files: [], subdirs: [] };
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    if (listed) stagingDirs.push(listed);
    for (const e of entries) {
      const abs = path.join(dir, e.name);
      const childRel = rel ? `${rel}/${e.name}` : e.name;
      if (listed) (e.isDirectory() ? listed.subdirs : listed.files).push(abs);
      if (e.isDirectory()) {
        if (rel === '' && e.name === DELTA_LOG_DIR) continue;
        if (inside === 'staging') await walk(abs, childRel, 'staging');
        else if (e.name === SIDECAR_DIR && inside === 'data') await walk(abs, childRel, 'sidecar');
        else if (e.name.startsWith(STAGING_PREFIX) && inside === 'data') await walk(abs, childRel, 'staging');
        else if (!isHidden(e.name, partitionColumns)) await walk(abs, childRel, inside);
        continue;
      }
      if (!e.isFile()) continue;
      if (inside !== 'staging' && (e.name.startsWith('.') || e.name.startsWith('_'))) continue;
      const st = await lstat(abs);
      const file: ListedFile = { abs, rel: childRel, size: st.size, mtimeMs: st.mtimeMs };
      if (inside === 'sidecar') {
        if (!e.name.endsWith(SIDECAR_SUFFIX)) continue;
        file.sidecarOf = path.join(path.dirname(dir), e.name.slice(0, -SIDECAR_SUFFIX.length));
      }
      out.push(file);
    }
  };
  await walk(tablePath, '', 'data');
  return out;
}

/** Delta's rule: `_` and `.` names are hidden, except partition folders `<partition column>=<value>`. */
function isHidden(name: string, partitionColumns: ReadonlySet<string>): boolean {
  if (!name.startsWith('_') && !name.startsWith('.')) return false;
  const eq = name.indexOf('=');
  if (eq < 0) return true;
  let column = name.slice(0, eq);
  try {
    column = decodeURIComponent(column);
  } catch {
    // not escaped
  }
  return !partitionColumns.has(column);
}

/** A commit holding only commitInfo (VACUUM START/END); retried on the rare metadata race. */
async function commitInfoOnly(
  tablePath: string,
  operation: string,
  info: { operationParameters: Record<string, unknown>; operationMetrics: Record<string, unknown> },
): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      const { version } = await commitActions(tablePath, [], {
        readVersion: await latestVersion(tablePath),
        isBlindAppend: false,
        operation,
        operationParameters: info.operationParameters,
        operationMetrics: info.operationMetrics,
      });
      return version;
    } catch (err) {
      if (!(err instanceof ConcurrentModificationError) || attempt >= 5) throw err;
    }
  }
}
