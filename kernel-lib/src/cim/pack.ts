/**
 * Mapping packs: one JSON data file per silver table (kernel-lib/packs/<Table>.json) holding the
 * cim_dataframe transform list, which bronze events feed the table, its layout hints, and the
 * OSSEM-DD dictionaries its names come from. Packs are data, so a list prototyped in a notebook can
 * be saved and run unchanged by the Spark original.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { col, type Expr, type Frame } from '../frame/index.js';
import { cimDataframe } from './dataframe.js';
import { ossemColumns } from './ossem.js';
import { parseTransforms, type Transform } from './transform.js';

/** Which bronze events feed a table: one channel (`_sourcetype`) and its event ids. */
export interface PackSource {
  /** winlog.channel, e.g. `Microsoft-Windows-Sysmon/Operational`. */
  sourcetype: string;
  /** `winlog:event_id` values, as strings (`'1'`, `'4624'`). */
  eventIds: string[];
}

/** An OSSEM-DD dictionary the pack's names come from, relative to the OSSEM-DD folder. */
export interface PackOssemRef {
  dictionary: string;
  eventId: string;
}

/** A column the pack makes on purpose although OSSEM-DD does not define it for these events. */
export interface PackExtension {
  column: string;
  reason: string;
}

/** A silver table's mapping: sources, layout, provenance and the cim_dataframe list. */
export interface MappingPack {
  /** The silver table name, e.g. `Process`. */
  table: string;
  description: string;
  sources: PackSource[];
  /** Partition columns of the silver table. */
  partitions: string[];
  /** Columns to build bloom filter indexes on. */
  bloom: string[];
  /** Columns to Z-order by when optimizing. */
  zorder: string[];
  ossem: PackOssemRef[];
  extensions: PackExtension[];
  transforms: Transform[];
}

/** The folder of the packs that ship with winlake (works from src/ via tsx and from dist/). */
export const PACKS_DIR = fileURLToPath(new URL('../../packs/', import.meta.url));

/** Columns every pack keeps unchanged, from the bronze raw stage. */
export const PIPELINE_COLUMNS = ['_sourcetype', '_event_time', '_event_date', 'dvc_hostname'] as const;

const PACK_KEYS = ['table', 'description', 'sources', 'partitions', 'bloom', 'zorder', 'ossem', 'extensions', 'transforms'] as const;

/**
 * The names of the packs in a folder (default: the shipped packs), sorted.
 * @example listPacks() // => ['CreateRemoteThread', 'DNS', 'File', ...]
 */
