/**
 * Running Sigma rules against the silver tables and the channel view: rules are compiled against
 * each table's real schema, then counted all in one scan (a `sum(CASE WHEN rule THEN 1 ELSE 0 END)`
 * per rule) over a projection that case-folds each column the rules compare once per row.
 */
import { quoteIdent, quoteString } from '../engine/quote.js';
import { getSession, type Session } from '../engine/session.js';
import type { Frame } from '../frame/index.js';
import { checkedExpression } from '../engine/sql-guard.js';
import { Catalog } from '../lakehouse/catalog.js';
import { BRONZE_TABLE } from '../lakehouse/load-files.js';
import { readTable } from '../lakehouse/tables.js';
import { parseWinlogbeat } from '../winlogbeat/parse.js';
import { compileRule, ruleTarget, type CompiledRule } from './compile.js';
import { CHANNEL_TEXT, CHANNEL_VIEW, EVENT_DATA_PREFIX, USER_DATA_PREFIX, sigmaFieldMap, type SigmaFieldMap } from './field-map.js';
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
  /** The bronze table the channel view reads (services, categories without a silver table). Default {@link BRONZE_TABLE}. */
  bronze?: string;
  /** Run rules naming fields their category does not map, those fields never matching (see CompileOptions.lenient). Default false: such rules get an `error`. */
  lenient?: boolean;
  /** 'pass' (default): all rules of a table in one scan. 'rule': one query per rule (for comparison). */
  strategy?: 'pass' | 'rule';
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

/**
 * Rules counted per query. Each chunk is one scan of the table; with case folding computed once
 * per row, a bigger chunk costs no more memory per rule, so the whole SigmaHQ process_creation
 * pack is one scan.
 */
const RULES_PER_QUERY = 2000;

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

  const bronze = opts.bronze ?? BRONZE_TABLE;
  for (const [table, indexes] of byTable) {
    if (!catalog.find(table === CHANNEL_VIEW ? bronze : table)) {
      for (const i of indexes) {
        const r = results[i]!;
        try {
          r.warnings = compileRule(r.rule, fieldMap, { lenient: opts.lenient ?? false }).warnings;
          r.error =
            table === CHANNEL_VIEW
              ? `the channel view reads bronze table ${bronze}, which is not in the lakehouse at ${catalog.root}`
              : `table ${table} is not in the lakehouse at ${catalog.root} (build the silver tables first)`;
        } catch (err) {
          r.error = (err as Error).message;
        }
      }
      continue;
    }
    const frame =
      table === CHANNEL_VIEW
        ? await channelView(await readTable(bronze, { catalog, session }), channelsOf(indexes.map((i) => results[i]!.rule), fieldMap))
        : await readTable(table, { catalog, session });
    const where = opts.where ? await checkedExpression(session, opts.where, 'runSigmaRules where') : undefined;
    const scan = `(${await frame.toSql()}) AS t`;
    const base = where ? `(SELECT * FROM ${scan} WHERE (${where})) AS t` : scan;
    const columns = Object.fromEntries((await frame.schema()).map((f) => [f.name, f.type]));
    const runnable: number[] = [];
    const folded = new Map<SigmaRunResult, CompiledRule>();
    for (const i of indexes) {
      const r = results[i]!;
      try {
        const options = { columns, lenient: opts.lenient ?? false };
        r.compiled = compileRule(r.rule, fieldMap, options);
        folded.set(r, compileRule(r.rule, fieldMap, { ...options, foldedColumns: true }));
        r.warnings = r.compiled.warnings;
        runnable.push(i);
      } catch (err) {
        r.error = (err as Error).message;
      }
    }
    const perQuery = opts.strategy === 'rule' ? 1 : RULES_PER_QUERY;
    for (let start = 0; start < runnable.length; start += perQuery) {
      await countChunk(session, base, runnable.slice(start, start + perQuery).map((i) => results[i]!), folded, opts.countBy);
    }
    if (sample > 0) {
      for (const i of runnable) {
        const r = results[i]!;
        if (r.matches === 0 || !r.compiled) continue;
        r.sample = await session.rows(`SELECT * FROM ${base} WHERE (${r.compiled.sql}) LIMIT ${Math.floor(sample)}`);
      }
    }
  }
  return results;
}

