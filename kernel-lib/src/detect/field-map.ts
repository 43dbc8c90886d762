/**
 * Where a Sigma rule looks: logsource category → silver table and Sysmon event ids, and Sigma's raw
 * field names (`Image`, `TargetObject`) → the table's OSSEM columns. The field names are derived
 * from the mapping packs (a rename of `winlog:event_data:Image` to `process_file_path` in the
 * Process pack makes Sigma's `Image` that column); the data file kernel-lib/sigma/field-map.json
 * holds the categories and the few exceptions. Services (and categories no silver table holds)
 * map to channels: they read the generic channel view, flattened bronze, where Sigma's field
 * names are the event's own (`winlog:event_data:<Field>`).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadPacks, PACKS_DIR, type MappingPack } from '../cim/pack.js';
import { parseTransforms } from '../cim/transform.js';

/** The data file shipped with winlake. */
export const SIGMA_FIELD_MAP_FILE = fileURLToPath(new URL('../../sigma/field-map.json', import.meta.url));

/** The flattened bronze prefix of an event's own fields: Sigma's `TargetUserName` is `winlog:event_data:TargetUserName`. */
export const EVENT_DATA_PREFIX = 'winlog:event_data:';

/** Where winlogbeat puts the fields of an event with UserData instead of EventData (WMI-Activity 5858). */
export const USER_DATA_PREFIX = 'winlog:user_data:';

/** One logsource's target: the table, the events in it, and Sigma field → column. */
export interface SigmaTarget {
  /** The logsource as named in the map: a category, `service:<name>`, or `product:windows`. */
  category: string;
  /** The silver table; for a channel target, {@link CHANNEL_VIEW}. */
  table: string;
  /**
   * Set for a channel target (the generic channel view over flattened bronze): the channels
   * (`winlog.channel`) it reads; empty for every channel. Its fields beyond `fields` are
   * `winlog:event_data:<Field>`.
   */
  channels?: string[];
  /** Values of the table's `event_id` column this category covers. */
  eventIds: string[];
  /** Sigma field name → silver column. */
  fields: Record<string, string>;
  /** Facts a compiled rule should carry as warnings (e.g. an event id the pack never loads). */
  notes: string[];
}

/** The whole map: by category, by service, and the target of a rule naming only the product. */
export interface SigmaFieldMap {
  categories: Record<string, SigmaTarget>;
  services: Record<string, SigmaTarget>;
  /** `logsource: {product: windows}` alone: every channel. */
  product: SigmaTarget;
}

/** The name a channel target gives as its table: the generic channel view (see run.ts). */
export const CHANNEL_VIEW = 'channel view';

/**
 * The channel view's text column Sigma keywords search: the event's message and every event data
 * value, one per line (Sigma: a keyword matches anywhere in the event).
 */
export const CHANNEL_TEXT = '_sigma_text';

/** The data file's shape. */
interface FieldMapFile {
  categories: Record<string, { table: string; eventIds: string[] } | { channels: string[]; eventIds: string[] }>;
  /** Service → channels. */
  services?: Record<string, string[]>;
  /** In the channel view: Sigma field → envelope column (`winlog:provider_name`). */
  channelFields?: Record<string, string>;
  /** Sigma field → raw flattened column (`winlog:event_id`), resolved through each pack's renames. */
  rawFields?: Record<string, string>;
  /** Per table: Sigma field → silver column, overriding the derivation. */
  columns?: Record<string, Record<string, string>>;
}

let cached: SigmaFieldMap | undefined;

/**
 * The Sigma field map: the data file's categories, with each table's fields derived from its pack.
 * Without arguments it reads the shipped file and packs once and caches the result.
 *
 * @example
 * const map = sigmaFieldMap();
 * map.categories.process_creation.fields.ParentImage // => 'process_parent_file_path'
 * map.categories.registry_set.eventIds // => ['13']
 */
