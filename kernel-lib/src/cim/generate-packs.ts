/**
 * Generates the shipped mapping packs (kernel-lib/packs/*.json) from OSSEM-DD. The Process pack
 * is the reference notebook's list with process_name derived (see PROCESS_PACK_TRANSFORMS); the
 * others come from each event's OSSEM dictionary.
 *
 * Regenerate after changing a spec:
 *   node --import tsx kernel-lib/src/cim/generate-packs.ts kernel-lib/data/ossem kernel-lib/packs
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ENVELOPE_RENAMES, generatePackTransforms, readOssemDictionary, type GeneratorEvent } from './ossem.js';
import { PACKS_DIR, savePack, type MappingPack, type PackExtension, type PackOssemRef } from './pack.js';
import type { Transform } from './transform.js';

const SYSMON = 'Microsoft-Windows-Sysmon/Operational';
const SECURITY = 'Security';
const SYSTEM = 'System';
const POWERSHELL = 'Microsoft-Windows-PowerShell/Operational';

/** Why each envelope column exists although no per-event OSSEM-DD dictionary defines it. */
export const ENVELOPE_REASONS: Readonly<Record<string, string>> = {
  _sourcetype: 'pipeline column: winlog.channel, set by the bronze raw stage; partition column of bronze',
  _event_time: 'pipeline column: @timestamp as TIMESTAMPTZ, set by the bronze raw stage',
  _event_date: 'pipeline column: date of @timestamp, set by the bronze raw stage; partition column of silver',
  dvc_hostname: 'the reporting host (agent.hostname), set by the bronze raw stage; OSSEM common device field, not in per-event dictionaries',
  event_id: 'winlog.event_id; OSSEM common event field, not in per-event dictionaries',
  event_message: 'a readable name of the event id (the reference notebook makes it with a CASE)',
  event_category_type: "winlog.task (the event's task name), as the reference notebook maps it",
  event_severity: 'log.level, as the reference notebook maps it',
  event_status: 'event.action, as the reference notebook maps it',
};

/** The reference notebook's Process list (Sysmon 1, 5, 18), exactly as the post wrote it. */
export const REFERENCE_PROCESS_TRANSFORMS: Transform[] = [
  { new: ['event_message', "EXPR=CASE WHEN event_id = '1' THEN 'Process Started' WHEN event_id = '5' THEN 'Process Terminated' WHEN event_id = '18' THEN 'Pipe Connected' END"] },
  { new: ['event_message_result', 'LITERAL=success'] },
  { new: ['event_schema_version', 'LITERAL=1.0'] },
  { new: ['event_schema_file', 'LITERAL=winlogbeat-sysmon'] },
  { new: ['event_result', 'LITERAL=success'] },
  ...(
    [
      // The envelope every generated pack starts with is the one this list starts with.
      ...ENVELOPE_RENAMES,
      ['winlog:event_data:CommandLine', 'process_command_line'],
      ['winlog:event_data:Company', 'file_company'],
      ['winlog:event_data:CurrentDirectory', 'process_file_directory'],
      ['winlog:event_data:Description', 'file_description'],
      ['winlog:event_data:Image', 'process_file_path'],
      ['winlog:event_data:IntegrityLevel', 'process_integrity_level'],
      ['winlog:event_data:LogonGuid', 'user_logon_guid'],
      ['winlog:event_data:LogonId', 'user_logon_id'],
      ['winlog:event_data:OriginalFileName', 'file_name_original'],
      ['winlog:event_data:ParentCommandLine', 'process_parent_command_line'],
      ['winlog:event_data:ParentImage', 'process_parent_file_path'],
      ['winlog:event_data:ParentProcessGuid', 'process_parent_guid'],
      ['winlog:event_data:ParentProcessId', 'process_parent_id'],
      ['winlog:event_data:ParentUser', 'acting_user_name'],
      ['winlog:event_data:ProcessId', 'process_id'],
      ['winlog:event_data:ProcessName', 'process_name'],
      ['winlog:event_data:Product', 'file_product'],
      ['winlog:event_data:TerminalSessionId', 'user_session_id'],
      ['winlog:event_data:User', 'user_name'],
      ['winlog:event_data:FileVersion', 'file_version'],
      ['winlog:event_data:ProcessGuid', 'process_guid'],
      ['winlog:event_data:Hashes', 'file_hashes'],
      ['winlog:event_data:PipeName', 'pipe_name'],
    ] as const
  ).map(([source, target]): Transform => ({ rename: [source, target] })),
];

