import type { Session } from '../engine/session.js';
import type { Expr, Frame } from '../frame/index.js';
import type { StreamSource } from './source.js';

/** A per-batch transformation of a streaming frame. */
export type BatchStep = (batch: Frame) => Frame | Promise<Frame>;

/**
 * An unbounded Frame: a stream source plus the transformations applied to each micro-batch.
 * The notebook functions (`add_ingest_meta`, `parser_kafka_winlogbeat`, `cim_dataframe`) accept it
 * as they accept a Frame; `write_table(..., 'streaming')` runs it.
 *
 * @example
 * const stream = await readKafkaStream('127.0.0.1', 9094, 'winlogbeat');
 * const bronze = stream.map((b) => parser_kafka_winlogbeat(add_ingest_meta(b), 'raw'));
 */
export class StreamFrame {
  constructor(
    readonly session: Session,
    readonly source: StreamSource,
    private readonly steps: readonly BatchStep[] = [],
  ) {}

  /** Adds a step applied to every micro-batch. */
  map(step: BatchStep): StreamFrame {
    return new StreamFrame(this.session, this.source, [...this.steps, step]);
  }

  filter(predicate: string | Expr): StreamFrame {
    return this.map((b) => b.filter(predicate));
  }

  select(...columns: (string | Expr)[]): StreamFrame {
    return this.map((b) => b.select(...columns));
  }

  withColumn(name: string, value: string | Expr): StreamFrame {
    return this.map((b) => b.withColumn(name, value));
  }

  drop(...columns: string[]): StreamFrame {
    return this.map((b) => b.drop(...columns));
  }

  /** Applies the steps to one batch of source rows. */
  async transform(batch: Frame): Promise<Frame> {
    let out = batch;
    for (const step of this.steps) out = await step(out);
    return out;
  }

  get isStreaming(): true {
    return true;
  }
}
