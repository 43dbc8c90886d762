/**
 * One small Kafka client interface with two implementations (kafkajs, @platformatic/kafka), so the
 * rest of winlake never depends on a client library's API. Offsets are JavaScript numbers (exact up
 * to 2^53, far beyond any real partition), ranges are half-open `[from, to)`.
 */
import { explainKafkaError, resolveKafkaSecurity, type KafkaSecurity, type KafkaSecurityOptions } from './security.js';

/** A message to produce. A string value is sent as its UTF-8 bytes. */
export interface OutgoingMessage {
  key?: string | Buffer | null;
  value: string | Buffer | null;
  /** A fixed partition; otherwise the client's partitioner chooses. */
  partition?: number;
}

/** A record read from a partition: raw bytes, never decoded by the client. */
export interface FetchedRecord {
  partition: number;
  offset: number;
  /** The record timestamp in epoch milliseconds (producer create time by default). */
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
}

/** A range of one partition to read: offsets `from` (inclusive) to `to` (exclusive). */
export interface PartitionRange {
  partition: number;
  from: number;
  to: number;
}

/** Options for {@link KafkaClient.fetchRanges}. */
export interface FetchOptions {
  /** Upper bound on one fetch response (bytes). Default 8 MiB (@platformatic/kafka), 16 MiB (kafkajs). */
  maxBytes?: number;
  /** Upper bound per partition in one response (bytes). Default 2 MiB (@platformatic/kafka), 4 MiB (kafkajs). */
  maxBytesPerPartition?: number;
}

/** Which implementation to use. */
export type KafkaClientKind = 'kafkajs' | 'platformatic';

/**
 * The Kafka operations winlake needs.
 *
 * @example
 * const client = createKafkaClient('127.0.0.1:9092');
 * const end = await client.endOffsets('winlogbeat');
 * await client.fetchRanges('winlogbeat', [{ partition: 0, from: 0, to: end.get(0) ?? 0 }], (records) => { ... });
 * await client.close();
 */
