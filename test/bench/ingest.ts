/**
 * Ingest benchmark: simulated winlogbeat events through the local Kafka broker into a bronze Delta
 * table, with both Kafka clients. `npm run bench -- ingest`; WINLAKE_BENCH_SCALE (default 1 =
 * 1,000,000 events) shrinks it.
 *
 * Measures: produce rate; raw consume rate (the client alone: fetch everything, count bytes); and
 * end to end (readKafkaStream → add_ingest_meta → parser 'raw' → writeTableStream, availableNow,
 * into a fresh bronze table) in a child process, whose peak RSS is the memory figure.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Admin } from '@platformatic/kafka';
import { brokerOptions, startBroker } from '../../kernel-lib/src/source/kafka/broker.js';
import { createKafkaClient, type KafkaClientKind, type OutgoingMessage } from '../../kernel-lib/src/source/kafka/client.js';
import { simulateNdjson } from '../../kernel-lib/src/winlogbeat/simulate.js';

const CLIENTS: readonly KafkaClientKind[] = ['kafkajs', 'platformatic'];
/** Distinct documents generated; production cycles through them so the generator is not measured. */
const POOL = 20_000;
const PARTITIONS = 3;
const MB = 1024 * 1024;

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
  const args = JSON.stringify({ bootstrap, port, topic, lakehouse, table: 'bench_bronze', queryName: 'bench', maxOffsetsPerTrigger: 50_000, client });
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

/** The benchmark; returns its figures (the harness prints them as JSON). */
export async function run(): Promise<Record<string, unknown>> {
  const scale = Number(process.env.WINLAKE_BENCH_SCALE ?? '1');
  if (!(scale > 0)) throw new Error(`WINLAKE_BENCH_SCALE must be a positive number, got ${process.env.WINLAKE_BENCH_SCALE}`);
  const events = Math.max(1000, Math.round(1_000_000 * scale));
  const options = brokerOptions();
  await startBroker(options);
  const bootstrap = `127.0.0.1:${options.port}`;
  const topic = `bench-ingest-${Date.now()}`;
  const producer = createKafkaClient(bootstrap, { kind: 'platformatic', clientId: 'winlake-bench' });
  // createTopic resolves once every partition's leader accepts writes.
  await producer.createTopic(topic, { partitions: PARTITIONS });
  try {
    log(`generating ${POOL} distinct documents`);
    const pool = [...simulateNdjson({ seed: 1, count: Math.min(POOL, events), version: 7 })].map((d) => Buffer.from(d));
    log(`producing ${events} events to ${topic}`);
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
    const produceSeconds = (performance.now() - t0) / 1000;
    const ends = await producer.endOffsets(topic);
    const stored = [...ends.values()].reduce((a, b) => a + b, 0);
    if (stored !== events) throw new Error(`the topic holds ${stored} records, ${events} were produced`);
    const produce = { events, mb: round(bytes / MB), avgEventBytes: Math.round(bytes / events), seconds: round(produceSeconds), eventsPerSecond: Math.round(events / produceSeconds), mbPerSecond: round(bytes / MB / produceSeconds) };
    log(`produce: ${JSON.stringify(produce)}`);

    const rawConsume: Record<string, unknown> = {};
    for (const kind of CLIENTS) {
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

    const endToEndResults: Record<string, unknown> = {};
    for (const kind of CLIENTS) {
      const e2e = await endToEnd('127.0.0.1', options.port, topic, kind, bytes);
      if (e2e.events !== events) throw new Error(`the ${kind} ingest wrote ${e2e.events} events of ${events}`);
      const raw = rawConsume[kind] as { eventsPerSecond: number };
      endToEndResults[kind] = { ...e2e, ofRawConsume: round(e2e.eventsPerSecond / raw.eventsPerSecond, 2) };
      log(`end to end ${kind}: ${JSON.stringify(endToEndResults[kind])}`);
    }
    return { scale, events, partitions: PARTITIONS, maxOffsetsPerTrigger: 50_000, produce, rawConsume, endToEnd: endToEndResults };
  } finally {
    await producer.close();
    const admin = new Admin({ clientId: 'winlake-bench-cleanup', bootstrapBrokers: [bootstrap] });
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.close();
  }
}
