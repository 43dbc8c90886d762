/**
 * OSSEM-DD data dictionaries: reading them, and turning their field lists into cim_dataframe
 * transform lists. Each dictionary entry maps a raw event field (`name`, e.g. `CommandLine`) to an
 * OSSEM `standard_name` (PascalCase, e.g. `ProcessCommandLine`); the silver column is its
 * snake_case (`process_command_line`).
 */
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { quoteString } from '../engine/quote.js';
import type { Transform } from './transform.js';

/** One field of an OSSEM-DD event dictionary, with the column name it gives. */
export interface OssemField {
  /** The raw event field, e.g. `CommandLine` (a key of winlogbeat's `winlog.event_data`). */
  name: string;
  /** OSSEM's PascalCase standard name, e.g. `ProcessCommandLine`; `undefined` where OSSEM says TBD. */
  standardName: string | undefined;
  /** snake_case of the standard name, e.g. `process_command_line`; `undefined` where OSSEM says TBD. */
  column: string | undefined;
}

/** What one OSSEM-DD dictionary file says about an event. */
export interface OssemDictionary {
  /** The dictionary title, e.g. `Event ID 1: Process creation`. */
  title: string;
  eventId: string;
  logSource: string;
  fields: OssemField[];
}

/**
 * snake_case of an OSSEM PascalCase standard name. Acronym runs stay together and digits stick to
 * the word before them, as OSSEM's own snake_case columns do.
 *
 * @example
 * toSnakeCase('ProcessCommandLine') // => 'process_command_line'
 * toSnakeCase('SrcIpIsIpv6')        // => 'src_ip_is_ipv6'
 * toSnakeCase('DNSResponseName')    // => 'dns_response_name'
 */
export function toSnakeCase(name: string): string {
  return name
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .toLowerCase();
}

/**
 * Reads one OSSEM-DD dictionary (`sysmon/event-1.yml`, `security/event-4624_v2.yml`, ...).
 *
 * @example
 * const d = readOssemDictionary(`${SHARED_DATA}/ossem/sysmon/event-1.yml`);
 * d.eventId // => '1'
 */