/**
 * The raw field the reference maps to process_name (`ProcessName`) is not in Sysmon 1/5/18, so on
 * Sysmon data the reference's z-order key is always NULL. The shipped pack carries it in a staging
 * column and fills process_name with it, else with the file name of Image (`powershell.exe`).
 * The pattern is built with chr(92) (a backslash) so that the EXPR means the same in DuckDB and in
 * Spark SQL, whose string literals treat backslashes differently.
 */
export const PROCESS_NAME_STAGING = 'process_name_raw';
export const PROCESS_NAME_EXPR = `EXPR=coalesce(${PROCESS_NAME_STAGING}, nullif(regexp_extract(process_file_path, concat('[^/', chr(92), chr(92), ']+$'), 0), ''))`;

/**
 * The Process pack's list: the reference list with one change — ProcessName goes to a staging
 * column and process_name is derived (see {@link PROCESS_NAME_EXPR}).
 */
export const PROCESS_PACK_TRANSFORMS: Transform[] = [
  // The reference's CASE, with Sysmon 17 (pipe created: Sigma's pipe_created reads 17 and 18).
  { new: ['event_message', "EXPR=CASE WHEN event_id = '1' THEN 'Process Started' WHEN event_id = '5' THEN 'Process Terminated' WHEN event_id = '17' THEN 'Pipe Created' WHEN event_id = '18' THEN 'Pipe Connected' END"] },
  { new: ['process_name', PROCESS_NAME_EXPR] },
  ...REFERENCE_PROCESS_TRANSFORMS.slice(1).map(
    (t): Transform => ('rename' in t && t.rename[1] === 'process_name' ? { rename: [t.rename[0], PROCESS_NAME_STAGING] } : t),
  ),
];

const REFERENCE_PROCESS_EXTENSIONS: PackExtension[] = [
  ...Object.entries(ENVELOPE_REASONS).map(([column, reason]) => ({ column, reason })),
  { column: 'event_message_result', reason: "reference notebook literal 'success'" },
  { column: 'event_schema_version', reason: "reference notebook literal '1.0'" },
  { column: 'event_schema_file', reason: "reference notebook literal 'winlogbeat-sysmon'" },
  { column: 'event_result', reason: "reference notebook literal 'success'" },
  {
    column: 'process_name',
    reason:
      "reference notebook name: raw ProcessName when present, else the file name of Image (Sysmon 1/5/18 carry no ProcessName, and the reference z-orders by process_name)",
  },
  {
    column: PROCESS_NAME_STAGING,
    reason: 'carries raw ProcessName (the reference source of process_name) so that process_name can fall back to the file name of Image',
  },
  { column: 'file_hashes', reason: 'OSSEM-DD leaves the standard name of Sysmon Hashes TBD; reference notebook name' },
];

/** A raw field a generated pack maps although OSSEM-DD gives it no standard name (TBD or no dictionary). */
interface ExtraField {
  raw: string;
  column: string;
  reason: string;
}

/** One event of a table; `message` is required when OSSEM-DD has no dictionary to take it from. */
interface SpecEvent {
  id: string;
  extra?: ExtraField[];
  message?: string;
}

interface SpecSource {
  sourcetype: string;
  events: SpecEvent[];
}

/** How one silver table is generated. */
interface PackSpec {
  table: string;
  description: string;
  sources: SpecSource[];
  bloom: string[];
  zorder: string[];
}

