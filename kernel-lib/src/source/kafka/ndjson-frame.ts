/**
 * Raw JSON documents (Kafka record values or NDJSON lines) into a DuckDB table, parsed by DuckDB.
 *
 * JavaScript only frames the raw bytes into a tab-separated file; DuckDB reads it with its CSV
 * reader, classifies each value (`json_type`) and parses it with `json_transform` and ONE structure
 * for the whole batch, which covers every key of every good document (see structure.ts: the
 * structure is inferred over one representative per document shape, and a {@link StructureCache}
 * shared by the batches of a stream skips inference while no new shape arrives). Values that are
 * not JSON objects are kept as `_corrupt_record` with a `_corrupt_reason`, never dropped.
 *
 * Schema rules, chosen so that batch after batch appends to the same bronze table:
 * - `winlog.event_data` and `winlog.user_data` are MAP(VARCHAR, VARCHAR) (their keys vary per event id);
 * - top-level `@timestamp` is TIMESTAMPTZ (NULL when it does not parse);
 * - integers are BIGINT, fields only ever null are VARCHAR, fields of mixed types and empty objects JSON.
 */
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import path from 'node:path';
import { quoteIdent, quoteString } from '../../engine/quote.js';
import type { Session } from '../../engine/session.js';
import { Frame } from '../../frame/index.js';
import { LINE_DELIMITER, StructureCache, stableStructure, type InferenceMethod } from './structure.js';

export { MAP_FIELDS, StructureCache } from './structure.js';

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

/**
 * Frames raw records as lines `partition \t offset \t timestamp \t encoding \t bytes \t key \t value`
 * in a file DuckDB's CSV reader can split without quoting. Values holding tab, newline, CR or NUL
 * bytes are written as JSON string literals (encoding `j`), values that are not UTF-8 likewise with
 * replacement characters (`u`), null values as `n`, empty ones as `e`; everything else as is (`r`).
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
        encoding = 'u';
        body = Buffer.from(JSON.stringify(value.toString('utf8')), 'utf8');
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
    if (chunks.length > 0) writeSync(this.fd, Buffer.concat(chunks));
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
  /** How the structure is inferred over representative documents (see structure.ts); default 'read_json'. */
  inference?: InferenceMethod;
  /**
   * The structure learnt from earlier batches of the same source, reused and extended by this
   * one; default a fresh cache (the structure is inferred from this batch alone).
   */
  structureCache?: StructureCache;
}

let tableCounter = 0;

/** DuckDB's json_type names as JSON's own: 'not a JSON object (string)' reads better than (varchar). */
const JSON_TYPE_NAME =
  "CASE jt WHEN 'ARRAY' THEN 'array' WHEN 'VARCHAR' THEN 'string' WHEN 'BOOLEAN' THEN 'boolean' " +
  "WHEN 'NULL' THEN 'null' ELSE 'number' END";

/** The column holding each document's shape hash while a batch is checked against the cache. */
const SHAPE_COLUMN = '__winlake_shape';

function uniqueTable(prefix: string): string {
  return `${prefix}_${process.pid}_${++tableCounter}`;
}

const CSV_OPTIONS = "delim='\\t', quote='', escape='', header=false, auto_detect=false, new_line='\\n'";

/**
 * Parses record files written by {@link RecordFileWriter} into a materialised temporary table and
 * returns a Frame over it (the files may be deleted afterwards).
 *
 * Columns: the documents' top-level fields, then `_kafka_topic`, `_kafka_partition` (INTEGER),
 * `_kafka_offset` (BIGINT), `_kafka_timestamp` (TIMESTAMPTZ), `_kafka_key` (when `topic` is set),
 * then `_corrupt_record` and `_corrupt_reason` (VARCHAR, NULL for good documents).
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
      : `read_csv([${files.map(quoteString).join(', ')}], columns=${columns}, ${CSV_OPTIONS}, max_line_size=${maxLine})`;
  const decoded = "CASE enc WHEN 'r' THEN v WHEN 'n' THEN NULL WHEN 'e' THEN '' ELSE json_extract_string(v, '$') END";
  const meta =
    options.topic === undefined
      ? ''
      : `${quoteString(options.topic)} AS _kafka_topic, p AS _kafka_partition, o AS _kafka_offset, ` +
        `TIMESTAMPTZ '1970-01-01 00:00:00+00' + to_milliseconds(ts) AS _kafka_timestamp, ` +
        `CASE WHEN k IS NULL OR k = '' THEN NULL ELSE json_extract_string(k, '$') END AS _kafka_key, `;
  const raw =
    `SELECT ${meta}${decoded} AS value, ` +
    `CASE WHEN enc = 'n' THEN 'null value' WHEN enc = 'u' THEN 'not valid UTF-8' WHEN n > ${maxBytes} THEN 'exceeds ${maxBytes} bytes' END AS pre_reason ` +
    `FROM ${source}`;
  return parseRaw(session, raw, options);
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
  // E'...' because plain SQL strings do not decode \x escapes (the delimiter would be 16 bytes).
  const raw =
    `SELECT v AS value, CASE WHEN strlen(v) > ${maxBytes} THEN 'exceeds ${maxBytes} bytes' END AS pre_reason ` +
    `FROM read_csv([${input.files.map(quoteString).join(', ')}], columns={'v': 'VARCHAR'}, delim=${LINE_DELIMITER}, ` +
    `quote='', escape='', header=false, auto_detect=false, new_line='\\n', strict_mode=false, max_line_size=${64 * 1024 * 1024}) ` +
    `WHERE v IS NOT NULL AND trim(v, ' \t\r') <> ''`;
  return parseRaw(session, raw, options);
}

/**
 * Classifies and parses the rows of `raw` (SQL with columns `value` VARCHAR, `pre_reason` VARCHAR
 * — a reason already known — and metadata columns, kept after the document columns). `raw` is
 * read once per pass and never materialised: a pass over the record file costs less than a copy.
 *
 * With a cache that already has a structure, one pass parses and hashes each document's shape;
 * when every shape is known (the usual case in a stream) that is all. Otherwise the cache learns
 * the new shapes and the batch is parsed again with the grown structure.
 */
