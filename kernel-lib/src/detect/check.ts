/**
 * Rule-author entry points over the compiler: one rule (YAML text or file) to SQL with the tables
 * it reads, and a whole folder checked rule by rule — compiled, or refused with the reason.
 */
import { existsSync, readFileSync } from 'node:fs';
import { compileRule, type CompileOptions, type CompiledRule } from './compile.js';
import { sigmaFieldMap, type SigmaFieldMap } from './field-map.js';
import { parseSigmaRule, sigmaRuleFiles } from './rule.js';

/** Options of {@link compileSigma} and {@link checkRules}. */
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

/** One rule file's verdict. */
export interface RuleCheck {
  file: string;
  /** The rule id, when the file parsed. */
  id?: string;
  title?: string;
  status: 'compiled' | 'refused';
  /** Why refused (parse or compile error); for compiled rules, absent. */
  reason?: string;
  /** The table read, when compiled. */
  table?: string;
  warnings: string[];
}

/**
 * Every rule file of folders/files, compiled or refused with the reason; a file that does not
 * parse is refused, the others still checked.
 *
 * @example
 * const checks = checkRules(`${SHARED_DATA}/sigma/rules/windows`);
 * checks.filter((c) => c.status === 'refused').map((c) => `${c.file}: ${c.reason}`);
 */
export function checkRules(dirOrFiles: string | readonly string[], opts: CheckOptions = {}): RuleCheck[] {
  const fieldMap = opts.fieldMap ?? sigmaFieldMap();
  return sigmaRuleFiles(dirOrFiles).map((file): RuleCheck => {
    let rule;
    try {
      rule = parseSigmaRule(readFileSync(file, 'utf8'), file);
    } catch (err) {
      return { file, status: 'refused', reason: (err as Error).message, warnings: [] };
    }
    try {
      const c = compileRule(rule, fieldMap, opts);
      return { file, id: rule.id, title: rule.title, status: 'compiled', table: c.table, warnings: c.warnings };
    } catch (err) {
      return { file, id: rule.id, title: rule.title, status: 'refused', reason: (err as Error).message, warnings: [] };
    }
  });
}
