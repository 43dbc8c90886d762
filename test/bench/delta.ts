/**
 * Delta benchmark: winlake's writer and reader against python deltalake (delta-rs) on the same
 * log-like data, in the same run. 2M rows of ~20 columns (WINLAKE_BENCH_SCALE shrinks it):
 * one-commit write, 100-commit write (commit latency p50/p95; CPU time too, since the machine may be
 * shared and wall time then measures the neighbours), full scan (count + sum),
 * selective reads (event_id + hostname; plus a one-hour window) with the files skipped.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readDelta } from '../../kernel-lib/src/delta/read.js';
import { writeDelta } from '../../kernel-lib/src/delta/write.js';
import { quoteString } from '../../kernel-lib/src/engine/quote.js';
import { Session } from '../../kernel-lib/src/engine/session.js';
import { col, lit } from '../../kernel-lib/src/frame/expr.js';
import type { ScanReport } from '../../kernel-lib/src/frame/frame.js';
import { deltaPythonJson } from '../python.js';

const COMMITS = 100;
const HOST = 'WKS-0042';
const EVENT = '10';
const WINDOW_START = '2024-05-01T06:00:00Z';
const WINDOW_END = '2024-05-01T07:00:00Z';

/** ~20 columns of Sysmon-like events, ordered by time as a log stream is. */
function generatorSql(rows: number): string {
  return `SELECT
    TIMESTAMPTZ '2024-05-01 00:00:00+00' + (i * 43) * INTERVAL 1 millisecond AS ts,
    CAST(TIMESTAMPTZ '2024-05-01 00:00:00+00' + (i * 43) * INTERVAL 1 millisecond AS DATE) AS event_date,
    'WKS-' || lpad((hash(i * 7) % 500)::VARCHAR, 4, '0') AS hostname,
    (['1','3','5','7','10','11','12','13','22'])[1 + (hash(i * 13) % 9)::INT] AS event_id,
    i AS record_id,
    (hash(i * 17) % 60000)::INT AS process_id,
    (hash(i * 19) % 60000)::INT AS parent_process_id,
    'CORP\\user' || (hash(i * 23) % 200) AS user_name,
    'C:\\Windows\\System32\\' || (['cmd.exe','powershell.exe','svchost.exe','rundll32.exe','conhost.exe'])[1 + (hash(i * 29) % 5)::INT] AS image,
    'C:\\Windows\\System32\\cmd.exe /c echo ' || md5(i::VARCHAR) || ' --flag ' || (hash(i) % 1000) AS command_line,
    'C:\\Windows\\explorer.exe' AS parent_image,
    'C:\\Windows\\explorer.exe /factory,{' || md5((i % 97)::VARCHAR) || '}' AS parent_command_line,
    (['Low','Medium','High','System'])[1 + (hash(i * 31) % 4)::INT] AS integrity_level,
    '0x' || to_hex(hash(i * 37) % 1000000) AS logon_id,
    '{' || md5((i * 41)::VARCHAR) || '}' AS process_guid,
    'SHA256=' || sha256(i::VARCHAR) AS hashes,
    'Microsoft-Windows-Sysmon/Operational' AS channel,
    'Microsoft-Windows-Sysmon' AS provider,
    'information' AS level,
    'Process Create (rule: ProcessCreate)' AS task
  FROM range(${rows}) t(i)`;
}

