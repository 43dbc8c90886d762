/**
 * winlake — the notebook API. The verbs keep the reference notebook's names
 * (`read_kafka_topic`, `add_ingest_meta`, `parser_kafka_winlogbeat`, `write_table`, `read_table`,
 * `cim_dataframe`, `optimize_table`, `create_bloom_filter`); each also accepts a streaming frame.
 *
 * @example
 * import { read_kafka_topic, add_ingest_meta, parser_kafka_winlogbeat, write_table } from 'winlake';
 * const [df] = await read_kafka_topic('127.0.0.1', '9094', 'winlogbeat');
 * const bronze = await parser_kafka_winlogbeat(add_ingest_meta(df), 'raw');
 * await write_table(bronze, 'winlogbeat_kafka_bronze', 'bronze', ['_event_date', '_sourcetype']);
 */
import { getSession } from './engine/session.js';
import { Frame, type SchemaField } from './frame/index.js';
import { addIngestMeta, parseWinlogbeat } from './winlogbeat/parse.js';
import { readKafkaTopic, type ReadKafkaOptions } from './source/kafka/read-topic.js';
import { StreamFrame, type StreamingQuery } from './stream/index.js';
import { writeTableBatch, readTable, type BatchWriteOptions, type ReadTableOptions, type TableWriteResult } from './lakehouse/tables.js';
import { writeTableStream, type StreamWriteOptions } from './lakehouse/streaming.js';
import { assertTier } from './lakehouse/catalog.js';
import { cimDataframe, type Transform } from './cim/index.js';
import { optimizeLakehouseTable, createLakehouseBloomFilter, vacuumLakehouseTable, type MaintenanceOptions } from './lakehouse/maintenance.js';
import type { OptimizeMetrics, OptimizeOptions } from './delta/optimize.js';
import type { BloomFilterOptions, BloomFilterResult } from './delta/bloom.js';
import type { VacuumOptions, VacuumResult } from './delta/vacuum.js';

export { Session, getSession, configureSession, closeSession, SqlError, type SessionOptions } from './engine/session.js';
export { quoteIdent, quoteString, sqlLiteral } from './engine/quote.js';
export * from './frame/index.js';
export { StreamFrame, StreamingQuery, type StreamProgress, type StreamStatus, type Trigger } from './stream/index.js';
export { Catalog, canonicalTableName, type Tier, type TableEntry } from './lakehouse/catalog.js';
export { writeTableBatch, readTable, tableHistory, listTables, quarantineName, type TableSummary, type TableWriteResult } from './lakehouse/tables.js';
export { writeTableStream } from './lakehouse/streaming.js';
export { readDelta, loadSnapshot, history, writeDelta, type HistoryEntry, type Snapshot, type WriteOptions, type WriteResult } from './delta/index.js';
export { readKafkaTopic, kafkaReadInfo, type ReadKafkaOptions, type KafkaReadInfo, type DataLoss } from './source/kafka/read-topic.js';
export { KafkaSecurityError, type KafkaSecurityOptions, type KafkaSaslOptions, type KafkaSslOptions } from './source/kafka/security.js';
export { produce } from './source/kafka/produce.js';
export { startBroker, stopBroker, brokerStatus } from './source/kafka/broker.js';
export { localKafka, type LocalKafka } from './source/kafka/local.js';
export { KafkaConnectionError } from './source/kafka/connect-error.js';
export { addIngestMeta, parseWinlogbeat } from './winlogbeat/parse.js';
export { simulateEvents, simulateNdjson, simulateWithTruth, SCENARIOS, type SimulateOptions } from './winlogbeat/simulate.js';
export { readEventFiles, toWinlogbeat7, detectLayout, convertDocs } from './winlogbeat/convert.js';
export * from './cim/index.js';
export * from './display/index.js';

/** Options of the notebook's `read_kafka_topic`; `streaming: true` returns a streaming frame. */
export interface ReadKafkaTopicOptions extends ReadKafkaOptions {
  streaming?: boolean;
  /** Streaming: the most offsets one micro-batch reads (all partitions together). */
  maxOffsetsPerTrigger?: number;
}

