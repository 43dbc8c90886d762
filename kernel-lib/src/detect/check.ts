/**
 * Rule files checked one by one, for rule authors: each compiles (table, SQL, warnings) or is
 * refused with the reason and the line of the rule it is about. Unlike {@link loadSigmaRules}, one
 * bad file does not stop the others.
 */
import { readFileSync } from 'node:fs';
import { compileRule, type CompiledRule } from './compile.js';
import { SigmaError } from './errors.js';
import { sigmaFieldMap, type SigmaFieldMap } from './field-map.js';
import { parseSigmaRule, sigmaRuleFiles, type SigmaRule } from './rule.js';
import { sigmaErrorLine } from './rule-location.js';

/** The outcome for one rule file. */
export interface RuleCheck {
  file: string;
  status: 'compiled' | 'refused';
  /** The rule, when its YAML parsed. */
  rule?: SigmaRule;
  compiled?: CompiledRule;
  /** Why it was refused (the part at fault and the problem). */
  reason?: string;
  /** The 1-based line of the YAML the reason is about, when known. */
  line?: number;
}

/**
 * Parses and compiles every rule file under the given folders/files.
 *
 * @example
 * const checks = checkSigmaRuleFiles(`${SHARED_DATA}/sigma/rules/windows`);
 * checks.filter((c) => c.status === 'refused').map((c) => `${c.file}:${c.line}: ${c.reason}`);
 */
export function checkSigmaRuleFiles(dirOrFiles: string | readonly string[], fieldMap: SigmaFieldMap = sigmaFieldMap()): RuleCheck[] {
  return sigmaRuleFiles(dirOrFiles).map((file) => checkSigmaRuleFile(file, fieldMap));
}

/**
 * Parses and compiles one rule file.
 * @example checkSigmaRuleFile('proc_creation_win_whoami_execution.yml').compiled?.table // => 'Process'
 */
export function checkSigmaRuleFile(file: string, fieldMap: SigmaFieldMap = sigmaFieldMap()): RuleCheck {
  const text = readFileSync(file, 'utf8');
  let rule: SigmaRule | undefined;
  try {
    rule = parseSigmaRule(text, file);
    return { file, status: 'compiled', rule, compiled: compileRule(rule, fieldMap) };
  } catch (err) {
    const line = sigmaErrorLine(err, text);
    const reason = err instanceof SigmaError ? `${err.construct}: ${err.problem}` : (err as Error).message;
    return { file, status: 'refused', ...(rule ? { rule } : {}), reason, ...(line !== undefined ? { line } : {}) };
  }
}

/**
 * `file:line: reason`, the way compilers point at source.
 * @example formatRefusal({ file: 'r.yml', status: 'refused', line: 9, reason: 'field Image|foo: unknown modifier "foo"' }) // => 'r.yml:9: field Image|foo: unknown modifier "foo"'
 */
export function formatRefusal(check: RuleCheck): string {
  return `${check.file}${check.line !== undefined ? `:${check.line}` : ''}: ${check.reason ?? 'refused'}`;
}
