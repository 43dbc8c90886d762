/**
 * Ingest benchmark: simulated winlogbeat events through the local Kafka broker into a bronze Delta
 * table, with both Kafka clients. `npm run bench -- ingest`; WINLAKE_BENCH_SCALE (default 1 =
 * 1,000,000 events) shrinks it.
 *
 * Measures, on the same topic: produce rate; raw consume rate (the client alone: fetch everything,
 * count bytes); DuckDB alone (the same NDJSON bytes, read_json with the envelope's declared
 * columns → partitioned zstd Parquet: the engine's limit), and DuckDB alone keeping each document
 * as `_raw` (bronze's contract: the ceiling for bronze); end to end (readKafkaStream →
 * add_ingest_meta → parser 'raw' → writeTableStream, availableNow, into a fresh bronze table) in a
 * child process, whose peak RSS is the memory figure, at 1M and 300k events; the ratios; and the
 * storage cost of keeping `_raw`. WINLAKE_BENCH_CLIENTS=platformatic runs one client only.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Admin } from '@platformatic/kafka';
import { brokerOptions, startBroker } from '../../kernel-lib/src/source/kafka/broker.js';
import { quoteIdent, quoteString } from '../../kernel-lib/src/engine/quote.js';
import { Session } from '../../kernel-lib/src/engine/session.js';
import { createKafkaClient, DEFAULT_CLIENT_KIND, type KafkaClient, type KafkaClientKind, type OutgoingMessage } from '../../kernel-lib/src/source/kafka/client.js';
import { ndjsonToFrame, WHOLE_LINE_CSV_OPTIONS } from '../../kernel-lib/src/source/kafka/ndjson-frame.js';
import { BRONZE_ENVELOPE, type EnvelopeLevel } from '../../kernel-lib/src/winlogbeat/envelope.js';
import { simulateNdjson } from '../../kernel-lib/src/winlogbeat/simulate.js';
import { DEFAULT_MAX_OFFSETS_PER_TRIGGER } from '../../kernel-lib/src/stream/kafka-source.js';

// The default client first: the summary figures (peak RSS, the 300k run) are its.
const CLIENTS: readonly KafkaClientKind[] = [DEFAULT_CLIENT_KIND, ...(['kafkajs', 'platformatic'] as const).filter((k) => k !== DEFAULT_CLIENT_KIND)];
/** Distinct documents generated; production cycles through them so the generator is not measured. */
const POOL = 20_000;
const PARTITIONS = 3;
const MB = 1024 * 1024;
const NEWLINE = Buffer.from('\n');

const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;
const log = (m: string): void => {
  console.error(`[ingest] ${m}`);
};

interface EndToEnd {
  events: number;
  seconds: number;
  eventsPerSecond: number;
  mbPerSecond: number;
  peakRssMB: number;
  batches: number;
  /** Batches read from a prefetched record file, and prefetches thrown away or failed. */
  prefetches?: { used: number; discarded: number; failed: number };
}

/** Runs the streaming ingest in a child process (test/fixtures/stream-child.ts) and reads its report. */
function endToEnd(bootstrap: string, port: number, topic: string, client: KafkaClientKind, bytes: number): Promise<EndToEnd> {
  const lakehouse = mkdtempSync(path.join(os.tmpdir(), 'winlake-bench-ingest-'));
  const fixture = path.join(import.meta.dirname, '..', 'fixtures', 'stream-child.ts');
  const args = JSON.stringify({ bootstrap, port, topic, lakehouse, table: 'bench_bronze', queryName: 'bench', maxOffsetsPerTrigger: DEFAULT_MAX_OFFSETS_PER_TRIGGER, client });
  return new Promise<EndToEnd>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buffer = '';
    let batches = 0;
    let done: { rows: number; elapsedMs: number; maxRssMB: number; prefetches?: EndToEnd['prefetches'] } | undefined;
    child.stdout.on('data', (d: Buffer) => {
      buffer += d.toString();
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const msg = JSON.parse(buffer.slice(0, nl)) as { event: string; rows: number; elapsedMs: number; maxRssMB: number; prefetches?: EndToEnd['prefetches'] };
        buffer = buffer.slice(nl + 1);
        if (msg.event === 'progress') batches++;
        if (msg.event === 'done') done = msg;
      }
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      rmSync(lakehouse, { recursive: true, force: true });
      if (code !== 0 || !done) return reject(new Error(`the ingest child (${client}) exited with code ${code}`));
      const seconds = done.elapsedMs / 1000;
      resolve({
        events: done.rows,
        seconds: round(seconds),
        eventsPerSecond: Math.round(done.rows / seconds),
        mbPerSecond: round(bytes / MB / seconds),
        peakRssMB: Math.round(done.maxRssMB),
        batches,
        ...(done.prefetches ? { prefetches: done.prefetches } : {}),
      });
    });
  });
}

