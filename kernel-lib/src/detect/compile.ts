/**
 * Sigma rule → a DuckDB WHERE predicate over a silver table. Every comparison is case-insensitive
 * unless `cased` (lower() on both sides); regular expressions are case-sensitive unless `|re|i`,
 * as the specification says. Each field's test is made two-valued (`coalesce(..., FALSE)`), so
 * a NULL or absent field simply does not match — also under `not` — which is Sigma's semantics and
 * not SQL's three-valued logic.
 */
import { quoteIdent, quoteString } from '../engine/quote.js';
import { cidrSql } from './cidr.js';
import { parseCondition, type ConditionNode } from './condition.js';
import { SigmaError } from './errors.js';
import { sigmaFieldMap, type SigmaFieldMap, type SigmaTarget } from './field-map.js';
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
}

/** A compiled rule. */
export interface CompiledRule {
  rule: SigmaRule;
  category: string;
  /** The silver table to search. */
  table: string;
  /** The `event_id` values the category covers. */
  eventIds: string[];
  /** The full WHERE predicate: event ids and detection. */
  sql: string;
  /** The detection alone (no event id filter). */
  detectionSql: string;
  /** Sigma field → the column it reads, or null when the table has no such column. */
  fields: Record<string, string | null>;
  /** Things the rule uses that the table cannot give (they never match), and category notes. */
  warnings: string[];
}

/** Constructs DuckDB's RE2 does not have: lookaround, backreferences, atomic groups, possessive quantifiers. */
const RE2_UNSUPPORTED: [RegExp, string][] = [
  [/\(\?<?[=!]/, 'lookaround (?=, (?!, (?<=, (?<!'],
  [/(^|[^\\])(\\\\)*\\[1-9]/, 'backreferences (\\1)'],
  [/\(\?>/, 'atomic groups (?>'],
  [/[*+?}]\+/, 'possessive quantifiers (*+, ++)'],
];

/**
 * Compiles a rule to a predicate over the silver table of its logsource category.
 * Throws a {@link SigmaError} naming the rule and construct for what cannot be compiled exactly:
 * an unsupported logsource, modifier or condition form, or a regular expression DuckDB (RE2)
 * cannot run. Fields the table does not have never match (`Field: null` and `|exists: false` do),
 * and are listed in `warnings`.
 *
 * @example
 * const c = compileRule(parseSigmaRule(text));
 * c.table // => 'Process'
 * await session.rows(`SELECT * FROM process_view WHERE ${c.sql}`);
 */
export function compileRule(rule: SigmaRule, fieldMap: SigmaFieldMap = sigmaFieldMap(), options: CompileOptions = {}): CompiledRule {
  const label = ruleLabel(rule);
  const target = resolveTarget(rule, fieldMap, label);
  const ctx = new CompileContext(label, target, options.columns);
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
        return `NOT (${render(node.item)})`;
      default:
        return `(${node.items.map(render).join(node.kind === 'and' ? ' AND ' : ' OR ')})`;
    }
  };
  const detectionSql = trees.length === 1 ? render(trees[0]!) : `(${trees.map(render).join(' OR ')})`;
  const eventIdColumn = quoteIdent(target.fields.EventID ?? 'event_id');
  const eventFilter = `${eventIdColumn} IN (${target.eventIds.map(quoteString).join(', ')})`;
  return {
    rule,
    category: target.category,
    table: target.table,
    eventIds: [...target.eventIds],
    sql: `${eventFilter} AND ${detectionSql}`,
    detectionSql,
    fields: Object.fromEntries(ctx.used),
    warnings: [...target.notes, ...ctx.warnings],
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
  const known = Object.keys(fieldMap.categories).join(', ');
  if (product !== undefined && product.toLowerCase() !== 'windows') throw new SigmaError(label, 'logsource', `product ${product} is not supported (windows only)`);
  if (service !== undefined) throw new SigmaError(label, 'logsource', `service ${service} is not supported; supported are the categories ${known}`);
  if (category === undefined) throw new SigmaError(label, 'logsource', `no category; supported: ${known}`);
  const target = fieldMap.categories[category];
  if (!target) throw new SigmaError(label, 'logsource', `category ${category} is not supported; supported: ${known}`);
  return target;
}

/** Per-rule compilation state: which fields were used, and the warnings. */
class CompileContext {
  readonly used = new Map<string, string | null>();
  readonly warnings: string[] = [];
  private readonly columnTypes: Map<string, { name: string; type: string }> | undefined;