const TBD = 'OSSEM-DD leaves the standard name of this field TBD';
const HASHES: ExtraField = { raw: 'Hashes', column: 'file_hashes', reason: `${TBD}; named as in the reference Process table` };
const SOURCE_USER: ExtraField = { raw: 'SourceUser', column: 'user_name', reason: `${TBD}; the acting user, named like Process's user_name` };
const TARGET_USER: ExtraField = {
  raw: 'TargetUser',
  column: 'target_user_name',
  reason: `${TBD}; OSSEM-DD names the target account TargetUserName in Security 4688`,
};

/** An event this OSSEM-DD copy has no dictionary for: every raw field is named here, for one `reason`. */
function undocumentedEvent(id: string, message: string, reason: string, columns: readonly (readonly [raw: string, column: string])[]): SpecEvent {
  return { id, message, extra: columns.map(([raw, column]) => ({ raw, column, reason })) };
}

const SPECS: PackSpec[] = [
  {
    table: 'Network',
    description: 'Sysmon network connections (event 3), OSSEM-DD names.',
    sources: [{ sourcetype: SYSMON, events: [{ id: '3' }] }],
    bloom: ['dst_ip_addr', 'src_ip_addr'],
    zorder: ['process_file_path', 'dst_port_number'],
  },
  {
    table: 'File',
    description: 'Sysmon file events: create (11), delete archived (23), delete detected (26), OSSEM-DD names.',
    sources: [
      {
        sourcetype: SYSMON,
        events: [
          { id: '11' },
          {
            id: '23',
            extra: [
              HASHES,
              { raw: 'IsExecutable', column: 'file_is_executable', reason: TBD },
              { raw: 'Archived', column: 'file_archived', reason: TBD },
            ],
          },
          { id: '26', extra: [HASHES, { raw: 'IsExecutable', column: 'file_is_executable', reason: TBD }] },
        ],
      },
    ],
    bloom: ['file_name'],
    zorder: ['process_file_path', 'event_id'],
  },
  {
    table: 'Registry',
    description:
      'Sysmon registry events: key create/delete (12), value set (13), rename (14), OSSEM-DD names. OSSEM-DD names TargetObject registry_key_path in 12/13 and registry_path in 14, and EventType registry_event_type in 13: both names are kept, each filled for every event.',
    sources: [{ sourcetype: SYSMON, events: [{ id: '12' }, { id: '13' }, { id: '14' }] }],
    bloom: ['registry_key_path'],
    zorder: ['process_file_path', 'event_id'],
  },
  {
    table: 'Service',
    description:
      'Services and drivers: Sysmon service state change (4), Sysmon driver loaded (6), and System 7045 (a service was installed). OSSEM-DD names for Sysmon; 7045 has no OSSEM-DD dictionary here (see extensions).',
    sources: [
      { sourcetype: SYSMON, events: [{ id: '4' }, { id: '6', extra: [HASHES] }] },
      {
        sourcetype: SYSTEM,
        events: [
          undocumentedEvent(
            '7045',
            'A service was installed in the system',
            'no OSSEM-DD dictionary for System 7045 in this OSSEM-DD copy; named service_* after the raw field, in OSSEM entity_attribute style',
            [
              ['ServiceName', 'service_name'],
              ['ImagePath', 'service_image_path'],
              ['ServiceType', 'service_type'],
              ['StartType', 'service_start_type'],
              ['AccountName', 'service_account_name'],
            ],
          ),
        ],
      },
    ],
    bloom: ['service_name'],
    zorder: ['event_id'],
  },
  {
    table: 'DNS',
    description: 'Sysmon DNS queries (event 22), OSSEM-DD names.',
    sources: [{ sourcetype: SYSMON, events: [{ id: '22' }] }],
    bloom: ['dst_host_name'],
    zorder: ['process_file_path'],
  },
  {
    table: 'WMI',
    description:
      'Sysmon WMI events: filter (19), consumer (20), binding (21), OSSEM-DD names. OSSEM-DD names Name wmi_filter_name in 19 and wmi_consumer_name in 20: both are kept, each filled for every event.',
    sources: [{ sourcetype: SYSMON, events: [{ id: '19' }, { id: '20' }, { id: '21' }] }],
    bloom: ['user_name'],
    zorder: ['event_id'],
  },
  {
    table: 'ImageLoad',
    description: 'Sysmon image (DLL) loads (event 7), OSSEM-DD names.',
    sources: [{ sourcetype: SYSMON, events: [{ id: '7', extra: [HASHES] }] }],
    bloom: ['module_path'],
    zorder: ['process_file_path'],
  },
  {
    table: 'CreateRemoteThread',
    description: 'Sysmon CreateRemoteThread (event 8), OSSEM-DD names.',
    sources: [{ sourcetype: SYSMON, events: [{ id: '8', extra: [SOURCE_USER, TARGET_USER] }] }],
    bloom: ['target_process_file_path'],
    zorder: ['process_file_path'],
  },
  {
    table: 'ProcessAccess',
    description: 'Sysmon process access (event 10), OSSEM-DD names.',
    sources: [{ sourcetype: SYSMON, events: [{ id: '10', extra: [SOURCE_USER, TARGET_USER] }] }],
    bloom: ['target_process_file_path'],
    zorder: ['process_file_path', 'process_granted_access'],
  },
  {
    table: 'Logon',
    description:
      'Security logons: success (4624), failure (4625), special privileges (4672), OSSEM-DD names. Where the events fill one OSSEM column from different raw fields (user_name is TargetUserName in 4624/4625 but SubjectUserName in 4672) the column is a CASE on event_id. event_status is 4625 Status (OSSEM-DD), not event.action.',
    sources: [{ sourcetype: SECURITY, events: [{ id: '4624' }, { id: '4625' }, { id: '4672' }] }],
    bloom: ['user_name', 'src_ip_addr'],
    zorder: ['logon_type', 'event_id'],
  },
  {
    table: 'SecurityProcess',
    description: 'Security process creation (4688), OSSEM-DD names: the Security-log view of Process.',
    sources: [{ sourcetype: SECURITY, events: [{ id: '4688' }] }],
    bloom: ['user_name'],
    zorder: ['process_path', 'event_id'],
  },
  {
    table: 'PowerShellScriptBlock',
    description: 'PowerShell script block logging (Microsoft-Windows-PowerShell/Operational 4104); no OSSEM-DD dictionary here (see extensions).',
    sources: [
      {
        sourcetype: POWERSHELL,
        events: [
          undocumentedEvent(
            '4104',
            'Creating Scriptblock text',
            'no OSSEM-DD dictionary for PowerShell 4104 in this OSSEM-DD copy; named script_block_* after the raw field',
            [
              ['MessageNumber', 'script_block_message_number'],
              ['MessageTotal', 'script_block_message_total'],
              ['ScriptBlockText', 'script_block_text'],
              ['ScriptBlockId', 'script_block_id'],
              ['Path', 'script_block_path'],
            ],
          ),
        ],
      },
    ],
    bloom: ['script_block_id'],
    zorder: ['dvc_hostname'],
  },
];

