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
import { getSession, type Session } from '../engine/session.js';
import { Frame } from '../frame/index.js';
import { Catalog } from '../lakehouse/catalog.js';
import { writeTableBatch } from '../lakehouse/tables.js';
import { DeltaStreamSource, type DeltaStreamOptions } from '../stream/delta-source.js';
import { StreamCheckpoint, StreamingQuery, StreamFrame, type BatchSink, type StreamProgress, type Trigger } from '../stream/index.js';
import { parseWinlogbeat } from '../winlogbeat/parse.js';
import { parseTransforms } from './transform.js';
import { applyPack, loadPack, loadPacks, packSourceFilter, validatePack, type MappingPack } from './pack.js';

/** Options of {@link buildSilver}. */
export interface BuildSilverOptions extends Pick<DeltaStreamOptions, 'maxFilesPerTrigger' | 'maxVersionsPerTrigger' | 'materialize'> {
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
  // The sink copies only the columns the packs read: a full copy of the batch first would be wasted.
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
 * (queryId, batchId): the batch is flattened once, then each pack appends with the
 * Delta `txn` {appId: queryId, version: batchId} (a table that already has it skips).
 * A pack with no rows in the batch writes nothing, except that a table not yet created is created
 * (empty), so that every silver table exists once its pack has run.
 *
 * @example
 * const sink = createSilverSink(loadPacks(['Process']), { catalog, session });
 * StreamingQuery.start(readTableStream('winlogbeat_kafka_bronze', { catalog, session }), sink, { checkpointLocation });
 */
export function createSilverSink(packs: readonly MappingPack[], opts: { catalog: Catalog; session: Session }): BatchSink {
  const { catalog, session } = opts;
  const used = bronzeColumnsUsed(packs);
  return async (batch, batchId, queryId) => {
    const info: SilverBatchInfo = { tables: {} };
    let T = performance.now();
    const lap = (what: string): void => { if (process.env.HEB_PROF) console.error(`  ${what} ${Math.round(performance.now() - T)}`); T = performance.now(); };
    const columns = await batch.columns();
    const keep = columns.filter(used);
    const input = tempName('input');
    await session.run(`CREATE TEMP TABLE ${quoteIdent(input)} AS SELECT ${keep.map(quoteIdent).join(', ') || '*'} FROM (${await batch.toSql()}) AS batch`);
    lap('input'); if (process.env.HEB_PROF) console.error(keep.join(','));
    try {
      if (Number(await session.scalar(`SELECT count(*) FROM ${quoteIdent(input)}`)) === 0) return info;
      const flat = await parseWinlogbeat(Frame.fromSql(session, `SELECT * FROM ${quoteIdent(input)}`), 'flatten');
      await assertBronzeShape(flat);
      lap('flatten');
      for (const pack of packs) {
        const silver = await applyPack(flat, pack);
        lap(`apply ${pack.table}`);
        const rowsTable = tempName('pack');
        await session.run(`CREATE TEMP TABLE ${quoteIdent(rowsTable)} AS ${await silver.toSql()}`);
        lap(`ctas ${pack.table}`);
        try {
          const rows = Number(await session.scalar(`SELECT count(*) FROM ${quoteIdent(rowsTable)}`));
          if (rows === 0 && catalog.find(pack.table)) continue;
          const written = await writeTableBatch(Frame.fromSql(session, `SELECT * FROM ${quoteIdent(rowsTable)}`), pack.table, 'silver', pack.partitions, {
            catalog,
            session,
            txn: { appId: queryId, version: batchId },
          });
          lap(`write ${pack.table} ${rows}`);
          info.tables[pack.table] = { rows: written.result.numRows, version: written.result.version, skipped: written.result.skipped };
        } finally {
          await session.run(`DROP TABLE IF EXISTS ${quoteIdent(rowsTable)}`);
        }
      }
    } finally {
      await session.run(`DROP TABLE IF EXISTS ${quoteIdent(input)}`);
    }
    return info;
  };
}

let tempCounter = 0;
function tempName(what: string): string {
  return `winlake_silver_${what}_${process.pid}_${++tempCounter}`;
}

/** Columns the flatten derives from another bronze column: a pack naming the first needs the second. */
const DERIVED_FROM: Readonly<Record<string, string>> = { message_fields: 'message' };

/**
 * Which bronze columns the packs can read, as a test on a column name: the first path part of
 * every rename source, and every column an EXPR names (a whole-word match in its text, which may
 * keep a column no EXPR needs, never the reverse). An EXPR that can reach columns without naming
 * them (`*`, `COLUMNS(...)`) keeps every column.
 */
function bronzeColumnsUsed(packs: readonly MappingPack[]): (column: string) => boolean {
  const named = new Set<string>(['_sourcetype', 'winlog']);
  const exprs: string[] = [];
  for (const pack of packs) {
    for (const step of parseTransforms(pack.transforms)) {
      if (step.verb === 'rename') named.add(step.source.split(':')[0]!.toLowerCase());
      if (step.verb === 'expr') exprs.push(step.sql.toLowerCase());
    }
  }
  if (exprs.some((e) => e.includes('*') || /\bcolumns\s*\(/.test(e))) return () => true;
  for (const [derived, source] of Object.entries(DERIVED_FROM)) if (named.has(derived)) named.add(source);
  const mentioned = (name: string): boolean => exprs.some((e) => mentions(e, name) || Object.entries(DERIVED_FROM).some(([d, src]) => src === name && mentions(e, d)));
  const cache = new Map<string, boolean>();
  return (column) => {
    const top = column.split(':')[0]!.toLowerCase();
    let keep = cache.get(top);
    if (keep === undefined) {
      keep = named.has(top) || mentioned(top);
      cache.set(top, keep);
    }
    return keep;
  };
}

/** Whether lower-case SQL text holds `name` not as part of a longer identifier. */
function mentions(text: string, name: string): boolean {
  const word = /[a-z0-9_$]/;
  for (let at = text.indexOf(name); at >= 0; at = text.indexOf(name, at + 1)) {
    const before = text[at - 1];
    const after = text[at + name.length];
    if ((before === undefined || !word.test(before)) && (after === undefined || !word.test(after))) return true;
  }
  return false;
}

async function assertBronzeShape(flat: Frame): Promise<void> {
  const columns = new Set((await flat.columns()).map((c) => c.toLowerCase()));
  if (!columns.has('_sourcetype') || !columns.has('winlog:event_id')) {
    throw new Error('build_silver: the bronze batch has no _sourcetype or winlog.event_id: is it a winlogbeat bronze table (raw stage)?');
  }
}

/** Materialises a Frame into a temp table that `release` drops (Frame.cache keeps its table). */
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
