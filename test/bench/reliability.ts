/**
 * Reliability benchmark: `npm run bench -- reliability`. A topic of mixed winlogbeat 7 / 8
 * documents with 1% hostile values (test/hostile.ts) streamed to bronze by the streaming child,
 * SIGKILLed twice and restarted; then every offset is looked up in bronze and its quarantine.
 * Reports {documents, faults, lost, duplicated, stuck, unclear, tenThousandFieldsBatchSeconds,
 * rawStorageCost}; lost, duplicated, stuck and unclear must be 0. WINLAKE_BENCH_SCALE (default
 * 1 = 20,000 documents) scales the topic.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildSilver } from '../../kernel-lib/src/cim/build-silver.js';
import { Session } from '../../kernel-lib/src/engine/session.js';
import { Catalog } from '../../kernel-lib/src/lakehouse/catalog.js';
import { BRONZE_PARTITIONS } from '../../kernel-lib/src/lakehouse/load-files.js';
import { readTable, writeTableBatch } from '../../kernel-lib/src/lakehouse/tables.js';
import { brokerOptions, startBroker } from '../../kernel-lib/src/source/kafka/broker.js';
import { createKafkaClient } from '../../kernel-lib/src/source/kafka/client.js';
import { ndjsonToFrame } from '../../kernel-lib/src/source/kafka/ndjson-frame.js';
import { simulateNdjson } from '../../kernel-lib/src/winlogbeat/simulate.js';
import { addIngestMeta, parseWinlogbeat } from '../../kernel-lib/src/winlogbeat/parse.js';
import { mixedValues, streamWithKills } from '../hostile.js';
import { rawStorageCost } from './ingest.js';

const PARTITIONS = 3;
const log = (m: string): void => {
  console.error(`[reliability] ${m}`);
};

/** The benchmark; returns its figures (the harness prints them as JSON). */
export async function run(): Promise<Record<string, unknown>> {
  const scale = Number(process.env.WINLAKE_BENCH_SCALE ?? '1');
  if (!(scale > 0)) throw new Error(`WINLAKE_BENCH_SCALE must be a positive number, got ${process.env.WINLAKE_BENCH_SCALE}`);
  const documents = Math.max(1000, Math.round(20_000 * scale));
  const options = brokerOptions();
  await startBroker(options);
  const bootstrap = `127.0.0.1:${options.port}`;
  const topic = `bench-reliability-${Date.now()}`;
  const work = mkdtempSync(path.join(os.tmpdir(), 'winlake-bench-reliability-'));
  const client = createKafkaClient(bootstrap, { kind: 'platformatic', clientId: 'winlake-bench-reliability' });
  const session = await Session.create({ workDir: path.join(work, '.duck'), threads: 2, allowedDirectories: [work] });
  try {
    // Kafka takes values up to the broker's message.max.bytes: the 2 MB case is for files only.
    const values = mixedValues({ count: documents, every: 100, seed: 9, only: (n) => n !== '2 MB value' });
    const faults = values.filter((v) => !v.name.startsWith('winlogbeat ')).length;
    await client.createTopic(topic, { partitions: PARTITIONS });
    for (let i = 0; i < values.length; i += 200) {
      await client.produce(topic, values.slice(i, i + 200).map((v, j) => ({ value: v.value, partition: (i + j) % PARTITIONS })));
    }
    log(`produced ${documents} values (${faults} hostile) to ${topic}`);
    const lakehouse = path.join(work, 'lakehouse');
    const table = 'winlogbeat_kafka_bronze';
    const runs = await streamWithKills({ bootstrap: '127.0.0.1', port: options.port, topic, lakehouse, table, queryName: 'reliability', maxOffsetsPerTrigger: 2000 }, [2, 3]);
    const stopped = runs.filter((r) => !r.killed && r.code !== 0);
    const stuck = stopped.length;
    // An error that names neither the input (partition / offset / topic) nor a cause is unclear.
    let unclear = stopped.filter((r) => !/partition|offset|topic/i.test(r.stderr)).length;
    log(`${runs.length} runs, ${runs.filter((r) => r.killed).length} killed, ${stuck} stopped on their own`);

    const catalog = new Catalog(lakehouse);
    const rows = await session.rows<{ p: number; o: bigint; q: boolean; why: string | null }>(
      `SELECT _kafka_partition p, _kafka_offset o, false q, NULL why FROM (${await (await readTable(table, { catalog, session })).toSql()}) ` +
        `UNION ALL SELECT _kafka_partition, _kafka_offset, true, _corrupt_reason FROM (${await (await readTable(`${table}_quarantine`, { catalog, session })).toSql()})`,
    );
    const seen = new Map<string, number>();
    for (const r of rows) {
      seen.set(`${r.p}/${r.o}`, (seen.get(`${r.p}/${r.o}`) ?? 0) + 1);
      if (r.q && !(r.why && r.why.length > 3)) unclear++;
    }
    let lost = 0;
    let duplicated = 0;
    values.forEach((_, i) => {
      const n = seen.get(`${i % PARTITIONS}/${Math.floor(i / PARTITIONS)}`) ?? 0;
      if (n === 0) lost++;
      if (n > 1) duplicated += n - 1;
    });
    const silver = await buildSilver(table, { catalog, session });
    const silverRows = silver.tables.reduce((n, t) => n + t.rows, 0);
    log(`lost ${lost}, duplicated ${duplicated}, silver rows ${silverRows}`);

    // 1,000 documents bringing 10,000 field names no batch had before.
    const wide = [...simulateNdjson({ seed: 2, count: 1000, version: 8 })].map((l, i) => {
      const d = JSON.parse(l) as Record<string, unknown>;
      for (let k = 0; k < 10; k++) d[`field_${i}_${k}`] = `v${k}`;
      return JSON.stringify(d);
    });
    const t = performance.now();
    const wideFrame = await ndjsonToFrame(session, { lines: wide, tempDir: work });
    await writeTableBatch(await parseWinlogbeat(addIngestMeta(wideFrame), 'raw'), 'wide_bronze', 'bronze', BRONZE_PARTITIONS, { catalog, session });
    const tenThousandFieldsBatchSeconds = Math.round((performance.now() - t) / 10) / 100;

    const sample = path.join(work, 'storage.ndjson');
    // Distinct documents, as a real fleet sends: a topic cycling through a few would flatter zstd.
    writeFileSync(sample, `${[...simulateNdjson({ seed: 9, count: Math.min(documents, 20_000), version: 8 })].join('\n')}\n`);
    const storage = await rawStorageCost(sample, work);
    return {
      documents,
      faults,
      lost,
      duplicated,
      stuck,
      unclear,
      kills: runs.filter((r) => r.killed).length,
      runs: runs.length,
      silverRows,
      tenThousandFieldsBatchSeconds,
      rawStorageCost: storage,
    };
  } finally {
    session.close();
    await client.close();
    rmSync(work, { recursive: true, force: true });
  }
}
