/**
 * Sigma's `cidr` modifier in plain DuckDB SQL (the inet extension cannot be installed offline):
 * the column's text is parsed in SQL — IPv4 to an integer compared with the network's range,
 * IPv6 (`::` compression and `%zone` allowed) to 32 hex digits compared with the network's prefix.
 * Text that is not an address of the network's family never matches.
 */
import { quoteString } from '../engine/quote.js';

const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const IPV4_RE = `${OCTET}(?:\\.${OCTET}){3}`;
const HEX_DIGITS = '0123456789abcdef';

/** A parsed network: IPv4 as an integer range, IPv6 as a hex-digit prefix. */
export type Network =
  | { family: 4; first: number; last: number }
  | { family: 6; prefixHex: string; nibble?: { first: number; last: number } };

/**
 * Parses `a.b.c.d/n` or an IPv6 `x::y/n` (no `/n`: a single address). Throws on anything else.
 * @example parseCidr('10.0.0.0/8') // => { family: 4, first: 167772160, last: 184549375 }
 */
export function parseCidr(cidr: string): Network {
  const [addr = '', bitsText, extra] = cidr.trim().split('/');
  if (extra !== undefined) throw new Error(`not a CIDR network: ${JSON.stringify(cidr)}`);
  if (addr.includes(':')) {
    const hex = ipv6Hex(addr);
    const bits = bitsText === undefined ? 128 : Number(bitsText);
    if (hex === undefined || !Number.isInteger(bits) || bits < 0 || bits > 128 || bitsText === '') throw new Error(`not an IPv6 CIDR network: ${JSON.stringify(cidr)}`);
    const full = Math.floor(bits / 4);
    const rest = bits % 4;
    if (rest === 0) return { family: 6, prefixHex: hex.slice(0, full) };
    const digit = HEX_DIGITS.indexOf(hex[full]!);
    const mask = (0xf << (4 - rest)) & 0xf;
    const first = digit & mask;
    return { family: 6, prefixHex: hex.slice(0, full), nibble: { first, last: first | (~mask & 0xf) } };
  }
  const m = new RegExp(`^${IPV4_RE}$`).exec(addr);
  const bits = bitsText === undefined ? 32 : Number(bitsText);
  if (!m || !Number.isInteger(bits) || bits < 0 || bits > 32 || bitsText === '') throw new Error(`not an IPv4 CIDR network: ${JSON.stringify(cidr)}`);
  const value = addr.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  const size = 2 ** (32 - bits);
  const first = Math.floor(value / size) * size;
  return { family: 4, first, last: first + size - 1 };
}

/**
 * SQL that is true when the text `column` (a SQL expression) is an address inside `cidr`, false
 * otherwise (NULL, text of the other family, not an address).
 *
 * @example cidrSql('"dst_ip_addr"', '10.0.0.0/8')
 */
export function cidrSql(column: string, cidr: string): string {
  const net = parseCidr(cidr);
  if (net.family === 4) {
    const part = (i: number): string => `TRY_CAST(split_part(${column}, '.', ${i}) AS BIGINT)`;
    const asInt = `${part(1)} * 16777216 + ${part(2)} * 65536 + ${part(3)} * 256 + ${part(4)}`;
    return `(CASE WHEN regexp_full_match(${column}, ${quoteString(IPV4_RE)}) THEN (${asInt}) BETWEEN ${net.first} AND ${net.last} ELSE FALSE END)`;
  }
  const tests = [`starts_with(h, ${quoteString(net.prefixHex)})`];
  if (net.nibble) {
    const at = net.prefixHex.length + 1;
    tests.push(`strpos(${quoteString(HEX_DIGITS)}, substr(h, ${at}, 1)) - 1 BETWEEN ${net.nibble.first} AND ${net.nibble.last}`);
  }
  return `coalesce(list_transform([${ipv6HexSql(column)}], lambda h: ${tests.join(' AND ')})[1], FALSE)`;
}

/** SQL: the 32 lower-case hex digits of an IPv6 address text, or NULL when it is not one. */
function ipv6HexSql(column: string): string {
  const half = (n: 1 | 2): string => `CASE WHEN split_part(s, '::', ${n}) = '' THEN []::VARCHAR[] ELSE string_split(split_part(s, '::', ${n}), ':') END`;
  const groups =
    `(list_transform([split_part(lower(${column}), '%', 1)], lambda s: CASE ` +
    `WHEN NOT contains(s, ':') OR len(string_split(s, '::')) > 2 THEN NULL ` +
    `WHEN contains(s, '::') THEN (list_transform([[${half(1)}, ${half(2)}]], lambda ht: list_concat(ht[1], list_transform(range(8 - len(ht[1]) - len(ht[2])), lambda z: '0'), ht[2])))[1] ` +
    `ELSE string_split(s, ':') END))[1]`;
  return (
    `(list_transform([${groups}], lambda g: CASE WHEN len(g) = 8 AND list_bool_and(list_transform(g, lambda x: regexp_full_match(x, '[0-9a-f]{1,4}'))) ` +
    `THEN array_to_string(list_transform(g, lambda x: lpad(x, 4, '0')), '') END))[1]`
  );
}

/** The 32 hex digits of an IPv6 address (JavaScript side, for the network). */
function ipv6Hex(addr: string): string | undefined {
  const s = addr.toLowerCase().split('%')[0]!;
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  if (halves.length === 2 && head.length + tail.length > 7) return undefined;
  const groups = halves.length === 2 ? [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail] : head;
  if (groups.length !== 8 || !groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return groups.map((g) => g.padStart(4, '0')).join('');
}
