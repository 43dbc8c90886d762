/**
 * The writer's view of a table: the latest snapshot, cached per table path in this process and moved
 * forward by reading only the commits newer than the cached version. A write then costs a few
 * `stat` calls instead of a log replay. The cache only saves reading: put-if-absent on the next
 * commit file still decides who wins, so concurrent writers (other processes included) stay correct.
 *
 * A cached entry is trusted only while the commit file of its version is the very file it was built
 * from (inode, size and nanosecond mtime): a table deleted and written again at the same path is
 * replayed afresh.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Session } from '../engine/session.js';
import { commitFileName, type Action, type AddAction, type CommitInfoAction } from './actions.js';
import { applyActions, listLog, logDirOf, readCommit, replayLog, type LogListing, type ReplayResult } from './log.js';
import { parseSchemaString } from './schema/from-spark.js';
import { recordedCommitTime, replayedVersion, type Snapshot, type TableVersion } from './snapshot.js';

/** A table's state at one version, as a writer needs it. Never mutated once made. */
export interface TableState extends TableVersion {
  /** Commit time (ms) of `version` when known from its commitInfo, else NaN. */
  timestamp: number;
  /** Active files, keyed as log replay keys them ({@link fileKey}). */
  files: ReadonlyMap<string, AddAction>;
  appTxns: ReadonlyMap<string, number>;
}

interface CacheEntry {
  state: TableState;
  /** Identity of the commit file of `state.version`. */
  fingerprint: string;
}

const cache = new Map<string, CacheEntry>();

async function fingerprintOf(tablePath: string, version: number): Promise<string | undefined> {
  try {
    const st = await stat(path.join(logDirOf(tablePath), commitFileName(version)), { bigint: true });
    return `${st.ino}:${st.size}:${st.mtimeNs}`;
  } catch {
    return undefined;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * The latest state of a table, or undefined when there is no table (no `_delta_log`, or no commit
 * in it). Uses and refreshes the in-process cache.
 * @example const state = await currentTableState(session, '/lake/bronze/winlogbeat_kafka_bronze');
 */
export async function currentTableState(session: Session, tablePath: string): Promise<TableState | undefined> {
  const cached = cache.get(tablePath);
  if (cached && (await fingerprintOf(tablePath, cached.state.version)) === cached.fingerprint) {
    // Probe forward for newer commits: cheaper than listing a log folder that only grows.
    const logDir = logDirOf(tablePath);
    let latest = cached.state.version;
    while (await exists(path.join(logDir, commitFileName(latest + 1)))) latest++;
    if (latest === cached.state.version) return cached.state;
    const newer: Action[][] = [];
    for (let v = cached.state.version + 1; v <= latest; v++) newer.push(await readCommit(tablePath, v));
    return remember(advance(cached.state, newer, latest), await fingerprintOf(tablePath, latest));
  }
  cache.delete(tablePath);
  let listing: LogListing;
  try {
    listing = await listLog(tablePath);
  } catch {
    return undefined;
  }
  const latest = Math.max(listing.commits.at(-1) ?? -1, listing.checkpoints.at(-1)?.version ?? -1);
  if (latest < 0) return undefined;
  const replayed = await replayLog(session, listing, latest);
  const state: TableState = {
    tablePath,
    version: latest,
    timestamp: commitTime(replayed.commitInfo),
    ...replayedVersion(replayed),
    files: replayed.files,
    appTxns: replayed.txns,
  };
  return remember(state, await fingerprintOf(tablePath, latest));
}

/**
 * Records that `version` was just committed with `actions` on top of `base` (commits between them,
 * won by other writers, are read from the log) and returns the new state.
 * @example const next = await recordCommit(state, result.version, [{ commitInfo }, ...actions]);
 */
export async function recordCommit(base: TableState, version: number, actions: readonly Action[]): Promise<TableState> {
  const commits: Action[][] = [];
  for (let v = base.version + 1; v < version; v++) commits.push(await readCommit(base.tablePath, v));
  commits.push([...actions]);
  const next = advance(base, commits, version);
  const current = cache.get(base.tablePath);
  // Another write in this process may have moved the cache further already.
  if (!current || current.state.version < version) remember(next, await fingerprintOf(base.tablePath, version));
  return next;
}

/**
 * The state of a table just created by a commit at `version` (normally 0) holding `actions`.
 * @example const state = await recordCreate('/lake/t', 0, [{ protocol }, { metaData }, { add }]);
 */
export async function recordCreate(tablePath: string, version: number, actions: readonly Action[]): Promise<TableState | undefined> {
  if (version !== 0) return undefined; // created over a log that already had commits: replay on next use
  const created: ReplayResult = { tablePath, version, files: new Map(), txns: new Map(), checkpointVersion: -1 };
  const info = applyActions(created, actions);
  if (!created.protocol || !created.metadata) return undefined;
  const state: TableState = {
    tablePath,
    version,
    timestamp: commitTime(info),
    ...replayedVersion(created),
    files: created.files,
    appTxns: created.txns,
  };
  return remember(state, await fingerprintOf(tablePath, version));
}

/**
 * Forgets cached table states (all, or one table's). Writers replay the log on their next use.
 * @example clearTableStateCache('/lake/Process'); // after another process wrote to the table
 */
export function clearTableStateCache(tablePath?: string): void {
  if (tablePath === undefined) cache.clear();
  else cache.delete(path.resolve(tablePath));
}

/**
 * The state as a {@link Snapshot} (for code that takes one, such as checkpoints).
 * @example await writeCheckpoint(session, state.tablePath, state.version, snapshotOf(state));
 */
export function snapshotOf(state: TableState): Snapshot {
  return {
    tablePath: state.tablePath,
    version: state.version,
    timestamp: state.timestamp,
    protocol: state.protocol,
    metadata: state.metadata,
    schema: state.schema,
    files: [...state.files.values()],
    appTxns: new Map(state.appTxns),
  };
}

function remember(state: TableState, fingerprint: string | undefined): TableState {
  if (fingerprint !== undefined) cache.set(state.tablePath, { state, fingerprint });
  else cache.delete(state.tablePath);
  return state;
}

function commitTime(info: CommitInfoAction | undefined): number {
  return recordedCommitTime(info) ?? Number.NaN;
}

/** Applies commits (in version order, the last being `version`) to a copy of the state. */
function advance(base: TableState, commits: readonly (readonly Action[])[], version: number): TableState {
  // Copy on write: a writer still holding `base` (another write of this process) keeps its view.
  const next: ReplayResult = {
    tablePath: base.tablePath,
    version,
    protocol: base.protocol,
    metadata: base.metadata,
    files: new Map(base.files),
    txns: new Map(base.appTxns),
    checkpointVersion: -1,
  };
  let info: CommitInfoAction | undefined;
  for (const actions of commits) info = applyActions(next, actions);
  const metadata = next.metadata ?? base.metadata;
  return {
    tablePath: base.tablePath,
    version,
    timestamp: commitTime(info),
    protocol: next.protocol ?? base.protocol,
    metadata,
    schema: metadata === base.metadata ? base.schema : parseSchemaString(metadata.schemaString),
    files: next.files,
    appTxns: next.txns,
  };
}