/** Counts a chunk of rules in one query; if the query fails, each rule alone (to find the culprit). */
async function countChunk(session: Session, from: string, chunk: SigmaRunResult[], folded: ReadonlyMap<SigmaRunResult, CompiledRule>, countBy: string | undefined): Promise<void> {
  const query = (rs: SigmaRunResult[]): string => {
    const compiled = rs.map((r) => folded.get(r)!);
    const { rows, shared } = eventFiltered(from, compiled);
    const distinct = distinctRows(rows, compiled, countBy);
    // The detection comes first in each rule's condition: DuckDB shares a test between rules (common
    // subexpressions, computed once per row) only where it is the first operand of an AND, and every
    // rule's event id filter there would hide them all. sum(CASE ...) plans and runs 1.5-2x faster
    // than count(*) FILTER (WHERE ...) for many rules.
    const condition = (c: CompiledRule): string => (c.eventFilterSql === '' || c.eventFilterSql === shared ? c.detectionSql : `${c.detectionSql} AND ${c.eventFilterSql}`);
    if (compiled.length === 1) {
      // One rule: a WHERE, which DuckDB pushes into the Parquet scan (tested on each dictionary value once).
      const where = `FROM ${folding(rows, compiled)} WHERE ${condition(compiled[0]!)}`;
      return countBy ? `SELECT CAST(${quoteIdent(countBy)} AS VARCHAR) AS ${quoteIdent('key')}, count(*) AS r0 ${where} GROUP BY 1` : `SELECT count(*) AS r0 ${where}`;
    }
    const counts = compiled.map((c, j) => `sum(CASE WHEN ${condition(c)} THEN ${quoteIdent(WEIGHT)} ELSE 0 END) AS ${quoteIdent(`r${j}`)}`);
    return countBy
      ? `SELECT CAST(${quoteIdent(countBy)} AS VARCHAR) AS ${quoteIdent('key')}, ${counts.join(', ')} FROM ${folding(distinct, compiled)} GROUP BY 1`
      : `SELECT ${counts.join(', ')} FROM ${folding(distinct, compiled)}`;
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

/** The column of {@link distinctRows} that counts the events of each distinct row. */
const WEIGHT = '__winlake_events';

/**
 * The rows reduced to the columns the rules read, each distinct combination once with the number
 * of events that have it. Events repeat (the same service, task or updater command line on every
 * host, every day), and a rule is the same test on equal values: testing each combination once
 * and counting it as its events gives the same counts for one hash aggregation, where the rules
 * cost hundreds of times more per row. On rows that never repeat it costs that aggregation alone.
 */
function distinctRows(from: string, rules: readonly CompiledRule[], countBy: string | undefined): string {
  const columns = new Set<string>(rules.flatMap((r) => r.columns));
  if (countBy) columns.add(countBy);
  const keys = [...columns].map(quoteIdent);
  return `(SELECT ${[...keys, `count(*) AS ${quoteIdent(WEIGHT)}`].join(', ')} FROM ${from}${keys.length > 0 ? ` GROUP BY ${keys.join(', ')}` : ''}) AS d`;
}

/**
 * The rows any of the rules can match: the scan filtered by the union of their event filters (read
 * once, and pushed into the Parquet scan), and the filter all of them share (each rule then tests
 * its detection alone), if there is one.
 */
function eventFiltered(from: string, rules: readonly CompiledRule[]): { rows: string; shared: string | undefined } {
  const filters = [...new Set(rules.map((r) => r.eventFilterSql))];
  if (filters.includes('')) return { rows: from, shared: undefined };
  const rows = `(SELECT * FROM ${from} WHERE ${filters.map((f) => `(${f})`).join(' OR ')}) AS t`;
  return { rows, shared: filters.length === 1 ? filters[0] : undefined };
}

/**
 * The table with each case-folded column the rules compare computed once per row, under the name
 * the compiled rules use (CompileOptions.foldedColumns): one lower() per column and row instead of
 * one per comparison (the SigmaHQ pack compares `lower(CommandLine)` thousands of times).
 */
function folding(from: string, rules: readonly CompiledRule[]): string {
  const folded = new Map<string, string>();
  for (const r of rules) for (const [name, sql] of Object.entries(r.folded)) folded.set(name, sql);
  if (folded.size === 0) return from;
  return `(SELECT *, ${[...folded].map(([name, sql]) => `${sql} AS ${quoteIdent(name)}`).join(', ')} FROM ${from}) AS f`;
}

/** The channels a set of channel-view rules read; undefined when one of them reads every channel. */
function channelsOf(rules: readonly SigmaRule[], fieldMap: SigmaFieldMap): string[] | undefined {
  const channels = new Set<string>();
  for (const rule of rules) {
    const target = ruleTarget(rule, fieldMap);
    if (!target.channels || target.channels.length === 0) return undefined;
    for (const c of target.channels) channels.add(c);
  }
  return [...channels].sort();
}

/**
 * The generic channel view: bronze rows of the given channels (all when undefined), flattened
 * (`winlog:event_data:<Field>`, `winlog:user_data:<Field>` columns), with {@link CHANNEL_TEXT} — the
 * message and every event data value, one per line — for keyword searches.
 *
 * @example
 * const view = await channelView(await readTable('winlogbeat_kafka_bronze'), ['Security']);
 * await view.filter(`"winlog:event_data:TargetUserName" = 'admin'`).show();
 */
export async function channelView(bronze: Frame, channels: readonly string[] | undefined): Promise<Frame> {
  const rows = channels ? bronze.filter(`${quoteIdent('_sourcetype')} IN (${channels.length > 0 ? channels.map(quoteString).join(', ') : 'NULL'})`) : bronze;
  const flat = await parseWinlogbeat(rows, 'flatten');
  const schema = await flat.schema();
  const text: string[] = [];
  const message = schema.find((f) => f.name === 'message');
  if (message) text.push(/^VARCHAR$/i.test(message.type) ? quoteIdent('message') : `array_to_string(${quoteIdent('message')}, chr(10))`);
  for (const f of schema) {
    if (f.name.startsWith(EVENT_DATA_PREFIX) || f.name.startsWith(USER_DATA_PREFIX)) text.push(/^VARCHAR$/i.test(f.type) ? quoteIdent(f.name) : `CAST(${quoteIdent(f.name)} AS VARCHAR)`);
  }
  return flat.selectExpr('*', `${text.length > 0 ? `concat_ws(chr(10), ${text.join(', ')})` : 'NULL::VARCHAR'} AS ${quoteIdent(CHANNEL_TEXT)}`);
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
