/**
 * Kafka ingestion benchmark: produce and raw-consume rates of both client libraries, the end-to-end
 * `readKafkaTopic` rate, and the DuckDB parsing alternatives on the same documents.
 * N documents (default 200,000, env WINLAKE_BENCH_N) of about 1.8 KB. Starts the local broker if needed.
 */
import { rmSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { Session } from '../../kernel-lib/src/engine/session.js';
import { createKafkaClient, type KafkaClientKind } from '../../kernel-lib/src/source/kafka/client.js';
import { ndjsonToFrame } from '../../kernel-lib/src/source/kafka/ndjson-frame.js';
import { produce } from '../../kernel-lib/src/source/kafka/produce.js';
import { readKafkaTopic } from '../../kernel-lib/src/source/kafka/read-topic.js';
import { BOOTSTRAP, ensureBroker, uniqueTopic, winlogbeatDoc } from '../kafka-helpers.js';

const KINDS: KafkaClientKind[] = ['platformatic', 'kafkajs'];

function seconds(start: number): number {
  return (performance.now() - start) / 1000;
}

async function rawConsume(kind: KafkaClientKind, topic: string): Promise<{ records: number; bytes: number; seconds: number }> {
  const client = createKafkaClient(BOOTSTRAP, { kind });
  try {
    const end = await client.endOffsets(topic);
    const ranges = [...end].map(([partition, to]) => ({ partition, from: 0, to }));
    let records = 0;
    let bytes = 0;
    const t0 = performance.now();
    await client.fetchRanges(topic, ranges, (batch) => {
      records += batch.length;
      for (const r of batch) bytes += r.value?.length ?? 0;
    });
    return { records, bytes, seconds: seconds(t0) };
  } finally {
    await client.close();
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const n = Number(process.env.WINLAKE_BENCH_N ?? 200_000);
  await ensureBroker();
  const lines: string[] = Array.from({ length: n }, (_, i) => JSON.stringify(winlogbeatDoc(i)));
  const avgBytes = Math.round(lines.reduce((a, l) => a + l.length, 0) / n);
  const results: Record<string, unknown> = { documents: n, avgBytes };
  const topics: string[] = [];
  const work = mkdtempSync(path.join(os.tmpdir(), 'winlake-bench-kafka-'));
  const session = await Session.create({ workDir: path.join(work, 'duck'), allowedDirectories: [work] });
  try {
    for (const kind of KINDS) {
      const topic = uniqueTopic(`bench-${kind}`);
      topics.push(topic);
      const setup = createKafkaClient(BOOTSTRAP);
      await setup.createTopic(topic, { partitions: 3 });
      await setup.close();
      const p = await produce(lines, { brokers: BOOTSTRAP, topic, client: kind, batchSize: 1000 });
      results[`produce_${kind}_docs_per_s`] = Math.round(p.rate);
    }
    const topic = topics[0]!;
    for (const kind of KINDS) {
      // Twice: the first run also warms the broker's page cache and the JIT.
      await rawConsume(kind, topic);
      const r = await rawConsume(kind, topic);
      if (r.records !== n) throw new Error(`${kind} consumed ${r.records} records, expected ${n}`);
      results[`consume_${kind}_docs_per_s`] = Math.round(r.records / r.seconds);
      results[`consume_${kind}_MB_per_s`] = Math.round(r.bytes / 2 ** 20 / r.seconds);
    }
    for (const kind of KINDS) {
      const t0 = performance.now();
      const [df] = await readKafkaTopic('127.0.0.1', BOOTSTRAP.split(':')[1]!, topic, { session, client: kind });
      const rows = await df.count();
      const s = seconds(t0);
      if (rows !== n) throw new Error(`readKafkaTopic(${kind}) gave ${rows} rows, expected ${n}`);
      results[`read_kafka_topic_${kind}_docs_per_s`] = Math.round(n / s);
    }

    // Parsing alternatives on the same documents, from an NDJSON file (no Kafka involved).
    const parseN = Math.min(n, 100_000);
    const file = path.join(work, 'docs.ndjson');
    writeFileSync(file, `${lines.slice(0, parseN).join('\n')}\n`);
    {
      const t = performance.now();
      const frame = await ndjsonToFrame(session, { files: [file] });
      if ((await frame.count()) !== parseN) throw new Error('ndjsonToFrame lost rows');
      results.parse_ndjsonToFrame_envelope_docs_per_s = Math.round(parseN / seconds(t));
    }
    let t0 = performance.now();
    await session.run(`CREATE OR REPLACE TEMP TABLE bench_auto AS SELECT * FROM read_ndjson('${file}', sample_size=-1, maximum_object_size=16777216)`);
    results.parse_read_ndjson_auto_full_sample_docs_per_s = Math.round(parseN / seconds(t0));
    t0 = performance.now();
    await session.run(`CREATE OR REPLACE TEMP TABLE bench_auto2 AS SELECT * FROM read_ndjson('${file}', maximum_object_size=16777216)`);
    results.parse_read_ndjson_auto_default_sample_docs_per_s = Math.round(parseN / seconds(t0));
    results.parse_note =
      'ndjsonToFrame classifies corrupt records, parses the declared bronze envelope (event_data a MAP) and rescues what does not fit; ' +
      'read_ndjson_auto does neither (it fails or drops on corrupt lines, and event_data becomes a data-dependent STRUCT or MAP)';
  } finally {
    session.close();
    rmSync(work, { recursive: true, force: true });
    const admin = new Kafka({ brokers: [BOOTSTRAP], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  }
  return results;
}
