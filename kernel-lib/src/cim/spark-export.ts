/**
 * A mapping pack as Spark SQL: the same filter and cim_dataframe list as {@link applyPack}, as one
 * query over a flattened bronze table (the `:` column names of parser_kafka_winlogbeat's flatten
 * stage), for Spark or Databricks once one machine is not enough.
 */
import { PATH_SEPARATOR } from '../winlogbeat/flatten.js';
import { validatePack, type MappingPack } from './pack.js';
import { parseTransforms } from './transform.js';

/** The table or view the exported query reads by default: bronze, flattened. */
export const SPARK_FLAT_BRONZE = 'winlogbeat_kafka_bronze_flat';

/** A pack as Spark SQL, and the flattened bronze columns the query reads. */
export interface SparkPackSql {
  table: string;
  sql: string;
  /** Every column the query reads; a bronze that lacks one must get it (as NULL) before the query runs. */
  columns: string[];
}

/**
 * A Spark SQL identifier: backquoted, backquotes doubled.
 * @example sparkIdent('winlog:event_id') // => '`winlog:event_id`'
 */
export function sparkIdent(name: string): string {
  return `\`${name.replaceAll('`', '``')}\``;
}

/**
 * A Spark SQL string literal. Spark reads `\` as an escape in string literals (unlike DuckDB), so
 * backslashes and quotes are escaped with one.
 * @example sparkString("C:\\Windows") // => "'C:\\\\Windows'"
 */
export function sparkString(text: string): string {
  return `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/**
 * Writes a pack as one Spark SQL query over `from` (default {@link SPARK_FLAT_BRONZE}): the
 * pack's bronze filter, then cim_dataframe's order — missing sources as NULL is left to the caller
 * (Spark cannot test for a column), literals and renames, then each EXPR in list order, and the
 * targets sorted by name. The EXPRs are copied as written, so they must be SQL that DuckDB and Spark
 * read alike: one holding `"`, a backslash or a backquote (quoted differently by the two) is
 * refused, and an EXPR may use the pack's target names only (not raw columns no rename consumed).
 *
 * @example
 * const { sql, columns } = sparkPackSql(loadPack('Process'));
 * // spark.sql(sql) over a view winlogbeat_kafka_bronze_flat that has every name in `columns`
 */
export function sparkPackSql(pack: MappingPack, from: string = SPARK_FLAT_BRONZE): SparkPackSql {
  const valid = validatePack(pack);
  const steps = parseTransforms(valid.transforms);
  const columns = new Set<string>(['_sourcetype', `winlog${PATH_SEPARATOR}event_id`]);
  const items: string[] = [];
  for (const s of steps) if (s.verb === 'literal') items.push(`${sparkString(s.text)} AS ${sparkIdent(s.target)}`);
  for (const s of steps) {
    if (s.verb !== 'rename') continue;
    columns.add(s.source);
    items.push(`${sparkIdent(s.source)} AS ${sparkIdent(s.target)}`);
  }
  const where = valid.sources
    .map((src) => `(${sparkIdent('_sourcetype')} = ${sparkString(src.sourcetype)} AND CAST(${sparkIdent('winlog:event_id')} AS STRING) IN (${src.eventIds.map(sparkString).join(', ')}))`)
    .join('\n   OR ');
  let sql = `SELECT\n  ${items.join(',\n  ')}\nFROM ${sparkIdent(from)}\nWHERE ${where}`;
  for (const s of steps) {
    if (s.verb !== 'expr') continue;
    if (/["\\`]/.test(s.sql)) {
      throw new Error(
        `mapping pack ${valid.table}: the EXPR of ${s.target} holds a double quote, backslash or backquote, which Spark SQL and DuckDB read differently; ` +
          `write it without them (chr(92) for a backslash, target names need no quotes) to export it`,
      );
    }
    sql = `SELECT *, (${s.sql}\n) AS ${sparkIdent(s.target)}\nFROM (\n${sql}\n) AS cim_stage_${s.index}`;
  }
  const targets = steps.map((s) => s.target).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const header = [
    `-- winlake mapping pack ${valid.table} as Spark SQL (winlake pack export ${valid.table} --spark).`,
    `-- Reads ${from}: the bronze table flattened to ':' names (parser_kafka_winlogbeat(df, 'flatten')).`,
    `-- Columns read (add any your bronze lacks as CAST(NULL AS STRING)): ${[...columns].join(', ')}`,
    `-- Write the result partitioned by ${valid.partitions.join(', ') || '(nothing)'}; OPTIMIZE ZORDER BY (${valid.zorder.join(', ')}).`,
  ];
  return {
    table: valid.table,
    sql: `${header.join('\n')}\nSELECT ${targets.map(sparkIdent).join(', ')}\nFROM (\n${sql}\n) AS cim_result\n`,
    columns: [...columns],
  };
}
