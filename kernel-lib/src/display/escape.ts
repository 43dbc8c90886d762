/**
 * The characters escapeHtml replaces and their entities, in the order it replaces them: `&` first,
 * so that no entity it writes is escaped again.
 */
const ENTITIES: readonly (readonly [string, string])[] = [
  ['&', '&amp;'],
  ['<', '&lt;'],
  ['>', '&gt;'],
  ['"', '&quot;'],
  ["'", '&#39;'],
];
/** Decoding order: the reverse of escaping, so `&amp;` comes last and `&amp;lt;` decodes to `&lt;`, not `<`. */
const ENTITIES_DECODE_ORDER = [...ENTITIES].reverse();

/**
 * Escapes text for HTML element content and for double- or single-quoted attribute values.
 * Every value shown in a notebook passes through here: log data (command lines, user names,
 * pipe names) is written by whoever controls an endpoint, so it must never become markup.
 *
 * @example escapeHtml('<script>alert(1)</script>') // => '&lt;script&gt;alert(1)&lt;/script&gt;'
 */
export function escapeHtml(text: string): string {
  let out = text;
  for (const [char, entity] of ENTITIES) out = out.replaceAll(char, entity);
  return out;
}

/**
 * Decodes the entities {@link escapeHtml} writes (and only those), for plain-text views of markup:
 * `unescapeHtml(escapeHtml(s)) === s` for every string.
 *
 * @example unescapeHtml('&lt;b&gt; &amp;amp;') // => '<b> &amp;'
 */
export function unescapeHtml(markup: string): string {
  let out = markup;
  for (const [char, entity] of ENTITIES_DECODE_ORDER) out = out.replaceAll(entity, char);
  return out;
}

/**
 * Formats an integer count with thousands separators, independent of the machine's locale.
 * @example formatCount(12345) // => '12,345'
 */
export function formatCount(n: number | bigint): string {
  return n.toLocaleString('en-US');
}
