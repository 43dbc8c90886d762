/**
 * The Delta log: listing `_delta_log`, reading commits and checkpoints (classic, multi-part, v2
 * with sidecars), and replaying them into the table state at one version.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { quoteString } from '../engine/quote.js';
import type { Session } from '../engine/session.js';
import {
  DELTA_LOG_DIR,
  commitFileName,
  type Action,
  type AddAction,
  type CommitInfoAction,
  type MetadataAction,
  type ProtocolAction,
  type RemoveAction,
  type TxnAction,
} from './actions.js';

/** One complete checkpoint found in the log folder. */
export interface CheckpointRef {
  version: number;
  kind: 'classic' | 'multipart' | 'v2';
  /** File names relative to `_delta_log`. */
  files: string[];
}

/** What `_delta_log` holds: commit files and complete checkpoints, by version. */
export interface LogListing {
  tablePath: string;
  logDir: string;
  /** Commit versions present, ascending. */
  commits: number[];
  /** Complete checkpoints, ascending by version. */
  checkpoints: CheckpointRef[];
}

/** `_last_checkpoint` contents (only the fields a reader uses). */
export interface LastCheckpoint {
  version: number;
  size?: number;
  parts?: number;
  v2Checkpoint?: { path: string };
}

const COMMIT = /^(\d{20})\.json$/;
const CLASSIC = /^(\d{20})\.checkpoint\.parquet$/;
const MULTIPART = /^(\d{20})\.checkpoint\.(\d{10})\.(\d{10})\.parquet$/;
const V2 = /^(\d{20})\.checkpoint\.([^.]+)\.(json|parquet)$/;

/**
 * The path of the log folder of a table.
 * @example logDirOf('/lake/Process') // => '/lake/Process/_delta_log'
 */
export function logDirOf(tablePath: string): string {
  return path.join(tablePath, DELTA_LOG_DIR);
}

/**
 * Lists the log folder. Throws a clear error when the table has no `_delta_log` folder.
 * @example const { commits, checkpoints } = await listLog('/lake/t');
 */
export async function listLog(tablePath: string): Promise<LogListing> {
  const logDir = logDirOf(tablePath);
  let names: string[];
  try {
    names = await readdir(logDir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new Error(`not a Delta table: ${tablePath} has no ${DELTA_LOG_DIR} folder`);
    }
    throw err;
  }
  const commits: number[] = [];
  const checkpoints: CheckpointRef[] = [];
  const multipart = new Map<string, { version: number; total: number; parts: Map<number, string> }>();
  for (const name of names) {
    let m = COMMIT.exec(name);
    if (m) {
      commits.push(Number(m[1]));
      continue;
    }
    m = CLASSIC.exec(name);
    if (m) {
      checkpoints.push({ version: Number(m[1]), kind: 'classic', files: [name] });
      continue;
    }
    m = MULTIPART.exec(name);
    if (m) {
      const key = `${m[1]}/${m[3]}`;
      const group = multipart.get(key) ?? { version: Number(m[1]), total: Number(m[3]), parts: new Map<number, string>() };
      group.parts.set(Number(m[2]), name);
      multipart.set(key, group);
      continue;
    }
    m = V2.exec(name);
    if (m) checkpoints.push({ version: Number(m[1]), kind: 'v2', files: [name] });
  }
  for (const g of multipart.values()) {
    if (g.parts.size !== g.total) continue; // incomplete: a writer failed mid-way
    const files = [...g.parts.entries()].sort((a, b) => a[0] - b[0]).map(([, n]) => n);
    checkpoints.push({ version: g.version, kind: 'multipart', files });
  }
  commits.sort((a, b) => a - b);
  checkpoints.sort((a, b) => a.version - b.version);
  return { tablePath, logDir, commits, checkpoints };
}

/**
 * The latest committed version, or -1 when there is no `_delta_log` or no commit yet.
 * @example const v = await latestVersion('/lake/silver/Process');
 */
export async function latestVersion(tablePath: string): Promise<number> {
  let listing: LogListing;
  try {
    listing = await listLog(tablePath);
  } catch {
    return -1;
  }
  const lastCommit = listing.commits.at(-1) ?? -1;
  const lastCheckpoint = listing.checkpoints.at(-1)?.version ?? -1;
  return Math.max(lastCommit, lastCheckpoint);
}

