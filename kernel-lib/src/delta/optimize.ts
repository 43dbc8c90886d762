/**
 * OPTIMIZE for Delta tables: bin-packing compaction of small files, or Z-order clustering
 * (Databricks `OPTIMIZE t [WHERE partition_pred] [ZORDER BY (cols)]`), committed the way Delta does:
 * `remove` + `add` actions with dataChange=false in one commit whose commitInfo.operation is
 * "OPTIMIZE". Concurrent appends are never lost: the commit only requires that every file it
 * removes is still active, so a blind append that wins the race is simply kept (the commit retries at
 * the next version), while a concurrent removal of one of its files fails the OPTIMIZE cleanly.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { quoteIdent, quoteString } from '../engine/quote.js';
import type { Session } from '../engine/session.js';
import { checkedExpression } from '../engine/sql-guard.js';
import { assertInside, assertNotSymlink } from '../engine/real-path.js';
import { Expr, renderExpr, type ExprNode } from '../frame/expr.js';
import type { Action, AddAction, FileStats, RemoveAction } from './actions.js';
import { bloomCopyOptions } from './bloom-index.js';
import { writeCheckpoint } from './checkpoint.js';
import { ConcurrentModificationError, commitActions, type CommitResult } from './commit.js';
import { columnMappingMode } from './features.js';
import { dataFilePath } from './log.js';
import { partitionDir, toAddPath } from './partition-path.js';
import { partitionLiteralSql } from './partition-values.js';
import { DeltaScan } from './scan.js';
import type { StructField, StructType } from './schema/from-spark.js';
import { partitionValueOf, resolveColumn } from './skipping.js';
import { loadSnapshot, type Snapshot } from './snapshot.js';
import { fileStats } from './stats.js';
import { zOrderKeyedSql, zOrderedSql } from './zorder.js';

/** Delta's default target for OPTIMIZE output files (delta-rs: `delta.targetFileSize`). */
export const DEFAULT_TARGET_FILE_SIZE = 128 * 1024 * 1024;
/**
 * Rows per row group of OPTIMIZE output. Not DuckDB's 122,880: once a day's partition fits in one
 * file, the row group is the unit that bloom filters and min/max (hence Z-order) can skip. Measured
 * on the optimize bench (5M events, one 4 MB file per day): a rare-user hunt read 25 MB with 122,880
 * rows per group and 6 MB with 16,384; the Z-ordered process query 91 MB and 14 MB; the files grew 1%.
 */
const DEFAULT_ROW_GROUP_ROWS = 16_384;
const DEFAULT_CHECKPOINT_INTERVAL = 10;

/** Options of {@link optimizeTable}. */
export interface OptimizeOptions {
  /** Z-order the selected partitions by these (non-partition) columns; all their files are rewritten. */
  zOrderBy?: string[];
  /** Partition predicate (SQL over partition columns, or a `col()` expression): only these partitions. */
  where?: string | ExprNode | Expr;
  /** Wanted size of output files in bytes (default: `delta.targetFileSize`, else 128 MB). */
  targetFileSize?: number;
  /** Compaction only rewrites files smaller than this (default: targetFileSize). */
  minFileSize?: number;
  /** Rows per Parquet row group in output files (default 16,384, or fewer to fit the file; DuckDB's own default is 122,880). */
  rowGroupRows?: number;
  /**
   * Called after the new files are written and before the commit (progress reporting, and tests
   * that interleave a concurrent writer at the one moment it matters).
   */
  beforeCommit?: () => void | Promise<void>;
}

/** Size statistics of a set of files (delta-rs' MetricDetails). */
export interface FileSizeStats {
  avg: number;
  max: number;
  min: number;
  totalFiles: number;
  totalSize: number;
}

