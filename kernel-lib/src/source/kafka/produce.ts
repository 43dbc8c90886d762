/** Sending documents to a Kafka topic in batches, at a target rate, with acknowledged counts. */
import { createKafkaClient, type KafkaClientKind, type OutgoingMessage } from './client.js';
import { resolveKafkaSecurity, type KafkaSecurityOptions } from './security.js';

/** Options of {@link produce}; secured clusters take `sasl` / `ssl` or the `kafka.*` names. */
export interface ProduceOptions extends KafkaSecurityOptions {
  /** Bootstrap servers, `host:port[,host:port]`. */
  brokers: string;
  topic: string;
  /** Target documents per second overall; default: as fast as the broker acknowledges. */
  rate?: number;
  /** Stop after this many documents (default: when the input ends). */
  count?: number;
  /** Documents per produce request. Default 500. */
  batchSize?: number;
  /** 1 (leader, winlogbeat's `required_acks: 1`, the default) or -1 (all in-sync replicas). */
  acks?: 1 | -1;
  /** Called after every acknowledged batch. */
  onProgress?: (p: { acknowledged: number; elapsedSeconds: number }) => void;
  client?: KafkaClientKind;
}

/** What {@link produce} did. */
export interface ProduceResult {
  /** Documents the broker acknowledged. */
  acknowledged: number;
  batches: number;
  elapsedSeconds: number;
  /** Achieved documents per second. */
  rate: number;
}

type Doc = string | Buffer | Record<string, unknown> | object;

function toValue(doc: Doc): string | Buffer {
  if (typeof doc === 'string' || Buffer.isBuffer(doc)) return doc;
  return JSON.stringify(doc);
}

/**
 * Sends documents (strings are sent as they are, objects as JSON) to `topic` and resolves with the
 * number acknowledged. With `rate`, batches are spaced so the average stays at the target.
 *
 * @example
 * const { acknowledged } = await produce(simulateNdjson({ count: 10_000 }), { brokers: '127.0.0.1:9094', topic: 'winlogbeat', rate: 2000 });
 */
export async function produce(docs: AsyncIterable<Doc> | Iterable<Doc>, options: ProduceOptions): Promise<ProduceResult> {
  const batchSize = options.batchSize ?? 500;
  if (!Number.isInteger(batchSize) || batchSize <= 0) throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  if (options.rate !== undefined && !(options.rate > 0)) throw new Error(`rate must be positive, got ${options.rate}`);
  if (options.count !== undefined && (!Number.isInteger(options.count) || options.count < 0)) {
    throw new Error(`count must be a non-negative integer, got ${options.count}`);
  }
  const security = resolveKafkaSecurity('produce', options);
  const client = createKafkaClient(options.brokers, { ...(options.client ? { kind: options.client } : {}), ...(security ? { security } : {}), clientId: 'winlake-producer' });
  const started = performance.now();
  const elapsed = (): number => (performance.now() - started) / 1000;
  let acknowledged = 0;
  let batches = 0;
  let batch: OutgoingMessage[] = [];
  // With a rate, small batches keep the flow smooth: about ten per second at most.
  const size = options.rate ? Math.max(1, Math.min(batchSize, Math.ceil(options.rate / 10))) : batchSize;
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    if (options.rate) {
      // Wait until the documents sent so far plus this batch are due at the target rate.
      const due = ((acknowledged + batch.length) / options.rate) * 1000;
      const wait = due - (performance.now() - started);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    await client.produce(options.topic, batch, { acks: options.acks ?? 1 });
    acknowledged += batch.length;
    batches++;
    batch = [];
    options.onProgress?.({ acknowledged, elapsedSeconds: elapsed() });
  };
  try {
    const limit = options.count ?? Infinity;
    if (limit > 0) {
      let taken = 0;
      for await (const doc of docs as AsyncIterable<Doc>) {
        batch.push({ value: toValue(doc) });
        taken++;
        if (batch.length >= size) await flush();
        if (taken >= limit) break;
      }
      await flush();
    }
  } finally {
    await client.close();
  }
  const seconds = elapsed();
  return { acknowledged, batches, elapsedSeconds: seconds, rate: seconds > 0 ? acknowledged / seconds : 0 };
}
