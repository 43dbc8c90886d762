import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';
import { inspectRich, queryStatusHtml, queryStatusText } from '../display/index.js';
import type { Frame } from '../frame/index.js';
import { StreamCheckpoint, type PlannedBatch } from './checkpoint.js';
import { offsetsAdvance, type Offsets } from './source.js';
import type { StreamFrame } from './stream-frame.js';

/** When micro-batches run: as fast as data comes (`processingTime: 0`), on an interval, or once over what is available now. */
export type Trigger = { processingTime: number } | { availableNow: true };

/** What the sink reports of a batch it wrote (e.g. the Delta version). */
export type SinkInfo = Record<string, unknown>;

/**
 * Writes one micro-batch exactly once: `(queryId, batchId)` identifies the batch, and a sink that
 * is asked twice for the same pair must write it once (Delta: a `txn` action in the same commit).
 */
export type BatchSink = (batch: Frame, batchId: number, queryId: string) => Promise<SinkInfo>;

/** One micro-batch's progress, like Spark's `StreamingQueryProgress`. */
export interface StreamProgress {
  id: string;
  runId: string;
  name: string | null;
  batchId: number;
  timestamp: string;
  numInputRows: number;
  inputRowsPerSecond: number;
  processedRowsPerSecond: number;
  /** `read`: until the batch's rows were in DuckDB (a prefetched batch's fetch is not in it). */
  durationMs: { read: number; write: number; total: number };
  startOffsets: Offsets;
  endOffsets: Offsets;
  latestOffsets: Offsets;
  /** How far the query is behind the source after this batch, per partition. */
  lag: Record<string, number>;
  sink: SinkInfo;
  /** True when this batch redid a range planned by an earlier run that had not finished it. */
  recovered: boolean;
}

export interface StreamingQueryOptions {
  /** The checkpoint folder (offsets and commits of this query). */
  checkpointLocation: string;
  queryName?: string;
  /** Default `{ processingTime: 0 }`: continuous micro-batches. */
  trigger?: Trigger;
  /** How long to wait when no data is available. Default 250 ms. */
  pollIntervalMs?: number;
  /** Called after each batch (e.g. to display progress). */
  onProgress?: (progress: StreamProgress) => void;
}

/** The query's state, like Spark's `StreamingQueryStatus`. */
export interface StreamStatus {
  message: string;
  isDataAvailable: boolean;
  isTriggerActive: boolean;
}

/**
 * A running streaming query: micro-batches from a source, through the stream's steps, into a sink,
 * with offsets checkpointed so that a restart resumes where the last commit ended — and redoes,
 * exactly, a batch that was planned but not finished.
 *
 * @example
 * const q = StreamingQuery.start(stream, sink, { checkpointLocation: 'lakehouse/_checkpoints/bronze/q' });
 * await q.processAllAvailable();
 * console.log(q.lastProgress);
 * await q.stop();
 */
export class StreamingQuery {
  readonly id: string;
  readonly runId = randomUUID();
  readonly name: string | null;
  readonly recentProgress: StreamProgress[] = [];
  private state: StreamStatus = { message: 'Initializing', isDataAvailable: false, isTriggerActive: false };
  private stopping = false;
  private wake: AbortController = new AbortController();
  private position: Offsets | undefined;
  private failure: unknown;
  /** Releases the one-thread hold of a run of batches (see {@link holdThreads}). */
  private threadHold: (() => Promise<void>) | undefined;
  private readonly done: Promise<void>;
  private readonly checkpoint: StreamCheckpoint;

  private constructor(
    private readonly stream: StreamFrame,
    private readonly sink: BatchSink,
    private readonly options: StreamingQueryOptions,
  ) {
    this.checkpoint = StreamCheckpoint.open(options.checkpointLocation, options.queryName);
    this.id = this.checkpoint.queryId;
    this.name = options.queryName ?? null;
    this.done = this.run().catch((err: unknown) => {
      this.failure = err;
      this.state = { message: `Terminated with error: ${(err as Error).message}`, isDataAvailable: false, isTriggerActive: false };
    });
  }

