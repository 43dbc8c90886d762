/**
 * Escapes text for HTML element content and for double- or single-quoted attribute values.
 * Every value shown in a notebook passes through here: log data (command lines, user names,
 * pipe names) is written by whoever controls an endpoint, so it must never become markup.
 *
 * @example escapeHtml('<script>alert(1)</script>') // => '&lt;script&gt;alert(1)&lt;/script&gt;'
 */
export function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/**
 * Formats an integer count with thousands separators, independent of the machine's locale.
 * @example formatCount(12345) // => '12,345'
 */
export function formatCount(n: number | bigint): string {
  return n.toLocaleString('en-US');
}
