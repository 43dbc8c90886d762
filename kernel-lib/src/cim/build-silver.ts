/**
 * build_silver: the bronze → silver job. Bronze is read as a Delta stream; each micro-batch is
 * flattened once and every mapping pack writes its silver table from it, each commit carrying the
 * Delta `txn` {appId: query id, version: batch id}. A batch run is the same streaming query with
 * an availableNow trigger, so batch and streaming runs continue each other from one checkpoint and
 * no bronze version is ever processed twice — not even when a run dies halfway through a batch
 * (the restarted query redoes the planned range, and tables that already hold it skip by `txn`).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { quoteIdent } from '../engine/quote.js';
import { getSession, SqlError, type Session } from '../engine/session.js';
import { Frame, type Expr } from '../frame/index.js';
import { Catalog } from '../lakehouse/catalog.js';
import { writeTableBatch } from '../lakehouse/tables.js';
import { DeltaStreamSource, type DeltaStreamOptions } from '../stream/delta-source.js';
import { StreamCheckpoint, StreamingQuery, StreamFrame, type BatchSink, type StreamProgress, type Trigger } from '../stream/index.js';
import { parseWinlogbeat } from '../winlogbeat/parse.js';
import { checkExpressions, cimQuery } from './dataframe.js';
import { packInputProjection } from './pack-inputs.js';
import { applyPack, loadPack, loadPacks, packSourceFilter, validatePack, type MappingPack } from './pack.js';
import { parseTransforms, type TransformStep } from './transform.js';

/**
 * How much bronze one silver micro-batch reads by default (`maxBytesPerTrigger`, of data files).
 * Unbounded, a first build read the whole of bronze as one batch: at 1M documents its peak RSS was
 * 1.6 GB, more than the ingest itself; in 64 MB batches (about 300k documents with `_raw`) it was
 * 0.75-0.83 GB, for 3.2-4.8 s instead of 2.9-3.1 s (the same machine, two runs each).
 */
export const DEFAULT_SILVER_BATCH_BYTES = 64 * 1024 * 1024;

/** Options of {@link buildSilver}. */
export interface BuildSilverOptions extends Pick<DeltaStreamOptions, 'maxFilesPerTrigger' | 'maxVersionsPerTrigger' | 'maxBytesPerTrigger'> {
  /**
   * Copy each whole bronze batch into a temp table before the sink reads it (DeltaStreamOptions.materialize).
   * Default false: the sink copies only the columns the packs read, which is cheaper than a copy of
   * every column (mostly `message`) first.
   */
  materialize?: boolean;
  /** Packs to build (names of shipped packs, or packs); default all shipped packs. */
  packs?: (string | MappingPack)[];
  /** The lakehouse; default `new Catalog()`. */
  catalog?: Catalog;
  session?: Session;
  /** 'batch' (default): process what bronze holds now and return. 'streaming': keep following bronze. */
  mode?: 'batch' | 'streaming';
  /** Streaming trigger; default `{ processingTime: 0 }`. Batch mode always uses availableNow. */
  trigger?: Trigger;
  /** Default `<lakehouse>/_checkpoints/silver/<queryName>`. */
  checkpointLocation?: string;
  /** Default `build_silver_<bronze>`. */
  queryName?: string;
  /**
   * Where a new query (no checkpoint yet) starts reading bronze: a version, or `'latest'` for the
   * commits made after it starts (for tables already built from the earlier versions). Default 0.
   */
  startingVersion?: number | 'latest';
  /** Called after each micro-batch. */
  onProgress?: (progress: StreamProgress) => void;
}

/** What one silver table received in a batch run. */
export interface SilverTableResult {
  table: string;
  /** Rows appended by this run. */
  rows: number;
  /** The table's version after this run's last commit to it; null when this run did not commit to it. */
  version: number | null;
}

/** What a batch {@link buildSilver} did. */
export interface SilverResult {
  bronze: string;
  queryId: string;
  checkpointLocation: string;
  /** Micro-batches run (0 when bronze had nothing new). */
  batches: number;
  /** Bronze rows read. */
  bronzeRows: number;
  /** Bronze versions processed: [from, to). Equal when there was nothing new. */
  bronzeVersions: { from: number; to: number };
  tables: SilverTableResult[];
}

/** What the silver sink reports per batch: per table, rows written and the commit (null when skipped). */
export interface SilverBatchInfo {
  [key: string]: unknown;
  tables: Record<string, { rows: number; version: number | null; skipped: boolean }>;
}

