/**
 * A Kafka topic as a streaming source: micro-batches of exact offset ranges, read with the batch
 * reader's pieces (client range fetch → record file → DuckDB), so that a planned range read twice
 * gives the same rows — what lets a restarted query redo an unfinished batch exactly.
 *
 * Offsets are the next offset to read per partition, keyed by the partition number as a string
 * (`{"0": 120, "1": 98, "2": 101}`), as in Spark's Kafka source checkpoints.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { quoteIdent } from '../engine/quote.js';
import { getSession, type Session } from '../engine/session.js';
import { Frame } from '../frame/index.js';
import { offsetsAdvance, type BatchData, type Offsets, type StreamSource } from './source.js';
import { StreamFrame } from './stream-frame.js';
import { bootstrapAddress, createKafkaClient, type KafkaClient, type KafkaClientKind, type PartitionRange } from '../source/kafka/client.js';
import { DEFAULT_MAX_MESSAGE_BYTES, parsedTableFrame, RecordFileWriter, recordFilesToFrame } from '../source/kafka/ndjson-frame.js';
import type { DataLoss } from '../source/kafka/read-topic.js';
import { KafkaSecurityError, resolveKafkaSecurity, type KafkaSecurity, type KafkaSecurityOptions } from '../source/kafka/security.js';

/** Where a query without a checkpoint starts: per partition, an offset, or -2 (earliest) / -1 (latest). */
export type StartingOffsets = 'earliest' | 'latest' | Record<number | string, number>;

/** How transient Kafka errors (broker down, leader moving, timeouts) are retried. */
export interface RetryOptions {
  /** Give up when an operation has failed for this long. Default 120,000 ms. */
  timeoutMs?: number;
  /** First wait after a failure; doubled after each. Default 250 ms. */
  initialDelayMs?: number;
  /** Longest wait between attempts. Default 5,000 ms. */
  maxDelayMs?: number;
}

/**
 * Options of {@link KafkaStreamSource} and {@link readKafkaStream}. Secured clusters: `sasl` / `ssl`
 * or Spark's `kafka.*` names, as for `readKafkaTopic`; `security` is an already resolved one.
 */
export interface KafkaStreamOptions extends KafkaSecurityOptions {
  security?: KafkaSecurity;
  /** Default 'earliest'. Partitions missing from a record start at earliest. */
  startingOffsets?: StartingOffsets;
  /** Upper bound on records per micro-batch, split fairly across partitions. Default 30,000. */
  maxOffsetsPerTrigger?: number;
  /**
   * When offsets to read were deleted (retention) or no longer exist (topic recreated): `true`
   * throws; `false` (the default, as in the reference) skips them and records a {@link DataLoss}
   * in `source.dataLoss` (and warns).
   */
  failOnDataLoss?: boolean;
  /** Values longer than this are corrupt records. Default 1,000,000 (winlogbeat's max_message_bytes). */
  maxMessageBytes?: number;
  /** Which Kafka client library to use (default: the faster one, see client.ts). */
  client?: KafkaClientKind;
  /** Retrying transient errors; `false` fails on the first error. */
  retry?: RetryOptions | false;
  /** Where warnings go (data loss, retries). Default `console.warn`. */
  onWarning?: (message: string) => void;
  /** The DuckDB session of {@link readKafkaStream}; default the notebook session. */
  session?: Session;
}

/**
 * The default batch limit: about 40 MB of 1.5 KB winlogbeat documents. Two batches are in memory
 * at once (one written, the next parsed), so the limit bounds the ingest's memory. Measured at 1M
 * 2 KB documents on 2 cores, one run after another: 39.4-40.7k events/s and a peak RSS of
 * 0.84-0.86 GB at 25k per batch, 39.3-39.8k and 0.89 GB at 30k. Before the rescue moved out of the
 * parse (see ndjson-frame.ts), with two jemalloc arenas: 35.1-35.3k and 0.91-0.93 GB at 30k,
 * 34.2-35.8k and 1.02-1.10 GB at 35k, 36.4-38.2k and 1.25-1.32 GB at 50k.
 */
