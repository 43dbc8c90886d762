/**
 * Per-file Delta statistics (`add.stats`) from Parquet footers, read with DuckDB's
 * `parquet_metadata()`: no data is read again after a write.
 */
import { quoteString } from '../engine/quote.js';
import type { Session } from '../engine/session.js';
import type { DataType, StructType } from './schema/from-spark.js';

/** Delta's default for `delta.dataSkippingNumIndexedCols`. */
export const DEFAULT_NUM_INDEXED_COLS = 32;
/** Delta's default for `delta.dataSkippingStringPrefixLength`. */
export const STRING_PREFIX_LENGTH = 32;
/**
 * Appended to a cut string max so it stays an upper bound: U+10FFFF is the highest code point, so
 * it sorts after any character in UTF-8 byte order (the order Parquet and Delta readers compare in).
 */
const MAX_TIE_BREAKER = '\u{10FFFF}';

const MIN_MAX_TYPES = new Set(['byte', 'short', 'integer', 'long', 'float', 'double', 'date', 'timestamp', 'timestamp_ntz', 'string']);

/** One Parquet leaf column of a data file, in file order. */
interface Leaf {
  /** Logical path for stats; undefined for leaves inside arrays and maps (no stats). */
  path?: string[];
  type: string;
}

/** Flattens a data schema to its Parquet leaves, in the order Parquet numbers them (`column_id`). */
function parquetLeaves(schema: StructType): Leaf[] {
  const out: Leaf[] = [];
  const walk = (type: DataType, path: string[] | undefined): void => {
    if (typeof type === 'string') {
      out.push(path ? { path, type } : { type });
      return;
    }
    switch (type.type) {
      case 'struct':
        for (const f of type.fields) walk(f.type, path ? [...path, f.name] : undefined);
        return;
      case 'array':
        walk(type.elementType, undefined);
        return;
      case 'map':
        walk(type.keyType, undefined);
        walk(type.valueType, undefined);
        return;
    }
  };
  for (const f of schema.fields) walk(f.type, [f.name]);
  return out;
}

/** The DuckDB type to read a Parquet statistic of a Spark primitive as, and how to render it. */
function statSql(type: string, expr: string): string {
  if (type === 'date') return `strftime(TRY_CAST(${expr} AS DATE), '%Y-%m-%d')`;
  // Spark writes stats timestamps with millisecond precision (readers widen the max by 1 ms).
  if (type === 'timestamp') return `strftime(timezone('UTC', TRY_CAST(${expr} AS TIMESTAMPTZ)), '%Y-%m-%dT%H:%M:%S.%gZ')`;
  if (type === 'timestamp_ntz') return `strftime(TRY_CAST(${expr} AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S.%g')`;
  if (type === 'string') return `TRY_CAST(${expr} AS VARCHAR)`;
  if (type === 'float' || type === 'double') {
    return `CASE WHEN isfinite(TRY_CAST(${expr} AS DOUBLE)) THEN CAST(TRY_CAST(${expr} AS DOUBLE) AS VARCHAR) END`;
  }
  // Integers and decimals: their text is a JSON number (exact, even beyond 2^53).
  return `CAST(${expr} AS VARCHAR)`;
}

function duckdbStatType(type: string): string {
  const m = /^decimal\((\d+),(\d+)\)$/.exec(type);
  if (m) return `DECIMAL(${m[1]},${m[2]})`;
  const map: Record<string, string> = {
    byte: 'TINYINT', short: 'SMALLINT', integer: 'INTEGER', long: 'BIGINT', float: 'DOUBLE', double: 'DOUBLE',
    date: 'DATE', timestamp: 'TIMESTAMPTZ', timestamp_ntz: 'TIMESTAMP', string: 'VARCHAR',
  };
  return map[type] ?? 'VARCHAR';
}

/** A JSON value that is already JSON text (numbers kept exact). */
class RawJson {
  constructor(readonly text: string) {}
}
type JsonTree = { [key: string]: JsonTree | RawJson };

function setPath(tree: JsonTree, path: readonly string[], value: RawJson): void {
  let node = tree;
  for (const p of path.slice(0, -1)) {
    const next = node[p];
    if (next instanceof RawJson) return;
    node = next ?? (node[p] = {});
  }
  node[path[path.length - 1]!] = value;
}

