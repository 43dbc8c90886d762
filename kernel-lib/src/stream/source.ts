import type { Session } from '../engine/session.js';
import type { Frame } from '../frame/index.js';

/**
 * A position in a stream, JSON-serialisable: for Kafka, the next offset per partition
 * (`{"0": 120, "1": 98}`); for a Delta table, `{"version": 7}`.
 */
export type Offsets = Record<string, number>;

/**
 * Where a streaming query reads from. A source reads any planned range again with the same rows,
 * which is what lets a restarted query redo an unfinished batch exactly.
 */
export interface StreamSource {
  /** A short description for progress and errors, e.g. `kafka winlogbeat@127.0.0.1:9092`. */
  readonly description: string;
  /** Where a query that has no checkpoint starts. */
  initialOffsets(): Promise<Offsets>;
  /** The end (exclusive) of what is available now. */
  latestOffsets(): Promise<Offsets>;
  /** The end of the next batch from `start`, at most `latest`, within the source's batch limits. */
  planBatch(start: Offsets, latest: Offsets): Offsets;
  /** The rows in [start, end), materialised so the batch is read from the source once. */
  readBatch(session: Session, start: Offsets, end: Offsets): Promise<BatchData>;
  /**
   * Optional: a hint that `readBatch(session, start, end)` is likely next, given by the query while
   * it transforms and writes the current batch, so that a slow source can fetch ahead. Only a
   * hint: the query plans (and checkpoints) the next batch afresh, and `readBatch` must return the
   * rows of the range it is given, whatever was prefetched. `thenEnd` is the end of the batch
   * expected after that one (from `end`), which the source may start fetching too. Must not throw or
   * reject later.
   */
  prefetch?(session: Session, start: Offsets, end: Offsets, thenEnd?: Offsets): void;
  /** Optional: frees what `prefetch` fetched and not yet used (the query calls it when it ends). */
  dropPrefetch?(): Promise<void>;
  /** How far `position` is behind `latest`, per partition (or `version`). */
  lag(position: Offsets, latest: Offsets): Record<string, number>;
  /** Releases connections. */
  close(): Promise<void>;
}

/**
 * True when `end` is ahead of `start` somewhere, i.e. the range holds data.
 * @example offsetsAdvance({ '0': 10, '1': 5 }, { '0': 10, '1': 8 }) // => true
 */
export function offsetsAdvance(start: Offsets, end: Offsets): boolean {
  return Object.keys(end).some((k) => (end[k] ?? 0) > (start[k] ?? 0));
}

/**
 * Per-key difference `latest - position`, never negative.
 * @example offsetLag({ '0': 10, '1': 5 }, { '0': 12, '1': 5 }) // => { '0': 2, '1': 0 }
 */
export function offsetLag(position: Offsets, latest: Offsets): Record<string, number> {
  const lag: Record<string, number> = {};
  for (const k of Object.keys(latest)) lag[k] = Math.max(0, (latest[k] ?? 0) - (position[k] ?? 0));
  return lag;
}

/** One micro-batch's rows, and how to free them once the batch is written. */
export interface BatchData {
  frame: Frame;
  numRows: number;
  /** Bytes read from the source, when known. */
  numBytes?: number;
  release(): Promise<void>;
}
