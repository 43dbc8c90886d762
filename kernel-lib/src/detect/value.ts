/**
 * Sigma values and modifiers → tests on one field, before any SQL. A plain value is a pattern of
 * literal text and wildcards (`*` any run, `?` one character; `\*`, `\?`, `\\` escape them; any
 * other `\` is a literal backslash). Modifiers apply left to right, as the specification says:
 * `base64offset|contains` encodes then wraps in wildcards.
 */
import { SigmaError } from './errors.js';
import type { SigmaFieldCondition, SigmaScalar } from './rule.js';

/** A wildcard that matches any run of characters (`*`). */
export const ANY = Symbol('*');
/** A wildcard that matches exactly one character (`?`). */
export const ONE = Symbol('?');
/** One piece of a pattern: literal text or a wildcard. */
export type Piece = string | typeof ANY | typeof ONE;

/** A test of one field value; a field condition is an OR (or, with `|all`, an AND) of these. */
export type ValueTest =
  | { kind: 'pattern'; pieces: Piece[]; cased: boolean }
  | { kind: 'null' }
  | { kind: 'regex'; pattern: string; flags: string }
  | { kind: 'cidr'; cidr: string }
  | { kind: 'exists'; exists: boolean }
  | { kind: 'compare'; op: '<' | '<=' | '>' | '>='; value: number }
  | { kind: 'fieldref'; field: string; cased: boolean };

/** A field condition turned into tests: one group per value (its alternatives OR-ed), joined by `join`. */
export interface FieldTests {
  field: string;
  join: 'or' | 'and';
  values: ValueTest[][];
}

const TRANSFORMS = new Set(['contains', 'startswith', 'endswith', 'windash', 'base64', 'base64offset', 'utf16le', 'utf16be', 'utf16', 'wide']);
const KINDS = new Set(['re', 'cidr', 'exists', 'lt', 'lte', 'gt', 'gte', 'fieldref']);
const FLAGS = new Set(['all', 'cased', 'i', 'm', 's']);
const COMPARE = { lt: '<', lte: '<=', gt: '>', gte: '>=' } as const;
/** What windash puts in place of a leading - or /: the two, en dash, em dash, horizontal bar. */
const DASHES = ['-', '/', '\u2013', '\u2014', '\u2015'];
/** More variants than this from one value is a rule bug, not a search. */
const MAX_VARIANTS = 625;

type Alt = { kind: 'pattern'; pieces: Piece[] } | { kind: 'bytes'; bytes: Uint8Array };

/**
 * Turns one `Field|mods: values` into tests. Throws a {@link SigmaError} naming the field and
 * modifier for unknown or unsupported modifiers (`expand`), bad combinations (`re` with
 * `contains`, two kinds such as `re|cidr`, `i`/`m`/`s` without `re`, wildcards under base64,
 * utf16 without base64), and values of the wrong type (`exists` needs true/false, `lt` a number).
 *
 * @example
 * fieldTests({ field: 'CommandLine', modifiers: ['contains', 'all'], values: ['-enc', 'hidden'], isList: true }, 'rule')
 * // => { field: 'CommandLine', join: 'and', values: [[{ kind: 'pattern', pieces: [ANY, '-enc', ANY], cased: false }], ...] }
 */
export function fieldTests(cond: SigmaFieldCondition, rule: string): FieldTests {
  const where = `field ${[cond.field, ...cond.modifiers].join('|')}`;
  const fail = (problem: string): never => {
    throw new SigmaError(rule, where, problem);
  };
  for (const m of cond.modifiers) {
    if (m === 'expand') fail('the expand modifier (placeholders) is not supported');
    if (!TRANSFORMS.has(m) && !KINDS.has(m) && !FLAGS.has(m)) fail(`unknown modifier ${JSON.stringify(m)}`);
  }
  const kinds = cond.modifiers.filter((m) => KINDS.has(m));
  if (kinds.length > 1) fail(`modifiers ${kinds.join(' and ')} cannot be combined`);
  const kind = kinds[0];
  const transforms = cond.modifiers.filter((m) => TRANSFORMS.has(m));
  const cased = cond.modifiers.includes('cased');
  const reFlags = cond.modifiers.filter((m) => m === 'i' || m === 'm' || m === 's');
  if (reFlags.length > 0 && kind !== 're') fail(`the regular-expression flag(s) ${reFlags.join(', ')} need the re modifier`);
  if (kind && transforms.length > 0) fail(`${kind} cannot be combined with ${transforms.join(', ')}`);
  if (kind && kind !== 'fieldref' && cased) fail(`cased does not apply to ${kind}`);
  const join = cond.modifiers.includes('all') && cond.values.length > 1 ? 'and' : 'or';

  const values = cond.values.map((value): ValueTest[] => {
    if (value === null) {
      if (cond.modifiers.some((m) => m !== 'all')) fail('null cannot take modifiers (null means: the field is absent or empty of value)');
      return [{ kind: 'null' }];
    }
    const text = typeof value === 'boolean' ? String(value) : value;
    switch (kind) {
      case 're':
        return [{ kind: 'regex', pattern: text, flags: [...new Set(reFlags)].join('') }];
      case 'cidr':
        return [{ kind: 'cidr', cidr: text }];
      case 'exists':
        if (typeof value !== 'boolean') fail(`exists needs true or false, got ${JSON.stringify(value)}`);
        return [{ kind: 'exists', exists: value as boolean }];
      case 'lt':
      case 'lte':
      case 'gt':
      case 'gte': {
        const n = Number(text);
        if (text.trim() === '' || !Number.isFinite(n)) fail(`${kind} needs a number, got ${JSON.stringify(value)}`);
        return [{ kind: 'compare', op: COMPARE[kind], value: n }];
      }
      case 'fieldref':
        if (text.trim() === '') fail('fieldref needs a field name');
        return [{ kind: 'fieldref', field: text, cased }];
      default:
        return applyTransforms(value, transforms, fail).map((alt) => ({ kind: 'pattern', pieces: alt, cased }));
    }
  });
  return { field: cond.field, join, values };
}

