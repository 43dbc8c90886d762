/**
 * Optimistic commits: put-if-absent of the next `_delta_log/%020d.json`, the only concurrency control
 * Delta has. A commit file is written complete under a temporary name, then hard-linked to its final
 * name: link(2) fails with EEXIST atomically, so a crash can never leave a partial commit visible.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, mkdir, open, unlink } from 'node:fs/promises';
import path from 'node:path';
import { assertInside, assertNotSymlink } from '../engine/real-path.js';
import {
  DELTA_LOG_DIR,
  commitFileName,
  type Action,
  type AddAction,
  type CommitInfoAction,
  type MetadataAction,
  type RemoveAction,
  type TxnAction,
} from './actions.js';
import { faultPoint } from './fault-points.js';
import { latestVersion, readCommit } from './log.js';

/** Why a commit lost against a concurrent one (Delta's ConcurrentModificationException kinds). */
export type ConflictKind =
  | 'tableCreated'
  | 'metadataChanged'
  | 'protocolChanged'
  | 'concurrentTransaction'
  | 'concurrentDeleteDelete'
  | 'concurrentAppend'
  | 'custom';

/** A commit could not be made because a concurrent commit changed what this one depended on. */
export class ConcurrentModificationError extends Error {
  constructor(
    readonly kind: ConflictKind,
    readonly winningVersion: number,
    message: string,
  ) {
    super(`${message} (conflicting commit: version ${winningVersion})`);
    this.name = 'ConcurrentModificationError';
  }
}

/** How to commit, and what the transaction read (for conflict detection). */
export interface CommitOptions {
  /** The version the transaction read; -1 when it creates the table. */
  readVersion: number;
  /** True when the commit only adds files (and txn/commitInfo) without reading the table. */
  isBlindAppend: boolean;
  /** commitInfo.operation, e.g. 'WRITE', 'OPTIMIZE', 'VACUUM START'. */
  operation: string;
  operationParameters?: Record<string, unknown>;
  operationMetrics?: Record<string, unknown>;
  /** commitInfo.engineInfo; default `winlake/<version>`. */
  engineInfo?: string;
  /** The transaction read every file of the table (e.g. an overwrite): concurrent data adds conflict. */
  readWholeTable?: boolean;
  /** An extra check of each winning commit; throw to fail the commit. */
  conflictCheck?: (winning: Action[], winningVersion: number) => void;
  /** Give up after this many lost races (default 1000). */
  maxAttempts?: number;
  /**
   * For a blind append: rebuilds this commit's actions on a metaData a concurrent commit wrote
   * (e.g. merges this write's new columns into the winner's schema), or throws a
   * {@link ConcurrentModificationError} when they no longer fit. Without it, a concurrent metadata
   * change is a conflict, as in Delta.
   */
  rebaseOnMetadata?: (winner: MetadataAction, winningVersion: number, actions: readonly Action[]) => Action[];
}

/** What a successful commit produced. */
export interface CommitResult {
  version: number;
  /** How many times the put-if-absent was tried (1 = no race lost). */
  attempts: number;
  commitInfo: CommitInfoAction;
  /** The actions committed, commitInfo first (after any rebase on concurrent metadata). */
  actions: Action[];
}

const PACKAGE_VERSION: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
})();

/** `winlake/<package version>`: the engine name in commitInfo. */
export const WINLAKE_ENGINE = `winlake/${PACKAGE_VERSION}`;

/**
 * Commits actions as the next version of a table. commitInfo is added first. When another writer
 * took the version first, its commits are checked for real conflicts (removed the same file, changed
 * metadata or protocol, same txn appId, or added data a whole-table read depended on) and the commit
 * is retried at the next version; a conflict throws {@link ConcurrentModificationError}. A blind
 * append given `rebaseOnMetadata` is rebuilt on a concurrent metadata change instead of failing.
 * @example
 * const { version } = await commitActions('/lake/t', [{ add }], { readVersion: 4, isBlindAppend: true, operation: 'WRITE' });
 */
