import { createWriteStream, rmSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { getSession, type Session } from '../engine/session.js';
import { ndjsonToFrame } from '../source/kafka/ndjson-frame.js';
import { quoteIdent, quoteString } from '../engine/quote.js';
import { Frame } from '../frame/index.js';
import { isRejected, readEventFilesOrRejects, type ConvertOptions } from '../winlogbeat/convert.js';
import { addIngestMeta, parseWinlogbeat } from '../winlogbeat/parse.js';
import { Catalog } from './catalog.js';
import { CORRUPT_REASON, CORRUPT_RECORD, writeTableBatch, type TableWriteResult } from './tables.js';

/** The bronze table of the reference pipeline and its partitioning. */
export const BRONZE_TABLE = 'winlogbeat_kafka_bronze';
export const BRONZE_PARTITIONS = ['_event_date', '_sourcetype'];

/** Options of {@link loadEventFiles}. */
export interface LoadFilesOptions extends ConvertOptions {
  catalog?: Catalog;
  session?: Session;
  /** The bronze table; default `winlogbeat_kafka_bronze`. */
  table?: string;
  /** Lines per temporary NDJSON chunk handed to DuckDB. Default 100,000. */
  chunkLines?: number;
}

/**
 * Ingests event files (winlogbeat, winlogbeat 6, NXLog or evtx_dump JSON; `.json`, `.gz`, `.tar.gz`)
 * straight into the bronze table, without Kafka: converted to winlogbeat 7 layout, parsed by the
 * same DuckDB path as Kafka values (corrupt documents quarantined), `add_ingest_meta`, the raw
 * stage, then one commit. Every document read ends in bronze or its quarantine (`documents` =
 * bronze rows + quarantined rows): an array line gives one document per item, a document that
 * cannot be converted is quarantined with the reason. A file that cannot be read at all (not JSON,
 * truncated) fails the load before anything is written.
 *
 * @example
 * const { result } = await loadEventFiles(['kernel-lib/data/mordor/cmd_psexec_lsa_secrets_dump.json']);
 * console.log(result.numRows, 'events in bronze');
 */
export async function loadEventFiles(paths: readonly string[], opts: LoadFilesOptions = {}): Promise<TableWriteResult & { documents: number; rejected: number }> {
  if (paths.length === 0) throw new Error('loadEventFiles: no files given');
  const session = opts.session ?? (await getSession());
  const chunkLines = opts.chunkLines ?? 100_000;
  const dir = session.scratch('winlake-load-');
  const chunks: string[] = [];
  const rejectsFile = path.join(dir, 'rejects.ndjson');
  let out: WriteStream | undefined;
  let rejects: WriteStream | undefined;
  let documents = 0;
  let rejected = 0;
  let converted = 0;
  try {
    for await (const doc of readEventFilesOrRejects(paths, opts)) {
      documents++;
      if (isRejected(doc)) {
        rejects ??= createWriteStream(rejectsFile);
        await writeLine(rejects, JSON.stringify({ record: doc.rejected, reason: doc.reason }));
        rejected++;
        continue;
      }
      if (!out || converted % chunkLines === 0) {
        if (out) await closeStream(out);
        const file = path.join(dir, `chunk-${chunks.length}.ndjson`);
        chunks.push(file);
        out = createWriteStream(file);
      }
      await writeLine(out, JSON.stringify(doc));
      converted++;
    }
    if (out) await closeStream(out);
    if (rejects) await closeStream(rejects);
    out = rejects = undefined;
    if (documents === 0) throw new Error(`no events found in ${paths.join(', ')}`);
    let parsed = chunks.length > 0 ? await ndjsonToFrame(session, { files: chunks }) : await ndjsonToFrame(session, { lines: [], tempDir: dir });
    if (rejected > 0) {
      // Documents the converter could not read join the batch as corrupt records: quarantined with the reason.
      const extra = `SELECT record AS ${quoteIdent(CORRUPT_RECORD)}, reason AS ${quoteIdent(CORRUPT_REASON)} FROM read_json(${quoteString(rejectsFile)}, format='newline_delimited', columns={'record': 'VARCHAR', 'reason': 'VARCHAR'}, maximum_object_size=${256 * 1024 * 1024})`;
      parsed = Frame.fromSql(session, `SELECT * FROM (${await parsed.toSql()}) UNION ALL BY NAME ${extra}`);
    }
    const bronze = await parseWinlogbeat(addIngestMeta(parsed), 'raw');
    const written = await writeTableBatch(bronze, opts.table ?? BRONZE_TABLE, 'bronze', BRONZE_PARTITIONS, {
      session,
      ...(opts.catalog ? { catalog: opts.catalog } : {}),
    });
    return { ...written, documents, rejected };
  } finally {
    // Close before deleting: a stream still open on a deleted folder fails later with an unhandled ENOENT.
    await Promise.all([out, rejects].map((s) => (s ? abandon(s) : undefined)));
    rmSync(dir, { recursive: true, force: true });
  }
}

async function writeLine(stream: WriteStream, line: string): Promise<void> {
  if (!stream.write(`${line}\n`)) await once(stream, 'drain');
}

async function closeStream(stream: WriteStream): Promise<void> {
  stream.end();
  await once(stream, 'close');
}

async function abandon(stream: WriteStream): Promise<void> {
  if (stream.closed) return;
  stream.on('error', () => undefined);
  const closed = once(stream, 'close').catch(() => undefined);
  stream.destroy();
  await closed;
}