  /** Starts the query; it runs in the background until stopped (or, for availableNow, until caught up). */
  static start(stream: StreamFrame, sink: BatchSink, options: StreamingQueryOptions): StreamingQuery {
    return new StreamingQuery(stream, sink, options);
  }

  /** A cell's last expression or `console.log(query)`: its status and recent batches, as HTML in a notebook. */
  [inspect.custom](depth: number, options: { depth?: number | null }): string {
    return inspectRich(() => queryStatusHtml(this), () => queryStatusText(this), depth === options.depth);
  }

  get status(): StreamStatus {
    return { ...this.state };
  }

  get lastProgress(): StreamProgress | undefined {
    return this.recentProgress.at(-1);
  }

  /** The error that stopped the query, if any. */
  get exception(): unknown {
    return this.failure;
  }

  get isActive(): boolean {
    return !this.state.message.startsWith('Terminated') && !this.state.message.startsWith('Stopped');
  }

  /** Stops after the batch in flight, if any, is committed. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake.abort();
    await this.done;
    await this.stream.source.close();
  }

  /**
   * Waits until the query ends (stop, availableNow caught up, or error; an error is thrown).
   * With a timeout, resolves false if it is still running then.
   */
  async awaitTermination(timeoutMs?: number): Promise<boolean> {
    const finished = this.done.then(() => true);
    // The timer is cancelled once the query ends, so it does not keep the process alive.
    const timer = new AbortController();
    const timeout = timeoutMs === undefined ? undefined : sleep(timeoutMs, false, { signal: timer.signal }).catch(() => false);
    const result = timeout === undefined ? await finished : await Promise.race([finished, timeout]);
    timer.abort();
    if (this.failure) throw this.failure;
    return result;
  }

  /** Waits until everything available in the source at call time has been committed. */
  async processAllAvailable(): Promise<void> {
    const target = await this.stream.source.latestOffsets();
    for (;;) {
      if (this.failure) throw this.failure;
      if (this.position && !offsetsAdvance(this.position, target)) return;
      if (!this.isActive) throw new Error('the query stopped before it processed all available data');
      this.wake.abort();
      await Promise.race([this.done, sleep(50)]);
    }
  }

  private async run(): Promise<void> {
    const { source } = this.stream;
    try {
      await this.loop();
    } finally {
      // Stopped, caught up or failed: a prefetched next batch will not be read.
      await source.dropPrefetch?.();
      await this.releaseThreads();
    }
  }

  /**
   * While batches follow each other (not while the query waits for data), a source that prefetches
   * parses batch N+1 on a connection of its own beside the write of N: two queries at once, each
   * on one engine thread, keep two cores busy without idle engine threads spinning, and without the
   * allocator flush that switching `threads` for every small write costs. Measured at 1M events on
   * 2 cores, with the next batch's records fetched a batch earlier (see KafkaStreamSource.prefetch):
   * 36.4-38.2k events/s against 32.7-32.9k at 50k per batch. Other queries of the session run on one
   * thread meanwhile; waiting for data, the query lets the thread count back.
   */
  private async holdThreads(): Promise<void> {
    if (this.threadHold || !this.stream.source.prefetch) return;
    this.threadHold = await this.stream.session.holdOneThread();
  }

  private async releaseThreads(): Promise<void> {
    const release = this.threadHold;
    this.threadHold = undefined;
    await release?.();
  }

