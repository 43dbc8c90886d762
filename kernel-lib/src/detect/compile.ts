/**
 * Sigma rule → a DuckDB WHERE predicate over a silver table. Every comparison is case-insensitive
 * unless `cased` (lower() on both sides); regular expressions are case-sensitive unless `|re|i`,
 * as the specification says. A NULL or absent field simply does not match — also under `not` —
 * which is Sigma's semantics and not SQL's three-valued logic: outside `not`, AND/OR of tests that
 * are NULL where Sigma says false are TRUE exactly when Sigma's are, so the predicate (a WHERE or
 * CASE WHEN condition, where NULL does not match) needs no wrapper there; a `not` negates
 * `x IS NOT TRUE`, which is TRUE for a NULL x. No coalesce() per field: DuckDB neither shares a
 * test inside coalesce() between rules (common subexpressions) nor stops early in an OR under it.
 */
import { quoteIdent, quoteString } from '../engine/quote.js';
import { cidrSql } from './cidr.js';
import { parseCondition, type ConditionNode } from './condition.js';
import { SigmaError } from './errors.js';
import { CHANNEL_TEXT, EVENT_DATA_PREFIX, USER_DATA_PREFIX, sigmaFieldMap, type SigmaFieldMap, type SigmaTarget } from './field-map.js';
import { ruleLabel, type SigmaFieldCondition, type SigmaRule, type SigmaSearch } from './rule.js';
import { ANY, fieldTests, ONE, type Piece, type ValueTest } from './value.js';

/** Options of {@link compileRule}. */
export interface CompileOptions {
  /**
   * The table's real columns (name → DuckDB type), e.g. from the silver table's schema. A mapped
   * column the table lacks counts as absent; non-text columns are cast to VARCHAR. Default: every
   * mapped column exists and is text.
   */
  columns?: Readonly<Record<string, string>>;
  /**
   * Compile a field the category does not map as absent (never matches, a warning) instead of
   * refusing the rule. Default false: a misspelt field must not make a rule silently never match.
   */
  lenient?: boolean;
  /**
   * Refer to each case-folded column as a column named `lower(<column>)` (listed in
   * {@link CompiledRule.folded}) instead of calling lower() in every comparison, so that a runner
   * computes it once per row for all its rules. Default false: `sql` stands alone.
   */
  foldedColumns?: boolean;
}

/** Values of one field above which contains/startswith/endswith alternatives become one regular expression. */
const ALTERNATION_MIN = 8;

/** A compiled rule. */
export interface CompiledRule {
  rule: SigmaRule;
  category: string;
  /** The silver table to search. */
  table: string;
  /** The `event_id` values the category covers. */
  eventIds: string[];
  /** For the channel view: the channels read (empty: every channel). */
  channels?: string[];
  /** The full WHERE predicate: event ids and detection. */
  sql: string;
  /** The detection alone (no event id filter). */
  detectionSql: string;
  /** The event id (and channel) filter alone; '' when the rule reads every event of its table. */
  eventFilterSql: string;
  /** Sigma field → the column it reads, or null when the table has no such column. */
  fields: Record<string, string | null>;
  /** The table columns `sql` reads (as the table names them). */
  columns: string[];
  /** Things the rule uses that the table cannot give (they never match), and category notes. */
  warnings: string[];
  /** With `foldedColumns`: the column name each folded expression is referred to by → its SQL (`lower(...)`). */
  folded: Record<string, string>;
}