export const DEFAULT_MAX_OFFSETS_PER_TRIGGER = 25_000;

/** Thrown when `failOnDataLoss` is true and offsets to read are gone; never retried. */
export class KafkaDataLossError extends Error {
  constructor(
    message: string,
    readonly loss: DataLoss,
  ) {
    super(message);
    this.name = 'KafkaDataLossError';
  }
}

/** An error that retrying cannot fix (bad input, data loss). */
class PermanentError extends Error {}

/** What one fetch of a range into a record file found. */
interface FetchedFile {
  records: number;
  bytes: number;
  maxLineBytes: number;
  /** Planned offsets that were gone; reported (or thrown) only when the file is used for a batch. */
  losses: { loss: DataLoss; what: string }[];
}

/** A record file being fetched ahead of its batch (see {@link KafkaStreamSource.prefetch}). */
interface AheadFetch {
  start: Offsets;
  end: Offsets;
  file: string;
  /** Settles when the fetch ended: what it fetched, or undefined when it failed. Never rejects. */
  done: Promise<FetchedFile | undefined>;
}

/** A record file fetched ahead of its batch by {@link KafkaStreamSource.prefetch}, and parsed. */
interface Prefetch extends AheadFetch {
  /** Its records were fetched two batches ahead. */
  ahead: boolean;
  /**
   * Settles when the fetched file has been parsed, on the source's own connection, into this
   * engine table; undefined when the fetch or the parse failed (the batch read parses the file
   * itself then). Never rejects.
   */
  parsed: Promise<string | undefined>;
}

/** How prefetched batches fared (see {@link KafkaStreamSource.prefetch}). */
export interface PrefetchCounts {
  /** Prefetched files a batch read used. */
  used: number;
  /** Prefetched files thrown away: the batch planned another range, or the query stopped. */
  discarded: number;
  /** Prefetches that failed (the batch read fetched again, with retries). */
  failed: number;
  /** Used prefetches that were parsed ahead too (beside the previous batch's write). */
  parsed: number;
  /** Used prefetches whose records were fetched two batches ahead (see {@link KafkaStreamSource.prefetch}). */
  ahead: number;
}

/** The prefix of a source's folder for record files; the pid lets a later run sweep a killed run's folder. */
const RUN_DIR_PREFIX = 'winlake-kstream-';

let batchCounter = 0;

/**
 * A {@link StreamSource} over one Kafka topic.
 *
 * Prefetching: while the query transforms and writes batch N, {@link prefetch} fetches the range
 * it expects to plan next into a record file, with a client of its own, and parses it; once that
 * fetch ends it fetches (without parsing) the range after it too, so that the parse of N+2 can start
 * as soon as N+1's write does. {@link readBatch} uses a file only when its range equals the requested
 * one exactly, and otherwise discards it and fetches, so prefetching never changes what a batch
 * holds; a plan is always made (and checkpointed) by the query first. At most two prefetched files
 * exist, on disk, in a folder of this process (`<workDir>/winlake-kstream-<pid>-*`) that close()
 * removes; a restarted process never reads another's folder, it only deletes those whose process
 * is gone.
 *
 * @example
 * const source = new KafkaStreamSource('127.0.0.1:9092', 'winlogbeat', { maxOffsetsPerTrigger: 10_000 });
 * const start = await source.initialOffsets();
 * const end = source.planBatch(start, await source.latestOffsets());
 * const batch = await source.readBatch(session, start, end);
 * await batch.frame.count(); await batch.release(); await source.close();
 */