  constructor(
    private readonly rule: string,
    private readonly target: SigmaTarget,
    columns: Readonly<Record<string, string>> | undefined,
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
    const mapped = this.target.fields[field] ?? Object.entries(this.target.fields).find(([k]) => k.toLowerCase() === field.toLowerCase())?.[1];
    let sql: string | null = null;
    if (mapped !== undefined) {
      if (!this.columnTypes) sql = quoteIdent(mapped);
      else {
        const real = this.columnTypes.get(mapped.toLowerCase());
        if (real) sql = /^VARCHAR$/i.test(real.type) ? quoteIdent(real.name) : `CAST(${quoteIdent(real.name)} AS VARCHAR)`;
      }
    }
    if (!this.used.has(field)) {
      this.used.set(field, sql === null ? null : (mapped ?? null));
      if (sql === null) {
        this.warnings.push(
          mapped === undefined
            ? `field ${field} is not mapped for ${this.target.category} (table ${this.target.table}): treated as absent, its tests never match`
            : `field ${field} maps to ${mapped}, which table ${this.target.table} does not have: treated as absent`,
        );
      }
    }
    return sql;
  }

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
        ? wrapJoin(groupEquals(column, tests.values.flat(), each), 'OR')
        : wrapJoin(tests.values.map((alts) => wrapJoin(groupEquals(column, alts, each), 'OR')), 'AND');
    return joined === 'TRUE' || joined === 'FALSE' || tests.values.every((v) => v.every(neverNull)) ? joined : `coalesce(${joined}, FALSE)`;
  }

  /** Keywords: the values searched (as substrings) in every text column the category maps. */
  private keywords(name: string, cond: SigmaFieldCondition): string {
    const tests = fieldTests({ ...cond, field: name === '' ? '(keywords)' : name }, this.rule);
    const columns = [...new Set(Object.values(this.target.fields))]
      .filter((c) => !this.columnTypes || this.columnTypes.get(c.toLowerCase())?.type.toUpperCase() === 'VARCHAR')
      .sort()
      .map((c) => quoteIdent(this.columnTypes?.get(c.toLowerCase())?.name ?? c));
    const perValue = tests.values.map((alts) =>
      wrapJoin(
        alts.flatMap((t) => {
          const contained: ValueTest = t.kind === 'pattern' ? { ...t, pieces: [ANY, ...t.pieces, ANY] } : t;
          return columns.map((c) => `coalesce(${this.test(c, contained, cond)}, FALSE)`);
        }),
        'OR',
      ),
    );
    return wrapJoin(perValue, tests.join === 'and' ? 'AND' : 'OR');
  }

  private test(column: string | null, t: ValueTest, cond: SigmaFieldCondition): string {
    if (column === null) return t.kind === 'null' || (t.kind === 'exists' && !t.exists) ? 'TRUE' : 'FALSE';
    switch (t.kind) {
      case 'null':
        return `${column} IS NULL`;
      case 'exists':
        return t.exists ? `${column} IS NOT NULL` : `${column} IS NULL`;
      case 'pattern':
        return patternSql(column, t.pieces, t.cased);
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
        return t.cased ? `${column} = ${other}` : `lower(${column}) = lower(${other})`;
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

/**
 * Several exact (no wildcard) values of one field, OR-ed, as one `IN` list; the rest one by one.
 */
function groupEquals(column: string | null, alts: readonly ValueTest[], each: (t: ValueTest) => string): string[] {
  if (column === null || alts.length < 2) return alts.map(each);
  const exact = alts.filter((t): t is Extract<ValueTest, { kind: 'pattern' }> => t.kind === 'pattern' && !t.cased && t.pieces.every((p) => typeof p === 'string'));
  if (exact.length < 2) return alts.map(each);
  const rest = alts.filter((t) => !exact.includes(t as Extract<ValueTest, { kind: 'pattern' }>));
  const list = [...new Set(exact.map((t) => (t.pieces as string[]).join('').toLowerCase()))].map(quoteString);
  return [`lower(${column}) IN (${list.join(', ')})`, ...rest.map(each)];
}

/** Whether a test's SQL can never be NULL (so it needs no coalesce). */
function neverNull(t: ValueTest): boolean {
  return t.kind === 'null' || t.kind === 'exists' || t.kind === 'cidr';
}

/**
 * A pattern as the simplest SQL that matches it: equality, starts_with/ends_with/contains, or LIKE
 * with `\` as the escape character. Case-insensitive unless `cased`.
 *
 * @example patternSql('"process_file_path"', [ANY, '\\whoami.exe'], false)
 * // => ends_with(lower("process_file_path"), '\whoami.exe')
 */
export function patternSql(column: string, pieces: readonly Piece[], cased: boolean): string {
  const merged = mergeAny(pieces);
  const lhs = cased ? column : `lower(${column})`;
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
