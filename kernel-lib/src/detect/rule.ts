/**
 * Sigma rules as data: reading the YAML (SigmaHQ sigma-specification) into a typed rule, with the
 * metadata an alert needs (author and references must travel with a rule: Detection Rule License).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { SigmaError } from './errors.js';

/** A scalar a detection may hold. Numbers stay text as written (`0x1410`, `445`): Sigma compares text. */
export type SigmaScalar = string | boolean | null;

/** A field condition's values: one scalar or a list (OR, or AND with `|all`). */
export type SigmaValues = SigmaScalar | SigmaScalar[];

/** One named search of `detection`: a map (AND of fields), a list of maps (OR), or keywords. */
export type SigmaSearch =
  | { kind: 'map'; fields: SigmaFieldCondition[] }
  | { kind: 'anyOf'; maps: SigmaFieldCondition[][] }
  | { kind: 'keywords'; values: SigmaScalar[]; modifiers: string[] };

/** `Field|mod1|mod2: values` of a selection map. */
export interface SigmaFieldCondition {
  /** The raw Sigma field name (`Image`), as the rule writes it. */
  field: string;
  /** Modifiers in the order written (`['contains', 'all']`). */
  modifiers: string[];
  values: SigmaScalar[];
  /** Whether the YAML gave a list (matters for `|all` on a single value: none). */
  isList: boolean;
}

/** The logsource block. */
export interface SigmaLogsource {
  category?: string;
  product?: string;
  service?: string;
}

/** A parsed Sigma rule. */
export interface SigmaRule {
  title: string;
  id: string;
  status?: string;
  description?: string;
  author?: string;
  references: string[];
  date?: string;
  modified?: string;
  level?: string;
  tags: string[];
  falsepositives: string[];
  logsource: SigmaLogsource;
  /** Named searches, in the order written. */
  searches: Map<string, SigmaSearch>;
  /** The condition(s); several are OR-ed (the old list form). */
  conditions: string[];
  /** The file it came from, when loaded from disk. */
  source?: string;
}

/**
 * YAML schema for rules: strings, lists, maps, `null` and booleans only. Numbers stay the text
 * written (YAML would read `0x1410` as 5136 and `0755` as 493; Sigma compares text), and dates
 * stay strings.
 */
const RULE_SCHEMA = yaml.FAILSAFE_SCHEMA.extend({
  implicit: [
  new yaml.Type('tag:yaml.org,2002:null', {
    kind: 'scalar',
    resolve: (data: string) => data === '~' || data === 'null' || data === 'Null' || data === 'NULL' || data === '',
    construct: () => null,
  }),
  new yaml.Type('tag:yaml.org,2002:bool', {
    kind: 'scalar',
    resolve: (data: string) => /^(true|True|TRUE|false|False|FALSE)$/.test(data),
    construct: (data: string) => data.toLowerCase() === 'true',
  }),
  ],
});

/**
 * Parses one Sigma rule from YAML text. Throws a {@link SigmaError} naming the rule and the problem
 * (not YAML, several documents (rule collections are not supported), a missing title/detection/
 * condition, a search that is neither a map, a list of maps nor a list of keywords).
 *
 * @example
 * const rule = parseSigmaRule(readFileSync('proc_creation_win_whoami_execution.yml', 'utf8'));
 * rule.title; rule.author; rule.logsource.category // => 'process_creation'
 */
export function parseSigmaRule(yamlText: string, source?: string): SigmaRule {
  let docs: unknown[];
  try {
    docs = yaml.loadAll(yamlText, null, { schema: RULE_SCHEMA, ...(source ? { filename: source } : {}) });
  } catch (err) {
    throw new SigmaError(source ?? 'rule', 'YAML', (err as Error).message);
  }
  docs = docs.filter((d) => d !== null && d !== undefined);
  const where = source ?? 'rule';
  if (docs.length !== 1) {
    throw new SigmaError(where, 'rule collection', `expected exactly one YAML document, found ${docs.length} (multi-document rule collections are not supported)`);
  }
  const doc = docs[0];
  if (!isRecord(doc)) throw new SigmaError(where, 'rule', 'a rule must be a YAML map');
  const title = typeof doc.title === 'string' && doc.title.trim() !== '' ? doc.title : undefined;
  const label = title ? `${title}${typeof doc.id === 'string' ? ` (${doc.id})` : ''}` : where;
  if (!title) throw new SigmaError(label, 'title', 'a rule needs a title');
  const id = typeof doc.id === 'string' ? doc.id : undefined;
  if (!id) throw new SigmaError(label, 'id', 'a rule needs an id (alerts are keyed by it)');

  const logsource = isRecord(doc.logsource) ? doc.logsource : undefined;
  if (!logsource) throw new SigmaError(label, 'logsource', 'a rule needs a logsource map');
  const detection = isRecord(doc.detection) ? doc.detection : undefined;
  if (!detection) throw new SigmaError(label, 'detection', 'a rule needs a detection map');

  const searches = new Map<string, SigmaSearch>();
  let conditions: string[] | undefined;
  for (const [name, value] of Object.entries(detection)) {
    if (name === 'condition') {
      conditions = typeof value === 'string' ? [value] : Array.isArray(value) && value.every((v) => typeof v === 'string') ? (value as string[]) : undefined;
      if (!conditions || conditions.length === 0) throw new SigmaError(label, 'condition', 'condition must be a string or a list of strings');
      continue;
    }
    if (name === 'timeframe') throw new SigmaError(label, 'timeframe', 'timeframe (aggregations over time) is not supported');
    searches.set(name, parseSearch(label, name, value));
  }
  if (!conditions) throw new SigmaError(label, 'condition', 'detection has no condition');

  const rule: SigmaRule = {
    title,
    id,
    references: stringList(doc.references),
    tags: stringList(doc.tags),
    falsepositives: stringList(doc.falsepositives),
    logsource: {
      ...(typeof logsource.category === 'string' ? { category: logsource.category } : {}),
      ...(typeof logsource.product === 'string' ? { product: logsource.product } : {}),
      ...(typeof logsource.service === 'string' ? { service: logsource.service } : {}),
    },
    searches,
    conditions,
  };
  for (const key of ['status', 'description', 'author', 'date', 'modified', 'level'] as const) {
    const v = doc[key];
    if (typeof v === 'string') rule[key] = v;
  }
  if (source) rule.source = source;
  return rule;
}