/**
 * A Sigma string value as pattern pieces: `*` and `?` are wildcards; `\*`, `\?` and `\\` are the
 * literal characters; a backslash before anything else is itself.
 *
 * @example parsePattern('C:\\Windows\\*.exe') // => ['C:\\Windows\\', ANY, '.exe']
 */
export function parsePattern(value: string): Piece[] {
  const pieces: Piece[] = [];
  let text = '';
  const flush = (): void => {
    if (text !== '') pieces.push(text);
    text = '';
  };
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\\') {
      const next = value[i + 1];
      if (next === '*' || next === '?' || next === '\\') {
        text += next;
        i++;
      } else {
        text += '\\';
      }
    } else if (c === '*' || c === '?') {
      flush();
      pieces.push(c === '*' ? ANY : ONE);
    } else {
      text += c;
    }
  }
  flush();
  return pieces;
}

function applyTransforms(value: SigmaScalar, transforms: readonly string[], fail: (problem: string) => never): Piece[][] {
  const start: Alt = { kind: 'pattern', pieces: typeof value === 'string' ? parsePattern(value) : [String(value)] };
  let alts: Alt[] = [start];
  for (const t of transforms) {
    alts = alts.flatMap((alt) => transform(alt, t, fail));
    if (alts.length > MAX_VARIANTS) fail(`${t} expands one value into more than ${MAX_VARIANTS} variants`);
  }
  return alts.map((alt) => {
    if (alt.kind === 'bytes') return fail(`${transforms.find((t) => t.startsWith('utf16') || t === 'wide')} yields bytes: follow it with base64 or base64offset`);
    return alt.pieces;
  });
}

function transform(alt: Alt, t: string, fail: (problem: string) => never): Alt[] {
  if (t === 'base64' || t === 'base64offset') {
    const bytes = alt.kind === 'bytes' ? alt.bytes : Buffer.from(plainText(alt.pieces, t, fail), 'utf8');
    if (t === 'base64') return [{ kind: 'pattern', pieces: [Buffer.from(bytes).toString('base64')] }];
    return base64Offsets(bytes).map((s) => ({ kind: 'pattern', pieces: [s] }));
  }
  if (alt.kind === 'bytes') return fail(`${t} cannot follow a utf16 modifier: it applies to text; put base64/base64offset right after utf16`);
  switch (t) {
    case 'contains':
      return [{ kind: 'pattern', pieces: withAny(withAny(alt.pieces, 'start'), 'end') }];
    case 'startswith':
      return [{ kind: 'pattern', pieces: withAny(alt.pieces, 'end') }];
    case 'endswith':
      return [{ kind: 'pattern', pieces: withAny(alt.pieces, 'start') }];
    case 'windash':
      return windash(alt.pieces).map((pieces) => ({ kind: 'pattern', pieces }));
    case 'utf16le':
    case 'wide':
      return [{ kind: 'bytes', bytes: Buffer.from(plainText(alt.pieces, t, fail), 'utf16le') }];
    case 'utf16be':
      return [{ kind: 'bytes', bytes: Buffer.from(plainText(alt.pieces, t, fail), 'utf16le').swap16() }];
    case 'utf16':
      return [{ kind: 'bytes', bytes: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(plainText(alt.pieces, t, fail), 'utf16le')]) }];
    default:
      return fail(`internal: unknown transform ${t}`);
  }
}

/**
 * The three base64 encodings of `bytes` at each alignment inside a longer encoded text, cut to
 * the characters that do not depend on the neighbours (pySigma's base64offset).
 */
function base64Offsets(bytes: Uint8Array): string[] {
  const starts = [0, 2, 3];
  const ends = [undefined, -3, -2];
  return [0, 1, 2].map((i) => {
    const padded = Buffer.concat([Buffer.alloc(i, 0x20), Buffer.from(bytes)]);
    const encoded = padded.toString('base64');
    return encoded.slice(starts[i], ends[(bytes.length + i) % 3]);
  });
}

function windash(pieces: Piece[]): Piece[][] {
  let variants: Piece[][] = [[]];
  for (const piece of pieces) {
    if (typeof piece !== 'string') {
      variants = variants.map((v) => [...v, piece]);
      continue;
    }
    // A - or / that starts a word (`\B[-/]\b`, pySigma's rule): a command-line switch.
    const parts = piece.split(/\B[-/]\b/);
    let texts = [parts[0]!];
    for (const part of parts.slice(1)) texts = texts.flatMap((t) => DASHES.map((d) => `${t}${d}${part}`));
    variants = variants.flatMap((v) => texts.map((t) => [...v, t]));
  }
  return variants;
}

function withAny(pieces: Piece[], side: 'start' | 'end'): Piece[] {
  if (side === 'start') return pieces[0] === ANY ? pieces : [ANY, ...pieces];
  return pieces[pieces.length - 1] === ANY ? pieces : [...pieces, ANY];
}

function plainText(pieces: Piece[], t: string, fail: (problem: string) => never): string {
  if (pieces.some((p) => typeof p !== 'string')) fail(`${t} cannot encode wildcards: apply contains/startswith/endswith after it`);
  return pieces.join('');
}
