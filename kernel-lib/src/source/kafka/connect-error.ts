/**
 * Turns a client library's "cannot reach the broker" failure (kafkajs retries, @platformatic/kafka's
 * nested AggregateErrors: screens of text that never name the address) into one line naming
 * host:port and what to check.
 */

/** Socket error codes that mean the address is wrong or nothing listens there. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET']);

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/** The first socket-level failure inside `err` (its causes and aggregated errors), if any. */
function networkCause(err: unknown, depth = 0): ErrorLike | undefined {
  if (depth > 8 || typeof err !== 'object' || err === null) return undefined;
  const e = err as ErrorLike;
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return e;
  if (e.name === 'KafkaJSConnectionError') return e;
  const inner = [e.cause, ...(Array.isArray(e.errors) ? e.errors : [])];
  for (const x of inner) {
    const found = networkCause(x, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** A broker that cannot be reached: the one-line message is the whole story. */
export class KafkaConnectionError extends Error {
  override name = 'KafkaConnectionError';
  constructor(
    readonly brokers: readonly string[],
    readonly reason: string,
  ) {
    super(
      `cannot connect to Kafka at ${brokers.join(',')} (${reason}): is the broker running (npm run kafka:status) ` +
        'and is that its address? The local broker listens on WINLAKE_KAFKA_PORT (default 9092) and WINLAKE_KAFKA_OUTSIDE_PORT (default 9094).',
    );
    // The message says it all; a stack of library frames would bury it in a notebook's output.
    this.stack = `${this.name}: ${this.message}`;
  }
}

/**
 * `err` as a {@link KafkaConnectionError} when a connection failure caused it, else `err` itself.
 * @example throw asConnectionError(err, ['127.0.0.1:9094'])
 */
export function asConnectionError(err: unknown, brokers: readonly string[]): unknown {
  if (err instanceof KafkaConnectionError) return err;
  const cause = networkCause(err);
  if (!cause) return err;
  const code = typeof cause.code === 'string' ? cause.code : undefined;
  return new KafkaConnectionError(brokers, code ?? String(cause.message ?? 'connection error'));
}
