/**
 * Silver benchmark: build_silver (bronze Delta stream → flatten → every mapping pack → silver Delta
 * tables, txn commits) on 1M simulated winlogbeat events (WINLAKE_BENCH_SCALE shrinks it), against
 * the engine's limit: the same transforms as plain DuckDB SQL over the same bronze Parquet files —
 * one `COPY (SELECT ... renames inlined ...) TO ... (PARTITION_BY (_event_date))` per pack, no
 * flatten, no Delta log, no statistics. build_silver runs twice: in micro-batches of
 * VERSIONS_PER_BATCH bronze commits (the streaming shape), and with the default batch size (all of
 * this bronze in one batch) on a copy of bronze.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildSilver } from '../../kernel-lib/src/cim/build-silver.js';
import { loadPacks, type MappingPack } from '../../kernel-lib/src/cim/pack.js';
import { parseTransforms } from '../../kernel-lib/src/cim/transform.js';
import { DeltaScan } from '../../kernel-lib/src/delta/scan.js';
import { quoteIdent, quoteString } from '../../kernel-lib/src/engine/quote.js';
import { Session } from '../../kernel-lib/src/engine/session.js';
import { Catalog } from '../../kernel-lib/src/lakehouse/catalog.js';
import { readTable, writeTableBatch } from '../../kernel-lib/src/lakehouse/tables.js';
import { ndjsonToFrame } from '../../kernel-lib/src/source/kafka/ndjson-frame.js';
import { parseWinlogbeat } from '../../kernel-lib/src/winlogbeat/parse.js';
import { simulateNdjson } from '../../kernel-lib/src/winlogbeat/simulate.js';

const BRONZE = 'winlogbeat_kafka_bronze';
const BRONZE_COMMITS = 10;
const VERSIONS_PER_BATCH = 2;

const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** A flattened column name as plain SQL on the nested bronze row: `winlog:event_data:Image` → `winlog.event_data['Image']`. */
function nestedSql(flat: string): string {
  const parts = flat.split(':');
  if (parts.length === 1) return quoteIdent(flat);
  if (parts[0] === 'winlog' && (parts[1] === 'event_data' || parts[1] === 'user_data') && parts.length === 3) {
    return `winlog.${parts[1]}[${quoteString(parts[2]!)}]`;
  }
  return parts.map(quoteIdent).join('.');
}

/** The pack as one hand-written-style query: renames and literals inline, EXPRs on top, the filter pushed to the scan. */
function plainPackSql(pack: MappingPack, bronzeSql: string, columns: ReadonlySet<string>): string {
  const steps = parseTransforms(pack.transforms);
  const inner: string[] = [];
  for (const s of steps) {
    if (s.verb === 'literal') inner.push(`${quoteString(s.text)} AS ${quoteIdent(s.target)}`);
    if (s.verb === 'rename') {
      const top = s.source.split(':')[0]!;
      inner.push(`${columns.has(top) ? nestedSql(s.source) : 'NULL::VARCHAR'} AS ${quoteIdent(s.target)}`);
    }
  }
  const where = pack.sources
    .map((src) => `(_sourcetype = ${quoteString(src.sourcetype)} AND winlog.event_id IN (${src.eventIds.map(quoteString).join(', ')}))`)
    .join(' OR ');
  let sql = `SELECT ${inner.join(', ')} FROM (${bronzeSql}) WHERE ${where}`;
  for (const s of steps) if (s.verb === 'expr') sql = `SELECT *, (${s.sql}) AS ${quoteIdent(s.target)} FROM (${sql})`;
  return sql;
}

