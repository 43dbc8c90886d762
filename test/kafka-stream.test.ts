/**
 * Streaming from Kafka into bronze, exactly once: available-now and continuous queries, data loss,
 * a consumer SIGKILLed at random moments, and a broker restarted under a running query.
 * Everything runs against real brokers (the default one, and a second one started here).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Admin } from '@platformatic/kafka';
import type { Session } from '../kernel-lib/src/engine/session.js';
import { Catalog } from '../kernel-lib/src/lakehouse/catalog.js';
import { writeTableStream } from '../kernel-lib/src/lakehouse/streaming.js';
import { readTable } from '../kernel-lib/src/lakehouse/tables.js';
import { brokerOptions, startBroker, stopBroker, type BrokerOptions } from '../kernel-lib/src/source/kafka/broker.js';
import { createKafkaClient, type KafkaClient, type OutgoingMessage } from '../kernel-lib/src/source/kafka/client.js';
import { KafkaDataLossError, KafkaStreamSource, readKafkaStream } from '../kernel-lib/src/stream/kafka-source.js';
import { StreamingQuery, type BatchSink, type Offsets, type StreamFrame } from '../kernel-lib/src/stream/index.js';
import { addIngestMeta, parseWinlogbeat } from '../kernel-lib/src/winlogbeat/parse.js';
import { Random } from '../kernel-lib/src/winlogbeat/prng.js';
import { simulateNdjson } from '../kernel-lib/src/winlogbeat/simulate.js';
import { tempDir, testSession } from './helpers.js';
import { ensureBroker, uniqueTopic } from './kafka-helpers.js';
import { freePorts } from './kafka-secure-helpers.js';

const HOST = '127.0.0.1';
const session = await testSession();

/** Corrupt values and the reasons bronze's quarantine must give them. */
const CORRUPT: { value: string | Buffer | null; reason: string }[] = [
  { value: 'this is not json', reason: 'invalid JSON' },
  { value: '[1, 2, 3]', reason: 'not a JSON object (array)' },
  { value: null, reason: 'null value' },
  { value: Buffer.from([0xff, 0xfe, 0x7b]), reason: 'not valid UTF-8 (the value is kept as base64)' },
];

/**
 * Produces `count` simulated documents round-robin over the partitions, with a corrupt value after
 * every `corruptEvery` documents (cycling through {@link CORRUPT}); returns how many corrupt were sent.
 */
async function produceDocs(
  client: KafkaClient,
  topic: string,
  opts: { count: number; seed: number; partitions: number; corruptEvery?: number; batch?: number },
): Promise<{ docs: number; corrupt: number }> {
  let pending: OutgoingMessage[] = [];
  let inFlight: Promise<void> = Promise.resolve();
  let sent = 0;
  let corrupt = 0;
  const batch = opts.batch ?? 2000;
  for (const doc of simulateNdjson({ seed: opts.seed, count: opts.count, version: 7 })) {
    pending.push({ value: doc, partition: sent % opts.partitions });
    sent++;
    if (opts.corruptEvery && sent % opts.corruptEvery === 0) {
      pending.push({ value: CORRUPT[corrupt % CORRUPT.length]!.value, partition: (sent + corrupt) % opts.partitions });
      corrupt++;
    }
    if (pending.length >= batch) {
      // One request in flight while the next batch is generated.
      await inFlight;
      inFlight = client.produce(topic, pending);
      pending = [];
    }
  }
  await inFlight;
  await client.produce(topic, pending);
  return { docs: sent, corrupt };
}

async function sumOffsets(client: KafkaClient, topic: string): Promise<{ total: number; ends: Map<number, number> }> {
  const ends = await client.endOffsets(topic);
  return { total: [...ends.values()].reduce((a, b) => a + b, 0), ends };
}

function num(v: unknown): number {
  return typeof v === 'bigint' ? Number(v) : (v as number);
}

/**
 * Checks that bronze plus its quarantine hold every offset of the topic exactly once, contiguous
 * per partition, and returns the counts.
 */