/**
 * The reference's `read_kafka_topic`: a batch read of the topic from `startingOffsets` to the end
 * offsets at call time (or `endingOffsets`), returning `[frame, schema]`. With `{ streaming: true }`
 * it returns `[streamFrame, null]`, an unbounded frame for `write_table(..., 'streaming')`.
 *
 * @example
 * const [df, schema] = await read_kafka_topic('127.0.0.1', '9094', 'winlogbeat');
 * const [stream] = await read_kafka_topic('127.0.0.1', '9094', 'winlogbeat', { streaming: true });
 */
export async function read_kafka_topic(
  bootstrapServers: string,
  port: string | number,
  topic: string,
  opts: ReadKafkaTopicOptions & { streaming: true },
): Promise<[StreamFrame, null]>;
export async function read_kafka_topic(
  bootstrapServers: string,
  port: string | number,
  topic: string,
  opts?: ReadKafkaTopicOptions,
): Promise<[Frame, SchemaField[]]>;
export async function read_kafka_topic(
  bootstrapServers: string,
  port: string | number,
  topic: string,
  opts: ReadKafkaTopicOptions = {},
): Promise<[Frame, SchemaField[]] | [StreamFrame, null]> {
  if (opts.streaming) {
    const { readKafkaStream } = await import('./stream/kafka-source.js');
    return [await readKafkaStream(bootstrapServers, port, topic, opts), null];
  }
  return readKafkaTopic(bootstrapServers, port, topic, opts);
}

/**
 * The reference's `add_ingest_meta`: prepends `_ingest_time`, the current timestamp.
 * @example const withMeta = add_ingest_meta(df);
 */
export function add_ingest_meta(df: StreamFrame): StreamFrame;
export function add_ingest_meta(df: Frame): Frame;
export function add_ingest_meta(df: Frame | StreamFrame): Frame | StreamFrame {
  return df instanceof StreamFrame ? df.map(addIngestMeta) : addIngestMeta(df);
}

/**
 * The reference's `parser_kafka_winlogbeat`: stage 'raw' adds `_sourcetype`, `_event_time`,
 * `_event_date`, `dvc_hostname`; any other stage flattens leaves to `a:b:c` columns and parses
 * `message` into lines and `message_fields`.
 * @example const bronze = await parser_kafka_winlogbeat(df, 'raw');
 */
export function parser_kafka_winlogbeat(df: StreamFrame, stage?: string): StreamFrame;
export function parser_kafka_winlogbeat(df: Frame, stage?: string): Promise<Frame>;
export function parser_kafka_winlogbeat(df: Frame | StreamFrame, stage = 'raw'): Promise<Frame> | StreamFrame {
  return df instanceof StreamFrame ? df.map((b) => parseWinlogbeat(b, stage)) : parseWinlogbeat(df, stage);
}

/**
 * The reference's `cim_dataframe`: applies a transform list (`new` EXPR=/LITERAL=, `rename`) and
 * keeps only the named targets, sorted by name. Missing sources are SQL NULL (the original used
 * the string 'null').
 * @example const procs = await cim_dataframe(sysmon, [{ rename: ['winlog:event_id', 'event_id'] }]);
 */
export function cim_dataframe(df: StreamFrame, transforms: readonly Transform[]): StreamFrame;
export function cim_dataframe(df: Frame, transforms: readonly Transform[]): Promise<Frame>;
export function cim_dataframe(df: Frame | StreamFrame, transforms: readonly Transform[]): Promise<Frame> | StreamFrame {
  return df instanceof StreamFrame ? df.map((b) => cimDataframe(b, transforms)) : cimDataframe(df, transforms);
}

/**
 * The reference's `write_table`: appends to a lakehouse table of tier bronze|silver|gold,
 * partitioned, with mergeSchema. `streamType = 'streaming'` takes a streaming frame and returns
 * the running query (exactly-once micro-batches with Delta `txn`).
 *
 * @example
 * await write_table(bronze, 'winlogbeat_kafka_bronze', 'bronze', ['_event_date', '_sourcetype']);
 * const q = write_table(stream, 'winlogbeat_kafka_bronze', 'bronze', ['_event_date', '_sourcetype'], 'streaming');
 */
