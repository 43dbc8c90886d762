/**
 * Partition folders and `add.path` values, as Spark writes them: hive-style `col=value` folders with
 * Hive's escaping, `__HIVE_DEFAULT_PARTITION__` for null, and the relative path URI-escaped in the log.
 */
import { quoteIdent } from '../engine/quote.js';
import { HIVE_DEFAULT_PARTITION } from './actions.js';
import type { DataType } from './schema/from-spark.js';

/** Characters Hive/Spark escape in partition folder names (ExternalCatalogUtils.charToEscape). */
const HIVE_ESCAPED = new Set([
  ...Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(i)),
  '"', '#', '%', "'", '*', '/', ':', '=', '?', '\\', '\u007f', '{', '[', ']', '^',
]);

/**
 * Escapes a partition column name or value for a folder name, as Hive and Spark do
 * (`/` → `%2F`, `:` → `%3A`, `%` → `%25`; spaces and non-ASCII letters stay as they are).
 * @example escapePartitionPathPart('a/b c') // => 'a%2Fb c'
 */
export function escapePartitionPathPart(text: string): string {
  let out = '';
  for (const ch of text) {
    out += HIVE_ESCAPED.has(ch) ? `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}` : ch;
  }
  return out;
}

/**
 * The partition folder of a file: `col=value/...` in partition-column order, null → `__HIVE_DEFAULT_PARTITION__`.
 * @example partitionDir(['d', 'h'], { d: '2024-01-01', h: null }) // => 'd=2024-01-01/h=__HIVE_DEFAULT_PARTITION__'
 */
export function partitionDir(partitionColumns: readonly string[], values: Record<string, string | null>): string {
  return partitionColumns
    .map((c) => {
      const v = values[c];
      if (v === undefined) throw new Error(`no value for partition column ${JSON.stringify(c)}`);
      return `${escapePartitionPathPart(c)}=${v === null ? HIVE_DEFAULT_PARTITION : escapePartitionPathPart(v)}`;
    })
    .join('/');
}

/** RFC 3986 path characters that stay unescaped in `add.path` (`:` is escaped so no segment looks like a scheme). */
const URI_SAFE = /[A-Za-z0-9\-._~!$&'()*+,;=@/]/;

/**
 * URI-escapes a relative file path for `add.path` / `remove.path` (UTF-8 percent-encoding).
 * @example toAddPath('p=a%2Fb c/part-1.parquet') // => 'p=a%252Fb%20c/part-1.parquet'
 */
export function toAddPath(relativePath: string): string {
  let out = '';
  for (const ch of relativePath) {
    if (URI_SAFE.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * The relative file path an `add.path` names (undoes {@link toAddPath}).
 * @example fromAddPath('p=a%252Fb%20c/part-1.parquet') // => 'p=a%2Fb c/part-1.parquet'
 */
export function fromAddPath(addPath: string): string {
  return decodeURIComponent(addPath);
}

/**
 * SQL that renders a column as its Delta partition value string (PROTOCOL "Partition Value
 * Serialization"): NULL and '' → NULL, dates `yyyy-MM-dd`, timestamps `yyyy-MM-dd HH:mm:ss.ffffff`
 * in UTC, numbers and booleans as text. Nested and binary columns cannot be partition columns.
 * @example partitionValueSql('_event_date', 'date') // => strftime("_event_date", '%Y-%m-%d')
 */
export function partitionValueSql(column: string, type: DataType): string {
  const c = quoteIdent(column);
  if (typeof type !== 'string' || type === 'binary') {
    throw new Error(`column ${JSON.stringify(column)} has type ${typeof type === 'string' ? type : type.type}, which cannot be a partition column`);
  }
  switch (type) {
    case 'string':
      return `NULLIF(${c}, '')`;
    case 'date':
      return `strftime(${c}, '%Y-%m-%d')`;
    case 'timestamp':
      return `strftime(timezone('UTC', ${c}), '%Y-%m-%d %H:%M:%S.%f')`;
    default:
      return `CAST(${c} AS VARCHAR)`;
  }
}

/**
 * Reads the partition values out of a path DuckDB wrote with `PARTITION_BY` (its folders are
 * `col=value` with percent-escaping, null as `__HIVE_DEFAULT_PARTITION__`), relative to the COPY target.
 * @example duckdbPartitionValues('d=2024-01-01/h=x%2Fy/part-1.parquet', ['d', 'h']) // => { d: '2024-01-01', h: 'x/y' }
 */
export function duckdbPartitionValues(relativePath: string, partitionColumns: readonly string[]): Record<string, string | null> {
  const segments = relativePath.split('/').slice(0, -1);
  if (segments.length !== partitionColumns.length) {
    throw new Error(`unexpected partition folders in ${JSON.stringify(relativePath)}: expected ${partitionColumns.join(', ')}`);
  }
  const values: Record<string, string | null> = {};
  segments.forEach((seg, i) => {
    const eq = seg.indexOf('=');
    const name = decodeURIComponent(seg.slice(0, eq));
    const expected = partitionColumns[i]!;
    if (eq < 0 || name !== expected) throw new Error(`partition folder ${JSON.stringify(seg)} does not name column ${JSON.stringify(expected)}`);
    const raw = seg.slice(eq + 1);
    values[expected] = raw === HIVE_DEFAULT_PARTITION ? null : decodeURIComponent(raw);
  });
  return values;
}
