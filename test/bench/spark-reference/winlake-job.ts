/**
 * The reference pipeline on winlake, in its own process for the `reference` benchmark (the Spark
 * side is reference.py): Kafka topic → readKafkaStream → add_ingest_meta → parser 'raw' →
 * writeTableStream (availableNow) into bronze partitioned by _event_date, _sourcetype → buildSilver
 * (the Process pack) → optimize_table ZORDER BY (process_name, event_id). The schema is declared
 * (the bronze envelope), so there is no inference stage.
 *
 * Argument: one JSON object {host, port, topic, lakehouse}. Stdout: JSON lines, `{"event":"stage",
 * "stage", "phase": "start"|"end"}` around each stage (the harness samples the process tree at each),
 * then `{"event":"done", bronzeRows, silverRows}`.
 */
import path from 'node:path';
import { buildSilver } from '../../../kernel-lib/src/cim/build-silver.js';
import { loadPack } from '../../../kernel-lib/src/cim/pack.js';
import { Session } from '../../../kernel-lib/src/engine/session.js';
import { Catalog } from '../../../kernel-lib/src/lakehouse/catalog.js';
import { optimizeLakehouseTable } from '../../../kernel-lib/src/lakehouse/maintenance.js';
import { writeTableStream } from '../../../kernel-lib/src/lakehouse/streaming.js';
import { readTable } from '../../../kernel-lib/src/lakehouse/tables.js';
import { readKafkaStream } from '../../../kernel-lib/src/stream/kafka-source.js';
import { addIngestMeta, parseWinlogbeat } from '../../../kernel-lib/src/winlogbeat/parse.js';

interface JobArgs {
  host: string;
  port: number;
  topic: string;
  lakehouse: string;
}

const args = JSON.parse(process.argv[2] ?? '{}') as JobArgs;
const say = (o: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`);
};
async function stage<T>(name: string, work: () => Promise<T>): Promise<T> {
  say({ event: 'stage', stage: name, phase: 'start' });
  const t = performance.now();
  const result = await work();
  say({ event: 'stage', stage: name, phase: 'end', seconds: (performance.now() - t) / 1000 });
  return result;
}

const BRONZE = 'winlogbeat_kafka_bronze';
const catalog = new Catalog(args.lakehouse);
const pack = loadPack('Process');
const session = await stage('startup', () =>
  Session.create({ workDir: path.join(args.lakehouse, '.duckdb'), threads: 2, allowedDirectories: [args.lakehouse] }),
);
await stage('bronze', async () => {
  const stream = await readKafkaStream(args.host, args.port, args.topic, { session });
  const bronze = stream.map((batch) => parseWinlogbeat(addIngestMeta(batch), 'raw'));
  const query = writeTableStream(bronze, BRONZE, 'bronze', ['_event_date', '_sourcetype'], {
    catalog,
    queryName: 'reference_bronze',
    trigger: { availableNow: true },
  });
  await query.awaitTermination();
  await query.stop();
});
await stage('silver', () => buildSilver(BRONZE, { catalog, session, packs: [pack], queryName: 'reference_process' }));
await stage('optimize', () => optimizeLakehouseTable(pack.table, pack.zorder, { catalog, session }));
const bronzeRows = await (await readTable(BRONZE, { catalog, session })).count();
const silverRows = await (await readTable(pack.table, { catalog, session })).count();
session.close();
say({ event: 'done', bronzeRows, silverRows });