export interface KafkaClient {
  readonly kind: KafkaClientKind;
  /** Sends messages and resolves once the broker acknowledged them (acks 1 by default, -1 = all replicas). */
  produce(topic: string, messages: readonly OutgoingMessage[], options?: { acks?: 0 | 1 | -1 }): Promise<void>;
  /** The first available offset of every partition (after retention deleted older ones). */
  startOffsets(topic: string): Promise<Map<number, number>>;
  /** The next offset to be written (high watermark) of every partition. */
  endOffsets(topic: string): Promise<Map<number, number>>;
  /**
   * Reads every record in the ranges, calling `onBatch` with records in offset order per partition.
   * Resolves when each range reached its end. Records outside the ranges are never passed on.
   */
  fetchRanges(
    topic: string,
    ranges: readonly PartitionRange[],
    onBatch: (records: FetchedRecord[]) => void | Promise<void>,
    options?: FetchOptions,
  ): Promise<void>;
  /** Creates the topic; returns false when it already existed. */
  createTopic(topic: string, options?: { partitions?: number; replicationFactor?: number }): Promise<boolean>;
  /** Topic names with partition counts (internal topics excluded). */
  topics(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

/**
 * Options for {@link createKafkaClient}. Security: the typed form (`sasl`, `ssl`) or Spark's
 * `kafka.*` names (see security.ts); `security` is an already resolved one.
 */
export interface KafkaClientOptions extends KafkaSecurityOptions {
  security?: KafkaSecurity;
  /** The implementation; default `platformatic` (measured faster, see test/bench/ingest-clients.ts). */
  kind?: KafkaClientKind;
  clientId?: string;
  /** Request timeout. Default 30 s. */
  timeoutMs?: number;
}

/** The implementation used when none is named: the faster one in test/bench/ingest-clients.ts. */
export const DEFAULT_CLIENT_KIND: KafkaClientKind = 'platformatic';

/**
 * Splits a bootstrap list ("h1:9092,h2:9092" or an array) into `host:port` strings.
 * @example parseBrokers('127.0.0.1:9094') // ['127.0.0.1:9094']
 */
export function parseBrokers(brokers: string | readonly string[]): string[] {
  const list = (typeof brokers === 'string' ? brokers.split(',') : [...brokers]).map((b) => b.trim()).filter(Boolean);
  if (list.length === 0) throw new Error('no Kafka bootstrap servers given');
  for (const b of list) {
    if (!/^[^:\s]+:\d{1,5}$/.test(b) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(b)) {
      throw new Error(`a Kafka bootstrap server must be host:port, got ${JSON.stringify(b)}`);
    }
  }
  return list;
}

/**
 * Creates a Kafka client of the given kind. Security options are checked now (a wrong or unknown
 * one throws); connection failures are explained (SASL login, TLS, unreachable host:port).
 * @example
 * const client = createKafkaClient('127.0.0.1:9092', { kind: 'kafkajs' });
 * const secured = createKafkaClient('kafka.example.com:9093', { sasl: { mechanism: 'SCRAM-SHA-512', username: 'svc' }, ssl: { ca: '/etc/kafka/ca.pem' } });
 */
export function createKafkaClient(brokers: string | readonly string[], options: KafkaClientOptions = {}): KafkaClient {
  const list = parseBrokers(brokers);
  const kind = options.kind ?? DEFAULT_CLIENT_KIND;
  const clientId = options.clientId ?? 'winlake';
  const timeoutMs = options.timeoutMs ?? 30_000;
  const { security: resolved, kind: _kind, clientId: _clientId, timeoutMs: _timeoutMs, ...rest } = options;
  const security = resolved ?? resolveKafkaSecurity('createKafkaClient', rest);
  // Both implementations are loaded lazily so that a notebook loads only the client it uses.
  return new LazyClient(kind, { servers: list, ...(security ? { security } : {}) }, async () => {
    if (kind === 'kafkajs') return new (await import('./client-kafkajs.js')).KafkajsClient(list, clientId, timeoutMs, security);
    if (kind === 'platformatic') return new (await import('./client-platformatic.js')).PlatformaticClient(list, clientId, timeoutMs, security);
    throw new Error(`unknown Kafka client ${JSON.stringify(kind)}: use 'kafkajs' or 'platformatic'`);
  });
}

/** Defers loading the implementation until the first call, and explains its connection failures. */
class LazyClient implements KafkaClient {
  private impl: Promise<KafkaClient> | undefined;
  constructor(
    readonly kind: KafkaClientKind,
    private readonly context: { servers: readonly string[]; security?: KafkaSecurity },
    private readonly load: () => Promise<KafkaClient>,
  ) {}
  private get client(): Promise<KafkaClient> {
    this.impl ??= this.load();
    return this.impl;
  }
  private async call<T>(op: (client: KafkaClient) => Promise<T>, ownErrors?: WeakSet<object>): Promise<T> {
    try {
      return await op(await this.client);
    } catch (err) {
      // Errors of the caller's own callback are the caller's: passed on untouched.
      if (ownErrors && typeof err === 'object' && err !== null && ownErrors.has(err)) throw err;
      throw explainKafkaError(err, this.context);
    }
  }
  produce(topic: string, messages: readonly OutgoingMessage[], options?: { acks?: 0 | 1 | -1 }): Promise<void> {
    return this.call((c) => c.produce(topic, messages, options));
  }
  startOffsets(topic: string): Promise<Map<number, number>> {
    return this.call((c) => c.startOffsets(topic));
  }
  endOffsets(topic: string): Promise<Map<number, number>> {
    return this.call((c) => c.endOffsets(topic));
  }
  fetchRanges(
    topic: string,
    ranges: readonly PartitionRange[],
    onBatch: (records: FetchedRecord[]) => void | Promise<void>,
    options?: FetchOptions,
  ): Promise<void> {
    const own = new WeakSet<object>();
    const guarded = async (records: FetchedRecord[]): Promise<void> => {
      try {
        await onBatch(records);
      } catch (err) {
        if (typeof err === 'object' && err !== null) own.add(err);
        throw err;
      }
    };
    return this.call((c) => c.fetchRanges(topic, ranges, guarded, options), own);
  }
  createTopic(topic: string, options?: { partitions?: number; replicationFactor?: number }): Promise<boolean> {
    return this.call((c) => c.createTopic(topic, options));
  }
  topics(): Promise<Record<string, number>> {
    return this.call((c) => c.topics());
  }
  async close(): Promise<void> {
    const pending = this.impl;
    this.impl = undefined;
    if (!pending) return;
    // A client whose library failed to load has nothing to close; the load error was already thrown.
    const client = await pending.catch(() => undefined);
    await client?.close();
  }
}

/**
 * The bytes of a message key or value.
 * @example toBuffer('ws01').toString('hex') // => '77733031'
 */
export function toBuffer(v: string | Buffer): Buffer {
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
}

/**
 * The reference's `kafka.bootstrap.servers = host + ':' + port`, checked: `caller` names the
 * function in errors, and an empty topic or a port that is not a number is refused.
 * @example bootstrapAddress('readKafkaTopic', '127.0.0.1', '9094', 'winlogbeat') // => '127.0.0.1:9094'
 */
export function bootstrapAddress(caller: string, host: string, port: string | number, topic: string): string {
  if (!topic) throw new Error(`${caller}: the topic name is empty`);
  const portText = String(port).trim();
  if (!/^\d{1,5}$/.test(portText)) throw new Error(`${caller}: port must be a number, got ${JSON.stringify(port)}`);
  return `${host}:${portText}`;
}