export function sigmaFieldMap(opts: { file?: string; packsDir?: string } = {}): SigmaFieldMap {
  const useDefault = opts.file === undefined && opts.packsDir === undefined;
  if (useDefault && cached) return cached;
  const file = opts.file ?? SIGMA_FIELD_MAP_FILE;
  const data = readFieldMapFile(file);
  const packs = new Map(loadPacks(undefined, opts.packsDir ?? PACKS_DIR).map((p) => [p.table.toLowerCase(), p]));
  const categories: Record<string, SigmaTarget> = {};
  const channelFields = { ...(data.channelFields ?? {}) };
  const channelTarget = (category: string, channels: readonly string[], eventIds: readonly string[]): SigmaTarget => ({
    category,
    table: CHANNEL_VIEW,
    channels: [...channels],
    eventIds: [...eventIds],
    fields: channelFields,
    notes: [],
  });
  for (const [category, spec] of Object.entries(data.categories)) {
    if ('channels' in spec) {
      categories[category] = channelTarget(category, spec.channels, spec.eventIds);
      continue;
    }
    const pack = packs.get(spec.table.toLowerCase());
    if (!pack) throw new Error(`${file}: category ${category} names table ${spec.table}, which has no mapping pack`);
    const loaded = new Set(pack.sources.flatMap((s) => s.eventIds));
    const notes = spec.eventIds
      .filter((id) => !loaded.has(id))
      .map((id) => `event ${id} of ${category} is not among the ${pack.table} pack's sources (${[...loaded].join(', ')}): the table never holds it`);
    categories[category] = {
      category,
      table: pack.table,
      eventIds: [...spec.eventIds],
      fields: fieldsOf(pack, data, file),
      notes,
    };
  }
  const services = Object.fromEntries(Object.entries(data.services ?? {}).map(([name, channels]) => [name, channelTarget(`service:${name}`, channels, [])]));
  const map: SigmaFieldMap = { categories, services, product: channelTarget('product:windows', [], []) };
  if (useDefault) cached = map;
  return map;
}

/** Sigma field → column for one pack: event_data renames, then rawFields, then column overrides. */
function fieldsOf(pack: MappingPack, data: FieldMapFile, file: string): Record<string, string> {
  const renames = parseTransforms(pack.transforms).flatMap((s) => (s.verb === 'rename' ? [s] : []));
  const targets = new Set(parseTransforms(pack.transforms).map((s) => s.target));
  const fields: Record<string, string> = {};
  for (const r of renames) {
    if (!r.source.startsWith(EVENT_DATA_PREFIX)) continue;
    const field = r.source.slice(EVENT_DATA_PREFIX.length);
    fields[field] ??= r.target;
  }
  for (const [field, raw] of Object.entries(data.rawFields ?? {})) {
    const rename = renames.find((r) => r.source === raw);
    if (rename) fields[field] = rename.target;
  }
  const overrides = Object.entries(data.columns ?? {}).find(([t]) => t.toLowerCase() === pack.table.toLowerCase())?.[1] ?? {};
  for (const [field, column] of Object.entries(overrides)) {
    if (!targets.has(column)) throw new Error(`${file}: columns.${pack.table}.${field} names ${column}, which the ${pack.table} pack does not make`);
    fields[field] = column;
  }
  return fields;
}

function readFieldMapFile(file: string): FieldMapFile {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read the Sigma field map ${file}: ${(err as Error).message}`, { cause: err });
  }
  const fail = (problem: string): never => {
    throw new Error(`Sigma field map ${file}: ${problem}`);
  };
  if (typeof doc !== 'object' || doc === null) return fail('expected a JSON object');
  const d = doc as Record<string, unknown>;
  if (typeof d.categories !== 'object' || d.categories === null) fail('missing categories');
  for (const [category, spec] of Object.entries(d.categories as Record<string, unknown>)) {
    const s = spec as Record<string, unknown> | null;
    const where = s && (typeof s.table === 'string' || isStrings(s.channels));
    if (!s || !where || !isStrings(s.eventIds)) fail(`categories.${category} must be { table, eventIds: [string] } or { channels: [string], eventIds: [string] }`);
  }
  for (const [service, channels] of Object.entries((d.services ?? {}) as Record<string, unknown>)) {
    if (!isStrings(channels)) fail(`services.${service} must be a list of channel names`);
  }
  for (const key of ['rawFields', 'columns', 'services', 'channelFields'] as const) {
    if (d[key] !== undefined && (typeof d[key] !== 'object' || d[key] === null)) fail(`${key} must be an object`);
  }
  return d as unknown as FieldMapFile;
}

function isStrings(x: unknown): x is string[] {
  return Array.isArray(x) && x.every((e) => typeof e === 'string');
}