async function parseRaw(session: Session, raw: string, options: ParseOptions): Promise<Frame> {
  const cache = options.structureCache ?? new StructureCache(options.inference ?? 'read_json');
  // json_type once classifies (NULL under try() for invalid JSON); trim only runs on the few invalid values.
  const reason =
    `CASE WHEN pre_reason IS NOT NULL THEN pre_reason WHEN value IS NULL THEN 'null value' WHEN jt = 'OBJECT' THEN NULL ` +
    `WHEN jt IS NULL THEN CASE WHEN trim(value, ' \t\r\n') = '' THEN 'empty value' ELSE 'invalid JSON' END ` +
    `ELSE 'not a JSON object (' || ${JSON_TYPE_NAME} || ')' END`;
  const classified =
    `(SELECT * EXCLUDE (pre_reason, jt), ${reason} AS _corrupt_reason ` +
    `FROM (SELECT *, CASE WHEN pre_reason IS NULL AND value IS NOT NULL THEN try(json_type(value)) END AS jt FROM (${raw})))`;
  const metaCols = (await session.run(`SELECT * FROM ${classified} LIMIT 0`)).columnNames().filter((c) => c !== 'value' && c !== '_corrupt_reason');
  const out = options.tableName ?? uniqueTable('winlake_batch');
  if (cache.structure !== undefined) {
    await materialise(session, classified, metaCols, cache, out, true);
    const shapes = await session.rows<{ shape: bigint }>(`SELECT DISTINCT ${quoteIdent(SHAPE_COLUMN)} AS shape FROM ${quoteIdent(out)} WHERE _corrupt_reason IS NULL`);
    await session.run(`ALTER TABLE ${quoteIdent(out)} DROP COLUMN ${quoteIdent(SHAPE_COLUMN)}`);
    if (shapes.every((s) => cache.knows(String(s.shape)))) return Frame.fromSql(session, `SELECT * FROM ${quoteIdent(out)}`);
  }
  await cache.cover(session, classified);
  await materialise(session, classified, metaCols, cache, out, false);
  return Frame.fromSql(session, `SELECT * FROM ${quoteIdent(out)}`);
}

/** One pass: the batch parsed with the cache's structure into table `out` (plus shape hashes when asked). */
async function materialise(session: Session, classified: string, metaCols: readonly string[], cache: StructureCache, out: string, withShape: boolean): Promise<void> {
  const inferred = cache.structure;
  const structure = inferred === undefined ? {} : stableStructure(inferred, []);
  const docFields = typeof structure === 'object' && !Array.isArray(structure) ? Object.keys(structure) : [];
  const clash = docFields.find((f) => metaCols.includes(f) || f === '_corrupt_record' || f === '_corrupt_reason' || f === SHAPE_COLUMN);
  if (clash) throw new Error(`a document field is named ${JSON.stringify(clash)}, which winlake reserves for its own column`);
  const docs = docFields.length === 0 ? '' : `${docFields.map((f) => `d.${quoteIdent(f)} AS ${quoteIdent(f)}`).join(', ')}, `;
  // With no document at all there is no structure to parse with (json_transform refuses '{}').
  const transform =
    docFields.length === 0 ? 'NULL' : `CASE WHEN _corrupt_reason IS NULL THEN json_transform(value, ${quoteString(JSON.stringify(structure))}) END`;
  const shape = withShape ? `, CASE WHEN _corrupt_reason IS NULL THEN ${cache.shapeSql()} END AS ${quoteIdent(SHAPE_COLUMN)}` : '';
  await session.run(
    `CREATE OR REPLACE TEMP TABLE ${quoteIdent(out)} AS SELECT ${docs}${metaCols.map(quoteIdent).map((c) => `${c}, `).join('')}` +
      `CASE WHEN _corrupt_reason IS NOT NULL THEN value END AS _corrupt_record, _corrupt_reason${shape} ` +
      `FROM (SELECT *, ${transform} AS d FROM ${classified})`,
  );
}