async function assertExactlyOnce(session: Session, catalog: Catalog, table: string, ends: Map<number, number>): Promise<{ bronze: number; quarantine: number }> {
  const bronze = await readTable(table, { catalog, session });
  const hasQuarantine = catalog.find(`${table}_quarantine`) !== undefined;
  const quarantine = hasQuarantine ? await readTable(`${table}_quarantine`, { catalog, session }) : undefined;
  const union =
    `SELECT _kafka_partition p, _kafka_offset o FROM (${await bronze.toSql()})` +
    (quarantine ? ` UNION ALL SELECT _kafka_partition p, _kafka_offset o FROM (${await quarantine.toSql()})` : '');
  const [totals] = await session.rows(`SELECT count(*) n, count(DISTINCT (p, o)) d FROM (${union})`);
  const expected = [...ends.values()].reduce((a, b) => a + b, 0);
  assert.equal(num(totals!.n), expected, 'rows in bronze + quarantine = offsets produced');
  assert.equal(num(totals!.d), expected, 'no (partition, offset) twice');
  const perPartition = await session.rows(`SELECT p, count(*) n, min(o) lo, max(o) hi FROM (${union}) GROUP BY p ORDER BY p`);
  for (const row of perPartition) {
    const end = ends.get(num(row.p));
    assert.deepEqual([num(row.n), num(row.lo), num(row.hi)], [end, 0, end! - 1], `partition ${String(row.p)} holds offsets 0..${end! - 1}`);
  }
  assert.equal(perPartition.length, [...ends.values()].filter((e) => e > 0).length);
  const bronzeRows = num(await session.scalar(`SELECT count(*) FROM (${await bronze.toSql()})`));
  return { bronze: bronzeRows, quarantine: expected - bronzeRows };
}

/**
 * Waits for a new topic's partitions to accept writes. createTopic returns once metadata names the
 * leaders, but a produce in the next moments can fail for some partitions, and the client's retry
 * of the whole request then writes the other partitions' records twice (seen with @platformatic/kafka).
 */
function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 1000));
}

function bronzeStream(stream: StreamFrame): StreamFrame {
  return stream.map((batch) => parseWinlogbeat(addIngestMeta(batch), 'raw'));
}

