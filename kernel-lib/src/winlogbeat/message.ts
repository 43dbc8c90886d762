/**
 * SQL for winlogbeat's rendered `message`: its lines, and the "Key: Value" fields in them.
 * Everything here is DuckDB SQL text; no row ever passes through JavaScript.
 */

/**
 * A "Key: Value" line: optional indentation, a key without ':' or tabs (at most 64 characters,
 * so prose is not mistaken for a key), ':' and then blanks or the end of the line.
 */
const KEY_LINE = String.raw`^[ \t]*([^:\t ][^:\t]{0,63}?)[ \t]*:(?:[ \t]+|$)`;
/** The value of a key line: everything after the first ':' and the blanks following it. */
const VALUE_OF_LINE = String.raw`^[ \t]*[^:\t ][^:\t]{0,63}?[ \t]*:[ \t]*(.*)$`;

/**
 * SQL that splits a message into its lines ('\n'), dropping the '\r' Windows leaves at line ends.
 * @example messageLinesSql('"message"') // => list_transform(string_split("message", chr(10)), ...)
 */
export function messageLinesSql(message: string): string {
  return `list_transform(string_split(${message}, chr(10)), lambda __wl_l: rtrim(__wl_l, chr(13)))`;
}

/**
 * SQL giving, per line of a lines list, the key of a "Key: Value" line or '' for other lines.
 * @example messageKeysSql('"__wl_msg_lines"')
 */
export function messageKeysSql(lines: string): string {
  return `list_transform(${lines}, lambda __wl_l: regexp_extract(__wl_l, '${KEY_LINE}', 1))`;
}

/**
 * SQL building the MAP(VARCHAR, VARCHAR) of a message's fields from its lines and their keys
 * (see {@link messageLinesSql}, {@link messageKeysSql}; pass column references to them).
 *
 * Rules: the first line is the title, never a field. A value is everything after the first ':'
 * and its blanks, so `UtcTime: 2021-05-10 12:34:56.789` keeps its colons. Lines without a key
 * that follow a field continue its value (joined with '\n') until a blank line or the next key —
 * a blank line ends a value, which keeps the prose paragraphs of Security messages out. When a
 * key repeats (Security messages repeat "Security ID" per section), the first occurrence wins.
 *
 * @example
 * `SELECT ${messageFieldsSql('lines', 'keys')} AS message_fields FROM (...)`
 */
export function messageFieldsSql(lines: string, keys: string): string {
  const L = lines;
  const K = keys;
  const end =
    `coalesce(list_filter(range(__wl_p + 1, len(${L}) + 1), ` +
    `lambda __wl_j: ${K}[__wl_j] <> '' OR regexp_matches(${L}[__wl_j], '^\\s*$'))[1], len(${L}) + 1)`;
  const value =
    `array_to_string(list_prepend(regexp_extract(${L}[__wl_p], '${VALUE_OF_LINE}', 1), ` +
    `${L}[__wl_p + 1 : ${end} - 1]), chr(10))`;
  const starts =
    `list_filter(range(2, len(${K}) + 1), ` +
    `lambda __wl_p: ${K}[__wl_p] <> '' AND NOT list_contains(${K}[2 : __wl_p - 1], ${K}[__wl_p]))`;
  return (
    `map_from_entries(list_transform(${starts}, ` +
    `lambda __wl_p: {'key': ${K}[__wl_p], 'value': ${value}}))::MAP(VARCHAR, VARCHAR)`
  );
}
