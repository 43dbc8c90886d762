/**
 * detect/: Sigma rules compiled to DuckDB SQL over the silver tables, and gold alerts.
 * Rules keep their author and references (Detection Rule License 1.1): show them with any result.
 */
export { BUNDLED_SIGMA_RULES_ARCHIVE, bundledSigmaRules } from './bundled-rules.js';
export { alertSelect, writeAlerts, SIGMA_ALERTS_TABLE, type WriteAlertsOptions, type WriteAlertsResult } from './alerts.js';
export {
  checkRules,
  checkSigmaRuleFile,
  checkSigmaRuleFiles,
  compileSigma,
  formatRefusal,
  type CheckOptions,
  type CompiledSigma,
  type RuleCheck,
} from './check.js';
export { cidrSql, parseCidr, type Network } from './cidr.js';
export { compileRule, patternSql, ruleTarget, type CompiledRule, type CompileOptions } from './compile.js';
export { parseCondition, conditionRefs, type ConditionNode } from './condition.js';
export { SigmaError } from './errors.js';
export { CHANNEL_TEXT, CHANNEL_VIEW, sigmaFieldMap, SIGMA_FIELD_MAP_FILE, type SigmaFieldMap, type SigmaTarget } from './field-map.js';
export {
  loadSigmaRules,
  parseSigmaRule,
  ruleLabel,
  sigmaRuleFiles,
  type SigmaFieldCondition,
  type SigmaLogsource,
  type SigmaRule,
  type SigmaScalar,
  type SigmaSearch,
  type SigmaValues,
} from './rule.js';
export { sigmaErrorLine } from './rule-location.js';
export { channelView, runSigmaRules, resolveRules, type RunSigmaOptions, type SigmaRuleInput, type SigmaRunResult } from './run.js';
export { ANY, ONE, fieldTests, parsePattern, type FieldTests, type Piece, type ValueTest } from './value.js';
export { streamSigmaRules, type SigmaBatchInfo, type SigmaStream, type SigmaStreamOptions } from './stream.js';
