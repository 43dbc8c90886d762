/**
 * Gold alerts: the events Sigma rules match, appended to the gold table `sigma_alerts` exactly once
 * per (rule, event). Each alert's id is a hash of the rule id, the table and the event's non-null
 * column values (sorted by name), so re-running the same rules over the same silver rows yields the
 * same ids, and ids already in the table are skipped. Null columns are left out of the hash so that
 * columns added to a silver table later (schema merge) do not change the ids of old events.
 */
import { quoteIdent, quoteString, sqlLiteral } from '../engine/quote.js';
import { getSession } from '../engine/session.js';
import { checkedExpression } from '../engine/sql-guard.js';
import { Frame } from '../frame/index.js';
import { Catalog } from '../lakehouse/catalog.js';
import { readTable, writeTableBatch } from '../lakehouse/tables.js';
import type { CompiledRule } from './compile.js';
import { runSigmaRules, type RunSigmaOptions, type SigmaRuleInput, type SigmaRunResult } from './run.js';

/** The gold table of alerts. */
export const SIGMA_ALERTS_TABLE = 'sigma_alerts';

/** Options of {@link writeAlerts}. */
export interface WriteAlertsOptions extends Omit<RunSigmaOptions, 'sample' | 'countBy'> {
  /** The gold table; default `sigma_alerts`. */
  table?: string;
  /** The detection time written on this run's alerts; default now. */
  detectedAt?: Date;
}

/** What {@link writeAlerts} did. */
export interface WriteAlertsResult {
  table: string;
  /** Alerts appended by this run. */
  written: number;
  /** Matches whose alert the table already held (earlier runs). */
  alreadyPresent: number;
  /** The gold table's version after the write; null when nothing was written. */
  version: number | null;
  /** Alerts appended per rule id. */
  perRule: Record<string, number>;
  /** The rule results (errors and warnings included). */
  results: SigmaRunResult[];
}

/**
 * Runs rules (or takes the results of {@link runSigmaRules}) and appends one alert per matching
 * (rule, event) to the gold table `sigma_alerts`, partitioned by `_event_date`. Columns: alert_id,
 * rule_id, rule_title, rule_level, rule_author, rule_references, rule_tags (list), _event_time,
 * _event_date, dvc_hostname, table, event (the matched row as JSON), detected_at.
 * Running it again over the same events writes nothing new.
 *
 * Not safe against two writers of the same alerts at the same moment (both may append): run one
 * detection job per lakehouse, as build_silver does.
 *
 * @example
 * const { written } = await writeAlerts(`${SHARED_DATA}/sigma/rules/windows`, { catalog });
 * await (await readTable('sigma_alerts', { catalog })).select('rule_title', 'rule_author', 'dvc_hostname').show();
 */