function renderTree(tree: JsonTree): string {
  return `{${Object.entries(tree)
    .map(([k, v]) => `${JSON.stringify(k)}:${v instanceof RawJson ? v.text : renderTree(v)}`)
    .join(',')}}`;
}

/**
 * Cuts a string min to the prefix length (a prefix never sorts after the string).
 * @example truncateMinString('abcdef', 3) // => 'abc'
 */
export function truncateMinString(value: string, prefixLength = STRING_PREFIX_LENGTH): string {
  const chars = Array.from(value);
  return chars.length <= prefixLength ? value : chars.slice(0, prefixLength).join('');
}

/**
 * Cuts a string max to the prefix length plus a tie-breaker that sorts above every character, so the
 * result is still >= every value; undefined when no such bound exists (then no max is recorded).
 * @example truncateMaxString('x'.repeat(40)) // => 'x'.repeat(32) + '\u{10FFFF}'
 */
export function truncateMaxString(value: string, prefixLength = STRING_PREFIX_LENGTH): string | undefined {
  const chars = Array.from(value);
  if (chars.length <= prefixLength) return value;
  // Extend the prefix past characters equal to the tie-breaker (it would not be greater than them).
  for (let n = prefixLength; n < chars.length; n++) {
    if (chars[n] !== MAX_TIE_BREAKER) return chars.slice(0, n).join('') + MAX_TIE_BREAKER;
  }
  return value;
}

/** Options for {@link fileStats}. */
export interface StatsOptions {
  /** `delta.dataSkippingNumIndexedCols`: leaf columns with stats, in schema order; -1 for all. */
  numIndexedCols?: number;
}

/**
 * Delta `stats` JSON for each Parquet file, computed from the files' footers.
 * `dataSchema` is the schema of the columns inside the files (partition columns excluded), in file order.
 * @example const stats = await fileStats(session, ['/t/part-1.parquet'], dataSchema); stats.get('/t/part-1.parquet')
 */