export class KafkaStreamSource implements StreamSource {
  readonly description: string;
  /** Ranges skipped because their records were gone (with `failOnDataLoss: false`). */
  readonly dataLoss: DataLoss[] = [];
  /** Transient errors retried so far (messages), newest last; at most 100 kept. */
  readonly retried: string[] = [];
  /** How prefetched batches fared so far. */
  readonly prefetches: PrefetchCounts = { used: 0, discarded: 0, failed: 0, parsed: 0, ahead: 0 };
  private client: KafkaClient | undefined;
  /** The prefetch's own client: a failed prefetch must not disturb the batch reads' client. */
  private prefetchClient: KafkaClient | undefined;
  private prefetched: Prefetch | undefined;
  /** The range after the prefetched one, fetched but not parsed (see {@link prefetch}). */
  private fetchedAhead: AheadFetch | undefined;
  /** Settles when the last fetch started on the prefetch client has ended: they run one at a time. */
  private lastAheadFetch: Promise<unknown> = Promise.resolve();
  /** Counts hints and drops: a fetch ahead starts only if no newer hint or drop came since its own. */
  private hints = 0;
  /** The connection prefetched files are parsed on, beside the query's own (see {@link prefetch}). */
  private parser: Promise<Session> | undefined;
  /** This process's folder for record files (created at the first batch, removed by close). */
  private runDir: string | undefined;
  private readonly maxOffsets: number;
  private readonly retry: Required<RetryOptions> | false;
  private readonly warn: (message: string) => void;
  private readonly security: KafkaSecurity | undefined;

  constructor(
    readonly bootstrapServers: string,
    readonly topic: string,
    private readonly options: KafkaStreamOptions = {},
  ) {
    if (!topic) throw new Error('KafkaStreamSource: the topic name is empty');
    const max = options.maxOffsetsPerTrigger ?? DEFAULT_MAX_OFFSETS_PER_TRIGGER;
    if (!Number.isInteger(max) || max <= 0) throw new Error(`maxOffsetsPerTrigger must be a positive integer, got ${String(max)}`);
    this.maxOffsets = max;
    this.retry = options.retry === false ? false : { timeoutMs: 120_000, initialDelayMs: 250, maxDelayMs: 5000, ...options.retry };
    this.warn = options.onWarning ?? ((m) => console.warn(m));
    this.description = `kafka ${topic}@${bootstrapServers}`;
    this.security = options.security ?? resolveKafkaSecurity('KafkaStreamSource', options);
    // Validate the bootstrap list now, not at the first batch.
    this.client = this.newClient();
  }

  async initialOffsets(): Promise<Offsets> {
    const spec = this.options.startingOffsets ?? 'earliest';
    if (spec !== 'earliest' && spec !== 'latest' && (typeof spec !== 'object' || spec === null)) {
      throw new Error(`startingOffsets must be 'earliest', 'latest' or {partition: offset}, got ${JSON.stringify(spec)}`);
    }
    return this.withRetry('reading the start offsets', async (client) => {
      const [earliest, latest] = await Promise.all([client.startOffsets(this.topic), client.endOffsets(this.topic)]);
      if (spec === 'latest') return toOffsets(latest);
      if (spec === 'earliest') return toOffsets(earliest);
      const out = toOffsets(earliest);
      for (const [key, offset] of Object.entries(spec)) {
        const partition = Number(key);
        if (!latest.has(partition)) {
          throw new PermanentError(`startingOffsets names partition ${key}, but Kafka topic ${this.topic} has partitions ${[...latest.keys()].join(', ')}`);
        }
        if (!Number.isInteger(offset) || offset < -2) throw new PermanentError(`startingOffsets for ${this.topic}[${key}] must be an offset, -2 (earliest) or -1 (latest), got ${String(offset)}`);
        out[String(partition)] = offset === -2 ? (earliest.get(partition) ?? 0) : offset === -1 ? (latest.get(partition) ?? 0) : offset;
      }
      return out;
    });
  }

  async latestOffsets(): Promise<Offsets> {
    return this.withRetry('reading the end offsets', async (client) => toOffsets(await client.endOffsets(this.topic)));
  }