export async function writeAlerts(input: SigmaRuleInput | readonly SigmaRunResult[], opts: WriteAlertsOptions = {}): Promise<WriteAlertsResult> {
  const catalog = opts.catalog ?? new Catalog();
  const session = opts.session ?? (await getSession());
  const tableName = opts.table ?? SIGMA_ALERTS_TABLE;
  const results = isResults(input) ? [...input] : await runSigmaRules(input, { ...opts, catalog, session, sample: 0 });
  const detectedAt = opts.detectedAt ?? new Date();
  const matching = results.filter((r): r is SigmaRunResult & { compiled: CompiledRule } => r.compiled !== undefined && !r.error && r.matches > 0);
  const empty: WriteAlertsResult = { table: tableName, written: 0, alreadyPresent: 0, version: null, perRule: {}, results };
  if (matching.length === 0) return empty;

  const where = opts.where ? await checkedExpression(session, opts.where, 'writeAlerts where') : undefined;
  const selects: string[] = [];
  const byTable = new Map<string, CompiledRule[]>();
  for (const r of matching) byTable.set(r.compiled.table, [...(byTable.get(r.compiled.table) ?? []), r.compiled]);
  for (const [table, compiled] of byTable) {
    const frame = await readTable(table, { catalog, session });
    const from = `(${await frame.toSql()}) AS t`;
    const columns = (await frame.schema()).map((f) => f.name);
    for (const c of compiled) selects.push(alertSelect(c, from, columns, detectedAt, where));
  }
  let matched = `SELECT * FROM (${selects.join('\nUNION ALL\n')}) QUALIFY row_number() OVER (PARTITION BY alert_id ORDER BY alert_id) = 1`;
  const total = Number(await session.scalar(`SELECT count(*) FROM (${matched})`));
  if (catalog.find(tableName)) {
    const existing = await (await readTable(tableName, { catalog, session })).toSql();
    matched = `SELECT * FROM (${matched}) AS a WHERE NOT EXISTS (SELECT 1 FROM (${existing}) AS e WHERE e.alert_id = a.alert_id)`;
  }
  // Materialised once: the write reads it more than once, and the silver snapshot must not move in between.
  const temp = `winlake_sigma_alerts_${process.pid}_${++tempCounter}`;
  await session.run(`CREATE TEMP TABLE ${quoteIdent(temp)} AS ${matched}`);
  try {
    const counts = await session.rows<{ rule_id: string; n: bigint | number }>(`SELECT rule_id, count(*) AS n FROM ${quoteIdent(temp)} GROUP BY rule_id`);
    const written = counts.reduce((s, c) => s + Number(c.n), 0);
    const perRule = Object.fromEntries(counts.map((c) => [c.rule_id, Number(c.n)]));
    if (written === 0) return { ...empty, alreadyPresent: total };
    const frame = Frame.fromSql(session, `SELECT * FROM ${quoteIdent(temp)}`);
    const write = await writeTableBatch(frame, tableName, 'gold', ['_event_date'], { catalog, session });
    return { table: write.table.name, written, alreadyPresent: total - written, version: write.result.version, perRule, results };
  } finally {
    await session.run(`DROP TABLE IF EXISTS ${quoteIdent(temp)}`);
  }
}

let tempCounter = 0;

/**
 * One rule's alerts as a SELECT with the gold table's columns, over `from` (a table or subquery
 * aliased `t` with the given columns).
 * @example alertSelect(compiled, '(SELECT * FROM batch) AS t', ['_event_time', 'process_name'], new Date(), undefined)
 */
export function alertSelect(c: CompiledRule, from: string, columns: readonly string[], detectedAt: Date, where: string | undefined): string {
  const rule = c.rule;
  const has = new Set(columns.map((n) => n.toLowerCase()));
  const pipeline = (name: string, type: string): string => (has.has(name.toLowerCase()) ? `t.${quoteIdent(name)}` : `CAST(NULL AS ${type})`);
  const text = (v: string | undefined): string => (v === undefined ? 'CAST(NULL AS VARCHAR)' : quoteString(v));
  const list = (vs: readonly string[]): string => `CAST([${vs.map(quoteString).join(', ')}] AS VARCHAR[])`;
  const keyParts = [...columns]
    .sort()
    .map((n) => `${quoteString(`${n}=`)} || CAST(t.${quoteIdent(n)} AS VARCHAR)`);
  const alertId = `md5(concat_ws(chr(31), ${quoteString(rule.id)}, ${quoteString(c.table)}, ${keyParts.join(', ')}))`;
  return (
    `SELECT ${alertId} AS alert_id, ${quoteString(rule.id)} AS rule_id, ${quoteString(rule.title)} AS rule_title, ` +
    `${text(rule.level)} AS rule_level, ${text(rule.author)} AS rule_author, ${list(rule.references)} AS rule_references, ` +
    `${list(rule.tags)} AS rule_tags, ${pipeline('_event_time', 'TIMESTAMPTZ')} AS _event_time, ${pipeline('_event_date', 'DATE')} AS _event_date, ` +
    `${pipeline('dvc_hostname', 'VARCHAR')} AS dvc_hostname, ${quoteString(c.table)} AS ${quoteIdent('table')}, ` +
    `CAST(to_json(t) AS VARCHAR) AS event, ${sqlLiteral(detectedAt)} AS detected_at ` +
    `FROM ${from} WHERE ${where ? `${where} AND ` : ''}(${c.sql})`
  );
}

function isResults(input: SigmaRuleInput | readonly SigmaRunResult[]): input is readonly SigmaRunResult[] {
  return Array.isArray(input) && input.length > 0 && typeof input[0] === 'object' && input[0] !== null && 'matches' in input[0];
}