const PACK_SET_FILE = 'build_silver.json';

/**
 * Builds the silver tables from a bronze table: filters each pack's events, applies its
 * cim_dataframe list and appends to the silver table (partitioned as the pack says).
 *
 * Batch mode (default) processes the bronze versions not yet processed and returns what it wrote;
 * run it again after bronze grows and only the new bronze commits are read. Streaming mode returns
 * the running {@link StreamingQuery}. Both keep their position in the same checkpoint
 * (`checkpointLocation`), which belongs to one set of packs: a different set needs its own
 * `queryName`, since a new query starts from bronze version 0.
 *
 * @example
 * const result = await buildSilver('winlogbeat_kafka_bronze');
 * console.table(result.tables); // [{ table: 'Process', rows: 1234, version: 0 }, ...]
 * const q = await buildSilver('winlogbeat_kafka_bronze', { mode: 'streaming', packs: ['Process'], queryName: 'process_live' });
 * await q.processAllAvailable(); await q.stop();
 */
export async function buildSilver(bronze: string, opts?: BuildSilverOptions & { mode?: 'batch' }): Promise<SilverResult>;
export async function buildSilver(bronze: string, opts: BuildSilverOptions & { mode: 'streaming' }): Promise<StreamingQuery>;
export async function buildSilver(bronze: string, opts: BuildSilverOptions = {}): Promise<SilverResult | StreamingQuery> {
  const mode = opts.mode ?? 'batch';
  if (mode !== 'batch' && mode !== 'streaming') throw new Error(`buildSilver: mode must be 'batch' or 'streaming', got ${JSON.stringify(mode)}`);
  const catalog = opts.catalog ?? new Catalog();
  const session = opts.session ?? (await getSession());
  const bronzeEntry = catalog.locate(bronze);
  const packs = resolvePacks(opts.packs);
  const queryName = opts.queryName ?? `build_silver_${bronzeEntry.name}`;
  const checkpointLocation = opts.checkpointLocation ?? path.join(catalog.root, '_checkpoints', 'silver', queryName);
  claimCheckpoint(checkpointLocation, bronzeEntry.name, packs);

  const sourceOptions: DeltaStreamOptions = {};
  if (opts.maxFilesPerTrigger !== undefined) sourceOptions.maxFilesPerTrigger = opts.maxFilesPerTrigger;
  if (opts.maxVersionsPerTrigger !== undefined) sourceOptions.maxVersionsPerTrigger = opts.maxVersionsPerTrigger;
  sourceOptions.maxBytesPerTrigger = opts.maxBytesPerTrigger ?? DEFAULT_SILVER_BATCH_BYTES;
  if (opts.startingVersion !== undefined) sourceOptions.startingVersion = opts.startingVersion;
  sourceOptions.materialize = opts.materialize ?? false;
  const stream = new StreamFrame(session, new DeltaStreamSource(bronzeEntry.path, sourceOptions));
  const sink = createSilverSink(packs, { catalog, session });

  const progress: StreamProgress[] = [];
  const query = StreamingQuery.start(stream, sink, {
    checkpointLocation,
    queryName,
    trigger: mode === 'batch' ? { availableNow: true } : (opts.trigger ?? { processingTime: 0 }),
    onProgress: (p) => {
      if (mode === 'batch') progress.push(p);
      opts.onProgress?.(p);
    },
  });
  if (mode === 'streaming') return query;

  try {
    await query.awaitTermination();
  } finally {
    await stream.source.close();
  }
  return summarise(bronzeEntry.name, query.id, checkpointLocation, packs, progress);
}

/**
 * The sink that writes every pack's silver table from one bronze micro-batch, exactly once per
 * (queryId, batchId): each pack appends with the Delta `txn` {appId: queryId, version: batchId}
 * (a table that already has it skips). A pack with no rows in the batch writes nothing, except
 * that a table not yet created is created (empty), so that every silver table exists once its pack
 * has run.
 *
 * How, per batch: the part of the rows the packs read (see {@link packInputProjection}) is copied
 * into a temp table and flattened (lazily: one scan for the MAP keys); then per pack one query
 * computes its rows into a temp table, which its Delta write reads. Each pack's query is bound once
 * and the writes bind only temp tables: binding the flattened batch (a column per event_data key)
 * cost more than most packs' rows.
 *
 * @example
 * const sink = createSilverSink(loadPacks(['Process']), { catalog, session });
 * StreamingQuery.start(readTableStream('winlogbeat_kafka_bronze', { catalog, session }), sink, { checkpointLocation });
 */