export function listPacks(dir: string = PACKS_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

/**
 * Reads and validates one pack by table name.
 * @example const process = loadPack('Process'); process.bloom // => ['user_name']
 */
export function loadPack(name: string, dir: string = PACKS_DIR): MappingPack {
  if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(name)) throw new Error(`mapping pack name ${JSON.stringify(name)} is not a table name`);
  const file = path.join(dir, `${name}.json`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new Error(`no mapping pack ${JSON.stringify(name)} in ${dir}; available: ${listPacks(dir).join(', ') || 'none'}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new Error(`mapping pack ${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const pack = validatePack(doc);
  if (pack.table !== name) throw new Error(`mapping pack ${file} declares table ${JSON.stringify(pack.table)}; the file name must match`);
  return pack;
}

/**
 * Loads several packs (default: all in the folder).
 * @example const [dns, wmi] = loadPacks(['DNS', 'WMI']);
 */
export function loadPacks(names?: readonly string[], dir: string = PACKS_DIR): MappingPack[] {
  return (names ?? listPacks(dir)).map((n) => loadPack(n, dir));
}

/**
 * Checks a pack's shape and returns it typed; throws an Error naming the pack and the problem.
 * Beyond the shape: the transform list must parse, every pack must keep the pipeline columns
 * (identity renames), map `winlog:event_id` to `event_id` and make `event_message`; layout
 * columns and extensions must be columns the pack makes; OSSEM references must name its events.
 *
 * @example validatePack(JSON.parse(text)).table // => 'Process'
 */
export function validatePack(pack: unknown): MappingPack {
  const label = isRecord(pack) && typeof pack.table === 'string' ? `mapping pack ${JSON.stringify(pack.table)}` : 'mapping pack';
  const fail = (problem: string): never => {
    throw new Error(`${label}: ${problem}`);
  };
  if (!isRecord(pack)) return fail('expected a JSON object');
  const unknown = Object.keys(pack).filter((k) => !(PACK_KEYS as readonly string[]).includes(k));
  if (unknown.length > 0) fail(`unknown key(s) ${unknown.join(', ')}; a pack has ${PACK_KEYS.join(', ')}`);
  for (const key of PACK_KEYS) if (!(key in pack)) fail(`missing ${key}`);

  if (typeof pack.table !== 'string' || !/^[A-Za-z][A-Za-z0-9_]*$/.test(pack.table)) fail('table must be a name of letters, digits and _');
  if (typeof pack.description !== 'string' || pack.description.trim() === '') fail('description must be a non-empty string');

  if (!Array.isArray(pack.sources) || pack.sources.length === 0) fail('sources must be a non-empty list');
  const eventIds = new Set<string>();
  (pack.sources as unknown[]).forEach((s, i) => {
    if (!isRecord(s) || typeof s.sourcetype !== 'string' || s.sourcetype === '') fail(`sources[${i}].sourcetype must be a non-empty string`);
    const src = s as Record<string, unknown>;
    if (!isStringList(src.eventIds) || src.eventIds.length === 0 || !src.eventIds.every((id) => /^\d+$/.test(id))) {
      fail(`sources[${i}].eventIds must be a non-empty list of event ids as digit strings`);
    }
    for (const id of src.eventIds as string[]) {
      if (eventIds.has(id)) fail(`event id ${id} appears in more than one source (event_message is keyed by event_id)`);
      eventIds.add(id);
    }
  });

  if (!Array.isArray(pack.transforms)) fail('transforms must be a list');
  let steps: ReturnType<typeof parseTransforms> = [];
  try {
    steps = parseTransforms(pack.transforms as unknown[]);
  } catch (err) {
    fail((err as Error).message);
  }
  const targets = new Set(steps.map((s) => s.target));
  for (const column of PIPELINE_COLUMNS) {
    if (!steps.some((s) => s.verb === 'rename' && s.source === column && s.target === column)) {
      fail(`must keep ${column} (transform { "rename": ["${column}", "${column}"] })`);
    }
  }
  if (!steps.some((s) => s.verb === 'rename' && s.source === 'winlog:event_id' && s.target === 'event_id')) {
    fail('must map winlog:event_id to event_id');
  }
  if (!targets.has('event_message')) fail('must make event_message');

  for (const key of ['partitions', 'bloom', 'zorder'] as const) {
    const list = pack[key];
    if (!isStringList(list)) return fail(`${key} must be a list of column names`);
    const missing = list.filter((c) => !targets.has(c));
    if (missing.length > 0) fail(`${key} names column(s) the transforms do not make: ${missing.join(', ')}`);
  }

  if (!Array.isArray(pack.ossem)) fail('ossem must be a list of { dictionary, eventId }');
  (pack.ossem as unknown[]).forEach((r, i) => {
    if (!isRecord(r) || typeof r.dictionary !== 'string' || typeof r.eventId !== 'string') fail(`ossem[${i}] must be { dictionary, eventId }`);
    const ref = r as Record<string, string>;
    if (path.isAbsolute(ref.dictionary!) || ref.dictionary!.split(/[\\/]/).includes('..') || !ref.dictionary!.endsWith('.yml')) {
      fail(`ossem[${i}].dictionary must be a .yml path inside the OSSEM-DD folder, got ${JSON.stringify(ref.dictionary)}`);
    }
    if (!eventIds.has(ref.eventId!)) fail(`ossem[${i}] is for event ${ref.eventId}, which is not among the pack's sources`);
  });

  if (!Array.isArray(pack.extensions)) fail('extensions must be a list of { column, reason }');
  const extended = new Set<string>();
  (pack.extensions as unknown[]).forEach((e, i) => {
    if (!isRecord(e) || typeof e.column !== 'string' || typeof e.reason !== 'string' || e.reason.trim() === '') {
      fail(`extensions[${i}] must be { column, reason } with a non-empty reason`);
    }
    const ext = e as Record<string, string>;
    if (!targets.has(ext.column!)) fail(`extensions[${i}] names ${ext.column}, which the transforms do not make`);
    if (extended.has(ext.column!)) fail(`extensions list ${ext.column} twice`);
    extended.add(ext.column!);
  });
  return pack as unknown as MappingPack;
}

/**
 * The columns a pack makes that OSSEM-DD does not define for its events (the dictionaries in
 * `pack.ossem`, read from `ossemDir`) and that are not listed as deliberate extensions. Empty means
 * every name is accounted for.
 *
 * @example checkPackAgainstOssem(loadPack('DNS'), `${SHARED_DATA}/ossem`) // => []
 */
export function checkPackAgainstOssem(pack: MappingPack, ossemDir: string): string[] {
  const defined = ossemColumns(pack.ossem.map((r) => path.join(ossemDir, r.dictionary)));
  const extended = new Set(pack.extensions.map((e) => e.column));
  return parseTransforms(pack.transforms)
    .map((s) => s.target)
    .filter((c) => !defined.has(c) && !extended.has(c))
    .sort();
}

/**
 * The filter that selects a pack's bronze events: `_sourcetype` and `winlog:event_id`, per source.
 * Built as an expression, so a Delta scan of bronze (partitioned by `_sourcetype`) can skip files.
 *
 * @example flat.filter(packSourceFilter(loadPack('Process')))
 */
export function packSourceFilter(pack: MappingPack): Expr {
  const perSource = pack.sources.map((s) => col('_sourcetype').eq(s.sourcetype).and(col('winlog:event_id').isin(s.eventIds)));
  return perSource.length === 1 ? perSource[0]! : perSource[0]!.or(...perSource.slice(1));
}

/**
 * Builds a silver table's rows from a flattened bronze Frame: keeps the pack's events and applies
 * its transform list with {@link cimDataframe}.
 *
 * @example
 * const process = await applyPack(flat, 'Process');
 * await process.groupBy('process_name').count().show();
 */
export async function applyPack(flat: Frame, pack: MappingPack | string): Promise<Frame> {
  const mapping = typeof pack === 'string' ? loadPack(pack) : validatePack(pack);
  const columns = new Set((await flat.columns()).map((c) => c.toLowerCase()));
  const needed = ['_sourcetype', 'winlog:event_id'].filter((c) => !columns.has(c));
  if (needed.length > 0) {
    throw new Error(`applyPack(${mapping.table}) needs a flattened bronze frame; it has no ${needed.join(' or ')} column`);
  }
  return cimDataframe(flat.filter(packSourceFilter(mapping)), mapping.transforms);
}

/**
 * Writes a pack as `<dir>/<table>.json` (validated first; one transform per line, for readable
 * diffs) and returns the file path. Overwrites an existing file of that name.
 *
 * @example savePack({ ...loadPack('Process'), table: 'MyProcess' }, './packs')
 */
export function savePack(pack: MappingPack, dir: string): string {
  const valid = validatePack(pack);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${valid.table}.json`);
  writeFileSync(file, formatPack(valid));
  return file;
}

/**
 * A pack as JSON text: one key per line, one list entry per line.
 * @example formatPack(loadPack('DNS')).split('\n')[1] // => '  "table": "DNS",'
 */
export function formatPack(pack: MappingPack): string {
  const lines = PACK_KEYS.map((key) => {
    const value: unknown = pack[key];
    const rendered =
      Array.isArray(value) && value.some((v) => typeof v === 'object')
        ? `[\n${value.map((v) => `    ${JSON.stringify(v)}`).join(',\n')}\n  ]`
        : JSON.stringify(value);
    return `  ${JSON.stringify(key)}: ${rendered}`;
  });
  return `{\n${lines.join(',\n')}\n}\n`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}
