/**
 * SQL quoting helpers. Every identifier or literal that comes from data or users goes through
 * these, so a column named `a"b` or `winlog:event_id` is just another name.
 */

/**
 * Quotes an identifier for DuckDB SQL.
 * @example quoteIdent('winlog:event_id') // => "winlog:event_id" (with the double quotes)
 */
export function quoteIdent(name: string): string {
  if (name.includes('\u0000')) throw new Error(`identifier contains a NUL character: ${JSON.stringify(name)}`);
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Quotes a string literal for DuckDB SQL.
 * @example quoteString("it's") // => 'it''s'
 */
export function quoteString(value: string): string {
  if (value.includes('\u0000')) throw new Error(`string literal contains a NUL character`);
  return `'${value.replaceAll("'", "''")}'`;
}

/** A JavaScript value that can be written as a SQL literal. */
export type SqlScalar = string | number | bigint | boolean | Date | null;

/**
 * Renders a JavaScript scalar as a DuckDB SQL literal.
 * @example sqlLiteral(new Date(0)) // => TIMESTAMPTZ '1970-01-01T00:00:00.000Z'
 */
export function sqlLiteral(value: SqlScalar): string {
  if (value === null) return 'NULL';
  switch (typeof value) {
    case 'string':
      return quoteString(value);
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? 'TRUE' : 'FALSE';
    case 'number':
      if (Number.isNaN(value)) return "'NaN'::DOUBLE";
      if (!Number.isFinite(value)) return value > 0 ? "'Infinity'::DOUBLE" : "'-Infinity'::DOUBLE";
      return Number.isInteger(value) ? String(value) : `${value}::DOUBLE`;
    default:
      if (value instanceof Date) return `TIMESTAMPTZ ${quoteString(value.toISOString())}`;
      throw new Error(`cannot render ${String(value)} as a SQL literal`);
  }
}

/**
 * A qualified column path `a.b.c` for nested struct access, each part quoted.
 * @example quotePath(['winlog', 'event_data', 'Image']) // => '"winlog"."event_data"."Image"'
 */
export function quotePath(parts: readonly string[]): string {
  return parts.map(quoteIdent).join('.');
}