/**
 * Parses the lines of a commit file (one JSON action per line). Anything that is not a list of
 * actions is a clear error naming `where`: no line (an empty or blank file), a line that is not
 * JSON, or not a JSON object, or an `add`/`remove`/`metaData`/`protocol` that is not an object.
 * An empty commit must never pass for a version without changes: its real actions (rows, schema)
 * would vanish without a word and the next write would build on the hole.
 * @example parseActions('{"add":{...}}\n{"commitInfo":{...}}', '/lake/t/_delta_log/00000000000000000003.json')
 */
export function parseActions(text: string, where: string): Action[] {
  const actions: Action[] = [];
  let lineNo = 0;
  for (const line of text.split('\n')) {
    lineNo++;
    if (line.trim() === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (err) {
      throw new Error(`corrupt Delta log: ${where} line ${lineNo} is not JSON (${(err as Error).message})`);
    }
    const problem = actionProblem(parsed);
    if (problem) throw new Error(`corrupt Delta log: ${where} line ${lineNo} is not a Delta action: ${problem}`);
    actions.push(parsed as Action);
  }
  if (actions.length === 0) {
    throw new Error(`corrupt Delta log: ${where} holds no action (${text.length === 0 ? 'the file is empty, 0 bytes' : 'only blank lines'})`);
  }
  return actions;
}

const OBJECT_ACTIONS = ['add', 'remove', 'metaData', 'protocol', 'txn', 'commitInfo', 'cdc', 'domainMetadata', 'checkpointMetadata', 'sidecar'];

/** Why a parsed line is not an action, or undefined. Unknown action kinds pass (newer writers). */
function actionProblem(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return `expected an object, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)?.slice(0, 40)}`;
  const keys = Object.keys(value);
  if (keys.length === 0) return 'an empty object';
  for (const kind of OBJECT_ACTIONS) {
    if (!(kind in value)) continue;
    const body = (value as Record<string, unknown>)[kind];
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return `"${kind}" is not an object`;
    if ((kind === 'add' || kind === 'remove') && typeof (body as { path?: unknown }).path !== 'string') return `"${kind}" has no path`;
  }
  return undefined;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The actions of one commit file, in file order. A missing, empty or unreadable commit is an
 * error naming the file and what it breaks: readers, writers, vacuum and checkpoints all refuse
 * to go past it (a hole in the log cannot be repaired by guessing).
 * @example const actions = await readCommit('/lake/t', 0);
 */
export async function readCommit(tablePath: string, version: number): Promise<Action[]> {
  const file = path.join(logDirOf(tablePath), commitFileName(version));
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`commit ${version} of ${tablePath} does not exist (${file})`);
    }
    throw err;
  }
  try {
    let text: string;
    try {
      text = UTF8.decode(bytes);
    } catch {
      throw new Error(`corrupt Delta log: ${file} is not UTF-8 text (${bytes.length} bytes of binary data)`);
    }
    return parseActions(text, file);
  } catch (err) {
    throw new Error(
      `${(err as Error).message}. Version ${version} of ${tablePath} cannot be read, and nothing is read, written, ` +
        `checkpointed or vacuumed past it: restore the file from a backup or replica` +
        (version > 0 ? `; versions before ${version} can still be read by time travel` : ''),
    );
  }
}

/**
 * Reads `_last_checkpoint`; undefined when absent or corrupt (readers then list the folder).
 * @example const hint = await readLastCheckpoint('/lake/t');
 */
export async function readLastCheckpoint(tablePath: string): Promise<LastCheckpoint | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path.join(logDirOf(tablePath), '_last_checkpoint'), 'utf8')) as unknown;
    if (parsed && typeof parsed === 'object' && Number.isInteger((parsed as LastCheckpoint).version)) {
      return parsed as LastCheckpoint;
    }
  } catch {
    // absent or corrupt: fall back to listing
  }
  return undefined;
}

/**
 * Runs `fn` over `items` with at most `limit` promises in flight, keeping order.
 * @example const texts = await mapLimit(files, 32, (f) => readFile(f, "utf8"));
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Reads checkpoint Parquet files with DuckDB and returns their non-null actions, one per row.
 * Tombstones (`remove`) are dropped: a checkpoint's `add` rows already are the active files.
 */