/** Constructs DuckDB's RE2 does not have: lookaround, backreferences, atomic groups, possessive quantifiers. */
const RE2_UNSUPPORTED: [RegExp, string][] = [
  [/\(\?<?[=!]/, 'lookaround (?=, (?!, (?<=, (?<!'],
  [/(^|[^\\])(\\\\)*\\[1-9]/, 'backreferences (\\1)'],
  [/\(\?>/, 'atomic groups (?>'],
  [/[*+?}]\+/, 'possessive quantifiers (*+, ++)'],
];

/**
 * Compiles a rule to a predicate over the silver table of its logsource category, or over the
 * generic channel view (flattened bronze) for a service or a category no silver table holds.
 * Throws a {@link SigmaError} naming the rule and construct for what cannot be compiled exactly:
 * an unsupported logsource, modifier or condition form, a regular expression DuckDB (RE2)
 * cannot run, or (unless `lenient`) fields the category does not map, all named. Fields mapped to a
 * column the data lacks never match (`Field: null` and `|exists: false` do), and are listed in `warnings`.
 *
 * @example
 * const c = compileRule(parseSigmaRule(text));
 * c.table // => 'Process'
 * await session.rows(`SELECT * FROM process_view WHERE ${c.sql}`);
 */
export function compileRule(rule: SigmaRule, fieldMap: SigmaFieldMap = sigmaFieldMap(), options: CompileOptions = {}): CompiledRule {
  const label = ruleLabel(rule);
  const target = resolveTarget(rule, fieldMap, label);
  const ctx = new CompileContext(label, target, options.columns, options.foldedColumns ?? false);
  const searchNames = [...rule.searches.keys()];
  const trees = rule.conditions.map((c) => parseCondition(c, searchNames, label));
  const searchSql = new Map<string, string>();
  const render = (node: ConditionNode): string => {
    switch (node.kind) {
      case 'ref': {
        let sql = searchSql.get(node.name);
        if (sql === undefined) {
          sql = ctx.search(node.name, rule.searches.get(node.name)!);
          searchSql.set(node.name, sql);
        }
        return sql;
      }
      case 'not':
        return `(${render(node.item)}) IS NOT TRUE`;
      default:
        return `(${node.items.map(render).join(node.kind === 'and' ? ' AND ' : ' OR ')})`;
    }
  };
  const detectionSql = trees.length === 1 ? render(trees[0]!) : `(${trees.map(render).join(' OR ')})`;
  if (ctx.unmapped.size > 0 && !options.lenient) {
    throw new SigmaError(
      label,
      'fields',
      `${ctx.unmapped.size === 1 ? 'field' : 'fields'} ${[...ctx.unmapped].join(', ')} ${ctx.unmapped.size === 1 ? 'is' : 'are'} not mapped for ${target.category} (table ${target.table}): no column holds ${ctx.unmapped.size === 1 ? 'it' : 'them'} (compile leniently to treat ${ctx.unmapped.size === 1 ? 'it' : 'them'} as absent)`,
    );
  }
  const filters: string[] = [];
  if (target.channels && target.channels.length > 0) filters.push(`${ctx.readColumn('_sourcetype')} IN (${target.channels.map(quoteString).join(', ')})`);
  if (target.eventIds.length > 0) filters.push(`${ctx.columnSql(target.fields.EventID ?? 'event_id') ?? 'NULL'} IN (${target.eventIds.map(quoteString).join(', ')})`);
  const eventFilter = filters.join(' AND ');
  return {
    rule,
    category: target.category,
    table: target.table,
    eventIds: [...target.eventIds],
    ...(target.channels ? { channels: [...target.channels] } : {}),
    sql: eventFilter ? `${eventFilter} AND ${detectionSql}` : detectionSql,
    detectionSql,
    eventFilterSql: eventFilter,
    fields: Object.fromEntries(ctx.used),
    columns: [...ctx.read].sort(),
    warnings: [...target.notes, ...ctx.warnings],
    folded: Object.fromEntries(ctx.folded),
  };
}

/**
 * The table and events a rule's logsource selects, without compiling its detection. Throws a
 * {@link SigmaError} for a logsource the map does not support.
 *
 * @example ruleTarget(rule).table // => 'Registry'
 */
export function ruleTarget(rule: SigmaRule, fieldMap: SigmaFieldMap = sigmaFieldMap()): SigmaTarget {
  return resolveTarget(rule, fieldMap, ruleLabel(rule));
}

function resolveTarget(rule: SigmaRule, fieldMap: SigmaFieldMap, label: string): SigmaTarget {
  const { category, product, service } = rule.logsource;
  if (product !== undefined && product.toLowerCase() !== 'windows') throw new SigmaError(label, 'logsource', `product ${product} is not supported (windows only)`);
  if (category !== undefined) {
    const target = fieldMap.categories[category];
    if (!target) throw new SigmaError(label, 'logsource', `category ${category} is not supported; supported: ${Object.keys(fieldMap.categories).join(', ')}`);
    return target;
  }
  if (service !== undefined) {
    const target = fieldMap.services[service];
    if (!target) throw new SigmaError(label, 'logsource', `service ${service} is not supported (no channel known for it); supported: ${Object.keys(fieldMap.services).join(', ')}`);
    return target;
  }
  if (product === undefined) throw new SigmaError(label, 'logsource', 'no product, category or service');
  return fieldMap.product;
}

/** Per-rule compilation state: which fields were used, and the warnings. */
class CompileContext {
  readonly used = new Map<string, string | null>();
  readonly warnings: string[] = [];
  /** Fields the category does not map. */
  readonly unmapped = new Set<string>();
  /** Folded column name → SQL, with `foldedColumns`. */
  readonly folded = new Map<string, string>();
  /** The table columns the SQL reads. */
  readonly read = new Set<string>();
  private readonly columnTypes: Map<string, { name: string; type: string }> | undefined;

  constructor(
    private readonly rule: string,
    private readonly target: SigmaTarget,
    columns: Readonly<Record<string, string>> | undefined,
    private readonly foldColumns: boolean,
  ) {
    this.columnTypes = columns ? new Map(Object.entries(columns).map(([name, type]) => [name.toLowerCase(), { name, type }])) : undefined;
  }

  /** SQL for one named search. */
  search(name: string, search: SigmaSearch): string {
    switch (search.kind) {
      case 'map':
        return this.conditions(search.fields);
      case 'anyOf':
        return wrapJoin(search.maps.map((m) => this.conditions(m)), 'OR');
      case 'keywords':
        return this.keywords(name, { field: '', modifiers: search.modifiers, values: search.values, isList: true });
    }
  }

  /** A text expression for a Sigma field, or null when the table has no column for it. */
  column(field: string): string | null {
    const mapped =
      this.target.fields[field] ??
      Object.entries(this.target.fields).find(([k]) => k.toLowerCase() === field.toLowerCase())?.[1] ??
      (this.target.channels ? `${EVENT_DATA_PREFIX}${field}` : undefined);
    let sql = mapped === undefined ? null : this.columnSql(mapped);
    // An event with UserData (not EventData) has its fields under winlog.user_data.
    if (sql === null && mapped?.startsWith(EVENT_DATA_PREFIX) && this.target.channels) sql = this.columnSql(USER_DATA_PREFIX + mapped.slice(EVENT_DATA_PREFIX.length));
    if (!this.used.has(field)) {
      this.used.set(field, sql === null ? null : (mapped ?? null));
      if (mapped === undefined) this.unmapped.add(field);
      if (sql === null) {
        this.warnings.push(
          mapped === undefined
            ? `field ${field} is not mapped for ${this.target.category} (table ${this.target.table}): treated as absent, its tests never match`
            : `field ${field} maps to ${mapped}, which ${this.target.channels ? 'no event read has' : `table ${this.target.table} does not have`}: treated as absent`,
        );
      }
    }
    return sql;
  }

  /** A column as text SQL (cast when not VARCHAR), or null when the real columns lack it. */
  columnSql(column: string): string | null {
    if (!this.columnTypes) return this.readColumn(column);
    const real = this.columnTypes.get(column.toLowerCase());
    if (!real) return null;
    return /^VARCHAR$/i.test(real.type) ? this.readColumn(real.name) : `CAST(${this.readColumn(real.name)} AS VARCHAR)`;
  }

  /** A column as SQL, noted as read. */
  readColumn(name: string): string {
    this.read.add(name);
    return quoteIdent(name);
  }

  /** A column's case-folded SQL: lower(column), or with `foldedColumns` the name of that computed column. */
  readonly fold = (column: string): string => {
    const sql = `lower(${column})`;
    if (!this.foldColumns) return sql;
    this.folded.set(sql, sql);
    return quoteIdent(sql);
  };

  private conditions(conds: readonly SigmaFieldCondition[]): string {
    return wrapJoin(
      conds.map((c) => (c.field === '' ? this.keywords('', c) : this.fieldCondition(c))),
      'AND',
    );
  }

  private fieldCondition(cond: SigmaFieldCondition): string {
    const tests = fieldTests(cond, this.rule);
    const column = this.column(cond.field);
    const each = (t: ValueTest): string => this.test(column, t, cond);
    // OR over values is one flat OR of every alternative, so exact values can share one IN list.
    const joined =
      tests.join === 'or'
        ? wrapJoin(this.group(column, tests.values.flat(), each), 'OR')
        : wrapJoin(tests.values.map((alts) => wrapJoin(this.group(column, alts, each), 'OR')), 'AND');
    return joined;
  }

  /**
   * Keywords: the values searched (as substrings) in the event's text. In the channel view that is
   * its {@link CHANNEL_TEXT} column (the message and every event data value); in a silver table,
   * every text column the category maps (silver keeps no message).
   */
  private keywords(name: string, cond: SigmaFieldCondition): string {
    const tests = fieldTests({ ...cond, field: name === '' ? '(keywords)' : name }, this.rule);
    const columns = this.target.channels
      ? [this.readColumn(CHANNEL_TEXT)]
      : [...new Set(Object.values(this.target.fields))]
          .filter((c) => !this.columnTypes || this.columnTypes.get(c.toLowerCase())?.type.toUpperCase() === 'VARCHAR')
          .sort()
          .map((c) => this.readColumn(this.columnTypes?.get(c.toLowerCase())?.name ?? c));
    const perValue = tests.values.map((alts) =>
      wrapJoin(
        alts.flatMap((t) => {
          const contained: ValueTest = t.kind === 'pattern' ? { ...t, pieces: [ANY, ...t.pieces, ANY] } : t;
          return columns.map((c) => this.test(c, contained, cond));
        }),
        'OR',
      ),
    );
    return wrapJoin(perValue, tests.join === 'and' ? 'AND' : 'OR');
  }

  /**
   * OR-ed alternatives of one field, grouped: exact values as one `IN` list, and many
   * startswith/endswith/contains values as one regular expression per anchor (RE2 matches an
   * alternation of literals in one pass over the value, where a chain of hundreds of contains()
   * scans it once per value); the rest one by one.
   */
  private group(column: string | null, alts: readonly ValueTest[], each: (t: ValueTest) => string): string[] {
    if (column === null || alts.length < 2) return alts.map(each);
    const byAnchor = new Map<Anchor, PatternTest[]>();
    for (const t of alts) {
      const simple = simplePattern(t);
      if (simple) byAnchor.set(simple.anchor, [...(byAnchor.get(simple.anchor) ?? []), t as PatternTest]);
    }
    const grouped = new Set<ValueTest>();
    const out: string[] = [];
    for (const [anchor, tests] of byAnchor) {
      const literals = [...new Set(tests.map((t) => simplePattern(t)!.literal.toLowerCase()))];
      if (anchor === 'exact' && tests.length >= 2) out.push(`${this.fold(column)} IN (${literals.map(quoteString).join(', ')})`);
      else if (anchor !== 'exact' && tests.length >= ALTERNATION_MIN) {
        const body = `(?:${literals.map(regexLiteral).join('|')})`;
        const re = anchor === 'start' ? `^${body}` : anchor === 'end' ? `${body}$` : body;
        out.push(`regexp_matches(${this.fold(column)}, ${quoteString(`(?s)${re}`)})`);
      } else continue;
      for (const t of tests) grouped.add(t);
    }
    return [...out, ...alts.filter((t) => !grouped.has(t)).map(each)];
  }

  private test(column: string | null, t: ValueTest, cond: SigmaFieldCondition): string {
    if (column === null) return t.kind === 'null' || (t.kind === 'exists' && !t.exists) ? 'TRUE' : 'FALSE';
    switch (t.kind) {
      case 'null':
        return `${column} IS NULL`;
      case 'exists':
        return t.exists ? `${column} IS NOT NULL` : `${column} IS NULL`;
      case 'pattern':
        return patternSql(column, t.pieces, t.cased, this.fold);
      case 'regex':
        return this.regex(column, t.pattern, t.flags, cond);
      case 'cidr':
        try {
          return cidrSql(column, t.cidr);
        } catch (err) {
          throw new SigmaError(this.rule, `field ${cond.field}|cidr`, (err as Error).message);
        }
      case 'compare':
        return `TRY_CAST(${column} AS DOUBLE) ${t.op} ${t.value}`;
      case 'fieldref': {
        const other = this.column(t.field);
        if (other === null) return 'FALSE';
        return t.cased ? `${column} = ${other}` : `${this.fold(column)} = ${this.fold(other)}`;
      }
    }
  }

  private regex(column: string, pattern: string, flags: string, cond: SigmaFieldCondition): string {
    for (const [re, what] of RE2_UNSUPPORTED) {
      if (re.test(pattern)) throw new SigmaError(this.rule, `field ${[cond.field, ...cond.modifiers].join('|')}`, `the regular expression uses ${what}, which DuckDB (RE2) does not support: ${pattern}`);
    }
    const prefixed = flags ? `(?${flags})${pattern}` : pattern;
    return `regexp_matches(${column}, ${quoteString(prefixed)})`;
  }
}

type PatternTest = Extract<ValueTest, { kind: 'pattern' }>;

/** Where a pattern's one literal must sit: the whole value, its start, its end, anywhere. */
type Anchor = 'exact' | 'start' | 'end' | 'contains';

/** A case-insensitive pattern with one literal (`x`, `x*`, `*x`, `*x*`): its anchor and literal. */
function simplePattern(t: ValueTest): { anchor: Anchor; literal: string } | undefined {
  if (t.kind !== 'pattern' || t.cased) return undefined;
  const m = mergeAny(t.pieces);
  const [a, b, c] = m;
  if (m.length === 1 && typeof a === 'string') return { anchor: 'exact', literal: a };
  if (m.length === 2 && typeof a === 'string' && b === ANY) return { anchor: 'start', literal: a };
  if (m.length === 2 && a === ANY && typeof b === 'string') return { anchor: 'end', literal: b };
  if (m.length === 3 && a === ANY && typeof b === 'string' && c === ANY) return { anchor: 'contains', literal: b };
  return undefined;
}

/** RE2 syntax characters, escaped so a literal matches itself. */
function regexLiteral(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, (c) => `\\${c}`);
}

