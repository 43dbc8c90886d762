/**
 * Running Sigma rules against the silver tables: rules are compiled against each table's real
 * schema, then counted many at a time in one scan (a `sum(CASE WHEN rule THEN 1 ELSE 0 END)` per rule).
 */
import { quoteIdent } from '../engine/quote.js';
import { getSession, type Session } from '../engine/session.js';
import { checkedExpression } from '../engine/sql-guard.js';
import { Catalog } from '../lakehouse/catalog.js';
import { readTable } from '../lakehouse/tables.js';
import { compileRule, ruleTarget, type CompiledRule } from './compile.js';
import { sigmaFieldMap, type SigmaFieldMap } from './field-map.js';
import { loadSigmaRules, type SigmaRule } from './rule.js';

/** Rules to run: a folder or file path, several paths, or parsed rules. */
export type SigmaRuleInput = string | readonly string[] | readonly SigmaRule[];

/** Options of {@link runSigmaRules}. */
export interface RunSigmaOptions {
  catalog?: Catalog;
  session?: Session;
  /** Default: the shipped map ({@link sigmaFieldMap}). */
  fieldMap?: SigmaFieldMap;
  /** Rows to return per matching rule. Default 5; 0 for none. */
  sample?: number;
  /** An extra SQL predicate applied to every table (a time window, a host). */
  where?: string;
  /** A column to break the matches down by (e.g. `dvc_hostname`): fills `matchesBy`. */
  countBy?: string;
}

/** What one rule found. */
export interface SigmaRunResult {
  rule: SigmaRule;
  /** The silver table searched; null when the rule did not compile. */
  table: string | null;
  compiled?: CompiledRule;
  /** Matching events (0 when the rule failed). */
  matches: number;
  /** Matches per value of `countBy`, when asked. */
  matchesBy?: Record<string, number>;
  /** Up to `sample` matching rows. */
  sample?: Record<string, unknown>[];
  warnings: string[];
  /** Why the rule could not run (compile error, missing table, SQL error). */
  error?: string;
}

/** Rules counted per query: one scan of the table per chunk. */
const RULES_PER_QUERY = 100;

/**
 * Runs Sigma rules over the silver tables of the lakehouse and reports per rule the number of
 * matching events and a few sample rows. A rule that cannot be compiled or run gets an `error`
 * and the others still run; results come in the order of the rules.
 *
 * @example
 * const results = await runSigmaRules(`${SHARED_DATA}/sigma/rules/windows/process_creation`);
 * console.table(results.filter((r) => r.matches > 0).map((r) => ({ title: r.rule.title, author: r.rule.author, matches: r.matches })));
 */
export async function runSigmaRules(input: SigmaRuleInput, opts: RunSigmaOptions = {}): Promise<SigmaRunResult[]> {
  const rules = resolveRules(input);
  const catalog = opts.catalog ?? new Catalog();
  const session = opts.session ?? (await getSession());
  const fieldMap = opts.fieldMap ?? sigmaFieldMap();
  const sample = opts.sample ?? 5;
  const results: SigmaRunResult[] = rules.map((rule) => ({ rule, table: null, matches: 0, warnings: [] }));

  const byTable = new Map<string, number[]>();
  results.forEach((r, i) => {
    try {
      r.table = ruleTarget(r.rule, fieldMap).table;
      byTable.set(r.table, [...(byTable.get(r.table) ?? []), i]);
    } catch (err) {
      r.error = (err as Error).message;
    }
  });

  for (const [table, indexes] of byTable) {
    if (!catalog.find(table)) {
      for (const i of indexes) {
        const r = results[i]!;
        try {
          r.warnings = compileRule(r.rule, fieldMap).warnings;
          r.error = `table ${table} is not in the lakehouse at ${catalog.root} (build the silver tables first)`;
        } catch (err) {
          r.error = (err as Error).message;
        }
      }
      continue;
    }
    const frame = await readTable(table, { catalog, session });
    const where = opts.where ? await checkedExpression(session, opts.where, 'runSigmaRules where') : undefined;
    const from = `(${await frame.toSql()}) AS t${where ? ` WHERE ${where}` : ''}`;
    const columns = Object.fromEntries((await frame.schema()).map((f) => [f.name, f.type]));
    const runnable: number[] = [];
    for (const i of indexes) {
      const r = results[i]!;
      try {
        r.compiled = compileRule(r.rule, fieldMap, { columns });
        r.warnings = r.compiled.warnings;
        runnable.push(i);
      } catch (err) {
        r.error = (err as Error).message;
      }
    }
    for (let start = 0; start < runnable.length; start += RULES_PER_QUERY) {
      await countChunk(session, from, runnable.slice(start, start + RULES_PER_QUERY).map((i) => results[i]!), opts.countBy);
    }
    if (sample > 0) {
      for (const i of runnable) {
        const r = results[i]!;
        if (r.matches === 0 || !r.compiled) continue;
        r.sample = await session.rows(`SELECT * FROM ${from}${opts.where ? ' AND ' : ' WHERE '}(${r.compiled.sql}) LIMIT ${Math.floor(sample)}`);
      }
    }
  }
  return results;
}

/** Counts a chunk of rules in one query; if the query fails, each rule alone (to find the culprit). */
async function countChunk(session: Session, from: string, chunk: SigmaRunResult[], countBy: string | undefined): Promise<void> {
  const query = (rs: SigmaRunResult[]): string => {
    // sum(CASE ...) plans and runs 1.5-2x faster than count(*) FILTER (WHERE ...) for many rules.
    const counts = rs.map((r, j) => `sum(CASE WHEN ${r.compiled!.sql} THEN 1 ELSE 0 END) AS ${quoteIdent(`r${j}`)}`);
    return countBy
      ? `SELECT CAST(${quoteIdent(countBy)} AS VARCHAR) AS ${quoteIdent('key')}, ${counts.join(', ')} FROM ${from} GROUP BY 1`
      : `SELECT ${counts.join(', ')} FROM ${from}`;
  };
  const apply = (rs: SigmaRunResult[], rows: Record<string, unknown>[]): void => {
    rs.forEach((r, j) => {
      r.matches = 0;
      if (countBy) r.matchesBy = {};
      for (const row of rows) {
        const n = Number(row[`r${j}`] ?? 0);
        r.matches += n;
        if (countBy && n > 0) r.matchesBy![String(row.key)] = n;
      }
    });
  };
  try {
    apply(chunk, await session.rows(query(chunk)));
  } catch {
    for (const r of chunk) {
      try {
        apply([r], await session.rows(query([r])));
      } catch (err) {
        r.error = `the compiled SQL failed: ${(err as Error).message.split('\n')[0]}`;
      }
    }
  }
}

/**
 * Rules from paths or as given.
 * @example resolveRules(`${SHARED_DATA}/sigma/rules/windows/process_creation`) // loads the folder's YAML rules; resolveRules([rule]) // => [rule]
 */
export function resolveRules(input: SigmaRuleInput): SigmaRule[] {
  if (typeof input === 'string') return loadSigmaRules(input);
  if (input.length === 0) return [];
  const items: readonly unknown[] = input;
  if (items.every((x) => typeof x === 'string')) return loadSigmaRules(items as readonly string[]);
  return [...(input as readonly SigmaRule[])];
}
