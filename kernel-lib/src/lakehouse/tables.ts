import type { Session } from '../engine/session.js';
import { getSession } from '../engine/session.js';
import { quoteIdent } from '../engine/quote.js';
import { Frame } from '../frame/index.js';
import { describeSql, writeDelta, readDelta, history, loadSnapshot, type WriteResult, type WriteOptions, type HistoryEntry } from '../delta/index.js';
import { Catalog, assertTier, type Tier, type TableEntry } from './catalog.js';

/** Columns that mark a row as corrupt input (see read_kafka_topic); such rows go to quarantine. */
export const CORRUPT_RECORD = '_corrupt_record';
export const CORRUPT_REASON = '_corrupt_reason';

/** Table properties each tier sets when it creates a table (the reference's bronze setting). */
const TIER_PROPERTIES: Record<Tier, Record<string, string>> = {
  bronze: { 'delta.dataSkippingNumIndexedCols': '5' },
  silver: {},
  gold: {},
};

/** Options shared by the lakehouse verbs. */
export interface LakehouseOptions {
  /** The lakehouse; default `new Catalog()` (WINLAKE_HOME or ./lakehouse). */
  catalog?: Catalog;
  session?: Session;
}

/** Options of a batch `write_table`. */
export interface BatchWriteOptions extends LakehouseOptions {
  /** 'append' (default, the reference's mode) or 'overwrite'. */
  mode?: 'append' | 'overwrite';
  /** Add new columns and nested fields to the table schema. Default true, as the reference. */
  mergeSchema?: boolean;
  /** Exactly-once marker: a (appId, version) already committed makes the write a no-op. */
  txn?: { appId: string; version: number };
}

/** What a batch write did: the table's commit, and the quarantine table's when corrupt rows came. */
export interface TableWriteResult {
  table: TableEntry;
  result: WriteResult;
  quarantine?: { table: TableEntry; result: WriteResult };
}

/**
 * Appends a Frame to a lakehouse table, creating it on first write (batch mode). Rows that carry a
 * `_corrupt_record` go to `<table>_quarantine` with their reason; the table gets the rest.
 *
 * @example
 * await writeTableBatch(bronze, 'winlogbeat_kafka_bronze', 'bronze', ['_event_date', '_sourcetype']);
 */
export async function writeTableBatch(
  df: Frame,
  tableName: string,
  tier: Tier,
  partitions: string[] = [],
  opts: BatchWriteOptions = {},
): Promise<TableWriteResult> {
  assertTier(tier);
  const catalog = opts.catalog ?? new Catalog();
  const entry = catalog.resolveForWrite(tableName, tier);
  const session = opts.session ?? df.session;
  // The batch is described once, and its SQL rendered once: the write below reuses both.
  const described = await describeSql(session, await df.toSql());
  const { sql, names: columns, types } = described;
  const missing = partitions.filter((p) => !columns.includes(p));
  if (missing.length) {
    throw new Error(`cannot partition ${entry.name} by ${missing.join(', ')}: no such column (columns: ${columns.join(', ')})`);
  }
  const writeOpts = {
    mode: opts.mode ?? 'append',
    partitionBy: partitions,
    mergeSchema: opts.mergeSchema ?? true,
    configuration: TIER_PROPERTIES[tier],
    tableName: entry.name,
    ...(opts.txn ? { txn: opts.txn } : {}),
  } as const;

  if (!columns.includes(CORRUPT_RECORD)) {
    return { table: entry, result: await writeDelta(session, described, entry.path, writeOpts) };
  }

  // The usual batch holds no corrupt row: one count of the marker (cheap: the parse is not needed
  // for it) lets it be written in one pass, without materialising it. Nothing is filtered there,
  // so even a source that answered differently the second time would lose no row.
  const marker = quoteIdent(columns.includes(CORRUPT_REASON) ? CORRUPT_REASON : CORRUPT_RECORD);
  const [counts] = await session.rows<{ corrupt: bigint; total: bigint }>(
    `SELECT count(*) FILTER (WHERE ${marker} IS NOT NULL) AS corrupt, count(*) AS total FROM (${sql})`,
  );
  if (Number(counts!.corrupt) === 0) {
    const markers = new Set([CORRUPT_RECORD, CORRUPT_REASON]);
    const kept = columns.flatMap((name, i) => (markers.has(name) ? [] : [{ name, type: types[i]! }]));
    if (kept.length === 0) throw new Error(`cannot write ${entry.name}: the data has no columns besides ${CORRUPT_RECORD} and ${CORRUPT_REASON}`);
    const clean = {
      sql: `SELECT * EXCLUDE (${columns.filter((c) => markers.has(c)).map(quoteIdent).join(', ')}) FROM (${sql})`,
      names: kept.map((k) => k.name),
      types: kept.map((k) => k.type),
      rows: Number(counts!.total),
    };
    return { table: entry, result: await writeDelta(session, clean, entry.path, writeOpts) };
  }
  // Corrupt rows came: materialise once, since the batch is split in two and must not be read (or
  // consumed) twice. The temp table is dropped afterwards: a streaming query writes batches forever.
  const cacheTable = `winlake_write_${process.pid}_${++writeCounter}`;
  await session.run(`CREATE TEMP TABLE ${quoteIdent(cacheTable)} AS ${sql}`);
  try {
    return await writeSplit(Frame.fromSql(session, `SELECT * FROM ${quoteIdent(cacheTable)}`), entry, tier, partitions, columns, catalog, writeOpts);
  } finally {
    await session.run(`DROP TABLE IF EXISTS ${quoteIdent(cacheTable)}`);
  }
}