  /**
   * At most `maxOffsetsPerTrigger` records in all, shared max-min fairly: every partition with
   * records gets an equal share, and what a short partition leaves goes to the others. A partition
   * absent from `start` (added to the topic since) starts at its beginning.
   */
  planBatch(start: Offsets, latest: Offsets): Offsets {
    const end: Offsets = { ...start };
    const pending = Object.keys(latest)
      .map((k) => ({ k, from: start[k] ?? 0, available: Math.max(0, (latest[k] ?? 0) - (start[k] ?? 0)) }))
      .sort((a, b) => a.available - b.available || Number(a.k) - Number(b.k));
    let budget = this.maxOffsets;
    const taken = new Map<string, number>();
    pending.forEach((p, i) => {
      const take = Math.min(p.available, Math.floor(budget / (pending.length - i)));
      taken.set(p.k, take);
      budget -= take;
    });
    // Rounding leaves less than one record per partition: hand it out in partition order.
    for (const p of [...pending].sort((a, b) => Number(a.k) - Number(b.k))) {
      if (budget <= 0) break;
      const t = taken.get(p.k) ?? 0;
      if (t < p.available) {
        taken.set(p.k, t + 1);
        budget--;
      }
    }
    for (const p of pending) end[p.k] = p.from + (taken.get(p.k) ?? 0);
    return end;
  }

  /**
   * Reads exactly the records in `[start, end)` of every partition into a materialised DuckDB table
   * (dropped by `release`), parsed as in `readKafkaTopic`: document columns, `_kafka_*` metadata,
   * `_corrupt_record` / `_corrupt_reason`. Uses the prefetched record file when it holds exactly this
   * range (waiting for it if it is still being fetched); otherwise fetches, retrying transient errors.
   */
  async readBatch(session: Session, start: Offsets, end: Offsets): Promise<BatchData> {
    const prefetched = await this.takePrefetched(start, end);
    const table = prefetched?.table ?? nextTableName();
    const file = prefetched?.file ?? path.join(this.recordDir(session), `batch-${batchCounter}.tsv`);
    let fetched: FetchedFile;
    let frame: Frame;
    try {
      fetched = prefetched?.fetched ?? (await this.fetchToFile(file, start, end));
      if (prefetched) for (const { loss, what } of fetched.losses) this.lose(loss, what);
      frame = prefetched?.table ? parsedTableFrame(session, table) : await this.parseFile(session, file, fetched, table);
    } catch (err) {
      if (prefetched?.table) await session.run(`DROP TABLE IF EXISTS ${quoteIdent(table)}`).catch(() => undefined);
      throw err;
    } finally {
      rmSync(file, { force: true });
    }
    let released = false;
    return {
      frame,
      numRows: fetched.records,
      numBytes: fetched.bytes,
      release: async () => {
        if (released) return;
        released = true;
        await session.run(`DROP TABLE IF EXISTS ${quoteIdent(table)}`);
      },
    };
  }

  /** Parses a record file into the engine table `table`, on `session` or on another connection. */
  private parseFile(session: Session, file: string, fetched: FetchedFile, table: string, parseOn?: Session): Promise<Frame> {
    return recordFilesToFrame(session, [file], {
      topic: this.topic,
      maxMessageBytes: this.options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      maxLineBytes: fetched.maxLineBytes,
      tableName: table,
      ...(parseOn ? { parseOn } : {}),
    });
  }