/**
 * Loads Sigma rules from folders (recursively, `.yml`/`.yaml`) and/or files, sorted by path.
 * A file that does not parse fails the load with an error naming the file.
 *
 * @example
 * const rules = loadSigmaRules(`${SHARED_DATA}/sigma/rules/windows/process_creation`);
 * rules.length // => 1183
 */
export function loadSigmaRules(dirOrFiles: string | readonly string[]): SigmaRule[] {
  return sigmaRuleFiles(dirOrFiles).map((f) => parseSigmaRule(readFileSync(f, 'utf8'), f));
}

/**
 * The rule files of folders (recursively, `.yml`/`.yaml`, sorted) and files (as given).
 * @example sigmaRuleFiles(`${SHARED_DATA}/sigma/rules/windows/process_creation`).length // => 1183
 */
export function sigmaRuleFiles(dirOrFiles: string | readonly string[]): string[] {
  const inputs = typeof dirOrFiles === 'string' ? [dirOrFiles] : dirOrFiles;
  const files: string[] = [];
  for (const input of inputs) {
    let stat;
    try {
      stat = statSync(input);
    } catch {
      throw new Error(`loadSigmaRules: no such file or folder ${JSON.stringify(input)}`);
    }
    if (stat.isDirectory()) files.push(...ruleFilesIn(input));
    else files.push(input);
  }
  return files;
}

function ruleFilesIn(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...ruleFilesIn(full));
    else if (/\.ya?ml$/i.test(entry.name)) out.push(full);
  }
  return out.sort();
}

/**
 * A short label for messages: `Title (id)`.
 * @example ruleLabel({ title: 'LSASS Access', id: '0d894093-71bc-43c3-8c4d-ecfc28dcf5d9' }) // => 'LSASS Access (0d894093-71bc-43c3-8c4d-ecfc28dcf5d9)'
 */
export function ruleLabel(rule: Pick<SigmaRule, 'title' | 'id'>): string {
  return `${rule.title} (${rule.id})`;
}

function parseSearch(rule: string, name: string, value: unknown): SigmaSearch {
  const where = `search ${JSON.stringify(name)}`;
  if (isRecord(value)) return { kind: 'map', fields: parseMap(rule, where, value) };
  if (Array.isArray(value)) {
    if (value.length === 0) throw new SigmaError(rule, where, 'an empty list');
    if (value.every(isRecord)) return { kind: 'anyOf', maps: value.map((m, i) => parseMap(rule, `${where}[${i}]`, m)) };
    if (value.every(isScalar)) return { kind: 'keywords', values: value, modifiers: [] };
    throw new SigmaError(rule, where, 'a list must hold only maps (OR of selections) or only plain values (keywords)');
  }
  if (isScalar(value) && value !== null) return { kind: 'keywords', values: [value], modifiers: [] };
  throw new SigmaError(rule, where, 'a search must be a map, a list of maps or a list of keywords');
}

function parseMap(rule: string, where: string, map: Record<string, unknown>): SigmaFieldCondition[] {
  const out: SigmaFieldCondition[] = [];
  for (const [key, value] of Object.entries(map)) {
    const [field, ...modifiers] = key.split('|');
    if (Array.isArray(value)) {
      if (!value.every(isScalar)) throw new SigmaError(rule, `${where} field ${key}`, 'list values must be plain strings, numbers, booleans or null');
      out.push({ field: field!, modifiers, values: value, isList: true });
    } else if (isScalar(value)) {
      out.push({ field: field!, modifiers, values: [value], isList: false });
    } else {
      throw new SigmaError(rule, `${where} field ${key}`, 'a value must be a scalar or a list of scalars (nested maps are not Sigma)');
    }
  }
  if (out.length === 0) throw new SigmaError(rule, where, 'an empty map');
  return out;
}

function isScalar(v: unknown): v is SigmaScalar {
  return v === null || typeof v === 'string' || typeof v === 'boolean';
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringList(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}