export async function fileStats(
  session: Session,
  files: readonly string[],
  dataSchema: StructType,
  opts: StatsOptions = {},
): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  if (files.length === 0) return result;
  const limit = opts.numIndexedCols ?? DEFAULT_NUM_INDEXED_COLS;
  const leaves = parquetLeaves(dataSchema);
  // Which leaves get stats: the first N in schema order (leaves in arrays/maps count but get none).
  const indexed: { id: number; leaf: Leaf & { path: string[] } }[] = [];
  leaves.forEach((leaf, id) => {
    if (limit >= 0 && id >= limit) return;
    if (leaf.path) indexed.push({ id, leaf: { ...leaf, path: leaf.path } });
  });

  const fileList = `[${files.map(quoteString).join(', ')}]`;
  const md = `md AS MATERIALIZED (SELECT file_name, row_group_id, row_group_num_rows, column_id, stats_min_value, stats_max_value, stats_null_count FROM parquet_metadata(${fileList}))`;
  const parts = indexed.map(({ id, leaf }) => {
    const minMax = MIN_MAX_TYPES.has(leaf.type) || leaf.type.startsWith('decimal(');
    const t = duckdbStatType(leaf.type);
    const mn = minMax ? statSql(leaf.type, `min(TRY_CAST(stats_min_value AS ${t}))`) : 'NULL';
    const mx = minMax ? statSql(leaf.type, `max(TRY_CAST(stats_max_value AS ${t}))`) : 'NULL';
    return `SELECT file_name, ${id} AS leaf, ${mn}::VARCHAR AS min_v, ${mx}::VARCHAR AS max_v,
      sum(stats_null_count)::BIGINT::VARCHAR AS nulls, bool_and(stats_null_count IS NOT NULL) AS nulls_known,
      bool_and(stats_min_value IS NOT NULL OR stats_null_count = row_group_num_rows) AS bounds_known
      FROM md WHERE column_id = ${id} GROUP BY file_name`;
  });
  const counts = `SELECT file_name, sum(row_group_num_rows)::BIGINT::VARCHAR AS n FROM (SELECT DISTINCT file_name, row_group_id, row_group_num_rows FROM md) GROUP BY file_name`;
  const numRows = await session.rows<{ file_name: string; n: string }>(`WITH ${md} ${counts}`);
  const leafRows =
    parts.length === 0
      ? []
      : await session.rows<{
          file_name: string;
          leaf: number;
          min_v: string | null;
          max_v: string | null;
          nulls: string | null;
          nulls_known: boolean;
          bounds_known: boolean;
        }>(`WITH ${md} ${parts.join('\nUNION ALL\n')}`);

  const byId = new Map(indexed.map((x) => [x.id, x.leaf]));
  const trees = new Map<string, { min: JsonTree; max: JsonTree; nulls: JsonTree }>();
  for (const f of files) trees.set(f, { min: {}, max: {}, nulls: {} });
  for (const r of leafRows) {
    const t = trees.get(r.file_name);
    const leaf = byId.get(Number(r.leaf));
    if (!t || !leaf) continue;
    if (r.nulls_known && r.nulls !== null) setPath(t.nulls, leaf.path, new RawJson(r.nulls));
    if (!r.bounds_known || r.min_v === null || r.max_v === null) continue;
    if (leaf.type === 'string') {
      const max = truncateMaxString(r.max_v);
      if (max === undefined) continue;
      setPath(t.min, leaf.path, new RawJson(JSON.stringify(truncateMinString(r.min_v))));
      setPath(t.max, leaf.path, new RawJson(JSON.stringify(max)));
    } else if (leaf.type === 'date' || leaf.type.startsWith('timestamp')) {
      setPath(t.min, leaf.path, new RawJson(JSON.stringify(r.min_v)));
      setPath(t.max, leaf.path, new RawJson(JSON.stringify(r.max_v)));
    } else {
      setPath(t.min, leaf.path, new RawJson(r.min_v));
      setPath(t.max, leaf.path, new RawJson(r.max_v));
    }
  }
  const rowsByFile = new Map(numRows.map((r) => [r.file_name, r.n]));
  for (const f of files) {
    const t = trees.get(f)!;
    const n = rowsByFile.get(f) ?? '0';
    result.set(f, `{"numRecords":${n},"minValues":${renderTree(t.min)},"maxValues":${renderTree(t.max)},"nullCount":${renderTree(t.nulls)}}`);
  }
  return result;
}

/** Per-column statistics of one written file, as DuckDB's `COPY ... (RETURN_STATS true)` reports them. */
export type CopyColumnStatistics = ReadonlyMap<string, ReadonlyMap<string, string>>;

/**
 * The `column_statistics` key DuckDB uses for a leaf column: each path part double-quoted
 * (inner quotes doubled), joined with dots.
 */
function copyStatsKey(path: readonly string[]): string {
  return path.map((p) => `"${p.replaceAll('"', '""')}"`).join('.');
}

const INTEGER_TEXT = /^-?\d+$/;
const DECIMAL_TEXT = /^-?\d+(\.\d+)?$/;
const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;
const DATE_TEXT = /^\d{4}-\d{2}-\d{2}$/;
/** DuckDB's text of a TIMESTAMP / TIMESTAMPTZ value: `2024-05-01 12:00:00.123456[+00[:00]]`. */
const TIMESTAMP_TEXT = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(?:([+-])(\d{2})(?::?(\d{2}))?)?$/;

/**
 * Renders a DuckDB statistic's text as the JSON text Delta stats hold, or undefined when there is
 * no faithful bound (infinities, NaN, out-of-range dates). Timestamps keep millisecond precision,
 * like Spark's stats (readers widen a max by 1 ms for this).
 */
