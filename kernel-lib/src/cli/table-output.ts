/**
 * How `winlake table read` hands rows to people and tools: JSON lines and CSV with values written
 * the way Spark's and DuckDB's writers do (DATE `YYYY-MM-DD`, TIMESTAMP ISO-8601 UTC, BINARY base64,
 * MAP a JSON object), or Parquet with the table's own types. The conversion is one DuckDB SELECT.
 */
import { quoteIdent, quoteString } from '../engine/quote.js';
import type { Session } from '../engine/session.js';

/** The formats `table read` writes. */
export const OUTPUT_FORMATS = ['table', 'ndjson', 'csv', 'parquet'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/**
 * ISO-8601 UTC text of a zone-less TIMESTAMP holding UTC: milliseconds as JavaScript and Spark print
 * them, microseconds only when the value has them (Delta keeps microseconds; none is dropped).
 */
function isoUtc(ts: string): string {
  return `CASE WHEN epoch_us(${ts}) % 1000 = 0 THEN strftime(${ts}, '%Y-%m-%dT%H:%M:%S.%gZ') ELSE strftime(${ts}, '%Y-%m-%dT%H:%M:%S.%fZ') END`;
}

/** The text form of one top-level column of DuckDB type `type` (null when it stays as it is). */
function textExpr(column: string, type: string, nestedAsJson: boolean): string | null {
  const c = quoteIdent(column);
  if (type === 'DATE') return `CAST(${c} AS VARCHAR)`;
  if (type === 'TIMESTAMP WITH TIME ZONE') return isoUtc(`timezone('UTC', ${c})`);
  // Delta's TIMESTAMP_NTZ and DuckDB's other precisions have no zone: they are shown as UTC.
  if (/^TIMESTAMP(_NS|_MS|_S)?$/.test(type)) return isoUtc(`CAST(${c} AS TIMESTAMP)`);
  if (type === 'BLOB') return `base64(${c})`;
  // CSV has no nesting: structs, lists and maps go in as their JSON text (a map as a JSON object).
  if (nestedAsJson && /^(STRUCT|MAP)\(|\[\d*\]$/.test(type)) return `CAST(to_json(${c}) AS VARCHAR)`;
  return null;
}

/**
 * A SELECT over `sql` whose columns print as users expect (see the module comment); `csv` also
 * turns nested columns into JSON text.
 * @example const text = await textColumnsSql(session, 'SELECT DATE \'2020-01-01\' AS d', 'ndjson');
 */
export async function textColumnsSql(session: Session, sql: string, format: 'ndjson' | 'csv' | 'table'): Promise<string> {
  const cols = await session.rows<{ column_name: string; column_type: string }>(`DESCRIBE (${sql})`);
  const list = cols.map(({ column_name: name, column_type: type }) => {
    const expr = textExpr(name, type, format !== 'ndjson');
    return expr ? `${expr} AS ${quoteIdent(name)}` : quoteIdent(name);
  });
  return `SELECT ${list.join(', ')} FROM (${sql}) AS src`;
}

/**
 * Writes the rows of `sql` to `file` with DuckDB's own writers: Parquet keeps the table's types,
 * ndjson and csv carry the text forms of {@link textColumnsSql}.
 * @example await writeRowsFile(session, 'SELECT 1 AS a', 'parquet', 'out.parquet');
 */
export async function writeRowsFile(session: Session, sql: string, format: 'ndjson' | 'csv' | 'parquet', file: string): Promise<void> {
  const source = format === 'parquet' ? sql : await textColumnsSql(session, sql, format);
  const options = format === 'parquet' ? 'FORMAT parquet, COMPRESSION zstd' : format === 'csv' ? 'FORMAT csv, HEADER true' : 'FORMAT json';
  await session.run(`COPY (${source}) TO ${quoteString(file)} (${options})`);
}

/**
 * The rows of `sql` as JSON lines (one object per row, text forms of {@link textColumnsSql}).
 * @example for (const line of await ndjsonLines(session, 'SELECT 1 AS a')) console.log(line); // {"a":1}
 */
export async function ndjsonLines(session: Session, sql: string): Promise<string[]> {
  const rows = await session.rows<{ line: string }>(`SELECT CAST(to_json(r) AS VARCHAR) AS line FROM (${await textColumnsSql(session, sql, 'ndjson')}) AS r`);
  return rows.map((r) => r.line);
}
