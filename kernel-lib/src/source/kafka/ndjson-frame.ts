/**
 * Raw JSON documents (Kafka record values or NDJSON lines) into a DuckDB table, parsed by DuckDB.
 *
 * JavaScript only frames the raw bytes into a tab-separated file; DuckDB reads it with its CSV
 * reader, classifies each value (`json_valid`, `json_type`), infers ONE structure over the whole
 * batch (DuckDB's JSON reader over every good document, or `json_group_structure`) and parses with
 * `json_transform`. Values that are not JSON objects
 * are kept as `_corrupt_record` with a `_corrupt_reason`, never dropped.
 *
 * Schema rules, chosen so that batch after batch appends to the same bronze table:
 * - `winlog.event_data` and `winlog.user_data` are MAP(VARCHAR, VARCHAR) (their keys vary per event id);
 * - top-level `@timestamp` is TIMESTAMPTZ (NULL when it does not parse);
 * - integers are BIGINT, fields only ever null are VARCHAR, fields of mixed types and empty objects JSON.
 */
import { DuckDBTypeId, type DuckDBType } from '@duckdb/node-api';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import os from 'node:os';
import path from 'node:path';
import { quoteIdent, quoteString } from '../../engine/quote.js';
import { SqlError, type Session } from '../../engine/session.js';
import { Frame } from '../../frame/index.js';

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

/** The nested fields always parsed as MAP(VARCHAR, VARCHAR), as paths. */
export const MAP_FIELDS: readonly (readonly string[])[] = [
  ['winlog', 'event_data'],
  ['winlog', 'user_data'],
];

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
  /** How the one structure of the batch is inferred (see inferStructure); default 'read_json'. */
  inference?: 'read_json' | 'json_group_structure';
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
  const raw = uniqueTable('winlake_raw');
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
  await session.run(
    `CREATE TEMP TABLE ${quoteIdent(raw)} AS SELECT ${meta}${decoded} AS value, ` +
      `CASE WHEN enc = 'n' THEN 'null value' WHEN enc = 'u' THEN 'not valid UTF-8' WHEN n > ${maxBytes} THEN 'exceeds ${maxBytes} bytes' END AS pre_reason ` +
      `FROM ${source}`,
  );
  try {
    return await parseRawTable(session, raw, options);
  } finally {
    await session.run(`DROP TABLE IF EXISTS ${quoteIdent(raw)}`);
  }
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
  const raw = uniqueTable('winlake_raw');
  if (input.files.length === 0) throw new Error('ndjsonToFrame: no files given');
  // A 4-byte delimiter that text never holds, so that each line is one column, tabs included.
  // E'...' because plain SQL strings do not decode \x escapes (the delimiter would be 16 bytes).
  await session.run(
    `CREATE TEMP TABLE ${quoteIdent(raw)} AS SELECT v AS value, ` +
      `CASE WHEN strlen(v) > ${maxBytes} THEN 'exceeds ${maxBytes} bytes' END AS pre_reason ` +
      `FROM read_csv([${input.files.map(quoteString).join(', ')}], columns={'v': 'VARCHAR'}, delim=E'\\x1f\\x1e\\x1d\\x01', ` +
      `quote='', escape='', header=false, auto_detect=false, new_line='\\n', strict_mode=false, max_line_size=${64 * 1024 * 1024}) ` +
      `WHERE v IS NOT NULL AND trim(v, ' \t\r') <> ''`,
  );
  try {
    return await parseRawTable(session, raw, options);
  } finally {
    await session.run(`DROP TABLE IF EXISTS ${quoteIdent(raw)}`);
  }
}

/**
 * Classifies and parses a table with columns `value` (VARCHAR), `pre_reason` (VARCHAR, a reason
 * already known) and any metadata columns (kept, after the document columns).
 */
