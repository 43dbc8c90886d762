/**
 * Benchmark: what OPTIMIZE ZORDER BY (process_name, event_id) plus a user_name bloom filter index
 * buy on a silver Process-like table, as in the reference notebook. The table holds 5M Sysmon
 * process events over 30 days written by 300 appends (time-ordered micro-batches), partitioned by
 * _event_date. `WINLAKE_BENCH_SCALE` (default 1) scales events and appends down.
 *
 * Three hunts, each timed and measured before (as appended) and after (Z-ordered, bloom stage on):
 * - entity search `user_name = <rare account>` (a user with only a few events: the usual hunt),
 *   and the same for a frequent account, to show where bloom filters stop helping;
 * - `process_name = <process> AND event_id = '1'`;
 * - a one-day `_event_time` range.
 * "After" is measured twice: files sized as 1 GB files would be on a large table (~16 per day), then
 * after a second OPTIMIZE at Delta's default 128 MB target (one file per day), what this table gets.
 * "bytes read" is what the DuckDB process actually read (`rchar` of /proc/self/io, caches off);
 * "scan bytes" is the size of the files the Delta scan handed to DuckDB.
 *
 * @example npm run bench -- optimize
 */
import { readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { quoteString } from '../../kernel-lib/src/engine/quote.js';
import { Session } from '../../kernel-lib/src/engine/session.js';
import { bloomSkipStage, createBloomFilter } from '../../kernel-lib/src/delta/bloom.js';
import { optimizeTable } from '../../kernel-lib/src/delta/optimize.js';
import { DeltaScan } from '../../kernel-lib/src/delta/scan.js';
import { loadSnapshot } from '../../kernel-lib/src/delta/snapshot.js';
import { writeDelta } from '../../kernel-lib/src/delta/write.js';
import { col, type Expr } from '../../kernel-lib/src/frame/expr.js';
import { Frame } from '../../kernel-lib/src/frame/frame.js';

const START = Date.parse('2024-04-01T00:00:00Z');
const DAYS = 30;

/** One append: `rows` events of the time slice [from, to) ms, deterministic pseudo-random fields. */
export function appendSql(offset: number, rows: number, from: number, to: number): string {
  const u = (salt: number): string => `((hash(g, ${salt}) % 1000000) / 1000000.0)`;
  return `WITH b AS (SELECT ${offset} + i AS g, i FROM range(${rows}) t(i)),
  r AS (SELECT g, i, ${u(1)} AS r_user, ${u(2)} AS r_zipf, ${u(3)} AS r_proc, ${u(4)} AS r_ev, hash(g, 5) AS h5, hash(g, 6) AS h6 FROM b),
  e AS (SELECT *,
    -- Humans follow Zipf (s=2): a few busy accounts, a long tail of rare ones (~2,000 seen).
    CASE WHEN r_user < 0.30 THEN 'NT AUTHORITY\\SYSTEM'
         WHEN r_user < 0.38 THEN 'NT AUTHORITY\\NETWORK SERVICE'
         WHEN r_user < 0.45 THEN 'NT AUTHORITY\\LOCAL SERVICE'
         ELSE 'CORP\\user' || lpad(CAST(CAST(floor(1 / (1 - r_zipf * (1 - 1 / 3000.0))) AS INTEGER) AS VARCHAR), 4, '0') END AS user_name,
    -- ~500 process names, log-uniform popularity.
    'proc' || lpad(CAST(CAST(floor(exp(r_proc * ln(500))) AS INTEGER) AS VARCHAR), 3, '0') || '.exe' AS process_name,
    CASE WHEN r_ev < 0.55 THEN '1' WHEN r_ev < 0.95 THEN '5' ELSE '18' END AS event_id
    FROM r)
  SELECT
    TIMESTAMPTZ '1970-01-01 00:00:00+00' + to_milliseconds(CAST(${from} + i * ${(to - from) / rows} AS BIGINT)) AS _event_time,
    CAST(TIMESTAMPTZ '1970-01-01 00:00:00+00' + to_milliseconds(CAST(${from} + i * ${(to - from) / rows} AS BIGINT)) AS DATE) AS _event_date,
    event_id,
    CASE event_id WHEN '1' THEN 'Process Started' WHEN '5' THEN 'Process Terminated' ELSE 'Pipe Connected' END AS event_message,
    user_name,
    'WKS' || lpad(CAST(h5 % 1000 AS VARCHAR), 4, '0') AS dvc_hostname,
    process_name,
    'C:\\Program Files\\Vendor' || (hash(process_name) % 40) || '\\' || process_name AS process_file_path,
    '"C:\\Program Files\\Vendor' || (hash(process_name) % 40) || '\\' || process_name || '" --mode ' || (h6 % 12) || ' --session ' || (h6 % 5000) AS process_command_line,
    '{' || md5(CAST(g AS VARCHAR))[1:8] || '-5e2a-' || md5(CAST(g AS VARCHAR))[9:12] || '-0000-000000000000}' AS process_guid,
    CAST(h5 % 65536 AS VARCHAR) AS process_id,
    'C:\\Windows\\explorer.exe' AS process_parent_file_path
  FROM e`;
}

/** Bytes this process has read through read(2)/pread(2) so far (Linux), else NaN. */
function readBytes(): number {
  try {
    return Number(/rchar:\s*(\d+)/.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? Number.NaN);
  } catch {
    return Number.NaN;
  }
}

interface Measure {
  filesScanned: number;
  scanBytes: number;
  bytesRead: number;
  ms: number;
  rows: number;
  stages: Record<string, number>;
}

/** `bloomOn` adds a bloom stage on those columns; a table with a bloom index gets one from DeltaScan.create anyway. */
async function measure(session: Session, tablePath: string, predicate: Expr, bloomOn?: string[]): Promise<Measure> {
  const runs: { ms: number; bytes: number; rows: number }[] = [];
  let report: Awaited<ReturnType<DeltaScan['explain']>> | undefined;
  for (let k = 0; k < 3; k++) {
    const bytes0 = readBytes();
    const t0 = performance.now();
    // The whole hunt: snapshot, skipping, and reading every column of the matching rows.
    const scan = await DeltaScan.create(session, tablePath);
    if (bloomOn) scan.addStage(bloomSkipStage(session, scan.snapshot, { columns: bloomOn }));
    const frame = Frame.fromScan(session, scan).filter(predicate);
    await session.run(`CREATE OR REPLACE TEMP TABLE bench_hits AS ${await frame.toSql()}`);
    const ms = performance.now() - t0;
    const bytes = readBytes() - bytes0;
    const rows = Number(await session.scalar('SELECT count(*) FROM bench_hits'));
    runs.push({ ms, bytes, rows });
    report ??= await scan.explain([predicate.node]);
  }
  runs.sort((a, b) => a.ms - b.ms);
  const median = runs[1]!;
  return {
    filesScanned: report!.filesScanned,
    scanBytes: report!.bytesScanned,
    bytesRead: median.bytes,
    ms: Math.round(median.ms * 10) / 10,
    rows: median.rows,
    stages: Object.fromEntries(report!.stages.map((s) => [s.stage, s.filesSkipped])),
  };
}

const ratio = (a: number, b: number): number => Math.round((a / Math.max(b, 1)) * 10) / 10;

/** Builds the table, runs the hunts before and after OPTIMIZE + bloom index, returns the figures. */
export async function run(): Promise<Record<string, unknown>> {
  const scale = Number(process.env.WINLAKE_BENCH_SCALE ?? '1');
  if (!(scale > 0)) throw new Error(`WINLAKE_BENCH_SCALE must be a positive number, got ${process.env.WINLAKE_BENCH_SCALE}`);
  const totalEvents = Math.round(5_000_000 * scale);
  const appends = Math.max(10, Math.round(300 * Math.min(1, scale)));
  const workDir = path.join(os.tmpdir(), `winlake-bench-optimize-${process.pid}`);
  const tablePath = path.join(workDir, 'Process');
  rmSync(workDir, { recursive: true, force: true });
  const session = await Session.create({ workDir: path.join(workDir, 'duckdb'), threads: 2, allowedDirectories: [workDir] });
  try {
    // Honest I/O figures: no cross-query caching of file data or footers.
    await session.set('enable_external_file_cache', false);
    await session.set('parquet_metadata_cache', false);

    const t0 = performance.now();
    const perAppend = Math.ceil(totalEvents / appends);
    const span = (DAYS * 86_400_000) / appends;
    for (let a = 0; a < appends; a++) {
      await writeDelta(session, appendSql(a * perAppend, perAppend, START + a * span, START + (a + 1) * span), tablePath, {
        partitionBy: ['_event_date'],
      });
    }
    const loadMs = performance.now() - t0;
    const before = await loadSnapshot(tablePath, { session });
    const tableBytes = before.files.reduce((s, f) => s + f.size, 0);

    const hits = async (sql: string): Promise<string> => String(await session.scalar(sql));
    const source = `read_parquet(${quoteString(path.join(tablePath, '_event_date=*', '*.parquet'))})`;
    // A rare account (3-10 events in the month) and the busiest human account.
    const rareUser = await hits(
      `SELECT user_name FROM ${source} WHERE user_name LIKE 'CORP%' GROUP BY 1 HAVING count(*) BETWEEN 3 AND 10 ORDER BY user_name LIMIT 1`,
    );
    const busyUser = await hits(`SELECT user_name FROM ${source} WHERE user_name LIKE 'CORP%' GROUP BY 1 ORDER BY count(*) DESC LIMIT 1`);
    const processName = await hits(`SELECT process_name FROM ${source} GROUP BY 1 ORDER BY count(*) DESC LIMIT 1 OFFSET 20`);
    const day = new Date(START + 12 * 86_400_000);
    const queries: Record<string, Expr> = {
      entity_rare_user: col('user_name').eq(rareUser),
      entity_busy_user: col('user_name').eq(busyUser),
      process_and_event: col('process_name').eq(processName).and(col('event_id').eq('1')),
      one_day_range: col('_event_time').ge(day).and(col('_event_time').lt(new Date(day.getTime() + 86_400_000))),
    };

    const beforeFigures: Record<string, Measure> = {};
    for (const [name, q] of Object.entries(queries)) beforeFigures[name] = await measure(session, tablePath, q);
    // The same table as appended, with only the bloom stage added (DuckDB wrote native filters already).
    const bloomOnlyFigures: Record<string, Measure> = {};
    bloomOnlyFigures.entity_rare_user = await measure(session, tablePath, queries.entity_rare_user!, ['user_name']);

    await createBloomFilter(tablePath, ['user_name'], { session, fpp: 0.1, numItems: 1_000_000 });
    // File size scaled with the table: ~16 files per day, as 1 GB files would be on a large table.
    const targetFileSize = Math.max(256 * 1024, Math.round(tableBytes / DAYS / 16));
    const t1 = performance.now();
    const opt = await optimizeTable(session, tablePath, { zOrderBy: ['process_name', 'event_id'], targetFileSize });
    const optimizeMs = performance.now() - t1;

    const afterFigures: Record<string, Measure> = {};
    for (const [name, q] of Object.entries(queries)) afterFigures[name] = await measure(session, tablePath, q);

    // What this table would get from a plain OPTIMIZE: Delta's default 128 MB target, one file per day.
    const t2 = performance.now();
    const optDefault = await optimizeTable(session, tablePath, { zOrderBy: ['process_name', 'event_id'] });
    const optimizeDefaultMs = performance.now() - t2;
    const defaultFigures: Record<string, Measure> = {};
    for (const [name, q] of Object.entries(queries)) defaultFigures[name] = await measure(session, tablePath, q);

    const compare = (afterOf: Record<string, Measure>): Record<string, unknown> =>
      Object.fromEntries(
        Object.keys(queries).map((name) => {
          const b = beforeFigures[name]!;
          const a = afterOf[name]!;
          if (a.rows !== b.rows) throw new Error(`${name}: ${b.rows} rows before OPTIMIZE but ${a.rows} after`);
          return [
            name,
            {
              rows: a.rows,
              before: b,
              after: a,
              fewerBytesRead: ratio(b.bytesRead, a.bytesRead),
              fewerScanBytes: ratio(b.scanBytes, a.scanBytes),
              fewerFiles: ratio(b.filesScanned, a.filesScanned),
              faster: ratio(b.ms, a.ms),
            },
          ];
        }),
      );
    return {
      scale,
      events: perAppend * appends,
      appends,
      filesBefore: before.files.length,
      tableBytesBefore: tableBytes,
      loadSeconds: Math.round(loadMs / 100) / 10,
      optimize: {
        seconds: Math.round(optimizeMs / 100) / 10,
        targetFileSize,
        numFilesRemoved: opt.numFilesRemoved,
        numFilesAdded: opt.numFilesAdded,
        bytesAdded: opt.filesAdded.totalSize,
      },
      targets: { rareUser, busyUser, process: processName, day: day.toISOString().slice(0, 10) },
      bloomStageOnAppendedTable: bloomOnlyFigures,
      queries: compare(afterFigures),
      optimizeDefaultTarget: {
        seconds: Math.round(optimizeDefaultMs / 100) / 10,
        numFilesRemoved: optDefault.numFilesRemoved,
        numFilesAdded: optDefault.numFilesAdded,
        queries: compare(defaultFigures),
      },
    };
  } finally {
    session.close();
    rmSync(workDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify(await run(), null, 2));
}