export async function run(): Promise<Record<string, unknown>> {
  const scale = Number(process.env.WINLAKE_BENCH_SCALE ?? '1');
  const events = Math.max(BRONZE_COMMITS, Math.round(1_000_000 * scale));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'winlake-bench-silver-'));
  const session = await Session.create({ workDir: path.join(dir, 'duckdb'), allowedDirectories: [dir], sandbox: process.env.WINLAKE_BENCH_SANDBOX !== 'off' });
  const catalog = new Catalog(path.join(dir, 'lake'));
  try {
    // Bronze: the simulator's NDJSON through the ingestion path, in BRONZE_COMMITS appends.
    const t0 = performance.now();
    const per = Math.ceil(events / BRONZE_COMMITS);
    const generator = simulateNdjson({ seed: 42, count: events, version: 7, hosts: 200, users: 400, ratePerSecond: 50 });
    let bronzeBytes = 0;
    for (let c = 0; c < BRONZE_COMMITS; c++) {
      const lines: string[] = [];
      for (let i = 0; i < per; i++) {
        const next = generator.next();
        if (next.done) break;
        lines.push(next.value);
        bronzeBytes += next.value.length;
      }
      if (lines.length === 0) break;
      const raw = await parseWinlogbeat(await ndjsonToFrame(session, { lines, tempDir: dir }), 'raw');
      await writeTableBatch(raw, BRONZE, 'bronze', ['_event_date', '_sourcetype'], { catalog, session });
    }
    const bronzeS = (performance.now() - t0) / 1000;
    console.error(`[silver] bronze: ${events} events in ${round(bronzeS, 1)} s`);

    // winlake: build_silver, micro-batches of VERSIONS_PER_BATCH bronze commits.
    const t1 = performance.now();
    const result = await buildSilver(BRONZE, { catalog, session, maxVersionsPerTrigger: VERSIONS_PER_BATCH });
    const winlakeS = (performance.now() - t1) / 1000;
    const silverRows = result.tables.reduce((s, t) => s + t.rows, 0);
    console.error(`[silver] build_silver: ${result.bronzeRows} bronze rows → ${silverRows} silver rows in ${round(winlakeS, 1)} s`);

    // The same on a copy of bronze in one batch (no byte limit: all bronze at once).
    const oneBatchCatalog = new Catalog(path.join(dir, 'lake-one-batch'));
    cpSync(catalog.locate(BRONZE).path, oneBatchCatalog.pathFor(BRONZE, 'bronze'), { recursive: true });
    const t3 = performance.now();
    const oneBatch = await buildSilver(BRONZE, { catalog: oneBatchCatalog, session, maxBytesPerTrigger: Number.MAX_SAFE_INTEGER });
    const oneBatchS = (performance.now() - t3) / 1000;
    console.error(`[silver] build_silver, one batch: ${oneBatch.batches} batch(es) in ${round(oneBatchS, 1)} s`);

    // The engine's limit: plain DuckDB COPY per pack over the same bronze Parquet files.
    const scan = await DeltaScan.create(session, catalog.locate(BRONZE).path);
    const bronzeSql = await scan.toSql([]);
    const columns = new Set((await session.run(`SELECT * FROM (${bronzeSql}) LIMIT 0`)).columnNames());
    const packs = loadPacks();
    mkdirSync(path.join(dir, 'plain'));
    const t2 = performance.now();
    let plainRows = 0;
    for (const pack of packs) {
      const out = path.join(dir, 'plain', pack.table);
      const rows = await session.rows<{ Count: bigint }>(
        `COPY (${plainPackSql(pack, bronzeSql, columns)}) TO ${quoteString(out)} (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (_event_date), OVERWRITE_OR_IGNORE true)`,
      );
      plainRows += Number(rows[0]?.Count ?? 0);
    }
    const plainS = (performance.now() - t2) / 1000;
    console.error(`[silver] plain DuckDB: ${plainRows} rows in ${round(plainS, 1)} s`);
    if (plainRows !== silverRows) throw new Error(`row counts differ: build_silver ${silverRows}, plain SQL ${plainRows}`);

    const perTable: Record<string, number> = {};
    for (const t of result.tables) perTable[t.table] = t.rows;
    const processRows = await (await readTable('Process', { catalog, session })).count();
    return {
      events,
      bronzeCommits: BRONZE_COMMITS,
      bronzeMB: round(bronzeBytes / 2 ** 20, 1),
      bronzeIngestS: round(bronzeS, 1),
      microBatches: result.batches,
      silverTables: result.tables.length,
      silverRows,
      processRows,
      buildSilverS: round(winlakeS, 2),
      buildSilverEventsPerS: Math.round(result.bronzeRows / winlakeS),
      plainDuckdbS: round(plainS, 2),
      plainDuckdbEventsPerS: Math.round(result.bronzeRows / plainS),
      ratioBuildSilverToPlain: round(winlakeS / plainS, 2),
      oneBatchMicroBatches: oneBatch.batches,
      oneBatchBuildSilverS: round(oneBatchS, 2),
      oneBatchRatioToPlain: round(oneBatchS / plainS, 2),
      rowsPerTable: perTable,
    };
  } finally {
    session.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