export function readOssemDictionary(dictionaryPath: string): OssemDictionary {
  let doc: unknown;
  try {
    doc = yaml.load(readFileSync(dictionaryPath, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read the OSSEM dictionary ${dictionaryPath}: ${(err as Error).message}`, { cause: err });
  }
  if (!isRecord(doc)) throw new Error(`OSSEM dictionary ${dictionaryPath} is not a YAML mapping`);
  const entries = doc.event_fields ?? [];
  if (!Array.isArray(entries)) throw new Error(`OSSEM dictionary ${dictionaryPath}: event_fields is not a list`);
  const fields = entries.map((entry: unknown, i): OssemField => {
    if (!isRecord(entry) || typeof entry.name !== 'string' || entry.name === '') {
      throw new Error(`OSSEM dictionary ${dictionaryPath}: event_fields[${i}] has no name`);
    }
    const standard = typeof entry.standard_name === 'string' ? entry.standard_name.trim() : '';
    const known = standard !== '' && standard.toUpperCase() !== 'TBD';
    return { name: entry.name, standardName: known ? standard : undefined, column: known ? toSnakeCase(standard) : undefined };
  });
  return {
    title: typeof doc.name === 'string' ? doc.name : '',
    eventId: String(doc.event_id ?? ''),
    logSource: typeof doc.log_source === 'string' ? doc.log_source : '',
    fields,
  };
}

/**
 * The fields of one OSSEM-DD dictionary, each with its snake_case column (undefined where OSSEM
 * leaves the standard name TBD).
 *
 * @example
 * ossemFields(`${SHARED_DATA}/ossem/sysmon/event-1.yml`).find((f) => f.name === 'CommandLine')?.column
 * // => 'process_command_line'
 */
export function ossemFields(dictionaryPath: string): OssemField[] {
  return readOssemDictionary(dictionaryPath).fields;
}

/** One event of a pack being generated: its id, where its raw fields live, and its dictionary. */
export interface GeneratorEvent {
  eventId: string;
  /** The flattened-column prefix of the raw fields. Default `winlog:event_data:`. */
  fieldPrefix?: string;
  /** Raw name → column for this event, from its OSSEM dictionary (TBD fields left out). */
  fields: ReadonlyMap<string, string>;
  /** The `event_message` text for this event id. */
  message: string;
}

/** What {@link generatePackTransforms} produced, and the columns it had to invent. */
export interface GeneratedTransforms {
  transforms: Transform[];
  /**
   * Columns made only so an event-dependent CASE can reach a raw field portably (the raw field has
   * no other column in this pack), with the raw field they carry.
   */
  stagingColumns: { column: string; raw: string }[];
}

/** The envelope every generated pack starts with: pipeline columns and common event columns. */
export const ENVELOPE_RENAMES: readonly (readonly [string, string])[] = [
  ['_sourcetype', '_sourcetype'],
  ['_event_time', '_event_time'],
  ['_event_date', '_event_date'],
  ['dvc_hostname', 'dvc_hostname'],
  ['winlog:event_id', 'event_id'],
  ['winlog:task', 'event_category_type'],
  ['log:level', 'event_severity'],
  ['event:action', 'event_status'],
];

/**
 * Builds a cim_dataframe transform list for a silver table from the OSSEM mappings of its events.
 *
 * The envelope ({@link ENVELOPE_RENAMES}) comes first; an OSSEM column of the same name replaces an
 * envelope one (4625's `Status` is OSSEM's `event_status`). A column fed by one raw field (in any
 * number of events) is a plain rename; one raw field may feed several columns. A column that
 * different events fill from *different* raw fields (Logon's `user_name`: `TargetUserName` in 4624,
 * `SubjectUserName` in 4672) becomes an EXPR CASE on `event_id` over the columns those raw fields
 * were renamed to — renames make absent raw fields NULL, so the list stays portable to the
 * reference's Spark cim_dataframe, which only creates missing *rename* sources.
 *
 * @example
 * const t = generatePackTransforms([
 *   { eventId: '22', fields: new Map([['QueryName', 'dst_host_name']]), message: 'DNS query' },
 * ]);
 * // t.transforms: [{ new: ['event_message', "EXPR=CASE WHEN event_id = '22' THEN 'DNS query' END"] },
 * //                { rename: ['_sourcetype', '_sourcetype'] }, ..., { rename: ['winlog:event_data:QueryName', 'dst_host_name'] }]
 */
export function generatePackTransforms(events: readonly GeneratorEvent[]): GeneratedTransforms {
  if (events.length === 0) throw new Error('generatePackTransforms needs at least one event');
  // column → raw source (full flattened name) → event ids that use it
  const sources = new Map<string, Map<string, string[]>>();
  for (const event of events) {
    const prefix = event.fieldPrefix ?? 'winlog:event_data:';
    for (const [raw, column] of event.fields) {
      const bySource = sources.get(column) ?? new Map<string, string[]>();
      const ids = bySource.get(prefix + raw) ?? [];
      if (!ids.includes(event.eventId)) ids.push(event.eventId);
      bySource.set(prefix + raw, ids);
      sources.set(column, bySource);
    }
  }

  const renames: [string, string][] = ENVELOPE_RENAMES.filter(([, target]) => !sources.has(target)).map(([s, t]) => [s, t]);
  const conflicted: [string, Map<string, string[]>][] = [];
  for (const [column, bySource] of [...sources].sort(([a], [b]) => compareNames(a, b))) {
    const only = [...bySource.keys()];
    if (only.length === 1) renames.push([only[0]!, column]);
    else conflicted.push([column, bySource]);
  }

  const stagingColumns: { column: string; raw: string }[] = [];
  const expressions: [string, string][] = [];
  const taken = new Set([...renames.map(([, t]) => t), ...sources.keys(), 'event_message']);
  for (const [column, bySource] of conflicted) {
    const branches: string[] = [];
    for (const [source, ids] of bySource) {
      let carrier = renames.find(([s]) => s === source)?.[1];
      if (carrier === undefined) {
        carrier = stagingName(source, taken);
        taken.add(carrier);
        renames.push([source, carrier]);
        stagingColumns.push({ column: carrier, raw: source });
      }
      branches.push(`WHEN ${eventIdTest(ids)} THEN ${carrier}`);
    }
    expressions.push([column, `EXPR=CASE ${branches.join(' ')} END`]);
  }

  const messages = events.map((e) => `WHEN event_id = ${quoteString(e.eventId)} THEN ${quoteString(e.message)}`);
  return {
    transforms: [
      { new: ['event_message', `EXPR=CASE ${messages.join(' ')} END`] },
      ...expressions.map(([c, e]): Transform => ({ new: [c, e] })),
      ...renames.map(([s, t]): Transform => ({ rename: [s, t] })),
    ],
    stagingColumns,
  };
}

/**
 * The columns OSSEM-DD defines for a set of dictionaries (TBD standard names left out).
 *
 * @example ossemColumns([`${dir}/sysmon/event-1.yml`]).has('process_command_line') // => true
 */
export function ossemColumns(dictionaryPaths: readonly string[]): Set<string> {
  const columns = new Set<string>();
  for (const p of dictionaryPaths) {
    for (const f of ossemFields(p)) if (f.column !== undefined) columns.add(f.column);
  }
  return columns;
}

function stagingName(source: string, taken: ReadonlySet<string>): string {
  const base = toSnakeCase(source.slice(source.lastIndexOf(':') + 1));
  let name = base;
  for (let n = 2; taken.has(name); n++) name = `${base}_${n}`;
  return name;
}

function eventIdTest(ids: readonly string[]): string {
  return ids.length === 1 ? `event_id = ${quoteString(ids[0]!)}` : `event_id IN (${ids.map(quoteString).join(', ')})`;
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
