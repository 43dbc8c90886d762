/**
 * Partition values: `add.partitionValues` holds strings (null for null). This decodes them into
 * typed DuckDB SQL literals for the scan, and into comparable JavaScript values for pruning.
 */
import { quoteString } from '../engine/quote.js';
import { duckdbType, type DataType } from './schema/from-spark.js';

const ZONED = /(Z|[+-]\d\d(:?\d\d)?)$/i;

/**
 * The SQL literal of a partition value of a given Spark type; `null` and `""` are SQL NULL
 * (Spark writes empty strings as null partitions). Timestamps without a zone are UTC.
 * @example partitionLiteralSql('2024-05-01', 'date') // => CAST('2024-05-01' AS DATE)
 */
export function partitionLiteralSql(value: string | null | undefined, type: DataType): string {
  if (typeof type !== 'string') throw new Error(`a partition column cannot have a nested type`);
  const sqlType = duckdbType(type);
  if (value === null || value === undefined || value === '') return `CAST(NULL AS ${sqlType})`;
  switch (type) {
    case 'string':
      return quoteString(value);
    case 'binary':
      return `encode(${quoteString(value)})`;
    case 'timestamp':
      return ZONED.test(value)
        ? `CAST(${quoteString(value)} AS TIMESTAMPTZ)`
        : `timezone('UTC', CAST(${quoteString(value)} AS TIMESTAMP))`;
    case 'timestamp_ntz':
      return `CAST(${quoteString(value.replace(/Z$/i, ''))} AS TIMESTAMP)`;
    default:
      return `CAST(${quoteString(value)} AS ${sqlType})`;
  }
}

/** A value that compares with `<`/`>` the way DuckDB compares the column (see {@link compareValues}). */
export type Comparable = number | bigint | string;

/**
 * Microseconds since the epoch (UTC) of `YYYY-MM-DD[ T]HH:MM:SS[.ffffff][Z|±HH:MM]`, or of a
 * bare date; undefined when the text is not in that form.
 * @example timestampMicros('1970-01-01T00:00:01.5Z') // => 1500000
 */
export function timestampMicros(text: string): number | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d\d(?::?\d\d)?)?$/i.exec(text.trim());
  if (!m) return undefined;
  const [, date, hh = '00', mi = '00', ss = '00', frac = '', zone] = m;
  let offsetMin = 0;
  if (zone && zone.toUpperCase() !== 'Z') {
    const z = /^([+-])(\d\d):?(\d\d)?$/.exec(zone);
    if (!z) return undefined;
    offsetMin = (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3] ?? '0'));
  }
  const ms = Date.parse(`${date}T${hh}:${mi}:${ss}Z`);
  if (!Number.isFinite(ms)) return undefined;
  const micros = Number(frac.padEnd(6, '0').slice(0, 6));
  return (ms - offsetMin * 60_000) * 1000 + micros;
}

/**
 * The comparable form of a partition value string, or undefined when this type is not pruned.
 * Null partition values are `null`.
 * @example partitionComparable('7', 'long') // => 7n; partitionComparable('2024-05-01', 'date') // => 1714521600000000 (µs)
 */
export function partitionComparable(value: string | null | undefined, type: DataType): Comparable | null | undefined {
  if (value === null || value === undefined || value === '') return null;
  if (typeof type !== 'string') return undefined;
  switch (type) {
    case 'string':
      return value;
    case 'byte':
    case 'short':
    case 'integer':
    case 'long':
      return /^-?\d+$/.test(value.trim()) ? BigInt(value.trim()) : undefined;
    case 'float':
    case 'double': {
      const n = Number(value);
      return Number.isNaN(n) ? undefined : n;
    }
    case 'boolean':
      return value === 'true' ? 1 : value === 'false' ? 0 : undefined;
    case 'date':
      return /^\d{4}-\d{2}-\d{2}$/.test(value) ? timestampMicros(value) : undefined;
    case 'timestamp':
    case 'timestamp_ntz':
      return timestampMicros(value);
    default:
      return undefined; // decimal, binary: not pruned (never wrong, only slower)
  }
}

/**
 * Compares two comparables: numbers and bigints numerically, strings by code point (= UTF-8
 * byte order, as DuckDB and Spark compare strings). Mixed string/number never occurs.
 * @example compareValues('a', 'b') // => -1; compareValues(10n, 2n) // => 1
 */
export function compareValues(a: Comparable, b: Comparable): number {
  if (typeof a === 'string' && typeof b === 'string') {
    const ia = a[Symbol.iterator]();
    const ib = b[Symbol.iterator]();
    for (;;) {
      const x = ia.next();
      const y = ib.next();
      if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
      const cx = x.value.codePointAt(0)!;
      const cy = y.value.codePointAt(0)!;
      if (cx !== cy) return cx < cy ? -1 : 1;
    }
  }
  return a < b ? -1 : a > b ? 1 : 0;
}