  /**
   * Starts fetching `[start, end)` into a record file in the background, and parsing it, for a
   * {@link readBatch} of exactly that range to use: a hint that the query gives for the batch it
   * expects to plan next, while it processes the current one. The parse runs on a connection of
   * the source's own ({@link Session.sibling}), so that it uses the core the current batch's write
   * leaves idle (DuckDB encodes the Parquet files of a batch this size on one thread).
   * With `thenEnd`, the end of the batch expected after that one, its range `[end, thenEnd)` is
   * fetched too once this fetch has ended (not parsed: the parse of a batch waits for the write
   * before it), so that the next hint finds its records on disk and only has to parse them.
   * A previous prefetch of another range is discarded.
   * A failed prefetch is only counted (`prefetches.failed`, `retried`): the batch read fetches again;
   * a failed parse too, and the batch read parses the fetched file itself.
   *
   * @example
   * const next = source.planBatch(end, latest);
   * source.prefetch(session, end, next, source.planBatch(next, latest)); // ... write the current batch ...
   * const batch = await source.readBatch(session, end, next); // uses the prefetched file
   */
  prefetch(session: Session, start: Offsets, end: Offsets, thenEnd?: Offsets): void {
    const previous = this.prefetched;
    if (!offsetsAdvance(start, end) || (previous && sameOffsets(previous.start, start) && sameOffsets(previous.end, end))) return;
    const hint = ++this.hints;
    // Waiting for a discarded prefetch bounds the work in flight; its file is deleted once its fetch ended.
    const discarded = previous ? this.discard(previous) : Promise.resolve();
    const { ahead, discarded: discardedAhead } = this.claimFetchedAhead(start, end);
    const fetch = ahead ?? this.fetchAhead(session, start, end, Promise.all([discarded, discardedAhead]));
    const table = nextTableName();
    const parsed = fetch.done.then(async (fetched) => {
      if (!fetched) return undefined;
      let parser: Session | undefined;
      try {
        parser = await (this.parser ??= session.sibling());
        await this.parseFile(session, fetch.file, fetched, table, parser);
        return table;
      } catch (err) {
        this.noteRetry(`parsing the prefetched ${this.topic} ${rangeText(start, end)}`, err);
        await parser?.run(`DROP TABLE IF EXISTS ${quoteIdent(table)}`).catch(() => undefined);
        return undefined;
      }
    });
    this.prefetched = { ...fetch, parsed, ahead: ahead !== undefined };
    if (thenEnd && offsetsAdvance(end, thenEnd)) {
      void fetch.done.then((fetched) => {
        if (fetched && hint === this.hints && !this.fetchedAhead) this.fetchedAhead = this.fetchAhead(session, end, thenEnd);
      });
    }
  }

  /** Discards the prefetched files, if any, after their fetches have ended (the query calls this when it ends). */
  async dropPrefetch(): Promise<void> {
    const p = this.prefetched;
    const ahead = this.fetchedAhead;
    this.hints++;
    this.prefetched = undefined;
    this.fetchedAhead = undefined;
    await Promise.all([p && this.discard(p), ahead && this.discardFetch(ahead)]);
  }

  /**
   * Fetches `[start, end)` into a new record file on the prefetch client, after `after` and after
   * the fetch started before it (one at a time). A failure is counted and noted, never thrown.
   */
  private fetchAhead(session: Session, start: Offsets, end: Offsets, after: Promise<unknown> = Promise.resolve()): AheadFetch {
    const file = path.join(this.recordDir(session), `prefetch-${++batchCounter}.tsv`);
    const done = Promise.all([after, this.lastAheadFetch])
      .then(() => this.fetchAttempt((this.prefetchClient ??= this.newClient()), file, start, end, (losses) => {
        // A strict source fails the batch read, with retries and the usual error; no need to fetch.
        if (this.options.failOnDataLoss && losses.length > 0) throw new PermanentError(losses[0]!.what);
      }))
      .catch(async (err: unknown) => {
        this.prefetches.failed++;
        this.noteRetry(`prefetching ${this.topic} ${rangeText(start, end)}`, err);
        rmSync(file, { force: true });
        const broken = this.prefetchClient;
        this.prefetchClient = undefined;
        await broken?.close().catch(() => undefined);
        return undefined;
      });
    this.lastAheadFetch = done;
    return { start, end, file, done };
  }

  /**
   * The range fetched ahead when it is exactly `[start, end)`; any other is discarded (`discarded`
   * settles when its file is gone).
   */
  private claimFetchedAhead(start: Offsets, end: Offsets): { ahead?: AheadFetch; discarded: Promise<void> } {
    const ahead = this.fetchedAhead;
    this.fetchedAhead = undefined;
    if (!ahead) return { discarded: Promise.resolve() };
    if (sameOffsets(ahead.start, start) && sameOffsets(ahead.end, end)) return { ahead, discarded: Promise.resolve() };
    return { discarded: this.discardFetch(ahead) };
  }

