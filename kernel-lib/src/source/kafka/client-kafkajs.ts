/** The {@link KafkaClient} over kafkajs 2.2.4 (pure JavaScript, consumer groups only). */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Admin, type Producer, type SASLOptions } from 'kafkajs';
import type { KafkaSecurity } from './security.js';
import { toBuffer, type FetchOptions, type FetchedRecord, type KafkaClient, type OutgoingMessage, type PartitionRange } from './client.js';

/**
 * kafkajs has no partition assignment without a group, so a bounded read joins a fresh group that
 * never commits, seeks each wanted partition to its start and stops once every range is complete.
 */
/** How long a bounded read may see no batch at all before it fails (group join included). */
const STALL_MS = 60_000;

export class KafkajsClient implements KafkaClient {
  readonly kind = 'kafkajs' as const;
  private readonly kafka: Kafka;
  private admin: Promise<Admin> | undefined;
  private producer: Promise<Producer> | undefined;

  constructor(brokers: string[], clientId: string, timeoutMs: number, security?: KafkaSecurity) {
    this.kafka = new Kafka({
      clientId,
      brokers,
      ...(security?.tls ? { ssl: { ...security.tls } } : {}),
      ...(security?.sasl ? { sasl: kafkajsSasl(security.sasl) } : {}),
      // kafkajs logs expected conditions (topic exists, coordinator loading) as errors; real
      // failures reach the caller as rejected promises instead.
      logLevel: logLevel.NOTHING,
      requestTimeout: timeoutMs,
      connectionTimeout: Math.min(timeoutMs, 10_000),
      retry: { retries: 5 },
    });
  }

  private getAdmin(): Promise<Admin> {
    this.admin ??= (async () => {
      const admin = this.kafka.admin();
      await admin.connect();
      return admin;
    })();
    return this.admin;
  }

  private getProducer(): Promise<Producer> {
    this.producer ??= (async () => {
      const producer = this.kafka.producer({ allowAutoTopicCreation: true });
      await producer.connect();
      return producer;
    })();
    return this.producer;
  }

  async produce(topic: string, messages: readonly OutgoingMessage[], options: { acks?: 0 | 1 | -1 } = {}): Promise<void> {
    if (messages.length === 0) return;
    const producer = await this.getProducer();
    await producer.send({
      topic,
      acks: options.acks ?? 1,
      messages: messages.map((m) => ({
        key: m.key == null ? null : toBuffer(m.key),
        value: m.value === null ? null : toBuffer(m.value),
        ...(m.partition === undefined ? {} : { partition: m.partition }),
      })),
    });
  }

  private async offsets(topic: string, which: 'low' | 'high'): Promise<Map<number, number>> {
    const admin = await this.getAdmin();
    const rows = await admin.fetchTopicOffsets(topic);
    return new Map(rows.map((r) => [r.partition, Number(r[which])]));
  }

  startOffsets(topic: string): Promise<Map<number, number>> {
    return this.offsets(topic, 'low');
  }

  endOffsets(topic: string): Promise<Map<number, number>> {
    return this.offsets(topic, 'high');
  }

  async fetchRanges(
    topic: string,
    ranges: readonly PartitionRange[],
    onBatch: (records: FetchedRecord[]) => void | Promise<void>,
    options: FetchOptions = {},
  ): Promise<void> {
    const wanted = new Map<number, PartitionRange>();
    for (const r of ranges) if (r.to > r.from) wanted.set(r.partition, r);
    if (wanted.size === 0) return;
    const consumer = this.kafka.consumer({
      groupId: `winlake-batch-${randomUUID()}`,
      maxBytes: options.maxBytes ?? 16 * 1024 * 1024,
      maxBytesPerPartition: options.maxBytesPerPartition ?? 4 * 1024 * 1024,
      maxWaitTimeInMs: 100,
      retry: { retries: 5 },
    });
    const remaining = new Set(wanted.keys());
    let finish!: () => void;
    let fail!: (err: unknown) => void;
    const done = new Promise<void>((resolve, reject) => {
      finish = resolve;
      fail = reject;
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        // Offsets are resolved (so fetching moves on) but never committed: the group is throw-away.
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          const range = wanted.get(batch.partition);
          if (!range || !remaining.has(batch.partition)) return;
          const records: FetchedRecord[] = [];
          let last = -1;
          for (const m of batch.messages) {
            const offset = Number(m.offset);
            last = offset;
            if (offset < range.from || offset >= range.to) continue;
            records.push({ partition: batch.partition, offset, timestamp: Number(m.timestamp), key: m.key ?? null, value: m.value ?? null });
          }
          try {
            if (records.length > 0) await onBatch(records);
          } catch (err) {
            fail(err);
            return;
          }
          if (last + 1 >= range.to) {
            remaining.delete(batch.partition);
            consumer.pause([{ topic, partitions: [batch.partition] }]);
            if (remaining.size === 0) finish();
          }
        },
      });
      for (const [partition, range] of wanted) consumer.seek({ topic, partition, offset: String(range.from) });
      consumer.on(consumer.events.CRASH, (e) => fail(e.payload.error));
      // Fetches that bring nothing for a while although ranges are open: fail instead of waiting forever.
      let lastProgress = Date.now();
      consumer.on(consumer.events.END_BATCH_PROCESS, () => {
        lastProgress = Date.now();
      });
      const watchdog = setInterval(() => {
        if (Date.now() - lastProgress > STALL_MS) {
          fail(new Error(`reading ${topic} stalled: nothing arrived for ${STALL_MS / 1000}s for partitions ${[...remaining].join(', ')}`));
        }
      }, 1000);
      try {
        await done;
      } finally {
        clearInterval(watchdog);
      }
    } finally {
      await consumer.disconnect();
    }
  }

  async createTopic(topic: string, options: { partitions?: number; replicationFactor?: number } = {}): Promise<boolean> {
    const admin = await this.getAdmin();
    return admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions: options.partitions ?? 3, replicationFactor: options.replicationFactor ?? 1 }],
    });
  }

  async topics(): Promise<Record<string, number>> {
    const admin = await this.getAdmin();
    const meta = await admin.fetchTopicMetadata();
    const out: Record<string, number> = {};
    for (const t of meta.topics) if (!t.name.startsWith('__')) out[t.name] = t.partitions.length;
    return out;
  }

  async close(): Promise<void> {
    const pending = [this.admin, this.producer];
    this.admin = undefined;
    this.producer = undefined;
    for (const p of pending) {
      if (!p) continue;
      try {
        await (await p).disconnect();
      } catch {
        // a client that never connected has nothing to release
      }
    }
  }
}

/** kafkajs names the mechanisms in lower case, each with its own option type. */
function kafkajsSasl(sasl: NonNullable<KafkaSecurity['sasl']>): SASLOptions {
  const { username, password } = sasl;
  if (sasl.mechanism === 'PLAIN') return { mechanism: 'plain', username, password };
  if (sasl.mechanism === 'SCRAM-SHA-256') return { mechanism: 'scram-sha-256', username, password };
  return { mechanism: 'scram-sha-512', username, password };
}