/** read_json columns for the envelope: what DuckDB alone is given (declared columns, no inference). */
function readJsonColumns(level: EnvelopeLevel): string {
  const typeOf = (v: EnvelopeLevel[string]): string =>
    typeof v === 'string' ? v : `STRUCT(${Object.entries(v).map(([k, c]) => `${quoteIdent(k)} ${typeOf(c)}`).join(', ')})`;
  return `{${Object.entries(level).map(([k, v]) => `${quoteString(k)}: ${quoteString(typeOf(v))}`).join(', ')}}`;
}

/** Bytes of the files under a folder. */
function folderBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) n += statSync(path.join(e.parentPath, e.name)).size;
  return n;
}

/**
 * The engine's limits: the same NDJSON bytes parsed by DuckDB alone and written as Parquet (zstd)
 * partitioned like bronze; no Kafka, no Delta, no rescue, no quarantine. Two figures:
 * - `declared`: read_json with the envelope's declared columns (the fastest reader);
 * - `keepingRaw`: each line read whole (read_csv, as bronze reads its record files), parsed with
 *   json_transform into the same columns, and kept as `_raw`, which read_json cannot give. This is
 *   the least work bronze's contract allows (every document reproducible byte for byte), so it is
 *   the ceiling for Kafka → bronze.
 */
async function duckdbAlone(file: string, events: number, work: string): Promise<{ declared: Record<string, number>; keepingRaw: Record<string, number> }> {
  const partitioning = (struct: string): string =>
    `CAST(timezone('UTC', ${struct}"@timestamp") AS DATE) AS _event_date, ${struct}winlog.channel AS _sourcetype`;
  const declared =
    `SELECT *, ${partitioning('')} FROM read_json(${quoteString(file)}, format='newline_delimited', ` +
    `columns=${readJsonColumns(BRONZE_ENVELOPE)}, maximum_object_size=16777216)`;
  const keepingRaw =
    `SELECT unnest(d), line AS _raw, ${partitioning('d.')} FROM (SELECT line, ` +
    // The envelope's leaves are DuckDB type names, so it is json_transform's structure as it is.
    `json_transform(line, ${quoteString(JSON.stringify(BRONZE_ENVELOPE))}) AS d ` +
    `FROM read_csv(${quoteString(file)}, columns={'line': 'VARCHAR'}, ${WHOLE_LINE_CSV_OPTIONS}, max_line_size=16777216))`;
  const run = async (name: string, select: string): Promise<Record<string, number>> => {
    const session = await Session.create({ workDir: path.join(work, `duckdb-alone-${name}`), threads: 2, allowedDirectories: [work] });
    const out = path.join(work, `duckdb-alone-${name}-parquet`);
    try {
      const t = performance.now();
      await session.run(`COPY (${select}) TO ${quoteString(out)} (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (_event_date, _sourcetype))`);
      const seconds = (performance.now() - t) / 1000;
      return { events, seconds: round(seconds), eventsPerSecond: Math.round(events / seconds), parquetMB: round(folderBytes(out) / MB) };
    } finally {
      session.close();
      rmSync(out, { recursive: true, force: true });
    }
  };
  return { declared: await run('declared', declared), keepingRaw: await run('raw', keepingRaw) };
}

/**
 * What keeping the original document costs on disk: winlake's own bronze parse of the same
 * documents, written as zstd Parquet with `_raw` (always, the default), without it, and with it
 * only on rescued rows (none in clean traffic: that equals "without").
 * @example const cost = await rawStorageCost("/tmp/docs.ndjson", "/tmp/work");
 */
