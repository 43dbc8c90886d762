/**
 * Rule-author entry points over the compiler: one rule (YAML text or file) to SQL with the tables
 * it reads, and rule files checked one by one — compiled (table, SQL, warnings), or refused with the
 * reason and the line of the rule it is about. Unlike {@link loadSigmaRules}, one bad file does not
 * stop the others.
 */
import { existsSync, readFileSync } from 'node:fs';
import { compileRule, type CompileOptions, type CompiledRule } from './compile.js';
import { SigmaError } from './errors.js';
import { sigmaFieldMap, type SigmaFieldMap } from './field-map.js';
import { parseSigmaRule, sigmaRuleFiles, type SigmaRule } from './rule.js';
import { sigmaErrorLine } from './rule-location.js';

/** Options of {@link compileSigma} and the checks. */
export interface CheckOptions extends CompileOptions {
  fieldMap?: SigmaFieldMap;
}

/** One rule compiled for a rule author. */
export interface CompiledSigma {
  /** The full WHERE predicate. */
  sql: string;
  /** What it reads: a silver table, or `channel view` (flattened bronze) with its channels. */
  tables: string[];
  channels?: string[];
  warnings: string[];
  compiled: CompiledRule;
}

/**
 * Compiles one rule given as YAML text or as the path of a `.yml` file. Throws the
 * {@link SigmaError} of a refused rule (its message names the rule and the reason).
 *
 * @example
 * const { sql, tables } = compileSigma('rules/windows/process_creation/proc_creation_win_whoami_execution.yml');
 * tables // => ['Process']
 */
export function compileSigma(ruleYamlOrPath: string, opts: CheckOptions = {}): CompiledSigma {
  const isPath = !ruleYamlOrPath.includes('\n') && /\.ya?ml$/i.test(ruleYamlOrPath) && existsSync(ruleYamlOrPath);
  const rule = isPath ? parseSigmaRule(readFileSync(ruleYamlOrPath, 'utf8'), ruleYamlOrPath) : parseSigmaRule(ruleYamlOrPath);
  const compiled = compileRule(rule, opts.fieldMap ?? sigmaFieldMap(), opts);
  const out: CompiledSigma = { sql: compiled.sql, tables: [compiled.table], warnings: compiled.warnings, compiled };
  if (compiled.channels) out.channels = compiled.channels;
  return out;
}

/** The outcome for one rule file. */
export interface RuleCheck {
  file: string;
  status: 'compiled' | 'refused';
  /** The rule id and title, when its YAML parsed. */
  id?: string;
  title?: string;
  /** The rule, when its YAML parsed. */
  rule?: SigmaRule;
  compiled?: CompiledRule;
  /** The table read, when compiled. */
  table?: string;
  /** Why it was refused (the part at fault and the problem). */
  reason?: string;
  /** The 1-based line of the YAML the reason is about, when known. */
  line?: number;
  warnings: string[];
}

/**
 * Parses and compiles one rule file.
 * @example checkSigmaRuleFile('proc_creation_win_whoami_execution.yml').compiled?.table // => 'Process'
 */
export function checkSigmaRuleFile(file: string, opts: CheckOptions = {}): RuleCheck {
  const text = readFileSync(file, 'utf8');
  let rule: SigmaRule | undefined;
  try {
    rule = parseSigmaRule(text, file);
    const compiled = compileRule(rule, opts.fieldMap ?? sigmaFieldMap(), opts);
    return { file, status: 'compiled', id: rule.id, title: rule.title, rule, compiled, table: compiled.table, warnings: compiled.warnings };
  } catch (err) {
    const line = sigmaErrorLine(err, text);
    const reason = err instanceof SigmaError ? `${err.construct}: ${err.problem}` : (err as Error).message;
    const about = rule ? { id: rule.id, title: rule.title, rule } : {};
    return { file, status: 'refused', ...about, reason, ...(line !== undefined ? { line } : {}), warnings: [] };
  }
}

/**
 * Every rule file of folders/files, compiled or refused with the reason; a file that does not
 * parse is refused, the others still checked.
 *
 * @example
 * const checks = checkSigmaRuleFiles(`${SHARED_DATA}/sigma/rules/windows`);
 * checks.filter((c) => c.status === 'refused').map(formatRefusal);
 */
export function checkSigmaRuleFiles(dirOrFiles: string | readonly string[], opts: CheckOptions = {}): RuleCheck[] {
  const fieldMap = opts.fieldMap ?? sigmaFieldMap();
  return sigmaRuleFiles(dirOrFiles).map((file) => checkSigmaRuleFile(file, { ...opts, fieldMap }));
}

/** The same as {@link checkSigmaRuleFiles}, under the name of the notebook API. */
export const checkRules = checkSigmaRuleFiles;

/**
 * `file:line: reason`, the way compilers point at source.
 * @example formatRefusal({ file: 'r.yml', status: 'refused', line: 9, reason: 'field Image|foo: unknown modifier "foo"', warnings: [] }) // => 'r.yml:9: field Image|foo: unknown modifier "foo"'
 */
export function formatRefusal(check: RuleCheck): string {
  return `${check.file}${check.line !== undefined ? `:${check.line}` : ''}: ${check.reason ?? 'refused'}`;
}