async function readParquetActions(session: Session, files: readonly string[]): Promise<Action[]> {
  if (files.length === 0) return [];
  const list = files.map(quoteString).join(', ');
  const rows = await session.rows<{ j: string }>(
    `SELECT to_json(t)::VARCHAR AS j FROM read_parquet([${list}], union_by_name=true) AS t`,
  );
  const actions: Action[] = [];
  for (const { j } of rows) {
    const row = JSON.parse(j) as Record<string, unknown>;
    for (const [kind, value] of Object.entries(row)) {
      if (value === null || kind === 'remove') continue;
      actions.push({ [kind]: value } as Action);
    }
  }
  return actions;
}

/**
 * The actions of a checkpoint (sidecars of v2 checkpoints included).
 * @example const actions = await readCheckpoint(session, listing, listing.checkpoints.at(-1)!);
 */
export async function readCheckpoint(session: Session | undefined, listing: LogListing, cp: CheckpointRef): Promise<Action[]> {
  const abs = (name: string): string => path.join(listing.logDir, name);
  const needSession = (): Session => {
    if (!session) throw new Error('reading a Parquet checkpoint needs a DuckDB session');
    return session;
  };
  let actions: Action[];
  if (cp.kind === 'v2' && cp.files[0]!.endsWith('.json')) {
    actions = parseActions(await readFile(abs(cp.files[0]!), 'utf8'), cp.files[0]!).filter((a) => !('remove' in a));
  } else {
    actions = await readParquetActions(needSession(), cp.files.map(abs));
  }
  const sidecars = actions.filter((a): a is { sidecar: { path: string } } => 'sidecar' in a);
  if (sidecars.length === 0) return actions;
  const sidecarFiles = sidecars.map((s) => {
    const p = s.sidecar.path;
    return p.includes('/') ? decodeURIComponent(p.startsWith('file:') ? new URL(p).pathname : p) : path.join('_sidecars', p);
  });
  const fromSidecars = await readParquetActions(needSession(), sidecarFiles.map((p) => (path.isAbsolute(p) ? p : abs(p))));
  return [...actions.filter((a) => !('sidecar' in a)), ...fromSidecars];
}

/**
 * Resolves an `add.path` (a URI reference) to a local absolute path: relative paths are
 * URI-decoded and joined to the table; `file:` URIs are converted; other schemes are refused.
 * @example dataFilePath('/lake/t', 'd=2024-01-01/part%20x.parquet') // => '/lake/t/d=2024-01-01/part x.parquet'
 */
export function dataFilePath(tablePath: string, addPath: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(addPath)) {
    if (addPath.toLowerCase().startsWith('file:')) return fileURLToPath(addPath);
    throw new Error(`data file ${addPath} is on a storage this reader cannot open (only local files)`);
  }
  let decoded = addPath;
  try {
    decoded = decodeURIComponent(addPath);
  } catch {
    // not URI-escaped after all: use as written
  }
  return path.resolve(tablePath, decoded);
}

/**
 * The key of a file in the active set: its canonical path (so `file:///x`, `file:/x` and `/x`
 * name one file) plus its deletion vector's identity.
 * @example fileKey('/lake/t', { ...add, path: 'a.parquet' }) === fileKey('/lake/t', { ...add, path: 'file:///lake/t/a.parquet' }) // => true
 */
export function fileKey(tablePath: string, action: AddAction | RemoveAction): string {
  let canonical: string;
  try {
    canonical = dataFilePath(tablePath, action.path);
  } catch {
    canonical = action.path; // remote URI: compare as written
  }
  const dv = action.deletionVector;
  const dvId = dv ? `${dv.storageType}${dv.pathOrInlineDv}${dv.offset !== undefined && dv.offset !== null ? `@${dv.offset}` : ''}` : '';
  return `${canonical}\u0000${dvId}`;
}

/** The table state reconstructed from the log. */
export interface ReplayResult {
  tablePath: string;
  version: number;
  protocol?: ProtocolAction;
  metadata?: MetadataAction;
  files: Map<string, AddAction>;
  txns: Map<string, number>;
  /** commitInfo of `version` when its commit file was read. */
  commitInfo?: CommitInfoAction;
  /** Where replay started: the checkpoint version used, or -1 for none. */
  checkpointVersion: number;
}

/**
 * Applies one commit's or checkpoint's actions, in order, to the state, and returns the commit's
 * commitInfo. Log replay and the writer's cached table state both move forward with it.
 * @example const info = applyActions(state, await readCommit('/lake/t', 13));
 */