describe('Kafka → bronze streaming (default broker)', () => {
  let bootstrap: string;
  let port: number;
  let client: KafkaClient;
  const topics: string[] = [];

  before(async () => {
    bootstrap = await ensureBroker();
    port = Number(bootstrap.split(':')[1]);
    client = createKafkaClient(bootstrap);
  });

  after(async () => {
    // Keep the shared broker's disk small: these topics are ours alone.
    const admin = new Admin({ clientId: 'winlake-test-cleanup', bootstrapBrokers: [bootstrap] });
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.close();
    await client.close();
  });

  async function newTopic(prefix: string): Promise<string> {
    const topic = uniqueTopic(prefix);
    topics.push(topic);
    await client.createTopic(topic, { partitions: 3 });
    await settle();
    return topic;
  }

  test('availableNow ingests every offset once, quarantines corrupt records, and resumes with only new offsets', async () => {
    const topic = await newTopic('stream-avail');
    const catalog = new Catalog(tempDir());
    const first = await produceDocs(client, topic, { count: 3000, seed: 11, partitions: 3, corruptEvery: 250 });
    const { ends } = await sumOffsets(client, topic);

    let source: KafkaStreamSource | undefined;
    const run = async (trigger: { availableNow: true } | { processingTime: number }) => {
      const stream = await readKafkaStream(HOST, port, topic, { session, maxOffsetsPerTrigger: 700 });
      source = stream.source as KafkaStreamSource;
      return writeTableStream(bronzeStream(stream), 'bronze_avail', 'bronze', ['_event_date', '_sourcetype'], {
        catalog,
        trigger,
        queryName: 'ingest',
      });
    };

    const q1 = await run({ availableNow: true });
    try {
      assert.equal(await q1.awaitTermination(60_000), true, 'an availableNow query ends by itself');
    } finally {
      await q1.stop();
    }
    const counts = await assertExactlyOnce(session, catalog, 'bronze_avail', ends);
    assert.deepEqual(counts, { bronze: first.docs, quarantine: first.corrupt });
    // 3012 records at 700 per batch: five batches, each split over the three partitions.
    assert.equal(q1.recentProgress.length, 5);
    assert.deepEqual(source?.prefetches, { used: 4, discarded: 0, failed: 0, parsed: 4, ahead: 3 }, 'batches 1-4 were parsed while the one before was written; 2-4 fetched a batch earlier still');
    assert.equal(q1.recentProgress.reduce((s, p) => s + p.numInputRows, 0), first.docs + first.corrupt);
    const last = q1.lastProgress!;
    assert.deepEqual(last.lag, { '0': 0, '1': 0, '2': 0 });
    assert.ok(last.processedRowsPerSecond > 0 && last.numInputRows > 0);
    assert.ok(last.durationMs.total >= last.durationMs.read && last.durationMs.read >= 0 && last.durationMs.write > 0);
    const firstProgress = q1.recentProgress[0]!;
    assert.ok(Object.values(firstProgress.lag).every((l) => l > 0), 'after the first batch every partition lags');
    for (const p of q1.recentProgress) {
      const planned = Object.keys(p.endOffsets).reduce((s, k) => s + p.endOffsets[k]! - (p.startOffsets[k] ?? 0), 0);
      assert.ok(planned <= 700, `batch ${p.batchId} holds ${planned} offsets, more than maxOffsetsPerTrigger`);
    }

    // The reasons the quarantine gives, one per kind of corrupt value.
    const quarantine = await readTable('bronze_avail_quarantine', { catalog, session });
    const reasons = await session.rows(`SELECT _corrupt_reason r, count(*) n FROM (${await quarantine.toSql()}) GROUP BY r ORDER BY r`);
    assert.deepEqual(
      reasons.map((r) => r.r),
      CORRUPT.map((c) => c.reason).sort(),
    );

    // A crash after the Delta commit but before the checkpoint's: the next run redoes the batch,
    // and the table's txn makes that a no-op.
    const commits = path.join(catalog.root, '_checkpoints', 'bronze_avail', 'ingest', 'commits');
    rmSync(path.join(commits, `${last.batchId}.json`));

    // More data: a second run from the same checkpoint reads only the new offsets.
    const second = await produceDocs(client, topic, { count: 900, seed: 12, partitions: 3 });
    const after2 = await sumOffsets(client, topic);
    const q2 = await run({ availableNow: true });
    try {
      assert.equal(await q2.awaitTermination(60_000), true);
    } finally {
      await q2.stop();
    }
    const [redone, ...fresh] = q2.recentProgress;
    assert.deepEqual([redone!.batchId, redone!.recovered, redone!.sink.skipped], [last.batchId, true, true]);
    assert.equal(fresh.reduce((s, p) => s + p.numInputRows, 0), second.docs);
    assert.deepEqual(fresh[0]!.startOffsets, Object.fromEntries([...ends].map(([p, o]) => [String(p), o])));
    assert.equal((await assertExactlyOnce(session, catalog, 'bronze_avail', after2.ends)).bronze, first.docs + second.docs);

    // A continuous query: processAllAvailable waits for what is there at call time, stop ends it.
    const q3 = await run({ processingTime: 0 });
    let third: { docs: number };
    let after3: { ends: Map<number, number> };
    try {
      third = await produceDocs(client, topic, { count: 600, seed: 13, partitions: 3 });
      after3 = await sumOffsets(client, topic);
      await q3.processAllAvailable();
      assert.equal(q3.isActive, true);
      assert.deepEqual(q3.lastProgress?.lag, { '0': 0, '1': 0, '2': 0 });
    } finally {
      await q3.stop();
    }
    assert.equal(q3.isActive, false);
    assert.equal(q3.recentProgress.reduce((s, p) => s + p.numInputRows, 0), third.docs);
    assert.equal((await assertExactlyOnce(session, catalog, 'bronze_avail', after3.ends)).bronze, first.docs + second.docs + third.docs);
  });

  test('startingOffsets, fair batch planning and new partitions', async () => {
    const source = new KafkaStreamSource(bootstrap, 'unused-topic', { maxOffsetsPerTrigger: 100 });
    try {
      assert.deepEqual(source.planBatch({ '0': 0, '1': 0, '2': 0 }, { '0': 1000, '1': 1000, '2': 1000 }), { '0': 33, '1': 33, '2': 34 });
      // A short partition gives what it does not need to the others.
      assert.deepEqual(source.planBatch({ '0': 0, '1': 990, '2': 0 }, { '0': 1000, '1': 1000, '2': 1000 }), { '0': 45, '1': 1000, '2': 45 });
      assert.deepEqual(source.planBatch({ '0': 5 }, { '0': 7, '1': 3 }), { '0': 7, '1': 3 }, 'a new partition starts at its beginning');
      assert.deepEqual(source.lag({ '0': 5 }, { '0': 7, '1': 3 }), { '0': 2, '1': 3 });
    } finally {
      await source.close();
    }
    assert.throws(() => new KafkaStreamSource(bootstrap, 't', { maxOffsetsPerTrigger: 0 }), /maxOffsetsPerTrigger/);
    await assert.rejects(readKafkaStream(HOST, port, 'no-such-topic-winlake', { session }), /does not exist/);

    const topic = await newTopic('stream-start');
    await produceDocs(client, topic, { count: 30, seed: 3, partitions: 3 });
    const latest = new KafkaStreamSource(bootstrap, topic, { startingOffsets: 'latest' });
    const some = new KafkaStreamSource(bootstrap, topic, { startingOffsets: { 1: 4, 2: -1 } });
    try {
      assert.deepEqual(await latest.initialOffsets(), { '0': 10, '1': 10, '2': 10 });
      assert.deepEqual(await some.initialOffsets(), { '0': 0, '1': 4, '2': 10 });
      const batch = await some.readBatch(session, { '0': 2, '1': 4, '2': 10 }, { '0': 5, '1': 6, '2': 10 });
      const rows = await session.rows(`SELECT _kafka_partition p, _kafka_offset o FROM (${await batch.frame.toSql()}) ORDER BY p, o`);
      assert.deepEqual(rows.map((r) => [num(r.p), num(r.o)]), [[0, 2], [0, 3], [0, 4], [1, 4], [1, 5]]);
      assert.equal(batch.numRows, 5);
      assert.ok(batch.numBytes! > 5 * 500);
      await batch.release();
      await assert.rejects(batch.frame.count(), /winlake_kafka_stream/, 'release drops the batch table');
    } finally {
      await latest.close();
      await some.close();
    }
    const bad = new KafkaStreamSource(bootstrap, topic, { startingOffsets: { 7: 1 } });
    await assert.rejects(bad.initialOffsets(), /no partition|has partitions/);
    await bad.close();
  });

  test('failOnDataLoss: deleted offsets are skipped with a warning, or fail the batch', async () => {
    const topic = await newTopic('stream-loss');
    await produceDocs(client, topic, { count: 60, seed: 5, partitions: 3 });
    // Retention, simulated: records before offset 8 of partition 0 are deleted.
    const admin = new Admin({ clientId: 'winlake-test-loss', bootstrapBrokers: [bootstrap] });
    try {
      await admin.deleteRecords({ topics: [{ name: topic, partitions: [{ partition: 0, offset: 8n }] }] });
    } finally {
      await admin.close();
    }
    const warnings: string[] = [];
    const lenient = new KafkaStreamSource(bootstrap, topic, { onWarning: (m) => warnings.push(m) });
    const strict = new KafkaStreamSource(bootstrap, topic, { failOnDataLoss: true });
    try {
      assert.deepEqual(await lenient.initialOffsets(), { '0': 8, '1': 0, '2': 0 }, 'earliest is the log start');
      const start = { '0': 3, '1': 0, '2': 0 };
      const end = { '0': 12, '1': 2, '2': 0 };
      const batch = await lenient.readBatch(session, start, end);
      assert.equal(batch.numRows, 4 + 2);
      await batch.release();
      assert.deepEqual(lenient.dataLoss, [{ topic, partition: 0, requestedOffset: 3, earliestOffset: 8, lostRecords: 5 }]);
      assert.match(warnings.join('\n'), /offsets 3\.\.7 .* were deleted/);
      await assert.rejects(strict.readBatch(session, start, end), (err: unknown) => err instanceof KafkaDataLossError && /data loss/.test(err.message));
    } finally {
      await lenient.close();
      await strict.close();
    }
  });

  test('prefetch: the next batch is fetched during the write, and used only for exactly its range', async () => {
    const topic = await newTopic('stream-prefetch');
    await produceDocs(client, topic, { count: 900, seed: 41, partitions: 3 });
    // Record folders live beside the session's scratch folder, inside the engine's sandbox.
    const workDir = path.dirname(session.scratchDir);
    const recordDirs = (): string[] => readdirSync(workDir).filter((f) => f.startsWith('winlake-kstream-'));
    /** Per partition [first offset, last offset, rows] of a batch. */
    const spans = async (frame: { toSql(): Promise<string> }): Promise<number[][]> =>
      (await session.rows(`SELECT _kafka_partition p, min(_kafka_offset) lo, max(_kafka_offset) hi, count(*) n FROM (${await frame.toSql()}) GROUP BY p ORDER BY p`)).map((r) => [
        num(r.p), num(r.lo), num(r.hi), num(r.n),
      ]);

    // A folder a killed run left behind, with a prefetched file: swept, never read.
    const deadPid = spawnSync(process.execPath, ['-e', '']).pid;
    mkdirSync(path.join(workDir, `winlake-kstream-${deadPid}-stale`));
    writeFileSync(path.join(workDir, `winlake-kstream-${deadPid}-stale`, 'prefetch-1.tsv'), '0\t0\t0\tr\t2\t\t{}\n');

    const source = new KafkaStreamSource(bootstrap, topic, { maxOffsetsPerTrigger: 300 });
    try {
      const zero: Offsets = { '0': 0, '1': 0, '2': 0 };
      const first = source.planBatch(zero, await source.latestOffsets());
      assert.deepEqual(first, { '0': 100, '1': 100, '2': 100 });
      source.prefetch(session, zero, first);
      assert.deepEqual(recordDirs(), recordDirs().filter((d) => d.startsWith(`winlake-kstream-${process.pid}-`)), 'the dead run\'s folder is gone');
      assert.equal(recordDirs().length, 1);
      const b1 = await source.readBatch(session, zero, first);
      assert.deepEqual(await spans(b1.frame), [[0, 0, 99, 100], [1, 0, 99, 100], [2, 0, 99, 100]]);
      await b1.release();
      assert.deepEqual(source.prefetches, { used: 1, discarded: 0, failed: 0, parsed: 1, ahead: 0 });
      // The batch parsed ahead, on the source's own connection, is an engine table until released.
      assert.deepEqual(await session.rows(`SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'winlake_kafka_stream_%'`), [], 'released batches leave no table');

      // The plan differs from the prefetched range (say maxOffsetsPerTrigger changed): discarded.
      source.prefetch(session, first, { '0': 200, '1': 200, '2': 200 });
      const b2 = await source.readBatch(session, first, { '0': 150, '1': 150, '2': 120 });
      assert.deepEqual(await spans(b2.frame), [[0, 100, 149, 50], [1, 100, 149, 50], [2, 100, 119, 20]]);
      await b2.release();
      assert.deepEqual(source.prefetches, { used: 1, discarded: 1, failed: 0, parsed: 1, ahead: 0 });

      // With the end of the batch after it, that batch is fetched too (not parsed) once this fetch
      // has ended: the next hint finds its records on disk and only parses them.
      const c0: Offsets = { '0': 150, '1': 150, '2': 120 };
      const c1: Offsets = { '0': 200, '1': 200, '2': 170 };
      const c2: Offsets = { '0': 250, '1': 250, '2': 220 };
      const c3: Offsets = { '0': 300, '1': 300, '2': 270 };
      source.prefetch(session, c0, c1, c2);
      const b3 = await source.readBatch(session, c0, c1);
      assert.deepEqual(await spans(b3.frame), [[0, 150, 199, 50], [1, 150, 199, 50], [2, 120, 169, 50]]);
      await b3.release();
      const runDir = path.join(workDir, recordDirs()[0]!);
      source.prefetch(session, c1, c2, c3);
      const b4 = await source.readBatch(session, c1, c2);
      assert.deepEqual(await spans(b4.frame), [[0, 200, 249, 50], [1, 200, 249, 50], [2, 170, 219, 50]]);
      await b4.release();
      assert.deepEqual(source.prefetches, { used: 3, discarded: 1, failed: 0, parsed: 3, ahead: 1 });
      // A range fetched ahead that the next plan does not match is deleted, and counted as discarded.
      const b5 = await source.readBatch(session, c2, { '0': 260, '1': 260, '2': 230 });
      assert.deepEqual(await spans(b5.frame), [[0, 250, 259, 10], [1, 250, 259, 10], [2, 220, 229, 10]]);
      await b5.release();
      assert.deepEqual(source.prefetches, { used: 3, discarded: 2, failed: 0, parsed: 3, ahead: 1 });
      assert.deepEqual(readdirSync(runDir), []);

      // One left unused is deleted by close, with the folder.
      source.prefetch(session, { '0': 260, '1': 260, '2': 230 }, c3, { '0': 300, '1': 300, '2': 300 });
    } finally {
      await source.close();
    }
    assert.deepEqual(source.prefetches, { used: 3, discarded: 3, failed: 0, parsed: 3, ahead: 1 });
    assert.deepEqual(await session.rows(`SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'winlake_kafka_stream_%'`), [], 'a discarded prefetch leaves no table');
    assert.deepEqual(recordDirs(), []);

    // In a query: new data arrives while batch 0 is written, so latest moves and batch 1 is planned
    // differently from what was prefetched. The query still reads every offset exactly once.
    const stream = await readKafkaStream(HOST, port, topic, { session, maxOffsetsPerTrigger: 700 });
    const streamSource = stream.source as KafkaStreamSource;
    const seen: number[][] = [];
    const sink: BatchSink = async (batch, batchId) => {
      seen.push(...(await session.rows(`SELECT _kafka_partition p, _kafka_offset o FROM (${await batch.toSql()})`)).map((r) => [num(r.p), num(r.o)]));
      if (batchId === 0) await produceDocs(client, topic, { count: 300, seed: 42, partitions: 3 });
      return {};
    };
    const query = StreamingQuery.start(stream, sink, { checkpointLocation: tempDir(), pollIntervalMs: 50 });
    try {
      while (query.recentProgress.length < 2) {
        if (!query.isActive) throw query.exception as Error;
        await new Promise((r) => setTimeout(r, 20));
      }
      await query.processAllAvailable();
    } finally {
      await query.stop();
    }
    const [p0, p1] = query.recentProgress;
    assert.deepEqual([p0!.endOffsets, p1!.startOffsets, p1!.endOffsets], [
      { '0': 233, '1': 233, '2': 234 },
      { '0': 233, '1': 233, '2': 234 },
      { '0': 400, '1': 400, '2': 400 },
    ]);
    assert.deepEqual(streamSource.prefetches, { used: 0, discarded: 1, failed: 0, parsed: 0, ahead: 0 }, 'the prefetched 300/300/300 was not used for the 400/400/400 batch');
    assert.equal(new Set(seen.map(([p, o]) => `${p}:${o}`)).size, 1200);
    assert.equal(seen.length, 1200);
    assert.deepEqual(recordDirs(), []);
  });

  test('crash test: a consumer SIGKILLed at random moments still writes every offset exactly once', async () => {
    const topic = await newTopic('stream-crash');
    const lakehouse = tempDir();
    const catalog = new Catalog(lakehouse);
    const produced = await produceDocs(client, topic, { count: 200_000, seed: 21, partitions: 3, corruptEvery: 5000, batch: 4000 });
    const { ends } = await sumOffsets(client, topic);
    const childArgs = JSON.stringify({
      bootstrap: HOST,
      port,
      topic,
      lakehouse,
      table: 'bronze_crash',
      queryName: 'crash',
      maxOffsetsPerTrigger: 4000,
    });
    const fixture = path.join(import.meta.dirname, 'fixtures', 'stream-child.ts');
    const random = new Random(20240501);
    let kills = 0;
    let recovered = 0;
    let skipped = 0;
    let done = false;
    for (let run = 0; !done; run++) {
      assert.ok(run < 20, 'the child should finish within 20 runs');
      // Kill after 0-3 committed batches plus a random delay (often inside the next batch); a
      // quarter of the kills land early, while the child starts up or redoes a planned batch.
      const plan = kills >= 6 ? undefined : random.chance(0.25) ? { batches: 0, delay: random.int(50, 900) } : { batches: random.int(1, 3), delay: random.int(0, 400) };
      const result = await new Promise<{ killed: boolean; code: number | null; stderr: string }>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', fixture, childArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
        let killed = false;
        let committed = 0;
        let stderr = '';
        let buffer = '';
        const killLater = (): void => {
          if (!plan) return;
          setTimeout(() => {
            if (child.exitCode === null && !killed) {
              killed = child.kill('SIGKILL');
            }
          }, plan.delay);
        };
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.stdout.on('data', (d: Buffer) => {
          buffer += d.toString();
          let nl;
          while ((nl = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, nl);
            buffer = buffer.slice(nl + 1);
            const msg = JSON.parse(line) as { event: string; recovered?: boolean; skipped?: boolean };
            if (msg.event === 'started' && plan?.batches === 0) killLater();
            if (msg.event === 'progress') {
              committed++;
              if (msg.recovered) recovered++;
              if (msg.skipped) skipped++;
              if (plan && committed === plan.batches) killLater();
            }
          }
        });
        child.once('error', reject);
        child.once('exit', (code) => resolve({ killed, code, stderr }));
      });
      if (result.killed) kills++;
      else {
        assert.equal(result.code, 0, `the child failed:\n${result.stderr}`);
        done = true;
      }
    }
    assert.ok(kills >= 5, `killed ${kills} times`);
    assert.ok(recovered >= 1, 'at least one kill landed inside a planned batch, which the next run redid');
    const counts = await assertExactlyOnce(session, catalog, 'bronze_crash', ends);
    assert.deepEqual(counts, { bronze: produced.docs, quarantine: produced.corrupt });
    // Killed runs' record folders (prefetched batches included) were swept, the last run's closed.
    assert.deepEqual(readdirSync(path.join(lakehouse, '.duckdb')).filter((f) => f.startsWith('winlake-kstream-')), []);
    console.log(`crash test: ${kills} kills, ${recovered} batches redone (${skipped} of them already committed)`);
  });
});

