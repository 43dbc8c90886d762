/**
 * `read_kafka_topic`: a bounded (batch) read of a Kafka topic into a Frame, like the reference's
 * Spark `spark.read.format("kafka")`, but keeping the Kafka metadata and the corrupt records.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { getSession, type Session } from '../../engine/session.js';
import type { Frame, SchemaField } from '../../frame/index.js';
import { bootstrapAddress, createKafkaClient, type KafkaClient, type KafkaClientKind, type PartitionRange } from './client.js';
import { DEFAULT_MAX_MESSAGE_BYTES, RecordFileWriter, recordFilesToFrame } from './ndjson-frame.js';
import { KafkaSecurityError, resolveKafkaSecurity, type KafkaSecurityOptions } from './security.js';

/** Where to start or stop, per partition: a partition missing from a record uses the default. */
export type OffsetSpec = 'earliest' | 'latest' | Record<number, number>;

/**
 * Options of {@link readKafkaTopic}. Secured clusters: `sasl` / `ssl`, or Spark's `kafka.*` names
 * (`kafka.security.protocol`, `kafka.sasl.mechanism`, `kafka.sasl.jaas.config`, `kafka.ssl.ca.location`, ...).
 */
export interface ReadKafkaOptions extends KafkaSecurityOptions {
  /** Default 'earliest'. A per-partition record (`{0: 120, 2: 40}`) starts other partitions at earliest. */
  startingOffsets?: OffsetSpec;
  /** Default 'latest' (the end offsets at call time); a per-partition record ends others at latest. */
  endingOffsets?: 'latest' | Record<number, number>;
  /**
   * When a requested start offset was already deleted (retention): `true` throws naming the topic,
   * partition and offsets; `false` (the default, as in the reference) reads from the earliest
   * available offset and reports the lost range in {@link kafkaReadInfo}(frame).dataLoss.
   */
  failOnDataLoss?: boolean;
  /** Values longer than this are corrupt records. Default 1,000,000 (winlogbeat's max_message_bytes). */
  maxMessageBytes?: number;
  /** The DuckDB session; default the notebook session. */
  session?: Session;
  /** Which Kafka client library to use (default: the faster one, see client.ts). */
  client?: KafkaClientKind;
}

/** Offsets that were requested but no longer exist in a partition. */
export interface DataLoss {
  topic: string;
  partition: number;
  /** The first requested offset that was lost. */
  requestedOffset: number;
  /** The first offset read instead (the partition's earliest). */
  earliestOffset: number;
  /** How many records were lost: `earliestOffset - requestedOffset`. */
  lostRecords: number;
}

/** What a read did, besides its rows (for progress, streaming offsets and warnings). */
export interface KafkaReadInfo {
  topic: string;
  bootstrapServers: string;
  /** The ranges read, per partition, `[from, to)`. */
  ranges: PartitionRange[];
  /** Records fetched. */
  records: number;
  dataLoss: DataLoss[];
  /** The temporary DuckDB table holding the rows (drop it to free memory early). */
  table: string;
}

const readInfos = new WeakMap<Frame, KafkaReadInfo>();

/**
 * What {@link readKafkaTopic} did for the Frame it returned: ranges, record count, data loss.
 * @example const [df] = await readKafkaTopic('127.0.0.1', '9094', 'winlogbeat'); console.log(kafkaReadInfo(df)?.dataLoss);
 */
export function kafkaReadInfo(frame: Frame): KafkaReadInfo | undefined {
  return readInfos.get(frame);
}

let readCounter = 0;

/**
 * Reads a Kafka topic from `startingOffsets` to the end offsets at call time (or `endingOffsets`)
 * and returns the documents as a Frame with nested structs, plus its schema.
 *
 * `kafka.bootstrap.servers` is `host + ':' + port`, as in the reference. Columns: the winlogbeat
 * document's top-level fields (`@timestamp` TIMESTAMPTZ, `agent`, `winlog` with `event_data` as
 * MAP(VARCHAR, VARCHAR), ...), `_kafka_topic`, `_kafka_partition`, `_kafka_offset`,
 * `_kafka_timestamp`, `_kafka_key`, `_corrupt_record` and `_corrupt_reason`. Values that are not
 * JSON objects (invalid JSON, arrays, strings, empty or null values, oversize) are kept as rows
 * with NULL document columns, the raw value and the reason.
 *
 * @example
 * const [df, schema] = await readKafkaTopic('127.0.0.1', '9094', 'winlogbeat');
 * await df.filter("_corrupt_reason IS NULL").count();
 */
