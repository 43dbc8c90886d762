/**
 * `winlake sigma ...`: the rule author's loop — compile a rule to SQL, check a folder of rules,
 * test rules on event files in a throwaway lakehouse, and run rules into the gold alerts table.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sqlLiteral } from '../engine/quote.js';
import { closeSession, configureSession } from '../engine/session.js';
import { buildSilver } from '../cim/build-silver.js';
import { checkSigmaRuleFiles, formatRefusal, type RuleCheck } from '../detect/check.js';
import { writeAlerts } from '../detect/alerts.js';
import { ruleLabel, type SigmaRule } from '../detect/rule.js';
import { runSigmaRules, type SigmaRunResult } from '../detect/run.js';
import { Catalog } from '../lakehouse/catalog.js';
import { BRONZE_TABLE, loadEventFiles } from '../lakehouse/load-files.js';
import { intOption, parseArgs, stringOption, type ParsedArgs } from './args.js';

const USAGE = `usage: winlake sigma <subcommand>
  compile <rule.yml> [--json]                    the rule's SQL and the tables it reads
  check <dir|rule.yml...> [--json]               every rule: compiled, or refused with the reason and line
  test <rule.yml|dir> <events...> [--expect N] [--json] [--keep]
                                                 load .evtx / evtx_dump JSON / winlogbeat NDJSON into a
                                                 temporary lakehouse (bronze → silver) and count matches
                                                 per rule; exit 1 when a rule matches fewer than N
  run <rules...> [--since T] [--home DIR]        append the matches to the gold table sigma_alerts
                                                 (T: an ISO time, or an age such as 15m, 2h, 7d)
`;

const say = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};

/**
 * `winlake sigma compile|check|test|run`.
 * @example await sigmaCommand(['check', 'rules/windows/process_creation', '--json'])
 */
export async function sigmaCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['help', 'json', 'keep']);
  const [sub, ...rest] = args.positionals;
  if (args.options.has('help')) {
    process.stdout.write(USAGE);
    return 0;
  }
  switch (sub) {
    case 'compile':
      return compile(rest, args);
    case 'check':
      return check(rest, args);
    case 'test':
      return withSession(() => testRules(rest, args));
    case 'run':
      return withSession(() => run(rest, args));
    default:
      process.stderr.write(`${sub ? `winlake sigma: unknown subcommand '${sub}'\n` : ''}${USAGE}`);
      return 2;
  }
}

async function withSession(fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } finally {
    await closeSession();
  }
}

function needs(items: readonly string[], what: string): void {
  if (items.length === 0) throw new Error(`winlake sigma: ${what}\n${USAGE}`);
}

function compile(files: string[], args: ParsedArgs): number {
  needs(files, 'compile needs a rule file');
  if (files.length > 1) throw new Error('winlake sigma compile takes one rule file (use check for several)');
  const [c] = checkSigmaRuleFiles(files);
  if (!c || c.status === 'refused' || !c.compiled) {
    process.stderr.write(`${c ? formatRefusal(c) : `${files[0]}: not a .yml rule file`}\n`);
    return 1;
  }
  const { compiled } = c;
  if (args.options.has('json')) {
    say(JSON.stringify({ file: c.file, id: compiled.rule.id, title: compiled.rule.title, tables: [compiled.table], eventIds: compiled.eventIds, sql: compiled.sql, fields: compiled.fields, warnings: compiled.warnings }, null, 2));
    return 0;
  }
  say(`-- ${ruleLabel(compiled.rule)}`);
  say(`-- logsource: ${logsourceText(compiled.rule)} → category ${compiled.category}`);
  say(`-- tables: ${compiled.table}`);
  say(`-- event ids: ${compiled.eventIds.length ? compiled.eventIds.join(', ') : 'any'}`);
  const mapped = Object.entries(compiled.fields).map(([f, column]) => `${f} → ${column ?? '(no such column)'}`);
  if (mapped.length) say(`-- fields: ${mapped.join(', ')}`);
  for (const w of compiled.warnings) say(`-- warning: ${w}`);
  say(`SELECT * FROM ${compiled.table} WHERE ${compiled.sql};`);
  for (const w of compiled.warnings) process.stderr.write(`${c.file}: warning: ${w}\n`);
  return 0;
}

