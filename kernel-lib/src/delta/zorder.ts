/**
 * Z-order (Morton order) as DuckDB SQL: rows are ordered by a key that interleaves the bits of
 * each column's rank, so rows close in every column end up close in the file order. Files cut from
 * that order then have narrow min/max ranges in all the Z-order columns at once.
 *
 * Ranks, not raw values, make any type usable (strings included) and spread skewed data evenly:
 * a value's bucket is `(rank - 1) * 2^bits / rowCount`, i.e. its quantile. `rank()` gives equal
 * values the same rank, so all rows of one value land in one bucket and one contiguous run.
 */
import { quoteIdent } from '../engine/quote.js';

/** The Z-order key fits a signed 64-bit BIGINT: at most 62 interleaved bits. */
const MAX_KEY_BITS = 62;
/** Finer buckets than this change nothing for files of thousands of rows. */
const DEFAULT_BITS = 16;

/** Options of {@link zOrderedSql}. */
export interface ZOrderKeyOptions {
  /** Bits per column (default: 16, fewer when many columns; columns × bits ≤ 62). */
  bitsPerColumn?: number;
}

/**
 * Bits per column for `columnCount` columns, checked against the 62-bit budget.
 * @example zOrderBits(5) // => 12; zOrderBits(2, 8) // => 8
 */
export function zOrderBits(columnCount: number, requested?: number): number {
  if (columnCount < 1) throw new Error('Z-order needs at least one column');
  const max = Math.floor(MAX_KEY_BITS / columnCount);
  if (max < 1) throw new Error(`Z-order over ${columnCount} columns does not fit a 62-bit key: use at most ${MAX_KEY_BITS} columns`);
  const bits = requested ?? Math.min(DEFAULT_BITS, max);
  if (!Number.isInteger(bits) || bits < 1 || bits > max) {
    throw new Error(`bitsPerColumn must be an integer from 1 to ${max} for ${columnCount} Z-order column(s), got ${String(requested)}`);
  }
  return bits;
}

/**
 * The quantile bucket of a column as SQL (a window function over the whole input): 0 to 2^bits-1,
 * equal values always in the same bucket, NULLs first.
 * @example zOrderBucketSql('user_name', 16) // => (((rank() OVER (ORDER BY "user_name" ...
 */
export function zOrderBucketSql(column: string, bits: number): string {
  return `(((rank() OVER (ORDER BY ${quoteIdent(column)} ASC NULLS FIRST) - 1) * ${2 ** bits}) // count(*) OVER ())::BIGINT`;
}

/**
 * Interleaves the low `bits` bits of integer SQL expressions (Morton code): bit b of input i goes
 * to position `b * k + (k - 1 - i)`, so the first input is the most significant in each group.
 * @example interleaveBitsSql(['a', 'b'], 2) // => ((((a >> 0) & 1) << 1) | (((b >> 0) & 1) << 0) | ...)
 */
export function interleaveBitsSql(inputs: readonly string[], bits: number): string {
  const k = inputs.length;
  if (k === 1) return inputs[0]!;
  const terms: string[] = [];
  for (let b = 0; b < bits; b++) {
    inputs.forEach((input, i) => terms.push(`(((${input} >> ${b}) & 1) << ${b * k + (k - 1 - i)})`));
  }
  return `(${terms.join(' | ')})`;
}

/**
 * Adds the Z-order key of `columns` to a query's rows as column `keyName` (a BIGINT; rows are not
 * sorted). The columns must exist in the query's output.
 *
 * @example
 * const sql = zOrderKeyedSql('SELECT * FROM events', ['process_name', 'event_id'], 'z');
 * await session.rows(`SELECT * FROM (${sql}) ORDER BY z`);
 */
export function zOrderKeyedSql(sourceSql: string, columns: readonly string[], keyName: string, opts: ZOrderKeyOptions = {}): string {
  const bits = zOrderBits(columns.length, opts.bitsPerColumn);
  // Buckets are computed once per row in a subquery; the interleave reuses them by name.
  const bucketNames = columns.map((_, i) => quoteIdent(`__winlake_zb${i}`));
  const bucketDefs = columns.map((c, i) => `${zOrderBucketSql(c, bits)} AS ${bucketNames[i]}`);
  return `SELECT * EXCLUDE (${bucketNames.join(', ')}), ${interleaveBitsSql(bucketNames, bits)} AS ${quoteIdent(keyName)}
  FROM (SELECT *, ${bucketDefs.join(', ')} FROM (${sourceSql}) AS __winlake_src) AS __winlake_b`;
}

/**
 * Wraps a query so its rows come out in Z-order of `columns` (the key column is not returned).
 *
 * @example
 * const sql = zOrderedSql("SELECT * FROM read_parquet('day/*.parquet')", ['process_name', 'event_id']);
 */
export function zOrderedSql(sourceSql: string, columns: readonly string[], opts: ZOrderKeyOptions = {}): string {
  const key = '__winlake_zorder_key';
  return `SELECT * EXCLUDE (${quoteIdent(key)}) FROM (${zOrderKeyedSql(sourceSql, columns, key, opts)}) AS __winlake_z ORDER BY ${quoteIdent(key)}`;
}