function renderStat(type: string, text: string): string | undefined {
  switch (type) {
    case 'byte':
    case 'short':
    case 'integer':
    case 'long':
      return INTEGER_TEXT.test(text) ? text : undefined;
    case 'float':
    case 'double': {
      const n = Number(text);
      if (!Number.isFinite(n)) return undefined;
      // A float statistic is the exact float value, written at double precision (as a DOUBLE cast would).
      if (type === 'float') return String(Math.fround(n));
      return JSON_NUMBER.test(text) ? text : String(n);
    }
    case 'date':
      return DATE_TEXT.test(text) ? JSON.stringify(text) : undefined;
    case 'timestamp':
    case 'timestamp_ntz': {
      const m = TIMESTAMP_TEXT.exec(text);
      if (!m) return undefined;
      const millis = (m[3] ?? '').padEnd(3, '0').slice(0, 3);
      if (type === 'timestamp_ntz') return JSON.stringify(`${m[1]}T${m[2]}.${millis}`);
      const offsetMinutes = m[4] ? (m[4] === '-' ? -1 : 1) * (Number(m[5]) * 60 + Number(m[6] ?? 0)) : 0;
      if (offsetMinutes === 0) return JSON.stringify(`${m[1]}T${m[2]}.${millis}Z`);
      const utc = new Date(Date.parse(`${m[1]}T${m[2]}.${millis}Z`) - offsetMinutes * 60_000);
      return Number.isNaN(utc.getTime()) ? undefined : JSON.stringify(utc.toISOString());
    }
    default:
      return type.startsWith('decimal(') && DECIMAL_TEXT.test(text) ? text : undefined;
  }
}

/**
 * Delta `stats` JSON for one file from the statistics DuckDB reports while writing it
 * (`COPY ... (RETURN_STATS true)`): no footer is read back. Same result as {@link fileStats}, except
 * that a float column holding NaN gets no bounds (a NaN sorts above every number, so a max that
 * leaves it out would skip files wrongly).
 * @example
 * const [row] = await session.rows(`COPY (...) TO 'f.parquet' (FORMAT parquet, RETURN_STATS true)`);
 * const stats = statsFromCopy(row.count, toStatsMap(row.column_statistics), dataSchema);
 */
export function statsFromCopy(numRecords: bigint | number, columns: CopyColumnStatistics, dataSchema: StructType, opts: StatsOptions = {}): string {
  const limit = opts.numIndexedCols ?? DEFAULT_NUM_INDEXED_COLS;
  const min: JsonTree = {};
  const max: JsonTree = {};
  const nulls: JsonTree = {};
  parquetLeaves(dataSchema).forEach((leaf, id) => {
    if ((limit >= 0 && id >= limit) || !leaf.path) return;
    const st = columns.get(copyStatsKey(leaf.path));
    if (!st) return;
    const nullCount = st.get('null_count');
    if (nullCount !== undefined && INTEGER_TEXT.test(nullCount)) setPath(nulls, leaf.path, new RawJson(nullCount));
    if (!(MIN_MAX_TYPES.has(leaf.type) || leaf.type.startsWith('decimal('))) return;
    const lo = st.get('min');
    const hi = st.get('max');
    if (lo === undefined || hi === undefined || st.get('has_nan') === 'true') return;
    if (leaf.type === 'string') {
      const cut = truncateMaxString(hi);
      if (cut === undefined) return;
      setPath(min, leaf.path, new RawJson(JSON.stringify(truncateMinString(lo))));
      setPath(max, leaf.path, new RawJson(JSON.stringify(cut)));
      return;
    }
    const a = renderStat(leaf.type, lo);
    const b = renderStat(leaf.type, hi);
    if (a === undefined || b === undefined) return;
    setPath(min, leaf.path, new RawJson(a));
    setPath(max, leaf.path, new RawJson(b));
  });
  return `{"numRecords":${String(numRecords)},"minValues":${renderTree(min)},"maxValues":${renderTree(max)},"nullCount":${renderTree(nulls)}}`;
}

/**
 * Converts a DuckDB `MAP(VARCHAR, MAP(VARCHAR, VARCHAR))` value as the node client returns it
 * (arrays of `{key, value}` entries) to nested Maps.
 * @example toStatsMap([{ key: '"a"', value: [{ key: 'min', value: '1' }] }]).get('"a"')?.get('min') // => '1'
 */
export function toStatsMap(value: unknown): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  if (!Array.isArray(value)) return out;
  for (const entry of value as { key: unknown; value: unknown }[]) {
    const inner = new Map<string, string>();
    if (Array.isArray(entry.value)) {
      for (const kv of entry.value as { key: unknown; value: unknown }[]) {
        if (kv.value !== null && kv.value !== undefined) inner.set(String(kv.key), String(kv.value));
      }
    }
    out.set(String(entry.key), inner);
  }
  return out;
}