function check(inputs: string[], args: ParsedArgs): number {
  needs(inputs, 'check needs rule files or folders');
  const checks = checkSigmaRuleFiles(inputs);
  const refused = checks.filter((c) => c.status === 'refused');
  if (args.options.has('json')) {
    say(JSON.stringify({ total: checks.length, compiled: checks.length - refused.length, refused: refused.length, rules: checks.map(checkJson) }, null, 2));
  } else {
    for (const c of checks) {
      if (c.status === 'compiled') say(`compiled  ${c.file}  → ${c.compiled!.table}${c.compiled!.warnings.length ? `  (${c.compiled!.warnings.length} warning(s): ${c.compiled!.warnings.join('; ')})` : ''}`);
      else say(`refused   ${formatRefusal(c).split('\n')[0]}`);
    }
    say(`\n${checks.length} rules: ${checks.length - refused.length} compiled, ${refused.length} refused`);
  }
  return refused.length > 0 ? 1 : 0;
}

function checkJson(c: RuleCheck): Record<string, unknown> {
  return {
    file: c.file,
    status: c.status,
    ...(c.rule ? { id: c.rule.id, title: c.rule.title, logsource: c.rule.logsource } : {}),
    ...(c.compiled ? { tables: [c.compiled.table], warnings: c.compiled.warnings } : {}),
    ...(c.reason !== undefined ? { reason: c.reason } : {}),
    ...(c.line !== undefined ? { line: c.line } : {}),
  };
}

/** Compiles the rules of `inputs`; prints the refused ones to stderr. */
function compiledRules(inputs: readonly string[]): { rules: SigmaRule[]; refused: RuleCheck[] } {
  const checks = checkSigmaRuleFiles(inputs);
  if (checks.length === 0) throw new Error(`no .yml rules in ${inputs.join(', ')}`);
  const refused = checks.filter((c) => c.status === 'refused');
  for (const c of refused) process.stderr.write(`refused ${formatRefusal(c).split('\n')[0]}\n`);
  return { rules: checks.flatMap((c) => (c.compiled ? [c.compiled.rule] : [])), refused };
}

async function testRules(positionals: string[], args: ParsedArgs): Promise<number> {
  const [rulesArg, ...events] = positionals;
  needs(rulesArg ? events : [], 'test needs a rule file or folder, then event files');
  const expect = intOption(args, 'expect');
  const { rules, refused } = compiledRules([rulesArg!]);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'winlake-sigma-test-'));
  // The temporary lakehouse is outside the default one: the engine's sandbox must be told before it starts.
  configureSession({ allowedDirectories: [dir] });
  const catalog = new Catalog(path.join(dir, 'lakehouse'));
  try {
    const loaded = await loadEventFiles(events, { catalog });
    const silver = await buildSilver(BRONZE_TABLE, { catalog });
    const results = rules.length ? await runSigmaRules(rules, { catalog, sample: args.options.has('json') ? 3 : 0 }) : [];
    const failing = results.filter((r) => r.error || (expect !== undefined && r.matches < expect));
    if (args.options.has('json')) {
      say(
        JSON.stringify(
          {
            events: loaded.result.numRows,
            silver: Object.fromEntries(silver.tables.filter((t) => t.rows > 0).map((t) => [t.table, t.rows])),
            ...(expect !== undefined ? { expect } : {}),
            rules: results.map((r) => resultJson(r, expect)),
            refused: refused.map(checkJson),
          },
          jsonValue,
          2,
        ),
      );
    } else {
      say(`${loaded.result.numRows} events → ${silver.tables.filter((t) => t.rows > 0).map((t) => `${t.table} ${t.rows}`).join(', ') || 'no silver rows'}`);
      for (const r of results) {
        const verdict = r.error ? 'ERROR' : expect !== undefined ? (r.matches >= expect ? 'pass ' : 'FAIL ') : r.matches > 0 ? 'match' : 'none ';
        say(`${verdict} ${String(r.matches).padStart(6)}  ${ruleLabel(r.rule)}  [${r.table ?? '-'}]${r.error ? `  ${r.error}` : ''}`);
      }
      say(`\n${results.filter((r) => r.matches > 0).length} of ${results.length} rules matched${expect !== undefined ? `; ${failing.length} below --expect ${expect}` : ''}${refused.length ? `; ${refused.length} refused` : ''}`);
    }
    if (args.options.has('keep')) say(`lakehouse kept at ${catalog.root}`);
    return failing.length > 0 || refused.length > 0 ? 1 : 0;
  } finally {
    if (!args.options.has('keep')) rmSync(dir, { recursive: true, force: true });
  }
}