let writeCounter = 0;

/** Writes the corrupt rows of a materialised batch to quarantine, the rest to the table. */
async function writeSplit(
  batch: Frame,
  entry: TableEntry,
  tier: Tier,
  partitions: string[],
  columns: readonly string[],
  catalog: Catalog,
  writeOpts: WriteOptions & { partitionBy: string[] },
): Promise<TableWriteResult> {
  const session = batch.session;
  // The reason marks a corrupt row even when its raw value is NULL (a Kafka record with a null value).
  const marker = quoteIdent(columns.includes(CORRUPT_REASON) ? CORRUPT_REASON : CORRUPT_RECORD);
  const corrupt = batch.filter(`${marker} IS NOT NULL`);
  const clean = batch.filter(`${marker} IS NULL`).drop(CORRUPT_RECORD, CORRUPT_REASON);
  let quarantine: TableWriteResult['quarantine'];
  if ((await corrupt.count()) > 0) {
    const qEntry = catalog.resolveForWrite(quarantineName(entry.name), tier);
    const keep = columns.filter((c) => c.startsWith('_') && !partitions.includes(c));
    const qFrame = corrupt.select(...keep);
    const qResult = await writeDelta(session, qFrame, qEntry.path, {
      ...writeOpts,
      partitionBy: [],
      configuration: {},
      tableName: qEntry.name,
    });
    quarantine = { table: qEntry, result: qResult };
  }
  const result = await writeDelta(session, clean, entry.path, writeOpts);
  return { table: entry, result, ...(quarantine ? { quarantine } : {}) };
}

/**
 * The quarantine table's name for a table.
 * @example quarantineName('Process') // => 'Process_quarantine'
 */
export function quarantineName(tableName: string): string {
  return `${tableName}_quarantine`;
}

/** Options of `read_table`: time travel by version or timestamp. */
export interface ReadTableOptions extends LakehouseOptions {
  version?: number;
  timestamp?: Date | string | number;
}

/**
 * Reads a lakehouse table (case-insensitive name) as a Frame, optionally as of a version or time.
 * @example const procs = await readTable('Process', { version: 3 });
 */
export async function readTable(tableName: string, opts: ReadTableOptions = {}): Promise<Frame> {
  const catalog = opts.catalog ?? new Catalog();
  const entry = catalog.locate(tableName);
  const session = opts.session ?? (await getSession());
  return readDelta(session, entry.path, {
    ...(opts.version !== undefined ? { version: opts.version } : {}),
    ...(opts.timestamp !== undefined ? { timestamp: opts.timestamp } : {}),
  });
}

/**
 * The table's commits, newest first, like DESCRIBE HISTORY.
 * @example console.table(await tableHistory('Process'))
 */
export async function tableHistory(tableName: string, opts: LakehouseOptions & { limit?: number } = {}): Promise<HistoryEntry[]> {
  const entry = (opts.catalog ?? new Catalog()).locate(tableName);
  return history(entry.path, opts.limit !== undefined ? { limit: opts.limit } : {});
}

/** One line per table: name, tier, version, files, rows (from stats), partition columns. */
export interface TableSummary {
  name: string;
  tier: Tier;
  path: string;
  version: number;
  files: number;
  rows: number | null;
  bytes: number;
  partitionColumns: string[];
}

/**
 * Lists the lakehouse's tables with their current version and size.
 * @example console.table(await listTables())
 */
export async function listTables(opts: LakehouseOptions = {}): Promise<TableSummary[]> {
  const catalog = opts.catalog ?? new Catalog();
  const out: TableSummary[] = [];
  for (const t of catalog.list()) {
    const snap = await loadSnapshot(t.path);
    let rows: number | null = 0;
    for (const f of snap.files) {
      const n = f.stats ? (JSON.parse(f.stats) as { numRecords?: number }).numRecords : undefined;
      if (n === undefined || rows === null) rows = null;
      else rows += n;
    }
    out.push({
      name: t.name,
      tier: t.tier,
      path: t.path,
      version: snap.version,
      files: snap.files.length,
      rows,
      bytes: snap.files.reduce((s, f) => s + f.size, 0),
      partitionColumns: snap.metadata.partitionColumns,
    });
  }
  return out;
}