export async function rawStorageCost(file: string, work: string): Promise<Record<string, unknown>> {
  const session = await Session.create({ workDir: path.join(work, 'duckdb-storage'), threads: 2, allowedDirectories: [work] });
  try {
    const frame = await ndjsonToFrame(session, { files: [file] });
    const sql = await frame.toSql();
    const columns = await frame.columns();
    const write = async (name: string, select: string): Promise<number> => {
      const out = path.join(work, `storage-${name}.parquet`);
      await session.run(`COPY (${select}) TO ${quoteString(out)} (FORMAT parquet, COMPRESSION zstd)`);
      return statSync(out).size;
    };
    const without = await write('without', `SELECT * EXCLUDE (${columns.includes('_raw') ? '_raw, ' : ''}_corrupt_record, _corrupt_reason) FROM (${sql})`);
    if (!columns.includes('_raw')) return { withoutRawMB: round(without / MB), withRawMB: null, note: 'this build keeps no _raw column' };
    const always = await write('always', `SELECT * EXCLUDE (_corrupt_record, _corrupt_reason) FROM (${sql})`);
    const rescuedOnly = await write('rescued', `SELECT * EXCLUDE (_raw, _corrupt_record, _corrupt_reason), CASE WHEN _rescued_data IS NOT NULL THEN _raw END AS _raw FROM (${sql})`);
    const input = statSync(file).size;
    return {
      documentsMB: round(input / MB),
      withoutRawMB: round(without / MB),
      rawAlwaysMB: round(always / MB),
      rawOnlyWhenRescuedMB: round(rescuedOnly / MB),
      rawAlwaysOverhead: round(always / without - 1, 2),
      rawOnlyWhenRescuedOverhead: round(rescuedOnly / without - 1, 3),
    };
  } finally {
    session.close();
  }
}

/**
 * Produces `events` documents (cycling through the pool) to a new topic of 3 partitions; returns the
 * produce figures (the reference benchmark produces its topic with it too).
 * @example const { figures } = await produceTopic(producer, 'bench', pool, 200_000);
 */
export async function produceTopic(producer: KafkaClient, topic: string, pool: readonly Buffer[], events: number): Promise<{ bytes: number; figures: Record<string, number> }> {
  await producer.createTopic(topic, { partitions: PARTITIONS });
  let bytes = 0;
  const t0 = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < events; ) {
    const batch: OutgoingMessage[] = [];
    for (const end = Math.min(events, i + 2000); i < end; i++) {
      const value = pool[i % pool.length]!;
      bytes += value.length;
      batch.push({ value, partition: i % PARTITIONS });
    }
    inFlight.push(producer.produce(topic, batch));
    if (inFlight.length >= 4) await inFlight.shift();
  }
  await Promise.all(inFlight);
  const seconds = (performance.now() - t0) / 1000;
  const ends = await producer.endOffsets(topic);
  const stored = [...ends.values()].reduce((a, b) => a + b, 0);
  if (stored !== events) throw new Error(`the topic ${topic} holds ${stored} records, ${events} were produced`);
  return { bytes, figures: { events, mb: round(bytes / MB), avgEventBytes: Math.round(bytes / events), seconds: round(seconds), eventsPerSecond: Math.round(events / seconds), mbPerSecond: round(bytes / MB / seconds) } };
}