/**
 * A pattern as the simplest SQL that matches it: equality, starts_with/ends_with/contains, or LIKE
 * with `\` as the escape character. Case-insensitive unless `cased`.
 *
 * @example patternSql('"process_file_path"', [ANY, '\\whoami.exe'], false)
 * // => ends_with(lower("process_file_path"), '\whoami.exe')
 */
export function patternSql(column: string, pieces: readonly Piece[], cased: boolean, fold: (column: string) => string = (c) => `lower(${c})`): string {
  const merged = mergeAny(pieces);
  const lhs = cased ? column : fold(column);
  const lit = (s: string): string => quoteString(cased ? s : s.toLowerCase());
  const [first, second, third] = merged;
  if (merged.length === 0) return `${lhs} = ''`;
  if (merged.length === 1 && first === ANY) return `${column} IS NOT NULL`;
  if (merged.length === 1 && typeof first === 'string') return `${lhs} = ${lit(first)}`;
  if (merged.length === 2 && first === ANY && typeof second === 'string') return `ends_with(${lhs}, ${lit(second)})`;
  if (merged.length === 2 && typeof first === 'string' && second === ANY) return `starts_with(${lhs}, ${lit(first)})`;
  if (merged.length === 3 && first === ANY && typeof second === 'string' && third === ANY) return `contains(${lhs}, ${lit(second)})`;
  const like = merged.map((p) => (p === ANY ? '%' : p === ONE ? '_' : p.replace(/[\\%_]/g, (c) => `\\${c}`))).join('');
  return `${lhs} LIKE ${lit(like)} ESCAPE '\\'`;
}

function mergeAny(pieces: readonly Piece[]): Piece[] {
  const out: Piece[] = [];
  for (const p of pieces) {
    const last = out[out.length - 1];
    if (p === ANY && last === ANY) continue;
    if (typeof p === 'string' && typeof last === 'string') out[out.length - 1] = last + p;
    else out.push(p);
  }
  return out;
}

/** Joins predicates, folding the TRUE/FALSE that absent fields compile to. */
function wrapJoin(parts: readonly string[], op: 'AND' | 'OR'): string {
  const [absorbing, neutral] = op === 'AND' ? ['FALSE', 'TRUE'] : ['TRUE', 'FALSE'];
  if (parts.includes(absorbing)) return absorbing;
  const kept = parts.filter((p) => p !== neutral);
  if (kept.length === 0) return neutral;
  if (kept.length === 1) return kept[0]!;
  return `(${kept.join(` ${op} `)})`;
}