/**
 * The OSSEM-DD dictionary of an event, relative to `ossemDir` (the newest `_vN` when several), or
 * undefined when this OSSEM-DD copy has none.
 *
 * @example ossemDictionaryFor(dir, 'Security', '4624') // => 'security/event-4624_v2.yml'
 */
export function ossemDictionaryFor(ossemDir: string, sourcetype: string, eventId: string): string | undefined {
  const folder = sourcetype === SYSMON ? 'sysmon' : sourcetype === SECURITY ? 'security' : undefined;
  if (!folder || !existsSync(path.join(ossemDir, folder))) return undefined;
  const pattern = new RegExp(`^event-${eventId}(?:_v(\\d+))?\\.yml$`);
  const found = readdirSync(path.join(ossemDir, folder))
    .map((f) => ({ f, m: pattern.exec(f) }))
    .filter((x) => x.m !== null)
    .sort((a, b) => Number(b.m![1] ?? 0) - Number(a.m![1] ?? 0));
  return found[0] ? `${folder}/${found[0].f}` : undefined;
}

/**
 * Builds every shipped pack from OSSEM-DD (`ossemDir`, e.g. SHARED_DATA/ossem), Process first.
 * @example buildPacks(`${SHARED_DATA}/ossem`).map((p) => p.table)
 */