/** What an OPTIMIZE did (delta-rs' metrics plus the commit). */
export interface OptimizeMetrics {
  /** The OPTIMIZE commit's version; null when there was nothing to rewrite. */
  version: number | null;
  /** The snapshot version the OPTIMIZE planned from. */
  readVersion: number;
  /** Put-if-absent attempts (more than 1 when concurrent commits won the race). */
  attempts: number;
  numFilesAdded: number;
  numFilesRemoved: number;
  filesAdded: FileSizeStats;
  filesRemoved: FileSizeStats;
  partitionsOptimized: number;
  /** Rewrite batches (bins for compaction, partitions for Z-order). */
  numBatches: number;
  totalConsideredFiles: number;
  totalFilesSkipped: number;
  numRowsRewritten: number;
  zOrderBy: string[];
  /** The partition predicate as SQL ([] for the whole table). */
  predicate: string[];
  durationMs: number;
}

/**
 * Compacts small files, or Z-orders partitions, of a Delta table in one OPTIMIZE commit.
 *
 * Without `zOrderBy`: per partition, files smaller than `minFileSize` are bin-packed into groups
 * of at most `targetFileSize` bytes and each group of two or more files is rewritten as one file.
 * With `zOrderBy`: every file of each selected partition is rewritten, rows ordered by the
 * interleaved bits of the columns' quantile ranks (see zorder.ts) and cut into files of about
 * `targetFileSize`, so that each file covers a small box of the Z-order columns' values.
 *
 * @example
 * const m = await optimizeTable(session, '/lake/silver/Process', {
 *   zOrderBy: ['process_name', 'event_id'],
 *   where: "_event_date >= DATE '2024-05-01'",
 * });
 * console.log(m.numFilesRemoved, '→', m.numFilesAdded);
 */
export async function optimizeTable(session: Session, tablePathIn: string, opts: OptimizeOptions = {}): Promise<OptimizeMetrics> {
  const started = Date.now();
  const tablePath = path.resolve(tablePathIn);
  assertNotSymlink(tablePath, 'table folder');
  const snapshot = await loadSnapshot(tablePath, { session });
  assertRewritable(snapshot);
  const targetFileSize = positiveOption('targetFileSize', opts.targetFileSize ?? configuredTargetSize(snapshot));
  const minFileSize = positiveOption('minFileSize', opts.minFileSize ?? targetFileSize);
  if (opts.rowGroupRows !== undefined) positiveOption('rowGroupRows', opts.rowGroupRows);
  const zOrderBy = resolveZOrderColumns(snapshot, opts.zOrderBy ?? []);
  const whereText = opts.where === undefined ? undefined : opts.where instanceof Expr ? opts.where.toSql() : typeof opts.where === 'string' ? opts.where : renderExpr(opts.where);
  const whereSql = whereText === undefined ? undefined : await checkedExpression(session, whereText, 'OPTIMIZE where');

  const partitions = groupByPartition(snapshot);
  const selected = whereSql === undefined ? [...partitions.values()] : await selectPartitions(session, snapshot, partitions, whereSql);
  const considered = selected.flatMap((p) => p.files);

  const batches: AddAction[][] = [];
  for (const p of selected) {
    if (zOrderBy.length > 0) batches.push(p.files);
    else batches.push(...binPack(p.files, minFileSize, targetFileSize));
  }
  const removed = batches.flat();
  const metrics: OptimizeMetrics = {
    version: null,
    readVersion: snapshot.version,
    attempts: 0,
    numFilesAdded: 0,
    numFilesRemoved: 0,
    filesAdded: sizeStats([]),
    filesRemoved: sizeStats([]),
    partitionsOptimized: 0,
    numBatches: batches.length,
    totalConsideredFiles: considered.length,
    totalFilesSkipped: considered.length - removed.length,
    numRowsRewritten: 0,
    zOrderBy,
    // As the user wrote it (checked above), the way Spark records it: not the guarded splice.
    predicate: whereText === undefined ? [] : [whereText],
    durationMs: 0,
  };
  if (batches.length === 0) {
    metrics.durationMs = Date.now() - started;
    return metrics;
  }

  const added: AddAction[] = [];
  try {
    for (const batch of batches) {
      const rows = batchRows(batch);
      const rowsPerFile = zOrderBy.length > 0 ? rowsForSize(batch, targetFileSize) : undefined;
      added.push(...(await writeRewrittenFiles(session, snapshot, batch, { zOrderBy, rowsPerFile, rowGroupRows: opts.rowGroupRows })));
      metrics.numRowsRewritten += rows ?? 0;
    }
  } catch (err) {
    await deleteFiles(tablePath, added);
    throw err;
  }
  if (opts.beforeCommit) {
    try {
      await opts.beforeCommit();
    } catch (err) {
      await deleteFiles(tablePath, added);
      throw err;
    }
  }
  const partitionsTouched = new Set(batches.map((b) => partitionKey(snapshot, b[0]!)));
  const operationMetrics = {
    numRemovedFiles: removed.length,
    numRemovedBytes: removed.reduce((s, f) => s + f.size, 0),
    numAddedFiles: added.length,
    numAddedBytes: added.reduce((s, f) => s + f.size, 0),
    ...percentiles(added.map((f) => f.size)),
    numDeletionVectorsRemoved: 0,
  };
  const commit = await commitRewrite(session, tablePath, snapshot, removed, added, {
    operation: 'OPTIMIZE',
    operationParameters: { predicate: JSON.stringify(metrics.predicate), zOrderBy: JSON.stringify(zOrderBy) },
    operationMetrics,
  });
  return {
    ...metrics,
    version: commit.version,
    attempts: commit.attempts,
    numFilesAdded: added.length,
    numFilesRemoved: removed.length,
    filesAdded: sizeStats(added),
    filesRemoved: sizeStats(removed),
    partitionsOptimized: partitionsTouched.size,
    durationMs: Date.now() - started,
  };
}