  /**
   * The prefetched file (and its parsed table, when the parse ahead succeeded) when it holds
   * exactly `[start, end)`, or the file fetched ahead for that range; any other prefetch is discarded.
   */
  private async takePrefetched(start: Offsets, end: Offsets): Promise<{ file: string; fetched: FetchedFile; table?: string } | undefined> {
    const p = this.prefetched;
    this.prefetched = undefined;
    if (p && sameOffsets(p.start, start) && sameOffsets(p.end, end)) {
      const [fetched, table] = await Promise.all([p.done, p.parsed]);
      if (!fetched) return undefined;
      this.prefetches.used++;
      if (table) this.prefetches.parsed++;
      if (p.ahead) this.prefetches.ahead++;
      return { file: p.file, fetched, ...(table ? { table } : {}) };
    }
    if (p) await this.discard(p);
    const { ahead, discarded } = this.claimFetchedAhead(start, end);
    await discarded;
    const fetched = await ahead?.done;
    if (!ahead || !fetched) return undefined;
    this.prefetches.used++;
    this.prefetches.ahead++;
    return { file: ahead.file, fetched };
  }

  private async discard(p: Prefetch): Promise<void> {
    const table = await p.parsed;
    if (table) await (await this.parser)?.run(`DROP TABLE IF EXISTS ${quoteIdent(table)}`).catch(() => undefined);
    await this.discardFetch(p);
  }

  /** Deletes a fetched-ahead file once its fetch has ended (so that it is complete, or gone, when deleted). */
  private async discardFetch(f: AheadFetch): Promise<void> {
    if ((await f.done) !== undefined) this.prefetches.discarded++;
    rmSync(f.file, { force: true });
  }

  /** The folder for this source's record files; the first call sweeps folders of dead processes. */
  private recordDir(session: Session): string {
    if (this.runDir) return this.runDir;
    const base = path.dirname(session.scratchDir); // inside the sandbox
    sweepDeadRunDirs(base);
    this.runDir = mkdtempSync(path.join(base, `${RUN_DIR_PREFIX}${process.pid}-`));
    return this.runDir;
  }

  /** Fetches the range into a record file; only this part, the talking to Kafka, is retried. */
  private fetchToFile(file: string, start: Offsets, end: Offsets): Promise<FetchedFile> {
    return this.withRetry(`reading ${this.topic} ${rangeText(start, end)}`, (client) =>
      this.fetchAttempt(client, file, start, end, (losses) => {
        for (const { loss, what } of losses) this.lose(loss, what);
      }),
    );
  }

  /**
   * One attempt at fetching the range into `file` (truncating what an earlier attempt left).
   * `onLosses` sees the planned offsets that are gone before anything is fetched, and may throw.
   */
  private async fetchAttempt(
    client: KafkaClient,
    file: string,
    start: Offsets,
    end: Offsets,
    onLosses: (losses: FetchedFile['losses']) => void,
  ): Promise<FetchedFile> {
    const { ranges, losses } = await this.resolveRanges(client, start, end);
    onLosses(losses);
    const writer = new RecordFileWriter(file);
    const planned = ranges.reduce((n, r) => n + r.to - r.from, 0);
    let bytes = 0;
    try {
      await client.fetchRanges(this.topic, ranges, (records) => {
        // A client that hands out records twice would fill the disk and break exactly-once: stop it.
        if (writer.count + records.length > planned) {
          throw new PermanentError(`the Kafka client returned more records than the ${planned} requested from ${this.topic} ${rangeText(start, end)}`);
        }
        for (const r of records) bytes += (r.value?.length ?? 0) + (r.key?.length ?? 0);
        writer.add(records);
      });
    } finally {
      writer.close();
    }
    return { records: writer.count, bytes, maxLineBytes: writer.maxLineBytes, losses };
  }

  lag(position: Offsets, latest: Offsets): Record<string, number> {
    const lag: Record<string, number> = {};
    for (const k of Object.keys(latest)) lag[k] = Math.max(0, (latest[k] ?? 0) - (position[k] ?? 0));
    return lag;
  }

