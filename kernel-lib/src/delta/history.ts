/**
 * Table history, like `DESCRIBE HISTORY`: one entry per commit, newest first.
 */
import type { CommitInfoAction } from './actions.js';
import { commitTimestamp, listLog, mapLimit, readCommit } from './log.js';

/** One commit of a table's history. */
export interface HistoryEntry {
  version: number;
  /** Commit time: in-commit timestamp or commitInfo.timestamp, else the commit file's mtime. */
  timestamp: Date;
  operation: string | null;
  operationParameters: Record<string, unknown>;
  operationMetrics: Record<string, unknown>;
  engineInfo: string | null;
  readVersion: number | null;
  isBlindAppend: boolean | null;
  userMetadata: string | null;
  /** The full commitInfo action (null when the commit has none). */
  commitInfo: CommitInfoAction | null;
}

/**
 * The history of a table, newest first; `limit` keeps the newest N commits.
 * Commits already removed by log cleanup are not listed.
 * @example const [last] = await history('/lake/silver/Process', { limit: 1 }); console.log(last.operation);
 */
export async function history(tablePath: string, opts: { limit?: number } = {}): Promise<HistoryEntry[]> {
  const listing = await listLog(tablePath);
  let versions = [...listing.commits].reverse();
  if (opts.limit !== undefined) {
    if (!Number.isInteger(opts.limit) || opts.limit < 0) throw new Error(`history limit must be a non-negative integer, got ${opts.limit}`);
    versions = versions.slice(0, opts.limit);
  }
  return mapLimit(versions, 32, async (version) => {
      const actions = await readCommit(tablePath, version);
      const info = actions.find((a): a is { commitInfo: CommitInfoAction } => 'commitInfo' in a)?.commitInfo ?? null;
      const ms = await commitTimestamp(tablePath, version, actions);
      return {
        version,
        timestamp: new Date(ms),
        operation: info?.operation ?? null,
        operationParameters: info?.operationParameters ?? {},
        operationMetrics: info?.operationMetrics ?? {},
        engineInfo: info?.engineInfo ?? null,
        readVersion: typeof info?.readVersion === 'number' ? info.readVersion : null,
        isBlindAppend: typeof info?.isBlindAppend === 'boolean' ? info.isBlindAppend : null,
        userMetadata: typeof info?.userMetadata === 'string' ? info.userMetadata : null,
        commitInfo: info,
      };
  });
}