export async function commitActions(tablePath: string, actions: readonly Action[], opts: CommitOptions): Promise<CommitResult> {
  if (actions.some((a) => 'commitInfo' in a)) throw new Error('commitActions adds commitInfo itself: do not pass one');
  const logDir = path.join(tablePath, DELTA_LOG_DIR);
  assertNotSymlink(tablePath, 'table folder');
  await mkdir(logDir, { recursive: true });
  assertInside(tablePath, logDir, 'log folder');
  const ours = summarize(actions);
  let current: readonly Action[] = actions;
  const maxAttempts = opts.maxAttempts ?? 1000;
  let version = opts.readVersion + 1;
  for (let attempt = 1; ; attempt++) {
    const commitInfo: CommitInfoAction = {
      timestamp: Date.now(),
      operation: opts.operation,
      operationParameters: opts.operationParameters ?? {},
      ...(opts.readVersion >= 0 ? { readVersion: opts.readVersion } : {}),
      isolationLevel: 'Serializable',
      isBlindAppend: opts.isBlindAppend,
      operationMetrics: stringifyMetrics(opts.operationMetrics ?? {}),
      engineInfo: opts.engineInfo ?? WINLAKE_ENGINE,
      txnId: randomUUID(),
    };
    const committed: Action[] = [{ commitInfo }, ...current];
    const text = committed.map((a) => JSON.stringify(a)).join('\n') + '\n';
    if (await putIfAbsent(logDir, commitFileName(version), text)) return { version, attempts: attempt, commitInfo, actions: committed };
    if (attempt >= maxAttempts) throw new Error(`gave up committing to ${tablePath} after ${attempt} lost races`);
    const latest = await latestVersion(tablePath);
    for (let v = version; v <= latest; v++) {
      const winning = await readCommit(tablePath, v);
      checkConflicts(ours, winning, v, opts);
      opts.conflictCheck?.(winning, v);
      const winner = winning.find((a): a is { metaData: MetadataAction } => 'metaData' in a);
      if (winner && opts.rebaseOnMetadata) current = opts.rebaseOnMetadata(winner.metaData, v, current);
    }
    version = Math.max(latest, version) + 1;
  }
}

/**
 * Writes `name` in `dir` only if absent; false when it already exists. Never leaves a partial file
 * under `name`; a failed write (a full disk) removes its temporary file. A crash can leave the
 * temporary `.<name>.<uuid>.tmp`, which vacuum sweeps once older than the retention.
 */
async function putIfAbsent(dir: string, name: string, text: string): Promise<boolean> {
  const temp = path.join(dir, `.${name}.${randomUUID()}.tmp`);
  const handle = await open(temp, 'wx');
  try {
    try {
      faultPoint('commit.temp-write');
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  faultPoint('commit.temp-written');
  try {
    await link(temp, path.join(dir, name));
    faultPoint('commit.linked');
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

interface Summary {
  removes: Set<string>;
  appIds: Set<string>;
}

function summarize(actions: readonly Action[]): Summary {
  const removes = new Set<string>();
  const appIds = new Set<string>();
  for (const a of actions) {
    if ('remove' in a) removes.add((a.remove as RemoveAction).path);
    if ('txn' in a) appIds.add((a.txn as TxnAction).appId);
  }
  return { removes, appIds };
}

function checkConflicts(ours: Summary, winning: Action[], v: number, opts: CommitOptions): void {
  if (opts.readVersion < 0) {
    throw new ConcurrentModificationError('tableCreated', v, 'the table was created by another writer at the same time');
  }
  const rebase = opts.isBlindAppend && opts.rebaseOnMetadata !== undefined;
  for (const a of winning) {
    if ('metaData' in a && !rebase) throw new ConcurrentModificationError('metadataChanged', v, 'the table metadata (schema, partitioning or properties) was changed by a concurrent commit');
    if ('protocol' in a) throw new ConcurrentModificationError('protocolChanged', v, 'the table protocol was changed by a concurrent commit');
    if ('txn' in a && ours.appIds.has((a.txn as TxnAction).appId)) {
      throw new ConcurrentModificationError('concurrentTransaction', v, `a concurrent commit wrote transaction appId ${JSON.stringify((a.txn as TxnAction).appId)}`);
    }
    if ('remove' in a && ours.removes.has((a.remove as RemoveAction).path)) {
      throw new ConcurrentModificationError('concurrentDeleteDelete', v, `file ${(a.remove as RemoveAction).path} was already removed by a concurrent commit`);
    }
    if (opts.readWholeTable && !opts.isBlindAppend && 'add' in a && (a.add as AddAction).dataChange) {
      throw new ConcurrentModificationError('concurrentAppend', v, `a concurrent commit added data (${(a.add as AddAction).path}) that this ${opts.operation} did not see`);
    }
  }
}

/** Spark writes operationMetrics values as strings. */
function stringifyMetrics(metrics: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, String(v)]));
}