const PY_BENCH = `
import sys, json, time, statistics
import pyarrow.parquet as pq, pyarrow.compute as pc
from deltalake import DeltaTable, write_deltalake
src, one, many, commits, host, event, ws, we = sys.argv[1:9]
commits = int(commits)
t0 = time.perf_counter(); table = pq.read_table(src); read_s = time.perf_counter() - t0
c0 = time.process_time(); t0 = time.perf_counter(); write_deltalake(one, table); one_s = time.perf_counter() - t0; one_cpu = time.process_time() - c0
chunk = -(-table.num_rows // commits); lat = []; cpu = []
t0 = time.perf_counter()
for k in range(commits):
    s = time.perf_counter(); c = time.process_time(); write_deltalake(many, table.slice(k * chunk, chunk), mode='append'); lat.append((time.perf_counter() - s) * 1000); cpu.append((time.process_time() - c) * 1000)
many_s = time.perf_counter() - t0
t0 = time.perf_counter(); full = DeltaTable(many).to_pyarrow_table(columns=['process_id'])
n = full.num_rows; total = pc.sum(full['process_id']).as_py(); scan_s = time.perf_counter() - t0
t0 = time.perf_counter(); f1 = DeltaTable(many).to_pyarrow_table(filters=[('event_id', '=', event), ('hostname', '=', host)]); sel_s = time.perf_counter() - t0
import datetime as dt
a = dt.datetime.fromisoformat(ws.replace('Z', '+00:00')); b = dt.datetime.fromisoformat(we.replace('Z', '+00:00'))
t0 = time.perf_counter(); f2 = DeltaTable(many).to_pyarrow_table(filters=[('event_id', '=', event), ('hostname', '=', host), ('ts', '>=', a), ('ts', '<', b)]); win_s = time.perf_counter() - t0
q = statistics.quantiles(lat, n=20)
print(json.dumps({"readSourceS": read_s, "writeOneCommitS": one_s, "writeOneCommitCpuS": one_cpu, "writeManyCommitsS": many_s,
  "commitLatencyMs": {"p50": statistics.median(lat), "p95": q[18]}, "commitCpuMsP50": statistics.median(cpu), "fullScanS": scan_s, "fullScanRows": n, "sumProcessId": total,
  "selectiveS": sel_s, "selectiveRows": f1.num_rows, "windowS": win_s, "windowRows": f2.num_rows,
  "version": DeltaTable(many).version()}))
`;