describe('Kafka → bronze streaming across a broker restart', () => {
  let broker: BrokerOptions;

  before(async () => {
    const [p1, p2, p3] = await freePorts(3);
    // Not tempDir(): an after() registered inside a before hook would delete the folder at once.
    broker = brokerOptions({ port: p1!, outsidePort: p2!, controllerPort: p3!, home: mkdtempSync(path.join(os.tmpdir(), 'winlake-broker2-')), heap: '384m', topics: {} });
    await startBroker(broker);
  });

  after(async () => {
    await stopBroker(broker);
    rmSync(broker.home, { recursive: true, force: true });
  });

  test('a continuous query survives the broker stopping and starting again, without loss or duplicates', async () => {
    const bootstrap = `${HOST}:${broker.port}`;
    const catalog = new Catalog(tempDir());
    const topic = uniqueTopic('stream-restart');
    const producer = createKafkaClient(bootstrap);
    await producer.createTopic(topic, { partitions: 3 });
    await settle();
    await produceDocs(producer, topic, { count: 3000, seed: 31, partitions: 3 });
    await producer.close();

    const warnings: string[] = [];
    const stream = await readKafkaStream(HOST, broker.port, topic, {
      session,
      maxOffsetsPerTrigger: 300,
      retry: { timeoutMs: 90_000, initialDelayMs: 100, maxDelayMs: 1000 },
      onWarning: (m) => warnings.push(m),
    });
    const source = stream.source as KafkaStreamSource;
    const query = writeTableStream(bronzeStream(stream), 'bronze_restart', 'bronze', ['_event_date', '_sourcetype'], { catalog, queryName: 'restart' });
    try {
      // Let a few batches commit, then take the broker away mid-stream.
      while (query.recentProgress.length < 2) {
        if (!query.isActive) throw query.exception as Error;
        await new Promise((r) => setTimeout(r, 20));
      }
      await stopBroker(broker);
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal(query.isActive, true, 'the query waits for the broker instead of failing');
      await startBroker(broker);

      const again = createKafkaClient(bootstrap);
      await produceDocs(again, topic, { count: 600, seed: 32, partitions: 3 });
      const { ends } = await sumOffsets(again, topic);
      await again.close();
      await query.processAllAvailable();
      assert.ok(source.retried.length > 0, 'the outage was seen and retried');
      assert.ok(warnings.some((w) => /retrying/.test(w)));
      const counts = await assertExactlyOnce(session, catalog, 'bronze_restart', ends);
      assert.equal(counts.bronze, 3600);
    } finally {
      await query.stop();
    }
  });
});
