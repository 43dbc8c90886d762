/** The local broker's address, from the settings the broker itself starts with (WINLAKE_KAFKA_*). */
import { brokerOptions } from './broker.js';

/** Where the local broker listens. */
export interface LocalKafka {
  host: string;
  /** PLAINTEXT ("inside") listener port: WINLAKE_KAFKA_PORT, default 9092. */
  port: number;
  /** OUTSIDE listener port, the one winlogbeat used in the reference: WINLAKE_KAFKA_OUTSIDE_PORT, default 9094. */
  outsidePort: number;
  /** `host:port` of the PLAINTEXT listener. */
  bootstrap: string;
  /** `host:outsidePort`, what producers such as winlogbeat are given. */
  outsideBootstrap: string;
}

/**
 * The local broker's listeners, read from the same environment as `startBroker`, so notebooks,
 * tests and the CLI reach the broker wherever it was started.
 * @example const { host, outsidePort } = localKafka(); await read_kafka_topic(host, String(outsidePort), 'winlogbeat');
 */
export function localKafka(): LocalKafka {
  const o = brokerOptions();
  const host = '127.0.0.1';
  return { host, port: o.port, outsidePort: o.outsidePort, bootstrap: `${host}:${o.port}`, outsideBootstrap: `${host}:${o.outsidePort}` };
}