async function parseRawTable(session: Session, raw: string, options: ParseOptions): Promise<Frame> {
  const classified = uniqueTable('winlake_cls');
  // try(json_type(...)) is NULL for invalid JSON: one parse classifies, where json_valid + json_type took two.
  const reason =
    `CASE WHEN pre_reason IS NOT NULL THEN pre_reason WHEN value IS NULL THEN 'null value' ` +
    `WHEN trim(value, ' \t\r\n') = '' THEN 'empty value' WHEN jt IS NULL THEN 'invalid JSON' ` +
    `WHEN jt <> 'OBJECT' THEN 'not a JSON object (' || ${JSON_TYPE_NAME} || ')' END`;
  await session.run(
    `CREATE TEMP TABLE ${quoteIdent(classified)} AS SELECT * EXCLUDE (pre_reason, jt), ${reason} AS _corrupt_reason ` +
      `FROM (SELECT *, CASE WHEN pre_reason IS NULL THEN try(json_type(value)) END AS jt FROM ${quoteIdent(raw)})`,
  );
  try {
    const inferred = await inferStructure(session, classified, options.inference ?? 'read_json');
    const structure = inferred === undefined ? {} : stableStructure(inferred, []);
    const docFields = typeof structure === 'object' && !Array.isArray(structure) ? Object.keys(structure) : [];
    const metaCols = (await session.run(`SELECT * FROM ${quoteIdent(classified)} LIMIT 0`))
      .columnNames()
      .filter((c) => c !== 'value' && c !== '_corrupt_reason');
    const clash = docFields.find((f) => metaCols.includes(f) || f === '_corrupt_record' || f === '_corrupt_reason');
    if (clash) throw new Error(`a document field is named ${JSON.stringify(clash)}, which winlake reserves for its own column`);
    const out = options.tableName ?? uniqueTable('winlake_batch');
    const docs =
      docFields.length === 0
        ? ''
        : `${docFields.map((f) => `d.${quoteIdent(f)} AS ${quoteIdent(f)}`).join(', ')}, `;
    // With no document at all there is no structure to parse with (json_transform refuses '{}').
    const transform =
      docFields.length === 0 ? 'NULL' : `CASE WHEN _corrupt_reason IS NULL THEN json_transform(value, ${quoteString(JSON.stringify(structure))}) END`;
    await session.run(
      `CREATE OR REPLACE TEMP TABLE ${quoteIdent(out)} AS SELECT ${docs}${metaCols.map(quoteIdent).map((c) => `${c}, `).join('')}` +
        `CASE WHEN _corrupt_reason IS NOT NULL THEN value END AS _corrupt_record, _corrupt_reason ` +
        `FROM (SELECT *, ${transform} AS d FROM ${quoteIdent(classified)})`,
    );
    return Frame.fromSql(session, `SELECT * FROM ${quoteIdent(out)}`);
  } finally {
    await session.run(`DROP TABLE IF EXISTS ${quoteIdent(classified)}`);
  }
}

/**
 * One structure over every good document of the batch. `read_json` (the default) writes the good
 * documents to a temporary NDJSON file and lets DuckDB's JSON reader infer the types over all of
 * them (`sample_size=-1`); `json_group_structure` aggregates in SQL. Both see every key; the reader
 * was 2-4 times faster in test/bench/ingest-clients.ts.
 */