const seconds = (ms: number): number => Math.round(ms) / 1000;
const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;
function quantile(sorted: number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

/** Runs the Delta benchmark and returns its figures. */
export async function run(): Promise<Record<string, unknown>> {
  const scale = Number(process.env.WINLAKE_BENCH_SCALE ?? '1');
  if (!(scale > 0)) throw new Error('WINLAKE_BENCH_SCALE must be a positive number');
  const rows = Math.max(COMMITS, Math.round(2_000_000 * scale));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'winlake-bench-delta-'));
  const session = await Session.create({ workDir: path.join(dir, 'duck'), allowedDirectories: [dir], sandbox: process.env.WINLAKE_BENCH_SANDBOX !== 'off' });
  try {
    const src = path.join(dir, 'src.parquet');
    await session.run(`CREATE TABLE src AS ${generatorSql(rows)}`);
    await session.run(`COPY src TO ${quoteString(src)} (FORMAT parquet, COMPRESSION zstd)`);

    // One commit.
    const one = path.join(dir, 'ours-one');
    const cpuMs = (since: NodeJS.CpuUsage): number => {
      const u = process.cpuUsage(since);
      return (u.user + u.system) / 1000;
    };
    let t0 = performance.now();
    const c0 = process.cpuUsage();
    const w1 = await writeDelta(session, 'SELECT * FROM src', one);
    const oneMs = performance.now() - t0;
    const oneCpuMs = cpuMs(c0);

    // 100 commits of contiguous slices (a stream of batches). Each batch is staged in a temp table
    // first, untimed, as the Kafka source stages a micro-batch (and as delta-rs gets Arrow slices).
    const many = path.join(dir, 'ours-many');
    const chunk = Math.ceil(rows / COMMITS);
    const latencies: number[] = [];
    const commitCpu: number[] = [];
    let manyBytes = 0;
    let manyFiles = 0;
    for (let k = 0; k < COMMITS; k++) {
      await session.run(`CREATE OR REPLACE TEMP TABLE batch AS SELECT * FROM src WHERE record_id >= ${k * chunk} AND record_id < ${(k + 1) * chunk}`);
      const s = performance.now();
      const c = process.cpuUsage();
      const r = await writeDelta(session, 'SELECT * FROM batch', many);
      latencies.push(performance.now() - s);
      commitCpu.push(cpuMs(c));
      manyBytes += r.numBytes;
      manyFiles += r.files.length;
    }
    const manyMs = latencies.reduce((a, b) => a + b, 0);
    await session.run('DROP TABLE batch');
    latencies.sort((a, b) => a - b);
    commitCpu.sort((a, b) => a - b);

    // Full scan: count + sum through the reader.
    t0 = performance.now();
    const agg = await (await readDelta(session, many)).selectExpr('count(*) AS n', 'sum(process_id) AS s').toRows<{ n: bigint; s: bigint }>();
    const scanMs = performance.now() - t0;

    // Selective reads, with file skipping.
    const pred = col('event_id').eq(EVENT).and(col('hostname').eq(HOST));
    t0 = performance.now();
    const selFrame = (await readDelta(session, many)).filter(pred);
    const selRows = await selFrame.count();
    const selMs = performance.now() - t0;
    const selReport = (await selFrame.explain()) as ScanReport;
    const winPred = pred.and(col('ts').ge(lit(new Date(WINDOW_START))), col('ts').lt(lit(new Date(WINDOW_END))));
    t0 = performance.now();
    const winFrame = (await readDelta(session, many)).filter(winPred);
    const winRows = await winFrame.count();
    const winMs = performance.now() - t0;
    const winReport = (await winFrame.explain()) as ScanReport;

    // The same work by delta-rs.
    const rs = deltaPythonJson<{
      writeOneCommitS: number; writeOneCommitCpuS: number; writeManyCommitsS: number; commitLatencyMs: { p50: number; p95: number }; commitCpuMsP50: number;
      fullScanS: number; fullScanRows: number; sumProcessId: number; selectiveS: number; selectiveRows: number;
      windowS: number; windowRows: number; readSourceS: number; version: number;
    }>(PY_BENCH, [src, path.join(dir, 'rs-one'), path.join(dir, 'rs-many'), String(COMMITS), HOST, EVENT, WINDOW_START, WINDOW_END], 'delta-rs benchmark');
    if (rs.fullScanRows !== Number(agg[0]!.n) || rs.selectiveRows !== selRows || rs.windowRows !== winRows) {
      throw new Error(`delta-rs and winlake disagree: rows ${rs.fullScanRows}/${agg[0]!.n}, selective ${rs.selectiveRows}/${selRows}, window ${rs.windowRows}/${winRows}`);
    }
    const mb = (bytes: number): number => bytes / 1e6;
    const skipped = (r: ScanReport): number => r.stages.reduce((a, s) => a + s.filesSkipped, 0);
    return {
      rows,
      columns: 20,
      ours: {
        writeOneCommit: { seconds: seconds(oneMs), cpuSeconds: seconds(oneCpuMs), rowsPerS: Math.round(rows / (oneMs / 1000)), mbPerS: round(mb(w1.numBytes) / (oneMs / 1000)), files: w1.files.length, mb: round(mb(w1.numBytes)) },
        writeManyCommits: {
          commits: COMMITS, seconds: seconds(manyMs), rowsPerS: Math.round(rows / (manyMs / 1000)), mbPerS: round(mb(manyBytes) / (manyMs / 1000)), files: manyFiles, mb: round(mb(manyBytes)),
          commitLatencyMs: { p50: round(quantile(latencies, 0.5), 1), p95: round(quantile(latencies, 0.95), 1) },
          commitCpuMsP50: round(quantile(commitCpu, 0.5), 1),
        },
        fullScan: { seconds: seconds(scanMs), rows: Number(agg[0]!.n), rowsPerS: Math.round(rows / (scanMs / 1000)), mbPerS: round(mb(manyBytes) / (scanMs / 1000)) },
        selective: { seconds: seconds(selMs), rows: selRows, filesTotal: selReport.filesTotal, filesSkipped: skipped(selReport) },
        selectiveWindow: { seconds: seconds(winMs), rows: winRows, filesTotal: winReport.filesTotal, filesSkipped: skipped(winReport) },
      },
      deltaRs: {
        readSourceParquetS: round(rs.readSourceS, 3),
        writeOneCommitS: round(rs.writeOneCommitS, 3),
        writeOneCommitCpuS: round(rs.writeOneCommitCpuS, 3),
        writeManyCommitsS: round(rs.writeManyCommitsS, 3),
        commitLatencyMs: { p50: round(rs.commitLatencyMs.p50, 1), p95: round(rs.commitLatencyMs.p95, 1) },
        commitCpuMsP50: round(rs.commitCpuMsP50, 1),
        fullScanS: round(rs.fullScanS, 3),
        selectiveS: round(rs.selectiveS, 3),
        selectiveWindowS: round(rs.windowS, 3),
      },
      /** delta-rs time / winlake time: above 1 means winlake is faster. */
      speedupVsDeltaRs: {
        writeOneCommit: round(rs.writeOneCommitS / (oneMs / 1000)),
        writeManyCommits: round(rs.writeManyCommitsS / (manyMs / 1000)),
        commitLatencyP50: round(rs.commitLatencyMs.p50 / quantile(latencies, 0.5)),
        fullScan: round(rs.fullScanS / (scanMs / 1000)),
        selective: round(rs.selectiveS / (selMs / 1000)),
        selectiveWindow: round(rs.windowS / (winMs / 1000)),
      },
    };
  } finally {
    session.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