export function buildPacks(ossemDir: string): MappingPack[] {
  return [buildProcessPack(ossemDir), ...SPECS.map((spec) => buildPack(spec, ossemDir))];
}

function buildProcessPack(ossemDir: string): MappingPack {
  return {
    table: 'Process',
    description:
      "Sysmon process events: create (1), terminate (5), pipe created (17, which the reference lacks), pipe connected (18). The reference notebook's mapping, verbatim but for process_name, which falls back to the file name of Image since Sysmon has no ProcessName; its names are OSSEM-DD's except those listed in extensions (and 5's User is OSSEM's actor_user_name, mapped to user_name here as in the reference).",
    sources: [{ sourcetype: SYSMON, eventIds: ['1', '5', '17', '18'] }],
    partitions: ['_event_date'],
    bloom: ['user_name'],
    zorder: ['process_name', 'event_id'],
    ossem: ['1', '5', '17', '18'].map((id) => ({ dictionary: ossemDictionaryFor(ossemDir, SYSMON, id)!, eventId: id })),
    extensions: REFERENCE_PROCESS_EXTENSIONS,
    transforms: PROCESS_PACK_TRANSFORMS,
  };
}

function buildPack(spec: PackSpec, ossemDir: string): MappingPack {
  const ossem: PackOssemRef[] = [];
  const events: GeneratorEvent[] = [];
  const extraReasons = new Map<string, string>();
  const ossemDefined = new Set<string>();
  for (const source of spec.sources) {
    for (const event of source.events) {
      const dictionary = ossemDictionaryFor(ossemDir, source.sourcetype, event.id);
      const fields = new Map<string, string>();
      let message = event.message;
      if (dictionary) {
        ossem.push({ dictionary, eventId: event.id });
        const dict = readOssemDictionary(path.join(ossemDir, dictionary));
        for (const f of dict.fields) {
          if (f.column === undefined) continue;
          fields.set(f.name, f.column);
          ossemDefined.add(f.column);
        }
        message ??= dict.title.replace(/^Event ID \d+:\s*/, '');
      }
      for (const extra of event.extra ?? []) {
        if (fields.has(extra.raw)) throw new Error(`${spec.table}: ${extra.raw} of event ${event.id} already has an OSSEM name`);
        fields.set(extra.raw, extra.column);
        extraReasons.set(extra.column, extra.reason);
      }
      if (!message) throw new Error(`${spec.table}: event ${event.id} needs a message (no OSSEM-DD dictionary)`);
      events.push({ eventId: event.id, fields, message });
    }
  }
  const generated = generatePackTransforms(events);
  const targets = new Set(generated.transforms.map((t) => ('new' in t ? t.new[0] : t.rename[1])));
  const extensions: PackExtension[] = [
    ...Object.entries(ENVELOPE_REASONS).filter(([column]) => targets.has(column) && !ossemDefined.has(column) && !extraReasons.has(column)),
    ...[...extraReasons].filter(([column]) => !ossemDefined.has(column)),
  ]
    .map(([column, reason]) => ({ column, reason }))
    .concat(
      generated.stagingColumns.map(({ column, raw }) => ({
        column,
        reason: `carries raw ${raw} so that an event-dependent CASE column can use it (named after the raw field)`,
      })),
    );
  return {
    table: spec.table,
    description: spec.description,
    sources: spec.sources.map((s) => ({ sourcetype: s.sourcetype, eventIds: s.events.map((e) => e.id) })),
    partitions: ['_event_date'],
    bloom: spec.bloom,
    zorder: spec.zorder,
    ossem,
    extensions,
    transforms: generated.transforms,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [ossemDir, outDir = PACKS_DIR] = process.argv.slice(2);
  if (!ossemDir) {
    console.error('usage: generate-packs.ts <OSSEM-DD folder> [packs folder]');
    process.exit(2);
  }
  for (const pack of buildPacks(ossemDir)) console.log(savePack(pack, outDir));
}