/**
 * Rewrites the given active files one for one (same rows, same partition, dataChange=false) in one
 * commit named `operation`; used to give old files what new writes get (e.g. bloom filters).
 * Returns the commit version.
 * @example const v = await rewriteFilesCommit(session, '/lake/t', snapshot.files, 'BACKFILL BLOOMFILTER INDEX');
 */
export async function rewriteFilesCommit(session: Session, tablePathIn: string, files: readonly AddAction[], operation: string): Promise<number> {
  const tablePath = path.resolve(tablePathIn);
  const snapshot = await loadSnapshot(tablePath, { session });
  assertRewritable(snapshot);
  const wanted = new Set(files.map((f) => f.path));
  const active = snapshot.files.filter((f) => wanted.has(f.path));
  if (active.length !== wanted.size) throw new Error(`${operation}: ${wanted.size - active.length} of the files to rewrite are no longer active in ${tablePath}`);
  const added: AddAction[] = [];
  try {
    for (const f of active) added.push(...(await writeRewrittenFiles(session, snapshot, [f], {})));
  } catch (err) {
    await deleteFiles(tablePath, added);
    throw err;
  }
  const commit = await commitRewrite(session, tablePath, snapshot, active, added, {
    operation,
    operationParameters: {},
    operationMetrics: { numRemovedFiles: active.length, numAddedFiles: added.length },
  });
  return commit.version;
}

/** Refuses tables this rewrite cannot reproduce faithfully. */
function assertRewritable(snapshot: Snapshot): void {
  if (columnMappingMode(snapshot.metadata) !== 'none') {
    throw new Error(`${snapshot.tablePath} uses column mapping, which winlake's OPTIMIZE does not rewrite`);
  }
  const withDv = snapshot.files.filter((f) => f.deletionVector);
  if (withDv.length > 0) throw new Error(`${snapshot.tablePath} has ${withDv.length} file(s) with deletion vectors, which winlake's OPTIMIZE does not rewrite`);
  const writerFeatures = snapshot.protocol.writerFeatures ?? [];
  if (snapshot.protocol.minWriterVersion > 7 || writerFeatures.includes('rowTracking')) {
    throw new Error(`${snapshot.tablePath} needs writer features winlake's OPTIMIZE does not support (${writerFeatures.join(', ')})`);
  }
}

