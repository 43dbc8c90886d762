/**
 * The bronze envelope: the winlogbeat 7 and 8 fields bronze declares, each with ONE type both agent
 * versions fit, so that every batch parses to the same columns and appends to the same table.
 *
 * Types:
 * - `VARCHAR`: any JSON value; a string as is, a number or boolean as its JSON text (`event_id`
 *   4688 from winlogbeat 7 and "4688" from winlogbeat 8 are both '4688'), an object or array as its
 *   JSON text. Nothing is lost, so nothing is rescued.
 * - `BIGINT`: an integer or a string holding one; anything else (1.5, 2^64, "abc", true) is NULL
 *   and its value goes to `_rescued_data`.
 * - `TIMESTAMPTZ`: ISO 8601 with or without a zone (no zone means UTC), fractional seconds (kept to
 *   microseconds, the raw document keeps the rest), or epoch milliseconds as a number or numeric
 *   string; anything else is NULL and rescued.
 * - `VARCHAR[]`: a JSON array (items as VARCHAR above); anything else is rescued.
 * - `MAP(VARCHAR, VARCHAR)`: a JSON object whose values are kept as VARCHAR above; else rescued.
 * - a nested object: a STRUCT; a value that is not an object is rescued.
 *
 * Fields not declared here, at any level, go to `_rescued_data` under their `:` path.
 */

/** A leaf type of the envelope. */
export type EnvelopeLeaf = 'VARCHAR' | 'BIGINT' | 'TIMESTAMPTZ' | 'VARCHAR[]' | 'MAP(VARCHAR, VARCHAR)';

/** A level of the envelope: field name → leaf type or nested level. */
export interface EnvelopeLevel {
  readonly [field: string]: EnvelopeLeaf | EnvelopeLevel;
}

const S = 'VARCHAR';
const N = 'BIGINT';
const LIST = 'VARCHAR[]';
const MAP = 'MAP(VARCHAR, VARCHAR)';

/** What winlogbeat 7.x and 8.x emit for Windows event logs (ECS 1.x / 8.x), as bronze columns. */
export const BRONZE_ENVELOPE: EnvelopeLevel = {
  '@timestamp': 'TIMESTAMPTZ',
  message: S,
  tags: LIST,
  agent: { hostname: S, name: S, id: S, type: S, version: S, ephemeral_id: S },
  ecs: { version: S },
  host: {
    name: S,
    hostname: S,
    architecture: S,
    id: S,
    ip: LIST,
    mac: LIST,
    os: { build: S, family: S, kernel: S, name: S, platform: S, version: S, type: S },
  },
  log: { level: S },
  event: {
    code: S,
    kind: S,
    provider: S,
    action: S,
    created: S,
    outcome: S,
    module: S,
    dataset: S,
    ingested: S,
    category: LIST,
    type: LIST,
  },
  winlog: {
    channel: S,
    event_id: S,
    computer_name: S,
    record_id: N,
    provider_name: S,
    provider_guid: S,
    task: S,
    opcode: S,
    version: N,
    api: S,
    keywords: LIST,
    activity_id: S,
    related_activity_id: S,
    process: { pid: N, thread: { id: N } },
    user: { identifier: S, name: S, domain: S, type: S },
    event_data: MAP,
    user_data: MAP,
  },
};

/** The column holding what did not fit the envelope: a JSON object `{":path": value}`, NULL when nothing. */
export const RESCUED_DATA = '_rescued_data';
/** The column holding each document's original text, byte for byte (for valid UTF-8 values). */
export const RAW_DOCUMENT = '_raw';