/** The benchmark; returns its figures (the harness prints them as JSON). */
export async function run(): Promise<Record<string, unknown>> {
  const scale = Number(process.env.WINLAKE_BENCH_SCALE ?? '1');
  if (!(scale > 0)) throw new Error(`WINLAKE_BENCH_SCALE must be a positive number, got ${process.env.WINLAKE_BENCH_SCALE}`);
  const clients = (process.env.WINLAKE_BENCH_CLIENTS?.split(',') ?? CLIENTS) as KafkaClientKind[];
  const bad = clients.filter((c) => !CLIENTS.includes(c));
  if (bad.length) throw new Error(`WINLAKE_BENCH_CLIENTS: unknown client ${bad.join(', ')} (known: ${CLIENTS.join(', ')})`);
  // Two topic sizes (300k and 1M at scale 1): peak RSS must not grow with the topic.
  const small = Math.max(1000, Math.round(300_000 * scale));
  const events = Math.max(1000, Math.round(1_000_000 * scale));
  const options = brokerOptions();
  await startBroker(options);
  const bootstrap = `127.0.0.1:${options.port}`;
  const stamp = Date.now();
  const topic = `bench-ingest-${stamp}`;
  const smallTopic = `bench-ingest-small-${stamp}`;
  const work = mkdtempSync(path.join(os.tmpdir(), 'winlake-bench-ingest-work-'));
  const producer = createKafkaClient(bootstrap, { kind: 'platformatic', clientId: 'winlake-bench' });
  try {
    log(`generating ${POOL} distinct documents`);
    const pool = [...simulateNdjson({ seed: 1, count: Math.min(POOL, events), version: 7 })].map((d) => Buffer.from(d));
    log(`producing ${events} + ${small} events to ${topic}, ${smallTopic}`);
    const { bytes, figures: produce } = await produceTopic(producer, topic, pool, events);
    const { bytes: smallBytes } = await produceTopic(producer, smallTopic, pool, small);
    log(`produce: ${JSON.stringify(produce)}`);
    const ends = await producer.endOffsets(topic);

    const rawConsume: Record<string, { seconds: number; eventsPerSecond: number; mbPerSecond: number }> = {};
    for (const kind of clients) {
      const client = createKafkaClient(bootstrap, { kind, clientId: `winlake-bench-${kind}` });
      let n = 0;
      let b = 0;
      const t = performance.now();
      await client.fetchRanges(topic, [...ends].map(([partition, to]) => ({ partition, from: 0, to })), (records) => {
        n += records.length;
        for (const r of records) b += r.value?.length ?? 0;
      });
      const s = (performance.now() - t) / 1000;
      await client.close();
      if (n !== events) throw new Error(`${kind} fetched ${n} records of ${events}`);
      rawConsume[kind] = { seconds: round(s), eventsPerSecond: Math.round(n / s), mbPerSecond: round(b / MB / s) };
      log(`raw consume ${kind}: ${JSON.stringify(rawConsume[kind])}`);
    }

    // The same bytes as the topic, as one NDJSON file, for the engine-alone and storage figures.
    const file = path.join(work, 'topic.ndjson');
    const fd = openSync(file, 'w');
    for (let i = 0; i < events; i += POOL) writeSync(fd, Buffer.concat(pool.slice(0, Math.min(POOL, events - i)).flatMap((d) => [d, NEWLINE])));
    closeSync(fd);
    const { declared: engine, keepingRaw: engineKeepingRaw } = await duckdbAlone(file, events, work);
    log(`duckdb alone: ${JSON.stringify(engine)}; keeping _raw: ${JSON.stringify(engineKeepingRaw)}`);
    const storageFile = path.join(work, 'storage.ndjson');
    writeFileSync(storageFile, Buffer.concat(pool.slice(0, Math.min(pool.length, small)).flatMap((d) => [d, NEWLINE])));
    const storage = { documents: Math.min(pool.length, small), ...(await rawStorageCost(storageFile, work)) };
    log(`raw storage cost: ${JSON.stringify(storage)}`);

    const endToEndResults: Record<string, unknown> = {};
    for (const kind of clients) {
      const e2e = await endToEnd('127.0.0.1', options.port, topic, kind, bytes);
      if (e2e.events !== events) throw new Error(`the ${kind} ingest wrote ${e2e.events} events of ${events}`);
      endToEndResults[kind] = {
        ...e2e,
        ofRawConsume: round(e2e.eventsPerSecond / rawConsume[kind]!.eventsPerSecond, 2),
        ofDuckdbAlone: round(e2e.eventsPerSecond / engine.eventsPerSecond!, 2),
        ofDuckdbAloneKeepingRaw: round(e2e.eventsPerSecond / engineKeepingRaw.eventsPerSecond!, 2),
      };
      log(`end to end ${kind}: ${JSON.stringify(endToEndResults[kind])}`);
    }
    const smallRun = await endToEnd('127.0.0.1', options.port, smallTopic, clients[0]!, smallBytes);
    if (smallRun.events !== small) throw new Error(`the ${clients[0]} ingest wrote ${smallRun.events} events of ${small}`);
    log(`end to end ${clients[0]} at ${small}: ${JSON.stringify(smallRun)}`);
    return {
      scale,
      events,
      partitions: PARTITIONS,
      maxOffsetsPerTrigger: DEFAULT_MAX_OFFSETS_PER_TRIGGER,
      produce,
      rawConsume,
      duckdbAlone: engine,
      duckdbAloneKeepingRaw: engineKeepingRaw,
      endToEnd: endToEndResults,
      peakRssMB: { [String(small)]: smallRun.peakRssMB, [String(events)]: (endToEndResults[clients[0]!] as EndToEnd).peakRssMB },
      endToEndSmall: { client: clients[0], ...smallRun },
      rawStorageCost: storage,
    };
  } finally {
    await producer.close();
    rmSync(work, { recursive: true, force: true });
    const admin = new Admin({ clientId: 'winlake-bench-cleanup', bootstrapBrokers: [bootstrap] });
    await admin.deleteTopics({ topics: [topic, smallTopic] }).catch(() => undefined);
    await admin.close();
  }
}