async function inferStructure(session: Session, classified: string, how: 'read_json' | 'json_group_structure'): Promise<Structure | undefined> {
  const good = `FROM ${quoteIdent(classified)} WHERE _corrupt_reason IS NULL`;
  if (how === 'json_group_structure') {
    const text = await session.scalar<string | null>(`SELECT json_group_structure(value::JSON)::VARCHAR ${good}`);
    return text == null ? undefined : (JSON.parse(text) as Structure);
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'winlake-infer-'));
  try {
    const file = path.join(dir, 'documents.ndjson');
    // One document per line: multi-line (pretty-printed) ones are re-serialised compactly by json().
    const [written] = await session.rows<{ Count: bigint }>(
      `COPY (SELECT CASE WHEN contains(value, E'\\n') OR contains(value, E'\\r') THEN json(value)::VARCHAR ELSE value END ${good}) ` +
        `TO ${quoteString(file)} (FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER E'\\x1f\\x1e\\x1d\\x01')`,
    );
    if (!written || Number(written.Count) === 0) return undefined;
    let result;
    try {
      result = await session.run(
        `SELECT * FROM read_json(${quoteString(file)}, format='newline_delimited', records=true, sample_size=-1, ` +
          `maximum_object_size=${64 * 1024 * 1024}, map_inference_threshold=-1, field_appearance_threshold=0) LIMIT 0`,
      );
    } catch (err) {
      // The reader refuses keys that differ only in case (Sysmon's ProcessId beside Security's
      // ProcessID in event_data, as real recordings have); the SQL aggregate keeps both, and the
      // MAP fields that hold them absorb the difference.
      if (err instanceof SqlError && /Duplicate name/i.test(err.engineMessage)) return inferStructure(session, classified, 'json_group_structure');
      throw err;
    }
    const types = result.columnTypes();
    return Object.fromEntries(result.columnNames().map((n, i) => [n, structureOfType(types[i]!)]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The json_transform structure for a type DuckDB's JSON reader inferred. */
function structureOfType(type: DuckDBType): Structure {
  switch (type.typeId) {
    case DuckDBTypeId.STRUCT:
      return Object.fromEntries(type.entryNames.map((n, i) => [n, structureOfType(type.entryTypes[i]!)]));
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY:
      return [structureOfType(type.valueType)];
    case DuckDBTypeId.BOOLEAN:
      return 'BOOLEAN';
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UTINYINT:
    case DuckDBTypeId.USMALLINT:
    case DuckDBTypeId.UINTEGER:
    case DuckDBTypeId.UBIGINT:
      return 'BIGINT';
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.DOUBLE:
    case DuckDBTypeId.DECIMAL:
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UHUGEINT:
      return 'DOUBLE';
    case DuckDBTypeId.SQLNULL:
      return 'NULL';
    case DuckDBTypeId.VARCHAR:
      return type.toString() === 'JSON' ? 'JSON' : 'VARCHAR';
    case DuckDBTypeId.MAP:
      return 'JSON';
    default:
      // Dates and times the reader recognised in strings stay text: detection varies from batch to
      // batch, which would change the bronze schema (only top-level @timestamp is a timestamp).
      return 'VARCHAR';
  }
}

/** A `json_group_structure` result: a type name, a one-element list, or an object. */
type Structure = string | Structure[] | { [key: string]: Structure };

/** Rewrites an inferred structure into the stable types described at the top of this file. */
function stableStructure(s: Structure, at: readonly string[]): Structure {
  if (MAP_FIELDS.some((p) => p.length === at.length && p.every((part, i) => part === at[i]))) return 'MAP(VARCHAR, VARCHAR)';
  if (typeof s === 'string') {
    if (at.length === 1 && at[0] === '@timestamp' && s === 'VARCHAR') return 'TIMESTAMPTZ';
    if (s === 'NULL') return 'VARCHAR';
    if (s === 'UBIGINT' || s === 'UINTEGER' || s === 'INTEGER') return 'BIGINT';
    return s;
  }
  if (Array.isArray(s)) {
    const element = s[0];
    return element === undefined ? 'JSON' : [stableStructure(element, [...at, '[]'])];
  }
  const keys = Object.keys(s);
  if (keys.length === 0) return 'JSON';
  // DuckDB struct field names ignore case: keys differing only in case cannot be separate fields.
  const seen = new Set<string>();
  for (const k of keys) {
    const lower = k.toLowerCase();
    if (seen.has(lower)) return 'JSON';
    seen.add(lower);
  }
  return Object.fromEntries(keys.map((k) => [k, stableStructure(s[k]!, [...at, k])]));
}
