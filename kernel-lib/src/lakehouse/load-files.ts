import { createWriteStream, rmSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { getSession, type Session } from '../engine/session.js';
import { ndjsonToFrame } from '../source/kafka/ndjson-frame.js';
import { readEventFiles, type ConvertOptions } from '../winlogbeat/convert.js';
import { addIngestMeta, parseWinlogbeat } from '../winlogbeat/parse.js';
import { Catalog } from './catalog.js';
import { writeTableBatch, type TableWriteResult } from './tables.js';

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
 * stage, then one commit. A file that cannot be read fails the load before anything is written.
 *
 * @example
 * const { result } = await loadEventFiles(['../shared/data/mordor/cmd_psexec_lsa_secrets_dump.json']);
 * console.log(result.numRows, 'events in bronze');
 */
export async function loadEventFiles(paths: readonly string[], opts: LoadFilesOptions = {}): Promise<TableWriteResult & { documents: number }> {
  if (paths.length === 0) throw new Error('loadEventFiles: no files given');
  const session = opts.session ?? (await getSession());
  const chunkLines = opts.chunkLines ?? 100_000;
  const dir = session.scratch('winlake-load-');
  const chunks: string[] = [];
  let out: WriteStream | undefined;
  let documents = 0;
  try {
    for await (const doc of readEventFiles(paths, opts)) {
      if (!out || documents % chunkLines === 0) {
        if (out) await closeStream(out);
        const file = path.join(dir, `chunk-${chunks.length}.ndjson`);
        chunks.push(file);
        out = createWriteStream(file);
      }
      if (!out.write(`${JSON.stringify(doc)}\n`)) await once(out, 'drain');
      documents++;
    }
    if (out) await closeStream(out);
    if (documents === 0) throw new Error(`no events found in ${paths.join(', ')}`);
    const parsed = await ndjsonToFrame(session, { files: chunks });
    const bronze = await parseWinlogbeat(addIngestMeta(parsed), 'raw');
    const written = await writeTableBatch(bronze, opts.table ?? BRONZE_TABLE, 'bronze', BRONZE_PARTITIONS, {
      session,
      ...(opts.catalog ? { catalog: opts.catalog } : {}),
    });
    return { ...written, documents };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function closeStream(stream: WriteStream): Promise<void> {
  stream.end();
  await once(stream, 'close');
}