  /** Discards any prefetched file, removes this process's record folder and closes the clients. */
  async close(): Promise<void> {
    await this.dropPrefetch();
    const parser = this.parser;
    this.parser = undefined;
    (await parser?.catch(() => undefined))?.close();
    if (this.runDir) rmSync(this.runDir, { recursive: true, force: true });
    this.runDir = undefined;
    const clients = [this.client, this.prefetchClient];
    this.client = undefined;
    this.prefetchClient = undefined;
    await Promise.all(clients.map((c) => c?.close()));
  }

  /** The fetchable part of the planned range, after checking it against what the partitions hold. */
  private async resolveRanges(client: KafkaClient, start: Offsets, end: Offsets): Promise<{ ranges: PartitionRange[]; losses: FetchedFile['losses'] }> {
    const [low, high] = await Promise.all([client.startOffsets(this.topic), client.endOffsets(this.topic)]);
    const ranges: PartitionRange[] = [];
    const losses: FetchedFile['losses'] = [];
    for (const key of Object.keys(end)) {
      const partition = Number(key);
      const to = end[key] ?? 0;
      const planned = start[key];
      // A partition the query had not seen yet starts at its first available record: nothing lost.
      const first = low.get(partition) ?? 0;
      let from = planned ?? first;
      if (to <= from) continue;
      const last = high.get(partition);
      if (last === undefined || last < to) {
        losses.push({
          loss: { topic: this.topic, partition, requestedOffset: Math.max(from, last ?? 0), earliestOffset: to, lostRecords: to - Math.max(from, last ?? 0) },
          what: `offsets up to ${to} were planned but ${this.topic}[${partition}] now ends at ${last ?? 'nothing (partition gone)'} (topic deleted or recreated?)`,
        });
        if (last === undefined) continue;
      }
      if (from < first) {
        losses.push({
          loss: { topic: this.topic, partition, requestedOffset: from, earliestOffset: first, lostRecords: Math.min(first, to) - from },
          what: `offsets ${from}..${Math.min(first, to) - 1} of ${this.topic}[${partition}] were deleted (retention) before they could be read; the earliest available is ${first}`,
        });
        from = first;
      }
      const stop = Math.min(to, last ?? to);
      if (stop > from) ranges.push({ partition, from, to: stop });
    }
    return { ranges, losses };
  }

  private lose(loss: DataLoss, what: string): void {
    if (this.options.failOnDataLoss) {
      throw new KafkaDataLossError(`data loss in Kafka topic ${this.topic}: ${what}; pass failOnDataLoss: false to skip them`, loss);
    }
    // A redone batch finds the same loss again: record it once.
    if (!this.dataLoss.some((l) => l.partition === loss.partition && l.requestedOffset === loss.requestedOffset && l.earliestOffset === loss.earliestOffset)) {
      this.dataLoss.push(loss);
      this.warn(`read_kafka_topic (streaming): ${what}; skipping ${loss.lostRecords} records`);
    }
  }

  private noteRetry(what: string, err: unknown): void {
    this.retried.push(`${new Date().toISOString()} ${what}: ${(err as Error).message ?? String(err)}`);
    if (this.retried.length > 100) this.retried.shift();
  }

  private newClient(): KafkaClient {
    return createKafkaClient(this.bootstrapServers, {
      ...(this.options.client ? { kind: this.options.client } : {}),
      ...(this.security ? { security: this.security } : {}),
      clientId: 'winlake-stream',
    });
  }

