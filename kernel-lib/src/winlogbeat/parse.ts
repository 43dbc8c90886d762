import { quoteIdent, sqlLiteral, quoteString } from '../engine/quote.js';
import type { Frame, SchemaField } from '../frame/index.js';
import { flattenWinlogbeat } from './flatten.js';

/** The columns the raw stage prepends, in order. */
export const RAW_STAGE_COLUMNS = ['_sourcetype', '_event_time', '_event_date', 'dvc_hostname'] as const;

/**
 * Prepends `_ingest_time`: the current time, taken once per call so every row of the batch
 * shares it (TIMESTAMPTZ). An existing `_ingest_time` column is replaced.
 *
 * @example
 * const bronze = addIngestMeta(kafkaFrame); // _ingest_time, then the Kafka columns
 */
export function addIngestMeta(df: Frame): Frame {
  const now = sqlLiteral(new Date());
  return df.selectExpr(`${now} AS ${quoteIdent('_ingest_time')}`, `COLUMNS(lambda c: c <> '_ingest_time')`);
}

/**
 * The reference's `parser_kafka_winlogbeat`.
 *
 * - `stage = 'raw'`: prepends `_sourcetype` (winlog.channel; one longer than 80 bytes becomes its
 *   first 32 characters + '~' + its MD5, a folder name any file system takes), `_event_time`
 *   (@timestamp as TIMESTAMPTZ), `_event_date` (its UTC date; when @timestamp is missing or did not
 *   parse, the date of `_kafka_timestamp`, else of `_ingest_time`) and `dvc_hostname` (agent.hostname, else host.name,
 *   else winlog.computer_name — whichever of them the schema has), keeping every other column.
 *   Rows with a `_corrupt_record` get NULLs there.
 * - any other stage: flattens every nested leaf into a top-level column named by its path joined
 *   with ':' (MAP and JSON objects expand per key found in the data), splits `message` into its
 *   lines and adds `message_fields`, the MAP of its "Key: Value" lines. See {@link flattenWinlogbeat}.
 *
 * @example
 * const raw = await parseWinlogbeat(kafkaFrame, 'raw');
 * const flat = await parseWinlogbeat(await readTable('winlogbeat_kafka_bronze'), 'flatten');
 * await flat.select('dvc_hostname', 'winlog:event_data:CommandLine').show();
 */
export async function parseWinlogbeat(df: Frame, stage: string): Promise<Frame> {
  if (typeof stage !== 'string' || stage === '') throw new Error(`parseWinlogbeat: stage must be 'raw' or a flatten stage name, got ${String(stage)}`);
  if (stage === 'raw') return rawStage(df);
  return flattenWinlogbeat(df);
}

async function rawStage(df: Frame): Promise<Frame> {
  const schema = await df.schema();
  const corrupt = schema.some((f) => f.name === '_corrupt_record');
  const guard = (expr: string): string => (corrupt ? `CASE WHEN ${quoteIdent('_corrupt_record')} IS NULL THEN ${expr} END` : expr);

  const channel = fieldSql(schema, ['winlog', 'channel']);
  const sourcetype = channel ? partitionSafeSql(`CAST(${channel.sql} AS VARCHAR)`) : 'NULL::VARCHAR';

  const stamp = fieldSql(schema, ['@timestamp']);
  const eventTime = stamp ? timestamptzSql(stamp.sql, stamp.field.type) : 'NULL::TIMESTAMPTZ';
  // The fallback rule for a missing or unparseable @timestamp: the Kafka record's timestamp, else
  // the ingest time, so that such a row still lands in a dated partition (its value is rescued).
  const fallbacks = ['_kafka_timestamp', '_ingest_time'].filter((c) => schema.some((f) => f.name === c)).map(quoteIdent);
  const eventDate = `CAST(timezone('UTC', ${fallbacks.length ? `coalesce(${eventTime}, ${fallbacks.join(', ')})` : eventTime}) AS DATE)`;

  const hostParts = [
    ['agent', 'hostname'],
    ['host', 'name'],
    ['winlog', 'computer_name'],
  ]
    .map((p) => fieldSql(schema, p))
    .filter((f): f is FieldRef => f !== undefined && f.field.kind === 'scalar')
    .map((f) => `NULLIF(CAST(${f.sql} AS VARCHAR), '')`);
  const dvc = hostParts.length === 0 ? 'NULL::VARCHAR' : hostParts.length === 1 ? hostParts[0]! : `coalesce(${hostParts.join(', ')})`;

  const existing = new Set(schema.map((f) => f.name));
  const replaced = RAW_STAGE_COLUMNS.filter((c) => existing.has(c));
  const rest = replaced.length ? `* EXCLUDE (${replaced.map(quoteIdent).join(', ')})` : '*';
  return df.selectExpr(
    `${guard(sourcetype)} AS ${quoteIdent('_sourcetype')}`,
    `${guard(eventTime)} AS ${quoteIdent('_event_time')}`,
    `${guard(eventDate)} AS ${quoteIdent('_event_date')}`,
    `${guard(dvc)} AS ${quoteIdent('dvc_hostname')}`,
    rest,
  );
}

interface FieldRef {
  sql: string;
  field: SchemaField;
}

/** SQL reaching a nested field by its path, or undefined when the schema lacks it. */
function fieldSql(schema: readonly SchemaField[], path: readonly string[]): FieldRef | undefined {
  let fields = schema;
  let sql = '';
  let found: SchemaField | undefined;
  for (const [i, part] of path.entries()) {
    found = fields.find((f) => f.name === part) ?? fields.find((f) => f.name.toLowerCase() === part.toLowerCase());
    if (!found) return undefined;
    sql = i === 0 ? quoteIdent(found.name) : `struct_extract(${sql}, ${quoteString(found.name)})`;
    if (i < path.length - 1 && found.kind !== 'struct') return undefined;
    fields = found.children;
  }
  return found ? { sql, field: found } : undefined;
}

/** Longest partition value kept as is, in bytes: escaped (×3 at worst) it stays under 255-byte folder names. */
export const MAX_PARTITION_VALUE_BYTES = 80;

/**
 * A value safe as a partition folder name: as is up to {@link MAX_PARTITION_VALUE_BYTES} bytes,
 * else its first 32 characters, '~' and its MD5 (deterministic; the real value stays in its column).
 */
function partitionSafeSql(sql: string): string {
  return `CASE WHEN strlen(${sql}) <= ${MAX_PARTITION_VALUE_BYTES} THEN ${sql} ELSE left(${sql}, 32) || '~' || md5(${sql}) END`;
}

/** @timestamp may arrive as TIMESTAMPTZ, naive TIMESTAMP (taken as UTC) or ISO text. */
function timestamptzSql(sql: string, type: string): string {
  if (type === 'TIMESTAMP WITH TIME ZONE') return sql;
  if (type.startsWith('TIMESTAMP')) return `timezone('UTC', CAST(${sql} AS TIMESTAMP))`;
  return `TRY_CAST(${sql} AS TIMESTAMPTZ)`;
}