export function write_table(
  df: StreamFrame,
  tableName: string,
  table: string,
  partitions: string[],
  streamType: 'streaming',
  opts?: StreamWriteOptions,
): StreamingQuery;
export function write_table(
  df: Frame,
  tableName: string,
  table: string,
  partitions?: string[],
  streamType?: 'batch',
  opts?: BatchWriteOptions,
): Promise<TableWriteResult>;
export function write_table(
  df: Frame | StreamFrame,
  tableName: string,
  table: string,
  partitions: string[] = [],
  streamType: 'batch' | 'streaming' = 'batch',
  opts: BatchWriteOptions | StreamWriteOptions = {},
): Promise<TableWriteResult> | StreamingQuery {
  assertTier(table);
  if (streamType === 'streaming') {
    if (!(df instanceof StreamFrame)) {
      throw new Error("write_table: streamType 'streaming' needs a streaming frame (read_kafka_topic(..., { streaming: true }))");
    }
    return writeTableStream(df, tableName, table, partitions, opts as StreamWriteOptions);
  }
  if (streamType !== 'batch') throw new Error(`write_table: streamType must be 'batch' or 'streaming', got ${JSON.stringify(streamType)}`);
  if (df instanceof StreamFrame) {
    throw new Error("write_table: a streaming frame needs streamType 'streaming'");
  }
  return writeTableBatch(df, tableName, table, partitions, opts as BatchWriteOptions);
}

/**
 * The reference's `read_table`, with time travel.
 * @example const procs = await read_table('Process', { version: 2 });
 */
export function read_table(tableName: string, opts: ReadTableOptions = {}): Promise<Frame> {
  return readTable(tableName, opts);
}

/**
 * A Frame over any SQL on the notebook's session (register frames with `createOrReplaceTempView`).
 * @example const top = await sql("SELECT process_name, count(*) n FROM procs GROUP BY 1 ORDER BY n DESC");
 */
export async function sql(query: string): Promise<Frame> {
  return Frame.fromSql(await getSession(), query);
}

export { buildSilver, type BuildSilverOptions, type SilverResult } from './cim/build-silver.js';
export { loadEventFiles, BRONZE_TABLE, BRONZE_PARTITIONS } from './lakehouse/load-files.js';
export { readKafkaStream, KafkaStreamSource, type KafkaStreamOptions } from './stream/kafka-source.js';
export { optimizeTable, type OptimizeMetrics, type OptimizeOptions } from './delta/optimize.js';
export { createBloomFilter, type BloomFilterOptions, type BloomFilterResult } from './delta/bloom.js';
export { vacuum, type VacuumOptions, type VacuumResult } from './delta/vacuum.js';

/**
 * The reference's `optimize_table` (Databricks `OPTIMIZE t ZORDER BY (columns)`): compaction, or
 * Z-order when columns are given. Recorded as an OPTIMIZE commit (remove + add, dataChange=false).
 * @example await optimize_table('Process', ['process_name', 'event_id']);
 */
export function optimize_table(
  tableName: string,
  columns: string[] = [],
  opts: MaintenanceOptions & Omit<OptimizeOptions, 'zOrderBy'> = {},
): Promise<OptimizeMetrics> {
  return optimizeLakehouseTable(tableName, columns, opts);
}

/**
 * The reference's `create_bloom_filter` (Databricks `CREATE BLOOMFILTER INDEX`): `=` and `IN`
 * searches on these columns skip files whose filter excludes the values.
 * @example await create_bloom_filter('Process', ['user_name']);
 */
export function create_bloom_filter(
  tableName: string,
  columns: string[],
  opts: MaintenanceOptions & BloomFilterOptions = {},
): Promise<BloomFilterResult> {
  return createLakehouseBloomFilter(tableName, columns, opts);
}

/**
 * Deletes files that no version within the retention window needs (Delta's VACUUM).
 * @example await vacuum_table('Process', { dryRun: true });
 */
export function vacuum_table(tableName: string, opts: MaintenanceOptions & VacuumOptions = {}): Promise<VacuumResult> {
  return vacuumLakehouseTable(tableName, opts);
}
export * from './detect/index.js';