  private async loop(): Promise<void> {
    const { source } = this.stream;
    const trigger = this.options.trigger ?? { processingTime: 0 };
    const poll = this.options.pollIntervalMs ?? 250;
    const planned = this.checkpoint.lastPlanned();
    let nextBatchId = 0;
    if (planned) {
      if (planned.batchId > this.checkpoint.lastCommitted()) await this.runBatch(planned, true);
      this.position = planned.end;
      nextBatchId = planned.batchId + 1;
    } else {
      this.position = await source.initialOffsets();
    }
    const stopAt = 'availableNow' in trigger ? await source.latestOffsets() : undefined;
    while (!this.stopping) {
      const latest = await source.latestOffsets();
      const bound = stopAt ? minOffsets(latest, stopAt) : latest;
      if (!offsetsAdvance(this.position, bound)) {
        if (stopAt) break;
        this.state = { message: 'Waiting for data to arrive', isDataAvailable: false, isTriggerActive: false };
        await this.releaseThreads();
        await this.idle(poll);
        continue;
      }
      const started = Date.now();
      const batch: PlannedBatch = {
        batchId: nextBatchId,
        start: this.position,
        end: source.planBatch(this.position, bound),
        plannedAt: started,
      };
      this.checkpoint.plan(batch);
      await this.holdThreads();
      // The batch after this one as it would be planned now, for the source to prefetch.
      const nextEnd = source.planBatch(batch.end, bound);
      const next = { start: batch.end, end: nextEnd, thenEnd: source.planBatch(nextEnd, bound) };
      await this.runBatch(batch, false, latest, next);
      this.position = batch.end;
      nextBatchId++;
      if ('processingTime' in trigger && trigger.processingTime > 0) {
        await this.idle(Math.max(0, trigger.processingTime - (Date.now() - started)));
      }
    }
    this.state = { message: 'Stopped', isDataAvailable: false, isTriggerActive: false };
  }

  /**
   * Reads, transforms and writes one planned batch, then commits it in the checkpoint. With `next`,
   * the source may fetch that range while this batch is transformed and written (fetching is the
   * client's work, writing DuckDB's, so the two overlap as far as free cores allow). It stays a hint (see
   * {@link StreamSource.prefetch}): the next batch is planned afresh, and a source reads a
   * prefetched range only for a batch planned with exactly that range.
   */
  private async runBatch(batch: PlannedBatch, recovered: boolean, latest?: Offsets, next?: { start: Offsets; end: Offsets; thenEnd: Offsets }): Promise<void> {
    const { source } = this.stream;
    this.state = { message: `Processing batch ${batch.batchId}`, isDataAvailable: true, isTriggerActive: true };
    const t0 = Date.now();
    const data = await source.readBatch(this.stream.session, batch.start, batch.end);
    if (next && !this.stopping && offsetsAdvance(next.start, next.end)) source.prefetch?.(this.stream.session, next.start, next.end, next.thenEnd);
    const t1 = Date.now();
    let sinkInfo: SinkInfo;
    try {
      const out = await this.stream.transform(data.frame);
      sinkInfo = await this.sink(out, batch.batchId, this.id);
    } finally {
      await data.release();
    }
    const t2 = Date.now();
    this.checkpoint.commit(batch.batchId, { sink: sinkInfo, committedAt: t2 });
    const latestNow = latest ?? (await source.latestOffsets());
    const seconds = Math.max((t2 - t0) / 1000, 1e-3);
    const progress: StreamProgress = {
      id: this.id,
      runId: this.runId,
      name: this.name,
      batchId: batch.batchId,
      timestamp: new Date(t0).toISOString(),
      numInputRows: data.numRows,
      inputRowsPerSecond: data.numRows / seconds,
      processedRowsPerSecond: data.numRows / seconds,
      durationMs: { read: t1 - t0, write: t2 - t1, total: t2 - t0 },
      startOffsets: batch.start,
      endOffsets: batch.end,
      latestOffsets: latestNow,
      lag: source.lag(batch.end, latestNow),
      sink: sinkInfo,
      recovered,
    };
    this.recentProgress.push(progress);
    if (this.recentProgress.length > 100) this.recentProgress.shift();
    this.options.onProgress?.(progress);
  }

  private async idle(ms: number): Promise<void> {
    if (ms <= 0 || this.stopping) return;
    this.wake = new AbortController();
    try {
      await sleep(ms, undefined, { signal: this.wake.signal });
    } catch {
      // woken early by stop() or processAllAvailable()
    }
  }
}

function minOffsets(a: Offsets, b: Offsets): Offsets {
  const out: Offsets = {};
  for (const k of Object.keys(a)) out[k] = Math.min(a[k] ?? 0, b[k] ?? a[k] ?? 0);
  return out;
}