function positiveOption(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got ${String(value)}`);
  return value;
}

function configuredTargetSize(snapshot: Snapshot): number {
  const raw = snapshot.metadata.configuration['delta.targetFileSize'];
  if (raw === undefined) return DEFAULT_TARGET_FILE_SIZE;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?b?)?\s*$/i.exec(raw);
  if (!m) throw new Error(`delta.targetFileSize is not a size: ${JSON.stringify(raw)}`);
  const unit = (m[2] ?? '').toLowerCase().replace('b', '');
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[unit] ?? 1;
  return Number(m[1]) * mult;
}

/** Checks the Z-order columns: existing, not partition columns, primitive. Returns table spellings. */
function resolveZOrderColumns(snapshot: Snapshot, columns: readonly string[]): string[] {
  const partitionColumns = new Set(snapshot.metadata.partitionColumns);
  const out: string[] = [];
  for (const name of columns) {
    const field = resolveColumn(snapshot.schema.fields, name);
    if (!field) {
      throw new Error(`cannot Z-order by ${JSON.stringify(name)}: no such column; columns are: ${snapshot.schema.fields.map((f) => f.name).join(', ')}`);
    }
    if (partitionColumns.has(field.name)) {
      throw new Error(`cannot Z-order by partition column ${JSON.stringify(field.name)}: it is constant within each partition (Delta refuses it too)`);
    }
    if (typeof field.type !== 'string') throw new Error(`cannot Z-order by ${JSON.stringify(field.name)}: its type ${field.type.type} is not a primitive type`);
    if (out.includes(field.name)) throw new Error(`Z-order column ${JSON.stringify(field.name)} is named twice`);
    out.push(field.name);
  }
  return out;
}

interface PartitionGroup {
  key: string;
  values: Record<string, string | null>;
  files: AddAction[];
}

function partitionKey(snapshot: Snapshot, add: AddAction): string {
  return JSON.stringify(partitionFields(snapshot).map((f) => partitionValueOf(add, f) ?? null));
}

function partitionFields(snapshot: Snapshot): StructField[] {
  return snapshot.metadata.partitionColumns.map((c) => {
    const f = resolveColumn(snapshot.schema.fields, c);
    if (!f) throw new Error(`invalid table ${snapshot.tablePath}: partition column ${JSON.stringify(c)} is not in the schema`);
    return f;
  });
}

function groupByPartition(snapshot: Snapshot): Map<string, PartitionGroup> {
  const fields = partitionFields(snapshot);
  const groups = new Map<string, PartitionGroup>();
  for (const add of snapshot.files) {
    const key = partitionKey(snapshot, add);
    let g = groups.get(key);
    if (!g) {
      g = { key, values: Object.fromEntries(fields.map((f) => [f.name, partitionValueOf(add, f) ?? null])), files: [] };
      groups.set(key, g);
    }
    g.files.push(add);
  }
  return groups;
}

/**
 * The partitions a predicate selects, decided by DuckDB over the partitions' typed values, so the
 * predicate means exactly what it would in a query. Other columns in it are an Error.
 */
async function selectPartitions(session: Session, snapshot: Snapshot, groups: Map<string, PartitionGroup>, whereSql: string): Promise<PartitionGroup[]> {
  const fields = partitionFields(snapshot);
  if (fields.length === 0) throw new Error(`OPTIMIZE ... WHERE needs a partitioned table; ${snapshot.tablePath} has no partition columns`);
  const list = [...groups.values()];
  if (list.length === 0) return [];
  const rows = list.map((g, i) => `(${[String(i), ...fields.map((f) => partitionLiteralSql(g.values[f.name], f.type))].join(', ')})`);
  const names = [quoteIdent('__winlake_idx'), ...fields.map((f) => quoteIdent(f.name))].join(', ');
  let hits: { i: number }[];
  try {
    hits = await session.rows<{ i: number }>(`SELECT ${quoteIdent('__winlake_idx')} AS i FROM (VALUES ${rows.join(', ')}) AS p(${names}) WHERE ${whereSql}`);
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new Error(`OPTIMIZE predicate ${JSON.stringify(whereSql)} must use only partition columns (${fields.map((f) => f.name).join(', ')}): ${msg}`, { cause: err });
  }
  return hits.map((h) => list[Number(h.i)]!);
}

/**
 * Bins of small files (smallest first, greedily filled up to `targetFileSize`); a bin of one file
 * would rewrite it unchanged, so only bins of two or more files are returned.
 * @example binPack(snapshot.files, 16 * 1024 * 1024, DEFAULT_TARGET_FILE_SIZE) // => [[smallest, next, ...], ...]
 */
export function binPack(files: readonly AddAction[], minFileSize: number, targetFileSize: number): AddAction[][] {
  const small = files.filter((f) => f.size < minFileSize).sort((a, b) => a.size - b.size);
  const bins: AddAction[][] = [];
  let current: AddAction[] = [];
  let size = 0;
  for (const f of small) {
    if (current.length > 0 && size + f.size > targetFileSize) {
      bins.push(current);
      current = [];
      size = 0;
    }
    current.push(f);
    size += f.size;
  }
  if (current.length > 0) bins.push(current);
  return bins.filter((b) => b.length > 1);
}

function recordCount(add: AddAction): number | undefined {
  if (!add.stats) return undefined;
  try {
    const n = (JSON.parse(add.stats) as FileStats).numRecords;
    return typeof n === 'number' ? n : undefined;
  } catch {
    return undefined;
  }
}

function batchRows(files: readonly AddAction[]): number | undefined {
  let total = 0;
  for (const f of files) {
    const n = recordCount(f);
    if (n === undefined) return undefined;
    total += n;
  }
  return total;
}

/** Rows per output file so files come out near `targetFileSize` (from the inputs' bytes per row). */
function rowsForSize(files: readonly AddAction[], targetFileSize: number): number | undefined {
  const rows = batchRows(files);
  const bytes = files.reduce((s, f) => s + f.size, 0);
  if (!rows || bytes === 0) return undefined;
  return Math.max(1, Math.floor(targetFileSize / (bytes / rows)));
}

interface RewriteSpec {
  zOrderBy?: readonly string[];
  /** Split output into files of about this many rows (default: one file). */
  rowsPerFile?: number | undefined;
  rowGroupRows?: number | undefined;
}

/**
 * Writes the rows of `files` (all of one partition) as new data files of that partition and
 * returns their `add` actions (dataChange=false, with stats). Nothing is committed.
 * A twin of write.ts' file writing, which is not exported and always commits.
 */
async function writeRewrittenFiles(session: Session, snapshot: Snapshot, files: readonly AddAction[], spec: RewriteSpec): Promise<AddAction[]> {
  const { tablePath } = snapshot;
  const partFields = partitionFields(snapshot);
  const partNames = new Set(partFields.map((f) => f.name));
  const dataFields = snapshot.schema.fields.filter((f) => !partNames.has(f.name));
  const scanSql = await DeltaScan.fromSnapshot(session, { ...snapshot, files: [...files] }).toSql([]);
  const columns = dataFields.map((f) => quoteIdent(f.name)).join(', ');
  let sql = `SELECT ${columns} FROM (${scanSql}) AS __winlake_rows`;

  const first = files[0]!;
  const partitionValues = { ...first.partitionValues };
  const dir = partFields.length > 0 ? partitionDir(partFields.map((f) => f.name), Object.fromEntries(partFields.map((f) => [f.name, partitionValueOf(first, f) ?? null]))) : '';

  const copyOptions = ['FORMAT parquet', 'COMPRESSION zstd', 'RETURN_FILES true', ...bloomCopyOptions(snapshot.schema)];
  const rowsPerFile = spec.rowsPerFile;
  const rowGroup = Math.max(1, Math.min(spec.rowGroupRows ?? DEFAULT_ROW_GROUP_ROWS, rowsPerFile ?? Number.POSITIVE_INFINITY));
  copyOptions.push(`ROW_GROUP_SIZE ${rowGroup}`);

  // Written under a staging folder first: a crash leaves no half-written file among the data files.
  const staging = path.join(tablePath, `_winlake_staging_${randomUUID()}`);
  let target: string;
  const zOrderBy = spec.zOrderBy && spec.zOrderBy.length > 0 ? spec.zOrderBy : undefined;
  const rows = batchRows(files);
  const oneFile = zOrderBy ? rows !== undefined && rows <= (rowsPerFile ?? Number.MAX_SAFE_INTEGER) : rowsPerFile === undefined;
  if (oneFile) {
    // A Z-order into one file is only the rows sorted by their key, written as they come: without
    // the numbering window and the PARTITION_BY below, each of which holds every row again
    // (measured on a 155k-row silver Process table: peak RSS 2.1 GB with them, 1.2 GB without).
    if (zOrderBy) sql = zOrderedSql(sql, zOrderBy);
    await mkdir(staging, { recursive: true });
    target = path.join(staging, `part-${randomUUID()}.parquet`);
  } else if (zOrderBy) {
    // Each output file is an exact run of the Z-order (its number computed in SQL), so file
    // membership does not depend on how DuckDB parallelises the write.
    const key = quoteIdent('__winlake_zorder_key');
    const fileNo = quoteIdent('__winlake_file_no');
    const perFile = rowsPerFile ?? Number.MAX_SAFE_INTEGER;
    sql = `SELECT ${columns}, (row_number() OVER (ORDER BY ${key}) - 1) // ${perFile} AS ${fileNo}
      FROM (${zOrderKeyedSql(sql, zOrderBy, '__winlake_zorder_key')}) AS __winlake_k ORDER BY ${key}`;
    target = staging;
    copyOptions.push(`FILENAME_PATTERN 'part-{uuid}'`, `PARTITION_BY (${fileNo})`);
  } else {
    target = staging;
    copyOptions.push(`FILENAME_PATTERN 'part-{uuid}'`, `ROW_GROUPS_PER_FILE ${Math.max(1, Math.round(rowsPerFile! / rowGroup))}`);
  }
  const placed: { abs: string; rel: string }[] = [];
  try {
    const result = await session.rows<{ Files: string[] }>(`COPY (${sql}) TO ${quoteString(target)} (${copyOptions.join(', ')})`);
    const produced = result[0]?.Files ?? [];
    const targetDir = path.join(tablePath, ...(dir ? dir.split('/') : []));
    await mkdir(targetDir, { recursive: true });
    if (dir) assertInside(tablePath, targetDir, 'partition folder');
    for (const file of produced) {
      const name = path.basename(file);
      const rel = dir ? `${dir}/${name}` : name;
      const abs = path.join(targetDir, name);
      await rename(file, abs);
      placed.push({ abs, rel });
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }

  const dataSchema: StructType = { type: 'struct', fields: dataFields };
  const stats = await fileStats(
    session,
    placed.map((p) => p.abs),
    dataSchema,
    { numIndexedCols: numIndexedCols(snapshot) },
  );
  const adds: AddAction[] = [];
  for (const p of placed) {
    const st = stats.get(p.abs)!;
    if ((JSON.parse(st) as FileStats).numRecords === 0) {
      await unlink(p.abs);
      continue;
    }
    const info = await stat(p.abs);
    adds.push({
      path: toAddPath(p.rel),
      partitionValues,
      size: info.size,
      modificationTime: Math.floor(info.mtimeMs),
      dataChange: false,
      stats: st,
    });
  }
  return adds;
}

function numIndexedCols(snapshot: Snapshot): number {
  const raw = snapshot.metadata.configuration['delta.dataSkippingNumIndexedCols'];
  const n = raw === undefined ? 32 : Number(raw);
  return Number.isInteger(n) && n >= -1 ? n : 32;
}

interface RewriteCommit {
  operation: string;
  operationParameters: Record<string, unknown>;
  operationMetrics: Record<string, unknown>;
}

/**
 * Commits remove(old) + add(new), dataChange=false. commitActions retries past concurrent commits
 * that leave our removed files alone (appends) and throws when one of them was removed meanwhile;
 * then our new files, never referenced by the log, are deleted and the table is unchanged.
 */
async function commitRewrite(
  session: Session,
  tablePath: string,
  snapshot: Snapshot,
  removed: readonly AddAction[],
  added: readonly AddAction[],
  what: RewriteCommit,
): Promise<CommitResult> {
  const now = Date.now();
  const actions: Action[] = removed.map((f) => {
    const remove: RemoveAction = {
      path: f.path,
      deletionTimestamp: now,
      dataChange: false,
      extendedFileMetadata: true,
      partitionValues: f.partitionValues,
      size: f.size,
      ...(f.stats ? { stats: f.stats } : {}),
      ...(f.tags ? { tags: f.tags } : {}),
    };
    return { remove };
  });
  for (const add of added) actions.push({ add });
  let commit: CommitResult;
  try {
    commit = await commitActions(tablePath, actions, {
      readVersion: snapshot.version,
      isBlindAppend: false,
      operation: what.operation,
      operationParameters: what.operationParameters,
      operationMetrics: what.operationMetrics,
    });
  } catch (err) {
    await deleteFiles(tablePath, added);
    if (err instanceof ConcurrentModificationError) {
      throw new ConcurrentModificationError(
        err.kind,
        err.winningVersion,
        `${what.operation} of ${tablePath} was not committed and the table is unchanged: ${err.message.replace(/ \(conflicting commit: version \d+\)$/, '')}. Its ${added.length} new file(s) were deleted; run it again on the new version`,
      );
    }
    throw err;
  }
  await checkpointIfDue(session, tablePath, snapshot, commit.version);
  return commit;
}

async function checkpointIfDue(session: Session, tablePath: string, snapshot: Snapshot, version: number): Promise<void> {
  const interval = Number(snapshot.metadata.configuration['delta.checkpointInterval'] ?? DEFAULT_CHECKPOINT_INTERVAL);
  if (!(version > 0 && interval > 0 && version % interval === 0)) return;
  try {
    await writeCheckpoint(session, tablePath, version);
  } catch (err) {
    process.emitWarning(`checkpoint of ${tablePath} at version ${version} failed: ${(err as Error).message}`);
  }
}

/** Best-effort removal of files this process wrote but never committed. */
async function deleteFiles(tablePath: string, files: readonly AddAction[]): Promise<void> {
  for (const f of files) await unlink(dataFilePath(tablePath, f.path)).catch(() => undefined);
  // Partition folders created only for them are left: harmless, and a concurrent writer may be using them.
}

function sizeStats(files: readonly AddAction[]): FileSizeStats {
  if (files.length === 0) return { avg: 0, max: 0, min: 0, totalFiles: 0, totalSize: 0 };
  const sizes = files.map((f) => f.size);
  const total = sizes.reduce((s, x) => s + x, 0);
  return { avg: total / sizes.length, max: Math.max(...sizes), min: Math.min(...sizes), totalFiles: sizes.length, totalSize: total };
}

/** minFileSize, p25FileSize, p50FileSize, p75FileSize, maxFileSize, as Delta's OPTIMIZE records them. */
function percentiles(sizes: readonly number[]): Record<string, number> {
  if (sizes.length === 0) return { minFileSize: 0, p25FileSize: 0, p50FileSize: 0, p75FileSize: 0, maxFileSize: 0 };
  const s = [...sizes].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { minFileSize: s[0]!, p25FileSize: at(0.25), p50FileSize: at(0.5), p75FileSize: at(0.75), maxFileSize: s[s.length - 1]! };
}