export function applyActions(state: ReplayResult, actions: readonly Action[]): CommitInfoAction | undefined {
  let commitInfo: CommitInfoAction | undefined;
  for (const a of actions) {
    if ('add' in a) {
      const add = a.add as AddAction;
      state.files.set(fileKey(state.tablePath, add), add);
    } else if ('remove' in a) {
      state.files.delete(fileKey(state.tablePath, a.remove as RemoveAction));
    } else if ('metaData' in a) {
      state.metadata = a.metaData as MetadataAction;
    } else if ('protocol' in a) {
      state.protocol = a.protocol as ProtocolAction;
    } else if ('txn' in a) {
      const txn = a.txn as TxnAction;
      state.txns.set(txn.appId, txn.version);
    } else if ('commitInfo' in a) {
      commitInfo = a.commitInfo as CommitInfoAction;
    }
  }
  return commitInfo;
}

/**
 * Replays the log up to `version` (inclusive): from the newest usable checkpoint at or before it,
 * then every later commit. A checkpoint that cannot be read is skipped in favour of an older one
 * (or of the commits from version 0); missing commits are a clear error.
 * @example const state = await replayLog(session, await listLog('/lake/t'), 12);
 */
export async function replayLog(session: Session | undefined, listing: LogListing, version: number): Promise<ReplayResult> {
  const commitSet = new Set(listing.commits);
  const hint = await readLastCheckpoint(listing.tablePath);
  const candidates = listing.checkpoints.filter((c) => c.version <= version).reverse();
  // Prefer the checkpoint `_last_checkpoint` names when several exist at that version (v2 vs classic).
  if (hint) {
    const hinted = candidates.findIndex((c) => c.version === hint.version && (!hint.v2Checkpoint || c.files[0] === hint.v2Checkpoint.path));
    if (hinted > 0) candidates.unshift(...candidates.splice(hinted, 1));
  }
  const problems: string[] = [];
  for (const cp of [...candidates, undefined]) {
    const from = cp ? cp.version + 1 : 0;
    const missing = firstMissing(commitSet, from, version);
    if (missing !== undefined) {
      problems.push(
        cp
          ? `checkpoint ${cp.version} cannot be used: commit ${missing} is missing`
          : `commit ${missing} is missing and no checkpoint covers it`,
      );
      continue;
    }
    const state: ReplayResult = { tablePath: listing.tablePath, version, files: new Map(), txns: new Map(), checkpointVersion: cp?.version ?? -1 };
    if (cp) {
      let actions: Action[];
      try {
        actions = await readCheckpoint(session, listing, cp);
      } catch (err) {
        problems.push(`checkpoint ${cp.version} is unreadable: ${(err as Error).message.split('\n')[0]}`);
        continue;
      }
      applyActions(state, actions);
    }
    const versions: number[] = [];
    for (let v = from; v <= version; v++) versions.push(v);
    const commits = await mapLimit(versions, 32, (v) => readCommit(listing.tablePath, v));
    for (let i = 0; i < commits.length; i++) {
      const info = applyActions(state, commits[i]!);
      if (versions[i] === version) state.commitInfo = info;
    }
    return state;
  }
  throw new Error(`cannot reconstruct version ${version} of ${listing.tablePath}: ${problems.join('; ')}`);
}

function firstMissing(commits: Set<number>, from: number, to: number): number | undefined {
  for (let v = from; v <= to; v++) if (!commits.has(v)) return v;
  return undefined;
}

/**
 * The commit time (ms) of a version: the in-commit timestamp or commitInfo.timestamp when the
 * commit records one, else the commit file's modification time.
 * @example const t = await commitTimestamp('/lake/t', 3);
 */
export async function commitTimestamp(tablePath: string, version: number, actions?: readonly Action[]): Promise<number> {
  const own = actions ?? (await readCommit(tablePath, version).catch(() => undefined));
  const info = own?.find((a): a is { commitInfo: CommitInfoAction } => 'commitInfo' in a)?.commitInfo;
  const recorded = typeof info?.inCommitTimestamp === 'number' ? info.inCommitTimestamp : info?.timestamp;
  if (typeof recorded === 'number') return recorded;
  try {
    return (await stat(path.join(logDirOf(tablePath), commitFileName(version)))).mtimeMs;
  } catch {
    return Number.NaN;
  }
}

/**
 * The commit times of the given versions, read concurrently.
 * @example const times = await commitTimestamps('/lake/t', [0, 1, 2]);
 */
export async function commitTimestamps(tablePath: string, versions: readonly number[]): Promise<number[]> {
  return mapLimit(versions, 32, (v) => commitTimestamp(tablePath, v));
}
