/**
 * Snapshots: the state of a Delta table at one version (latest, or by time travel).
 */
import { getSession, type Session } from '../engine/session.js';
import type { AddAction, CommitInfoAction, MetadataAction, ProtocolAction } from './actions.js';
import { assertReadable } from './features.js';
import { commitTimestamp, commitTimestamps, listLog, replayLog, type LogListing, type ReplayResult } from './log.js';
import { parseSchemaString, type StructType } from './schema/from-spark.js';

/**
 * What every view of one table version holds, whichever form it keeps the active files in: a
 * reader's {@link Snapshot} or a writer's cached table state.
 */
export interface TableVersion {
  tablePath: string;
  version: number;
  /** Commit time (ms since epoch) of `version`. */
  timestamp: number;
  protocol: ProtocolAction;
  metadata: MetadataAction;
  /** The parsed `metadata.schemaString`. */
  schema: StructType;
}

/** The state of a Delta table at one version, after log replay. */
export interface Snapshot extends TableVersion {
  /** Active files after replay. */
  files: AddAction[];
  /** Latest `txn` version per appId (streaming exactly-once). */
  appTxns: Map<string, number>;
}

/** Which version to load: the latest by default, or time travel by version or timestamp. */
export interface SnapshotOptions {
  version?: number;
  /** Loads the latest version committed at or before this instant (strings without zone are UTC). */
  timestamp?: Date | string | number;
  /** DuckDB session used to read Parquet checkpoints (default: the notebook session). */
  session?: Session;
  /** Skips the reader-protocol check (writers inspecting a table they will not read). */
  skipReadCheck?: boolean;
}

/**
 * Loads a table's snapshot: log replay from the newest usable checkpoint plus later commits.
 * Throws a clear error for a folder without `_delta_log`, a missing version, a state without
 * metadata or protocol, or a protocol this reader does not support.
 *
 * @example
 * const latest = await loadSnapshot('/lake/bronze/winlogbeat_kafka_bronze');
 * const v3 = await loadSnapshot('/lake/bronze/winlogbeat_kafka_bronze', { version: 3 });
 * const asOf = await loadSnapshot('/lake/silver/Process', { timestamp: '2024-05-01T12:00:00Z' });
 */
export async function loadSnapshot(tablePath: string, opts: SnapshotOptions = {}): Promise<Snapshot> {
  const listing = await listLog(tablePath);
  const { earliest, latest } = availableRange(listing);
  let version: number;
  if (opts.version !== undefined && opts.timestamp !== undefined) {
    throw new Error('time travel takes a version or a timestamp, not both');
  }
  if (opts.version !== undefined) {
    version = opts.version;
    if (!Number.isInteger(version) || version < earliest || version > latest) {
      throw new Error(`version ${String(version)} of ${tablePath} is not available: the log holds versions ${earliest}..${latest}`);
    }
  } else if (opts.timestamp !== undefined) {
    version = await versionAtTimestamp(listing, toMillis(opts.timestamp), earliest, latest);
  } else {
    version = latest;
  }
  const session = opts.session ?? (listing.checkpoints.some((c) => c.version <= version) ? await getSession() : undefined);
  const state = await replayLog(session, listing, version);
  const { protocol, metadata, schema } = replayedVersion(state);
  if (!opts.skipReadCheck) assertReadable(protocol, metadata, schema, tablePath);
  const timestamp = recordedCommitTime(state.commitInfo) ?? (await commitTimestamp(tablePath, version));
  return {
    tablePath,
    version,
    timestamp,
    protocol,
    metadata,
    schema,
    files: [...state.files.values()],
    appTxns: state.txns,
  };
}

/**
 * The protocol, metadata and parsed schema of a replayed version. Throws when the log up to that
 * version holds no protocol or no metaData action (the table state cannot be reconstructed).
 *
 * @example const { protocol, metadata, schema } = replayedVersion(await replayLog(session, listing, 7));
 */
export function replayedVersion(replayed: ReplayResult): Pick<TableVersion, 'protocol' | 'metadata' | 'schema'> {
  const where = `cannot reconstruct version ${replayed.version} of ${replayed.tablePath}`;
  if (!replayed.protocol) throw new Error(`${where}: the log has no protocol action`);
  if (!replayed.metadata) throw new Error(`${where}: the log has no metaData action`);
  return { protocol: replayed.protocol, metadata: replayed.metadata, schema: parseSchemaString(replayed.metadata.schemaString) };
}

/**
 * The commit time (ms) a commit records itself: its in-commit timestamp, else commitInfo.timestamp;
 * undefined when it records neither (callers fall back to the commit file's time, or to NaN).
 *
 * @example recordedCommitTime({ timestamp: 1714564800000 }) // => 1714564800000
 */
export function recordedCommitTime(info: CommitInfoAction | undefined): number | undefined {
  const t = typeof info?.inCommitTimestamp === 'number' ? info.inCommitTimestamp : info?.timestamp;
  return typeof t === 'number' ? t : undefined;
}

/**
 * The versions a reader can reconstruct: from commit 0 (or the oldest checkpoint) to the latest.
 * @example availableRange(await listLog('/lake/Process')) // => { earliest: 0, latest: 12 }
 */
export function availableRange(listing: LogListing): { earliest: number; latest: number } {
  const latestCommit = listing.commits.at(-1) ?? -1;
  const latestCheckpoint = listing.checkpoints.at(-1)?.version ?? -1;
  const latest = Math.max(latestCommit, latestCheckpoint);
  if (latest < 0) throw new Error(`${listing.tablePath} has a ${'_delta_log'} folder but no commits`);
  const earliest = listing.commits[0] === 0 ? 0 : (listing.checkpoints[0]?.version ?? listing.commits[0] ?? 0);
  return { earliest, latest };
}

/**
 * Converts a time-travel timestamp to ms; strings without a zone are read as UTC.
 * @example toMillis('2024-05-01 12:00:00') // => 1714564800000 (read as UTC)
 */
export function toMillis(t: Date | string | number): number {
  let ms: number;
  if (t instanceof Date) ms = t.getTime();
  else if (typeof t === 'number') ms = t;
  else {
    const s = t.trim();
    const zoned = /(Z|[+-]\d\d:?\d\d)$/i.test(s) || /^\d{4}-\d{2}-\d{2}$/.test(s);
    ms = Date.parse(zoned ? s : `${s.replace(' ', 'T')}Z`);
  }
  if (!Number.isFinite(ms)) throw new Error(`not a valid timestamp for time travel: ${String(t)}`);
  return ms;
}

/**
 * The latest version whose commit time is at or before `ms`. Commit times are made monotonic as
 * the Delta protocol asks (a commit is never earlier than its predecessor).
 */
async function versionAtTimestamp(listing: LogListing, ms: number, earliest: number, latest: number): Promise<number> {
  const versions = listing.commits.filter((v) => v >= earliest && v <= latest);
  const times = await commitTimestamps(listing.tablePath, versions);
  let found = -1;
  let previous = -Infinity;
  for (let i = 0; i < versions.length; i++) {
    const t = Math.max(times[i]!, previous + 1);
    previous = t;
    if (t <= ms) found = versions[i]!;
    else break;
  }
  if (found < 0) {
    const first = versions[0];
    const when = first === undefined ? 'unknown' : new Date(times[0]!).toISOString();
    throw new Error(
      `no version of ${listing.tablePath} at ${new Date(ms).toISOString()}: the earliest available commit is version ${String(first)} at ${when}`,
    );
  }
  return found;
}