export async function readKafkaTopic(
  bootstrapServers: string,
  port: string | number,
  topic: string,
  opts: ReadKafkaOptions = {},
): Promise<[Frame, SchemaField[]]> {
  const servers = bootstrapAddress('readKafkaTopic', bootstrapServers, port, topic);
  const security = resolveKafkaSecurity('read_kafka_topic', opts);
  const session = opts.session ?? (await getSession());
  const client = createKafkaClient(servers, { ...(opts.client ? { kind: opts.client } : {}), ...(security ? { security } : {}) });
  try {
    let topics: Record<string, number>;
    try {
      topics = await client.topics();
    } catch (err) {
      const message = (err as Error).message;
      // The client's explanation already names the broker and the reason (login, TLS, unreachable).
      if (err instanceof KafkaSecurityError) throw new KafkaSecurityError(`read_kafka_topic: ${message}`, err.kind);
      throw new Error(`read_kafka_topic: ${/^(?:cannot reach|cannot connect|Kafka at|TLS )/.test(message) ? message : `cannot reach Kafka at ${servers}: ${message}`}`, { cause: err });
    }
    if (!(topic in topics)) {
      const known = Object.keys(topics).sort();
      const shown = known.length > 20 ? `${known.slice(0, 20).join(', ')}, … (${known.length} in all)` : known.join(', ') || 'none';
      throw new Error(`read_kafka_topic: Kafka at ${servers} has no topic ${JSON.stringify(topic)} (topics: ${shown})`);
    }
    const { ranges, dataLoss } = await planRanges(client, topic, opts);
    for (const loss of dataLoss) {
      console.warn(
        `read_kafka_topic: ${loss.lostRecords} records of ${topic}[${loss.partition}] were deleted before they could be read (offsets ${loss.requestedOffset}..${loss.earliestOffset - 1}); reading from ${loss.earliestOffset}`,
      );
    }
    const { frame, records, table } = await readRanges(client, session, topic, ranges, opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES);
    readInfos.set(frame, { topic, bootstrapServers: servers, ranges, records, dataLoss, table });
    return [frame, await frame.schema()];
  } finally {
    await client.close();
  }
}

/**
 * Works out `[from, to)` per partition from the options and the topic's current offsets.
 * @example const { ranges } = await planRanges(client, 'winlogbeat', { startingOffsets: { 0: 10 } });
 */
export async function planRanges(
  client: KafkaClient,
  topic: string,
  opts: Pick<ReadKafkaOptions, 'startingOffsets' | 'endingOffsets' | 'failOnDataLoss'>,
): Promise<{ ranges: PartitionRange[]; dataLoss: DataLoss[] }> {
  const [earliest, latest] = await Promise.all([client.startOffsets(topic), client.endOffsets(topic)]);
  const partitions = [...latest.keys()].sort((a, b) => a - b);
  const known = new Set(partitions);
  for (const spec of [opts.startingOffsets, opts.endingOffsets]) {
    if (spec && typeof spec === 'object') {
      for (const [p, o] of Object.entries(spec)) {
        if (!known.has(Number(p))) throw new Error(`Kafka topic ${topic} has no partition ${p} (it has ${partitions.join(', ')})`);
        if (!Number.isInteger(o) || o < 0) throw new Error(`offset for ${topic}[${p}] must be a non-negative integer, got ${String(o)}`);
      }
    }
  }
  const ranges: PartitionRange[] = [];
  const dataLoss: DataLoss[] = [];
  for (const partition of partitions) {
    const low = earliest.get(partition) ?? 0;
    const high = latest.get(partition) ?? 0;
    const start = opts.startingOffsets ?? 'earliest';
    const end = opts.endingOffsets ?? 'latest';
    let from = start === 'earliest' ? low : start === 'latest' ? high : (start[partition] ?? low);
    let to = end === 'latest' ? high : (end[partition] ?? high);
    if (to > high) {
      throw new Error(`endingOffsets for ${topic}[${partition}] is ${to}, but the partition ends at ${high}`);
    }
    if (from < low) {
      if (opts.failOnDataLoss) {
        throw new Error(
          `data loss in Kafka topic ${topic} partition ${partition}: offsets ${from}..${low - 1} were deleted (earliest available is ${low}); pass failOnDataLoss: false to read from ${low}`,
        );
      }
      if (from < to) dataLoss.push({ topic, partition, requestedOffset: from, earliestOffset: low, lostRecords: Math.min(low, to) - from });
      from = low;
    }
    if (from > to) {
      if (typeof start === 'object' && start[partition] !== undefined && from > high) {
        throw new Error(`startingOffsets for ${topic}[${partition}] is ${from}, beyond the partition's end ${high}`);
      }
      to = from;
    }
    ranges.push({ partition, from, to });
  }
  return { ranges, dataLoss };
}

/**
 * Fetches the ranges into temporary record files and parses them into a materialised Frame.
 * Shared by {@link readKafkaTopic} and the streaming source.
 *
 * @example const { frame } = await readRanges(client, session, 'winlogbeat', [{ partition: 0, from: 0, to: 100 }]);
 */
export async function readRanges(
  client: KafkaClient,
  session: Session,
  topic: string,
  ranges: readonly PartitionRange[],
  maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES,
): Promise<{ frame: Frame; records: number; table: string }> {
  const dir = session.scratch('winlake-kafka-');
  const writer = new RecordFileWriter(path.join(dir, 'records.tsv'));
  try {
    await client.fetchRanges(topic, ranges, (records) => writer.add(records));
    writer.close();
    const table = `winlake_kafka_${process.pid}_${++readCounter}`;
    const frame = await recordFilesToFrame(session, [writer.file], { topic, maxMessageBytes, maxLineBytes: writer.maxLineBytes, tableName: table });
    return { frame, records: writer.count, table };
  } finally {
    writer.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