/** JSON.stringify replacer for DuckDB values: BIGINTs as numbers when exact, else as text. */
function jsonValue(_key: string, value: unknown): unknown {
  if (typeof value !== 'bigint') return value;
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
}

function resultJson(r: SigmaRunResult, expect: number | undefined): Record<string, unknown> {
  return {
    id: r.rule.id,
    title: r.rule.title,
    file: r.rule.source,
    table: r.table,
    matches: r.matches,
    ...(expect !== undefined ? { pass: !r.error && r.matches >= expect } : {}),
    ...(r.error ? { error: r.error } : {}),
    ...(r.warnings.length ? { warnings: r.warnings } : {}),
    ...(r.sample?.length ? { sample: r.sample } : {}),
  };
}

async function run(inputs: string[], args: ParsedArgs): Promise<number> {
  needs(inputs, 'run needs rule files or folders');
  const catalog = new Catalog(stringOption(args, 'home'));
  const sinceArg = stringOption(args, 'since');
  const since = sinceArg === undefined ? undefined : parseSince(sinceArg, new Date());
  const { rules, refused } = compiledRules(inputs);
  const result = await writeAlerts(rules, { catalog, ...(since ? { where: `_event_time >= ${sqlLiteral(since)}` } : {}) });
  const failed = result.results.filter((r) => r.error);
  for (const r of failed) process.stderr.write(`did not run ${ruleLabel(r.rule)}: ${r.error}\n`);
  const matched = result.results.filter((r) => r.matches > 0).length;
  say(
    `${rules.length} rules${since ? ` over events since ${since.toISOString()}` : ''}: ${matched} matched; ` +
      `${result.written} new alert(s) in gold ${result.table}${result.version === null ? '' : ` (version ${result.version})`}` +
      `${result.alreadyPresent ? `, ${result.alreadyPresent} already there` : ''}` +
      `${failed.length ? `; ${failed.length} rule(s) did not run` : ''}${refused.length ? `; ${refused.length} refused` : ''}`,
  );
  for (const [id, n] of Object.entries(result.perRule).sort((a, b) => b[1] - a[1])) {
    const rule = rules.find((r) => r.id === id);
    say(`  +${n}  ${rule ? ruleLabel(rule) : id}`);
  }
  return failed.length > 0 ? 1 : 0;
}

/**
 * `--since`: an ISO time, or an age before `now` (`90s`, `15m`, `2h`, `7d`).
 * @example parseSince('2h', new Date('2026-12-01T12:00:00Z')).toISOString() // => '2026-12-01T10:00:00.000Z'
 */
export function parseSince(text: string, now: Date): Date {
  const age = /^(\d+)\s*(s|m|h|d)$/.exec(text.trim());
  if (age) return new Date(now.getTime() - Number(age[1]) * { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[age[2] as 's' | 'm' | 'h' | 'd']);
  const t = new Date(text);
  if (Number.isNaN(t.getTime())) throw new Error(`--since must be an ISO time or an age such as 15m, 2h, 7d; got ${JSON.stringify(text)}`);
  return t;
}

function logsourceText(rule: SigmaRule): string {
  return Object.entries(rule.logsource)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');
}