  /**
   * Runs `op`, retrying failures with exponential backoff until `retry.timeoutMs` has passed since
   * the first one. After a failure the client is replaced: a broker restart can leave a client's
   * connections or metadata stale.
   */
  private async withRetry<T>(what: string, op: (client: KafkaClient) => Promise<T>): Promise<T> {
    let firstFailure: number | undefined;
    let delay = this.retry ? this.retry.initialDelayMs : 0;
    for (let attempt = 1; ; attempt++) {
      this.client ??= this.newClient();
      try {
        return await op(this.client);
      } catch (err) {
        if (err instanceof KafkaDataLossError) throw err;
        if (err instanceof PermanentError) throw new Error(err.message);
        // Wrong credentials or an untrusted certificate do not heal: fail now, not after the retry timeout.
        if (err instanceof KafkaSecurityError) throw new KafkaSecurityError(`${this.description}: ${what} failed: ${err.message}`, err.kind);
        firstFailure ??= Date.now();
        const message = (err as Error).message ?? String(err);
        if (!this.retry || Date.now() - firstFailure >= this.retry.timeoutMs) {
          const e = new Error(`${this.description}: ${what} failed${this.retry ? ` for ${Math.round((Date.now() - firstFailure) / 1000)} s (${attempt} attempts)` : ''}: ${message}`);
          (e as Error & { cause?: unknown }).cause = err;
          throw e;
        }
        this.noteRetry(what, err);
        if (attempt === 1 || attempt % 10 === 0) this.warn(`${this.description}: ${what} failed (${message}); retrying`);
        const broken = this.client;
        this.client = undefined;
        await broken.close().catch(() => undefined);
        await sleep(delay);
        delay = Math.min(this.retry.maxDelayMs, delay * 2);
      }
    }
  }
}

/**
 * Opens a Kafka topic as an unbounded {@link StreamFrame}: the streaming mode of `read_kafka_topic`
 * (`kafka.bootstrap.servers` = `host + ':' + port`, as in the reference). Each micro-batch has the
 * same columns as a batch read. Fails at once, naming the topics there are, when the topic is missing.
 *
 * @example
 * const stream = await readKafkaStream('127.0.0.1', 9094, 'winlogbeat', { maxOffsetsPerTrigger: 20_000 });
 * const bronze = stream.map((b) => parseWinlogbeat(addIngestMeta(b), 'raw'));
 * const q = writeTableStream(bronze, 'winlogbeat_kafka_bronze', 'bronze', ['_event_date', '_sourcetype'], { trigger: { availableNow: true } });
 * await q.awaitTermination();
 */
export async function readKafkaStream(
  bootstrapServers: string,
  port: string | number,
  topic: string,
  opts: KafkaStreamOptions = {},
): Promise<StreamFrame> {
  const servers = bootstrapAddress('readKafkaStream', bootstrapServers, port, topic);
  const security = opts.security ?? resolveKafkaSecurity('read_kafka_topic', opts);
  const session = opts.session ?? (await getSession());
  const probe = createKafkaClient(servers, { ...(opts.client ? { kind: opts.client } : {}), ...(security ? { security } : {}) });
  try {
    const topics = await probe.topics();
    if (topics[topic] === undefined) {
      throw new Error(`Kafka topic ${JSON.stringify(topic)} does not exist on ${servers} (topics: ${Object.keys(topics).sort().join(', ') || 'none'})`);
    }
  } finally {
    await probe.close();
  }
  return new StreamFrame(session, new KafkaStreamSource(servers, topic, { ...opts, ...(security ? { security } : {}) }));
}

/** A fresh name for the engine table of one batch. */
function nextTableName(): string {
  return `winlake_kafka_stream_${process.pid}_${++batchCounter}`;
}

function toOffsets(map: Map<number, number>): Offsets {
  const out: Offsets = {};
  for (const [partition, offset] of [...map].sort((a, b) => a[0] - b[0])) out[String(partition)] = offset;
  return out;
}

function sameOffsets(a: Offsets, b: Offsets): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

/**
 * Removes record folders left by processes that are gone (a SIGKILLed run): they are never read,
 * since a batch is only ever read from a file this process fetched for exactly its range.
 */
function sweepDeadRunDirs(base: string): void {
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(RUN_DIR_PREFIX)) continue;
    const pid = Number(/^(\d+)-/.exec(name.slice(RUN_DIR_PREFIX.length))?.[1]);
    if (pid > 0 && pid !== process.pid && !processAlive(pid)) rmSync(path.join(base, name), { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, but another user's.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function rangeText(start: Offsets, end: Offsets): string {
  return Object.keys(end)
    .map((k) => `[${k}] ${start[k] ?? 'new'}..${end[k] ?? 0}`)
    .join(', ');
}