export function createSilverSink(packs: readonly MappingPack[], opts: { catalog: Catalog; session: Session }): BatchSink {
  const { catalog, session } = opts;
  const project = packInputProjection(packs);
  const plans: PackPlan[] = packs.map((pack) => ({ pack, steps: parseTransforms(pack.transforms), filter: packSourceFilter(pack) }));
  // A pack is data someone may share: its EXPRs are checked as user SQL once, before any batch runs.
  let checked: Promise<void> | undefined;
  const checkPacks = async (): Promise<void> => {
    for (const { pack, steps } of plans) {
      try {
        await checkExpressions(session, steps, pack.transforms);
      } catch (err) {
        throw new Error(`mapping pack ${pack.table}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
    }
  };
  return async (batch, batchId, queryId) => {
    checked ??= checkPacks();
    await checked;
    const info: SilverBatchInfo = { tables: {} };
    const select = project(await batch.schema());
    if (select.length === 0) throw notWinlogbeatBronze();
    const input = tempTableName('input');
    const made: PackRows[] = [];
    await session.run(`CREATE TEMP TABLE ${quoteIdent(input)} AS SELECT ${select.join(', ')} FROM (${await batch.toSql()}) AS bronze_batch`);
    try {
      const rows = Number(await session.scalar(`SELECT count(*) FROM ${quoteIdent(input)}`));
      if (rows === 0) return info;
      const flat = await parseWinlogbeat(Frame.fromSql(session, `SELECT * FROM ${quoteIdent(input)}`), 'flatten');
      const write = async (rowsTables: readonly PackRows[]): Promise<void> => {
        for (const t of rowsTables) {
          const written = await writeTableBatch(Frame.fromSql(session, `SELECT * FROM ${quoteIdent(t.table)}`), t.pack.table, 'silver', t.pack.partitions, {
            catalog,
            session,
            txn: { appId: queryId, version: batchId },
          });
          info.tables[t.pack.table] = { rows: written.result.numRows, version: written.result.version, skipped: written.result.skipped };
        }
      };
      // DuckDB splits a table scan by row group, and a Parquet write too: a second thread helps only
      // from two row groups on (below, it waits on locks). Writes of one row group run together on
      // one thread, so that the thread count is switched once per batch, not twice per write (write.ts).
      if (rows <= ROW_GROUP_ROWS) {
        await session.withOneThread(async () => {
          await computePackRows(plans, flat, catalog, made);
          await write(made);
        });
      } else {
        await computePackRows(plans, flat, catalog, made);
        const small = made.filter((t) => t.rows <= ROW_GROUP_ROWS);
        if (small.length > 0) await session.withOneThread(() => write(small));
        await write(made.filter((t) => t.rows > ROW_GROUP_ROWS));
      }
    } finally {
      for (const table of [input, ...made.map((t) => t.table)]) await session.run(`DROP TABLE IF EXISTS ${quoteIdent(table)}`);
    }
    return info;
  };
}

/** A pack with its parsed transforms and its bronze filter. */
interface PackPlan {
  pack: MappingPack;
  steps: TransformStep[];
  filter: Expr;
}

/** A pack's silver rows of one batch, in a temp table. */
interface PackRows {
  pack: MappingPack;
  table: string;
  rows: number;
}

/** Rows per row group, of DuckDB tables and (by default) of the Parquet files it writes. */
const ROW_GROUP_ROWS = 122_880;

/**
 * Computes each pack's silver rows of a flattened batch into a temp table, pushed to `made` (so
 * that the caller drops them also when a later pack fails). Skips packs without rows whose table
 * exists already.
 */
async function computePackRows(plans: readonly PackPlan[], flat: Frame, catalog: Catalog, made: PackRows[]): Promise<void> {
  const columns = await flat.columns();
  const present = new Set(columns.map((c) => c.toLowerCase()));
  if (!present.has('_sourcetype') || !present.has('winlog:event_id')) throw notWinlogbeatBronze();
  // One scan counts every pack's rows, so that packs with none in the batch cost no query.
  const counts = plans.length === 0 ? [] : await packCounts(flat, plans);
  for (const [i, { pack, steps, filter }] of plans.entries()) {
    const rows = counts[i]!;
    if (rows === 0 && catalog.find(pack.table)) continue;
    const { sql } = cimQuery(await flat.filter(filter).toSql(), columns, steps);
    const table = tempTableName('pack');
    try {
      await flat.session.run(`CREATE TEMP TABLE ${quoteIdent(table)} AS ${sql}`);
    } catch (err) {
      // applyPack binds the query stage by stage and throws an error naming the transform DuckDB rejects.
      if (err instanceof SqlError) await applyPack(flat, pack);
      throw err;
    }
    made.push({ pack, table, rows });
  }
}

/** Rows per pack in one scan of the flattened batch. */
async function packCounts(flat: Frame, plans: readonly PackPlan[]): Promise<number[]> {
  const sql = `SELECT ${plans.map((p, i) => `count(*) FILTER (WHERE ${p.filter.toSql()}) AS ${quoteIdent(`n${i}`)}`).join(', ')} FROM (${await flat.toSql()}) AS flat`;
  const row = (await flat.session.rows<Record<string, bigint | number>>(sql))[0] ?? {};
  return plans.map((_, i) => Number(row[`n${i}`] ?? 0));
}

function notWinlogbeatBronze(): Error {
  return new Error('build_silver: the bronze batch has no _sourcetype or winlog.event_id: is it a winlogbeat bronze table (raw stage)?');
}

let tempTables = 0;
function tempTableName(role: string): string {
  return `winlake_silver_${role}_${process.pid}_${++tempTables}`;
}

function resolvePacks(packs: BuildSilverOptions['packs']): MappingPack[] {
  const resolved = packs === undefined ? loadPacks() : packs.map((p) => (typeof p === 'string' ? loadPack(p) : validatePack(p)));
  if (resolved.length === 0) throw new Error('buildSilver: no packs to build');
  const seen = new Set<string>();
  for (const p of resolved) {
    const key = p.table.toLowerCase();
    if (seen.has(key)) throw new Error(`buildSilver: pack ${p.table} is listed twice`);
    seen.add(key);
  }
  return resolved;
}

/**
 * Records which bronze table and packs a checkpoint serves, and refuses another set: a query's
 * checkpoint only knows how far bronze was read, not which tables were written, so a pack added to
 * an old checkpoint would silently miss the bronze already read.
 */
function claimCheckpoint(dir: string, bronze: string, packs: readonly MappingPack[]): void {
  const file = path.join(dir, PACK_SET_FILE);
  const wanted = { bronze, packs: packs.map((p) => p.table).sort() };
  if (existsSync(file)) {
    const had = JSON.parse(readFileSync(file, 'utf8')) as { bronze?: string; packs?: string[] };
    const same = had.bronze === wanted.bronze && JSON.stringify(had.packs) === JSON.stringify(wanted.packs);
    if (!same) {
      throw new Error(
        `build_silver: the checkpoint ${dir} builds ${String(had.packs?.join(', '))} from ${String(had.bronze)}; ` +
          `this run asks for ${wanted.packs.join(', ')} from ${wanted.bronze}. Give this set of packs its own queryName ` +
          `(or checkpointLocation): a new query reads bronze from version 0, so build each table from one query only`,
      );
    }
    return;
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, `${JSON.stringify(wanted, null, 2)}\n`);
}

function summarise(bronze: string, queryId: string, checkpointLocation: string, packs: readonly MappingPack[], progress: readonly StreamProgress[]): SilverResult {
  const tables = new Map<string, SilverTableResult>(packs.map((p) => [p.table, { table: p.table, rows: 0, version: null }]));
  let bronzeRows = 0;
  for (const p of progress) {
    bronzeRows += p.numInputRows;
    const info = p.sink as Partial<SilverBatchInfo>;
    for (const [table, t] of Object.entries(info.tables ?? {})) {
      const entry = tables.get(table);
      if (!entry) continue;
      entry.rows += t.rows;
      if (t.version !== null) entry.version = t.version;
    }
  }
  // With nothing new, the position is where the last planned batch ended.
  const position = StreamCheckpoint.open(checkpointLocation).lastPlanned()?.end.version ?? 0;
  const from = progress[0]?.startOffsets.version ?? position;
  const to = progress.at(-1)?.endOffsets.version ?? position;
  return { bronze, queryId, checkpointLocation, batches: progress.length, bronzeRows, bronzeVersions: { from, to }, tables: [...tables.values()] };
}
