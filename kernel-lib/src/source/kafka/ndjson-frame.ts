/**
 * Raw JSON documents (Kafka record values or NDJSON lines) into a DuckDB table, parsed by DuckDB.
 *
 * JavaScript only frames the raw bytes into a tab-separated file; DuckDB reads it with its CSV
 * reader, classifies each value (valid JSON, an object?) and parses it into the declared bronze envelope
 * (winlogbeat/envelope.ts; SQL in envelope-sql.ts): the same columns and types for every batch,
 * whatever its documents hold, so batch after batch appends to the same table and one document
 * never changes the others' columns. What does not fit the envelope is kept in `_rescued_data`,
 * the original text in `_raw`. Values that are not JSON objects are kept as `_corrupt_record` with
 * a `_corrupt_reason`, never dropped.
 */
import { closeSync, openSync, rmSync, writevSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import path from 'node:path';
import { quoteIdent, quoteString } from '../../engine/quote.js';
import type { Session } from '../../engine/session.js';
import { Frame } from '../../frame/index.js';
import { BRONZE_ENVELOPE, RAW_DOCUMENT, RESCUED_DATA, type EnvelopeLevel } from '../../winlogbeat/envelope.js';
import { envelopeSql } from './envelope-sql.js';

/** A field delimiter no JSON text holds, so that DuckDB's CSV reader returns each line whole. */
export const LINE_DELIMITER = "E'\\x1f\\x1e\\x1d\\x01'";

/**
 * read_csv options that return each line of a file whole, as one VARCHAR column (no quoting, no
 * header, no sniffing). E'...' because plain SQL strings do not decode \x escapes (the delimiter
 * would be 16 bytes).
 *
 * @example `SELECT line FROM read_csv('docs.ndjson', columns={'line': 'VARCHAR'}, ${WHOLE_LINE_CSV_OPTIONS})`
 */
export const WHOLE_LINE_CSV_OPTIONS = `delim=${LINE_DELIMITER}, quote='', escape='', header=false, auto_detect=false, new_line='\\n'`;

/** One raw value to parse, with optional Kafka coordinates. */
export interface RawRecord {
  value: Buffer | string | null;
  key?: Buffer | string | null;
  partition?: number;
  offset?: number;
  /** Epoch milliseconds. */
  timestamp?: number;
}

/** The default limit of one document's size: winlogbeat's `output.kafka.max_message_bytes`. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1_000_000;

const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;
const NEWLINE = Buffer.from('\n');
/** Buffers per writev call (the usual IOV_MAX). */
const MAX_WRITEV_BUFFERS = 1024;

/**
 * Frames raw records as lines `partition \t offset \t timestamp \t encoding \t bytes \t key \t value`
 * in a file DuckDB's CSV reader can split without quoting. Values holding tab, newline, CR or NUL
 * bytes are written as JSON string literals (encoding `j`), values that are not UTF-8 as base64
 * (`b`), null values as `n`, empty ones as `e`; everything else as is (`r`).
 *
 * @example
 * const w = new RecordFileWriter('/tmp/batch-1.tsv');
 * w.add([{ partition: 0, offset: 0, timestamp: Date.now(), key: null, value: Buffer.from('{"a":1}') }]);
 * w.close();
 */
export class RecordFileWriter {
  private fd: number | undefined;
  /** Records written. */
  count = 0;
  /** The longest line written, in bytes (DuckDB's reader needs to know). */
  maxLineBytes = 0;

  constructor(readonly file: string) {
    this.fd = openSync(file, 'w');
  }

  /** Appends records (one synchronous write per call). */
  add(records: readonly RawRecord[]): void {
    if (this.fd === undefined) throw new Error(`the record file ${this.file} is closed`);
    const chunks: Buffer[] = [];
    for (const r of records) {
      const value = r.value === null ? null : typeof r.value === 'string' ? Buffer.from(r.value, 'utf8') : r.value;
      let encoding: string;
      let body: Buffer;
      if (value === null) {
        encoding = 'n';
        body = Buffer.alloc(0);
      } else if (value.length === 0) {
        // DuckDB's CSV reader reads an empty field as NULL: mark empty values apart from null ones.
        encoding = 'e';
        body = value;
      } else if (!isUtf8(value)) {
        // Base64 keeps the bytes exactly: the quarantine row can give the value back as it came.
        encoding = 'b';
        body = Buffer.from(value.toString('base64'), 'utf8');
      } else if (value.indexOf(LF) >= 0 || value.indexOf(TAB) >= 0 || value.indexOf(CR) >= 0 || value.indexOf(NUL) >= 0) {
        encoding = 'j';
        body = Buffer.from(JSON.stringify(value.toString('utf8')), 'utf8');
      } else {
        encoding = 'r';
        body = value;
      }
      const key = r.key == null ? '' : JSON.stringify(typeof r.key === 'string' ? r.key : r.key.toString('utf8'));
      const head = Buffer.from(`${r.partition ?? ''}\t${r.offset ?? ''}\t${r.timestamp ?? ''}\t${encoding}\t${value === null ? '' : value.length}\t${key}\t`, 'utf8');
      chunks.push(head, body, NEWLINE);
      this.maxLineBytes = Math.max(this.maxLineBytes, head.length + body.length + 1);
    }
    this.count += records.length;
    // Gathered, not concatenated: a batch is ~100 MB of values, which a concat would copy once more.
    for (let i = 0; i < chunks.length; ) {
      let written = writevSync(this.fd, chunks.slice(i, i + MAX_WRITEV_BUFFERS));
      while (i < chunks.length && written >= chunks[i]!.length) written -= chunks[i++]!.length;
      // A short write stopped inside chunks[i]: the rest of it goes first next time.
      if (written > 0) chunks[i] = chunks[i]!.subarray(written);
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  /** Closes and deletes the file. */
  remove(): void {
    this.close();
    rmSync(this.file, { force: true });
  }
}

/** Options for {@link recordFilesToFrame} and {@link ndjsonToFrame}. */
export interface ParseOptions {
  /** Values longer than this (bytes) are corrupt records. Default 1,000,000. */
  maxMessageBytes?: number;
  /** Kafka topic name for `_kafka_topic`; when absent, no `_kafka_*` columns are made. */
  topic?: string;
  /** A name for the materialised table (a unique one is chosen otherwise). */
  tableName?: string;
  /** The declared columns; default the winlogbeat bronze envelope (winlogbeat/envelope.ts). */
  envelope?: EnvelopeLevel;
  /** Keep each document's original text in `_raw` (default true: any document reproducible byte for byte). */
  keepRaw?: boolean;
  /**
   * A sibling connection ({@link Session.sibling}) to run the parse on, beside the session's own
   * queries; the parsed table is then an engine table (not a temporary one) that the session reads.
   */
  parseOn?: Session;
}

let tableCounter = 0;

/** DuckDB's json_type names as JSON's own: 'not a JSON object (string)' reads better than (varchar). */
const JSON_TYPE_NAME =
  "CASE jt WHEN 'ARRAY' THEN 'array' WHEN 'VARCHAR' THEN 'string' WHEN 'BOOLEAN' THEN 'boolean' " +
  "WHEN 'NULL' THEN 'null' ELSE 'number' END";

function uniqueTable(prefix: string): string {
  return `${prefix}_${process.pid}_${++tableCounter}`;
}

const CSV_OPTIONS = "delim='\\t', quote='', escape='', header=false, auto_detect=false, new_line='\\n'";

/**
 * The CSV reader's buffer for lines of up to `maxLine` bytes: it must be longer than the longest
 * line, and twice that is enough. DuckDB's own holds 16 lines (32 MB for 2 MB lines), and a parse
 * holds several: measured on a 20k-record batch, 4 MB buffers took the parse's peak allocation
 * from 544 to 467 MB, and the parse was no slower (353-394 ms against 386-463 ms).
 */
function csvBufferOptions(maxLine: number): string {
  return `max_line_size=${maxLine}, buffer_size=${Math.max(4 * 1024 * 1024, 2 * maxLine)}`;
}

/**
 * Parses record files written by {@link RecordFileWriter} into a materialised temporary table and
 * returns a Frame over it (the files may be deleted afterwards).
 *
 * Columns: the envelope's top-level fields, then `_kafka_topic`, `_kafka_partition` (INTEGER),
 * `_kafka_offset` (BIGINT), `_kafka_timestamp` (TIMESTAMPTZ), `_kafka_key` (when `topic` is set),
 * then `_rescued_data` and `_raw` (NULL for corrupt records), `_corrupt_record` and
 * `_corrupt_reason` (VARCHAR, NULL for good documents).
 *
 * @example
 * const frame = await recordFilesToFrame(session, [w.file], { topic: 'winlogbeat', maxLineBytes: w.maxLineBytes });
 */
export async function recordFilesToFrame(
  session: Session,
  files: readonly string[],
  options: ParseOptions & { maxLineBytes?: number } = {},
): Promise<Frame> {
  const maxBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const columns = "{'p': 'INTEGER', 'o': 'BIGINT', 'ts': 'BIGINT', 'enc': 'VARCHAR', 'n': 'BIGINT', 'k': 'VARCHAR', 'v': 'VARCHAR'}";
  const maxLine = Math.max(2 * 1024 * 1024, (options.maxLineBytes ?? 0) + 1024);
  const source =
    files.length === 0
      ? `(SELECT NULL::INTEGER p, NULL::BIGINT o, NULL::BIGINT ts, NULL::VARCHAR enc, NULL::BIGINT n, NULL::VARCHAR k, NULL::VARCHAR v LIMIT 0)`
      : // Beside another query (`parseOn`), one thread: the other core is writing, and a parse split
        // between threads there took half as much CPU again for the same rows.
        `read_csv([${files.map(quoteString).join(', ')}], columns=${columns}, ${CSV_OPTIONS}, ${csvBufferOptions(maxLine)}${options.parseOn ? ', parallel=false' : ''})`;
  const decoded = "CASE enc WHEN 'r' THEN v WHEN 'b' THEN v WHEN 'n' THEN NULL WHEN 'e' THEN '' ELSE json_extract_string(v, '$') END";
  // The Kafka columns by name: the parse keeps them by these names, without asking the engine.
  const meta: Record<string, string> =
    options.topic === undefined
      ? {}
      : {
          _kafka_topic: quoteString(options.topic),
          _kafka_partition: 'p',
          _kafka_offset: 'o',
          _kafka_timestamp: "TIMESTAMPTZ '1970-01-01 00:00:00+00' + to_milliseconds(ts)",
          _kafka_key: "CASE WHEN k IS NULL OR k = '' THEN NULL ELSE json_extract_string(k, '$') END",
        };
  const raw =
    `SELECT ${Object.entries(meta).map(([name, sql]) => `${sql} AS ${name}, `).join('')}${decoded} AS value, ` +
    `CASE WHEN enc = 'n' THEN 'null value' WHEN enc = 'b' THEN 'not valid UTF-8 (the value is kept as base64)' WHEN n > ${maxBytes} THEN 'exceeds ${maxBytes} bytes' END AS pre_reason ` +
    `FROM ${source}`;
  return parseRaw(session, raw, Object.keys(meta), options);
}

/**
 * Parses NDJSON into a materialised Frame with `_corrupt_record` / `_corrupt_reason` columns, like
 * {@link recordFilesToFrame} but without Kafka columns: from files (blank lines are skipped; a file
 * is read as lines, so a document must not span lines) or from values in memory.
 *
 * @example
 * const frame = await ndjsonToFrame(session, { files: ['events.ndjson'] });
 * const same = await ndjsonToFrame(session, { lines: ['{"a":1}', 'oops'] });
 */
export async function ndjsonToFrame(
  session: Session,
  input: { files: readonly string[] } | { lines: readonly (string | Buffer | null)[]; tempDir: string },
  options: ParseOptions = {},
): Promise<Frame> {
  if ('lines' in input) {
    const writer = new RecordFileWriter(path.join(input.tempDir, `${uniqueTable('lines')}.tsv`));
    try {
      writer.add(input.lines.map((value) => ({ value })));
      writer.close();
      const { topic: _ignored, ...rest } = options;
      return await recordFilesToFrame(session, [writer.file], { ...rest, maxLineBytes: writer.maxLineBytes });
    } finally {
      writer.remove();
    }
  }
  const maxBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (input.files.length === 0) throw new Error('ndjsonToFrame: no files given');
  const raw =
    `SELECT v AS value, CASE WHEN strlen(v) > ${maxBytes} THEN 'exceeds ${maxBytes} bytes' END AS pre_reason ` +
    `FROM read_csv([${input.files.map(quoteString).join(', ')}], columns={'v': 'VARCHAR'}, ${WHOLE_LINE_CSV_OPTIONS}, ` +
    `strict_mode=false, ${csvBufferOptions(64 * 1024 * 1024)}) ` +
    // A document line starts with '{': only the others are trimmed (trimming every 2 KB line cost
    // the parse of 20k documents 240 ms of its 560).
    `WHERE v IS NOT NULL AND (starts_with(v, '{') OR trim(v, ' \t\r') <> '')`;
  return parseRaw(session, raw, [], options);
}

/**
 * Classifies and parses the rows of `raw` (SQL with columns `value` VARCHAR, `pre_reason` VARCHAR
 * — a reason already known — and the metadata columns `metaColumns`, kept after the document columns) into the
 * declared envelope, in one pass that is materialised: `raw` is read once, never inferred.
 * Materialised rather than left to the write: reading the record file, the parse runs on every
 * thread, while DuckDB encodes a partitioned COPY of a batch this size on one (measured: the
 * parse moved into the COPY made the 200k-event ingest slower, not faster).
 */
async function parseRaw(session: Session, raw: string, metaColumns: readonly string[], options: ParseOptions): Promise<Frame> {
  const runner = options.parseOn ?? session;
  const env = envelopeSql(options.envelope ?? BRONZE_ENVELOPE, 'doc');
  // The keys pass classifies: NULL under try() for invalid JSON; an object is valid JSON that
  // starts with '{', anything else is named by its json_type (only those rows are asked).
  const reason =
    `CASE WHEN pre_reason IS NOT NULL THEN pre_reason WHEN value IS NULL THEN 'null value' WHEN jt = 'OBJECT' THEN NULL ` +
    `WHEN jt IS NULL THEN CASE WHEN trim(value, ' \t\r\n') = '' THEN 'empty value' ELSE 'invalid JSON' END ` +
    `ELSE 'not a JSON object (' || ${JSON_TYPE_NAME} || ')' END`;
  const jt = `CASE WHEN __k0 IS NULL THEN NULL WHEN starts_with(value, '{') THEN 'OBJECT' ELSE json_type(value) END`;
  const typed = `(SELECT *, ${jt} AS jt FROM (SELECT *, CASE WHEN pre_reason IS NULL AND value IS NOT NULL THEN try(${env.keys('value')}) END AS __k0 FROM (${raw})))`;
  const classified = `(SELECT * EXCLUDE (pre_reason, jt), ${reason} AS _corrupt_reason FROM ${typed})`;
  const out = options.tableName ?? uniqueTable('winlake_batch');
  const raws = options.keepRaw === false ? '' : `doc AS ${quoteIdent(RAW_DOCUMENT)}, `;
  const rescueDoc = quoteIdent(RESCUE_DOCUMENT);
  // Another connection's result cannot be a temporary table: those are each connection's own.
  await runner.run(
    `CREATE OR REPLACE ${runner === session ? 'TEMP ' : ''}TABLE ${quoteIdent(out)} AS SELECT ${env.columns.join(', ')}, ${metaColumns.map(quoteIdent).map((c) => `${c}, `).join('')}` +
      `NULL::VARCHAR AS ${quoteIdent(RESCUED_DATA)}, ${raws}` +
      `CASE WHEN _corrupt_reason IS NOT NULL THEN value END AS _corrupt_record, _corrupt_reason, ` +
      `CASE WHEN ${env.needsRescue} THEN doc END AS ${rescueDoc} ` +
      `FROM (SELECT *, ${env.passes} FROM (SELECT *, CASE WHEN _corrupt_reason IS NULL THEN value END AS doc, ` +
      `CASE WHEN _corrupt_reason IS NULL THEN __k0 END AS __k FROM ${classified}))`,
  );
  if (Number(await runner.scalar(`SELECT count(${rescueDoc}) FROM ${quoteIdent(out)}`)) > 0) {
    // Built as text, not a MAP: a document may repeat a key, and nothing may be dropped. One row per
    // pair and string_agg, not a lambda per pair: measured over 200 rescued documents, 27 ms
    // against 68 ms.
    const pairs =
      `SELECT rid, unnest(entries) AS e, unnest(range(len(entries))) AS ord FROM (SELECT rid, ${env.rescueEntries} AS entries FROM ` +
      `(SELECT *, ${env.passes} FROM (SELECT rowid AS rid, ${rescueDoc} AS doc, try(${env.keys(rescueDoc)}) AS __k FROM ${quoteIdent(out)} WHERE ${rescueDoc} IS NOT NULL)))`;
    await runner.run(
      `UPDATE ${quoteIdent(out)} SET ${quoteIdent(RESCUED_DATA)} = rescue.data FROM ` +
        `(SELECT rid, '{' || string_agg(to_json(e.k)::VARCHAR || ':' || e.v, ',' ORDER BY ord) || '}' AS data FROM (${pairs}) GROUP BY rid) AS rescue ` +
        `WHERE ${quoteIdent(out)}.rowid = rescue.rid`,
    );
  }
  return parsedTableFrame(session, out);
}

/**
 * The rows of a table {@link recordFilesToFrame} parsed into, without the column that held the
 * documents to rescue (see below).
 */
export function parsedTableFrame(session: Session, table: string): Frame {
  return Frame.fromSql(session, `SELECT * EXCLUDE (${quoteIdent(RESCUE_DOCUMENT)}) FROM ${quoteIdent(table)}`);
}

/**
 * The parse's own column: the document of a row with something to rescue, NULL otherwise.
 * `_rescued_data` is built afterwards for those rows only, by an UPDATE: built in the parse, the
 * rescue expression cost every batch its time even when no row needed it (measured on 20k
 * documents with nothing to rescue: 415 ms against 374 ms for the parse; 1M events streamed
 * 35.8k events/s with it, 40.8k with no rescue at all) and 130 MB of engine state.
 */
const RESCUE_DOCUMENT = '__winlake_rescue_doc';
