/**
 * Converts Windows event documents from other shippers' layouts to the winlogbeat 7 layout
 * (`winlog.channel`, `winlog.event_id`, `winlog.event_data`), so recorded datasets (Mordor /
 * OTRF Security-Datasets, Sigma regression evtx dumps) can be replayed through the pipeline.
 *
 * Layouts: NXLog "flat" (im_msvistalog: `Channel`, `EventID`, `Hostname`, EventData at the top),
 * winlogbeat 6 (`log_name`, `event_id`, `event_data`), evtx_dump JSON (`Event.System`,
 * `Event.EventData`), and winlogbeat 7+ itself (passed through).
 *
 * `@timestamp` is always the true UTC instant of the event:
 * - winlogbeat 7 and 6: their own `@timestamp`, written by winlogbeat in UTC (on the Mordor
 *   winlogbeat 6 recording it is 0–3 s after Sysmon's `UtcTime`: the record's creation);
 * - evtx_dump: `Event.System.TimeCreated.#attributes.SystemTime`, UTC with a `Z`;
 * - NXLog: its times are the host's local clock (sometimes with a false `Z`), so a Sysmon event
 *   takes its `UtcTime` and every other event its `TimeCreated`/`EventTime` corrected by the
 *   host's clock offset, learned from the Sysmon events of that host in the same file (or told by
 *   `@timestamp` beside `EventReceivedTime`). The full rule is {@link nxlogInstant}. That is why
 *   {@link convertDocs} and {@link readEventFiles} look at every document before converting one.
 */
import { LEVEL_NAMES, SYSMON, sysmonTask } from './catalog.js';
import { isEvtxPath, readEvtxDocuments } from './evtx.js';
import { readJsonDocuments, type SourcedDocument } from './files.js';
import { HostClocks, nxlogInstant, nxlogTimeFacts } from './nxlog-time.js';
import type { WinlogbeatDoc, WinlogSection } from './types.js';

/** The layouts {@link detectLayout} recognises. */
export type SourceLayout = 'winlogbeat' | 'winlogbeat6' | 'nxlog' | 'evtx_dump';

/** Options of the converters. */
export interface ConvertOptions {
  /** Shift every event so the earliest lands at `start`, keeping the gaps between them. */
  rebase?: { start: Date };
  /** Force a layout instead of detecting it per document. */
  layout?: SourceLayout;
}

type Json = Record<string, unknown>;

/**
 * Tells the layout of one document.
 * @example detectLayout({ Channel: 'Security', EventID: 4688, Hostname: 'WKS5' }) // => 'nxlog'
 */
export function detectLayout(doc: unknown): SourceLayout {
  if (!isObject(doc)) throw new Error(`an event document must be a JSON object, got ${describe(doc)}`);
  if (isObject(doc.winlog) && 'channel' in doc.winlog) return 'winlogbeat';
  if (isObject(doc.Event) && isObject(doc.Event.System)) return 'evtx_dump';
  if ('log_name' in doc || (isObject(doc.event_data) && 'computer_name' in doc) || (isObject(doc.beat) && 'event_id' in doc)) return 'winlogbeat6';
  if ('Channel' in doc && 'EventID' in doc) return 'nxlog';
  throw new Error(
    `cannot tell the layout of this event document (top-level keys: ${Object.keys(doc).slice(0, 12).join(', ')}); ` +
      `expected winlogbeat (winlog.channel), winlogbeat 6 (log_name), NXLog (Channel + EventID) or evtx_dump (Event.System)`,
  );
}

/**
 * Converts one document to the winlogbeat 7 layout. Alone, an NXLog document cannot tell its host's
 * clock offset unless it carries `@timestamp` with `EventReceivedTime`: a Sysmon event still gets
 * its `UtcTime`, others their local time as if it were UTC. Convert whole files with
 * {@link convertDocs} or {@link readEventFiles} to get UTC for every event.
 * @example toWinlogbeat7({ Channel: 'Security', EventID: 4688, Hostname: 'WKS5', CommandLine: 'whoami' }).winlog.event_data
 * // => { CommandLine: 'whoami' }
 */
export function toWinlogbeat7(doc: unknown, layout: SourceLayout = detectLayout(doc)): WinlogbeatDoc {
  return convertOne(doc, layout, undefined);
}

function convertOne(doc: unknown, layout: SourceLayout, clocks: HostClocks | undefined): WinlogbeatDoc {
  const d = doc as Json;
  switch (layout) {
    case 'winlogbeat':
      return fromWinlogbeat(d);
    case 'winlogbeat6':
      return fromWinlogbeat6(d);
    case 'nxlog':
      return fromNxlog(d, clocks);
    case 'evtx_dump':
      return fromEvtxDump(d);
  }
}

/**
 * Converts documents (any mix of layouts; NXLog host clocks learned from all of them, see
 * {@link nxlogInstant}) and optionally re-bases their times.
 * @example convertDocs(lines.map((l) => JSON.parse(l)), { rebase: { start: new Date() } })
 */
export function convertDocs(docs: Iterable<unknown>, options: ConvertOptions = {}): WinlogbeatDoc[] {
  const list = [...docs];
  const clocks = new HostClocks();
  for (const d of list) learnClock(clocks, d, options.layout ?? detectLayout(d));
  const out: WinlogbeatDoc[] = [];
  for (const d of list) out.push(convertOne(d, options.layout ?? detectLayout(d), clocks));
  if (options.rebase) {
    const delta = rebaseDelta(out.map((d) => Date.parse(d['@timestamp'])), options.rebase.start);
    for (const d of out) shiftDoc(d, delta);
  }
  return out;
}

/**
 * Reads event files (`.json` NDJSON or concatenated JSON, `.gz`, `.tar.gz`, and Windows `.evtx`
 * through the `evtx` parser, see {@link readEvtxDocuments}) and yields winlogbeat 7 documents, in
 * file order (an error names the file and document that cannot be converted). Each JSON file is read
 * once to learn its NXLog host clocks (skipped when `layout` rules NXLog out) and, with `rebase`,
 * every file once more to find the earliest time.
 *
 * @example
 * for await (const doc of readEventFiles([`${data}/mordor/cmd_psexec_lsa_secrets_dump.json`], { rebase: { start: new Date() } })) {
 *   producer.send(JSON.stringify(doc));
 * }
 */
export async function* readEventFiles(paths: string | readonly string[], options: ConvertOptions = {}): AsyncGenerator<WinlogbeatDoc> {
  for await (const doc of readEventFilesOrRejects(paths, options)) {
    if (isRejected(doc)) throw new Error(doc.reason);
    yield doc;
  }
}

/**
 * {@link readEventFiles}, but a document that cannot be converted (not an object, unknown layout,
 * a required field missing) comes as a {@link RejectedDocument} instead of an error: `winlake
 * load` quarantines it, so no document is dropped.
 *
 * @example
 * for await (const d of readEventFilesOrRejects(['events.json'])) if (isRejected(d)) console.warn(d.reason);
 */
export async function* readEventFilesOrRejects(paths: string | readonly string[], options: ConvertOptions = {}): AsyncGenerator<WinlogbeatDoc | RejectedDocument> {
  const files = typeof paths === 'string' ? [paths] : paths;
  const clocks = new Map<string, HostClocks>();
  for (const f of files) {
    const fileClocks = new HostClocks();
    if (!isEvtxPath(f) && (options.layout === undefined || options.layout === 'nxlog')) {
      for await (const d of readJsonDocuments(f)) {
        const layout = options.layout ?? layoutOrUndefined(d.value);
        if (layout !== undefined) sourced(d, () => learnClock(fileClocks, d.value, layout));
      }
    }
    clocks.set(f, fileClocks);
  }
  let delta = 0;
  if (options.rebase) {
    let earliest = Number.POSITIVE_INFINITY;
    for (const f of files) {
      for await (const d of readDocuments(f)) {
        const doc = convertOrReject(d, options.layout, clocks.get(f));
        const t = isRejected(doc) ? Number.NaN : Date.parse(String(doc['@timestamp']));
        if (t < earliest) earliest = t;
      }
    }
    delta = rebaseDelta([earliest], options.rebase.start);
  }
  for (const f of files) {
    for await (const d of readDocuments(f)) {
      const doc = convertOrReject(d, options.layout, clocks.get(f));
      if (delta !== 0 && !isRejected(doc)) shiftDoc(doc, delta);
      yield doc;
    }
  }
}

/** A file's documents: EVTX records as evtx_dump JSON, or the JSON objects of a JSON file. */
function readDocuments(file: string): AsyncGenerator<SourcedDocument> {
  return isEvtxPath(file) ? readEvtxDocuments(file) : readJsonDocuments(file);
}

/** A document that could not be converted: its original JSON and why, for the quarantine. */
export interface RejectedDocument {
  rejected: string;
  reason: string;
}

/**
 * Tells a rejected document from a converted one.
 * @example for await (const d of readEventFilesOrRejects(files)) if (isRejected(d)) console.warn(d.reason);
 */
export function isRejected(doc: WinlogbeatDoc | RejectedDocument): doc is RejectedDocument {
  return typeof (doc as Partial<RejectedDocument>).rejected === 'string' && !('winlog' in doc);
}

function convertOrReject(d: SourcedDocument, layout: SourceLayout | undefined, clocks: HostClocks | undefined): WinlogbeatDoc | RejectedDocument {
  try {
    return sourced(d, () => convertOne(d.value, layout ?? detectLayout(d.value), clocks));
  } catch (err) {
    return { rejected: JSON.stringify(d.value) ?? 'null', reason: (err as Error).message };
  }
}

function layoutOrUndefined(doc: unknown): SourceLayout | undefined {
  try {
    return detectLayout(doc);
  } catch {
    return undefined;
  }
}

/** Runs `fn`, naming the file and event in any error it throws. */
function sourced<T>(d: SourcedDocument, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new Error(`${d.file}${d.member ? `[${d.member}]` : ''}: event ${d.index}: ${(err as Error).message}`, { cause: err });
  }
}

function learnClock(clocks: HostClocks, doc: unknown, layout: SourceLayout): void {
  if (layout === 'nxlog') clocks.learn(nxlogTimeFacts(doc as Json));
}

// ---- layouts ---------------------------------------------------------------------------------

function fromWinlogbeat(d: Json): WinlogbeatDoc {
  const winlog = { ...(d.winlog as Json) } as WinlogSection;
  // A missing id stays missing (NULL in bronze), never the text 'undefined'.
  if (winlog.event_id !== undefined && winlog.event_id !== null) winlog.event_id = String(winlog.event_id);
  if (isObject(winlog.event_data)) winlog.event_data = stringValues(winlog.event_data);
  // Bronze parses and, when it cannot, rescues the time itself: a time JavaScript cannot read stays as it came.
  const stamp = d['@timestamp'];
  let iso: unknown = stamp;
  try {
    if (stamp !== undefined && stamp !== null) iso = isoOf(stamp);
  } catch {
    iso = stamp;
  }
  return { ...d, ...(iso === undefined ? {} : { '@timestamp': iso }), winlog } as WinlogbeatDoc;
}

/** Keys of winlogbeat 6 that move into the 7 layout; every other key is kept at the top level. */
const WLB6_MOVED = new Set(['log_name', 'event_id', 'computer_name', 'record_number', 'source_name', 'provider_guid', 'event_data', 'user_data', 'user', 'process_id', 'thread_id', 'task', 'opcode', 'version', 'keywords', 'level', 'beat', 'type', 'activity_id', 'related_activity_id', '@metadata', 'xml', 'message_error']);

function fromWinlogbeat6(d: Json): WinlogbeatDoc {
  const eventId = String(req(d, 'event_id', 'winlogbeat 6'));
  const channel = String(req(d, 'log_name', 'winlogbeat 6'));
  const beat = isObject(d.beat) ? d.beat : {};
  const winlog: WinlogSection = { channel, event_id: eventId, api: d.type === 'eventlogging' ? 'eventlogging' : 'wineventlog' };
  if (d.source_name !== undefined) winlog.provider_name = String(d.source_name);
  if (d.provider_guid !== undefined) winlog.provider_guid = String(d.provider_guid);
  if (d.computer_name !== undefined) winlog.computer_name = String(d.computer_name);
  if (d.record_number !== undefined) winlog.record_id = Number(d.record_number);
  if (d.task !== undefined) winlog.task = String(d.task);
  if (d.opcode !== undefined) winlog.opcode = String(d.opcode);
  if (typeof d.version === 'number') winlog.version = d.version;
  if (Array.isArray(d.keywords)) winlog.keywords = d.keywords.map(String);
  if (d.activity_id !== undefined) winlog.activity_id = String(d.activity_id);
  if (d.related_activity_id !== undefined) winlog.related_activity_id = String(d.related_activity_id);
  if (d.process_id !== undefined) winlog.process = { pid: Number(d.process_id), ...(d.thread_id !== undefined ? { thread: { id: Number(d.thread_id) } } : {}) };
  if (isObject(d.user)) winlog.user = stringValues(d.user);
  if (isObject(d.event_data)) winlog.event_data = stringValues(d.event_data);
  if (isObject(d.user_data)) winlog.user_data = stringValues(d.user_data);
  const out: WinlogbeatDoc = { '@timestamp': isoOf(req(d, '@timestamp', 'winlogbeat 6')), winlog };
  for (const [k, v] of Object.entries(d)) if (!WLB6_MOVED.has(k) && k !== '@timestamp') out[k] = v;
  out.agent = { type: 'winlogbeat', version: String(beat.version ?? '6'), ...(beat.hostname ? { hostname: String(beat.hostname) } : {}), ...(beat.name ? { name: String(beat.name) } : {}) };
  out.log = { level: String(d.level ?? 'information').toLowerCase() };
  out.event = eventSection(eventId, winlog.provider_name, winlog.task, undefined);
  if (typeof d.message === 'string') out.message = d.message;
  addTag(out, 'winlake-converted:winlogbeat6');
  return out;
}

/** NXLog (im_msvistalog) envelope keys, and the keys Logstash/HELK add; the rest is EventData. */
const NXLOG_ENVELOPE = new Set([
  'EventTime', 'EventReceivedTime', 'TimeCreated', '@timestamp', 'Hostname', 'Keywords', 'EventTypeOrignal', 'EventTypeOriginal',
  'SeverityValue', 'Severity', 'Level', 'EventID', 'SourceName', 'ProviderGuid', 'Version', 'Task', 'OpcodeValue', 'Opcode',
  'RecordNumber', 'ActivityID', 'RelatedActivityID', 'ExecutionProcessID', 'ThreadID', 'Channel', 'Category', 'Message',
  'SourceModuleName', 'SourceModuleType', 'tags', '@version', 'host', 'port', 'EventIdx', 'EventCountTotal', 'UserID',
]);
/** NXLog's own EventType values; Sysmon's EventType (SetValue, CreatePipe...) is EventData. */
const NXLOG_EVENT_TYPES = new Set(['INFO', 'AUDIT_SUCCESS', 'AUDIT_FAILURE', 'WARNING', 'ERROR', 'CRITICAL', 'VERBOSE', 'DEBUG']);
/** With UserID present these describe the event's user (System/Security), not EventData. */
const NXLOG_USER_KEYS = ['AccountName', 'Domain', 'AccountType'] as const;
const NXLOG_SEVERITY: Readonly<Record<string, string>> = { INFO: 'information', WARNING: 'warning', ERROR: 'error', CRITICAL: 'critical', DEBUG: 'verbose' };

function fromNxlog(d: Json, clocks: HostClocks | undefined): WinlogbeatDoc {
  const eventIdNum = Number(req(d, 'EventID', 'NXLog'));
  const eventId = String(d.EventID);
  const channel = String(req(d, 'Channel', 'NXLog'));
  const hasUser = d.UserID !== undefined;
  const winlog: WinlogSection = { channel, event_id: eventId, api: 'wineventlog' };
  if (d.SourceName !== undefined) winlog.provider_name = String(d.SourceName);
  if (d.ProviderGuid !== undefined) winlog.provider_guid = String(d.ProviderGuid);
  if (d.Hostname !== undefined) winlog.computer_name = String(d.Hostname);
  if (d.RecordNumber !== undefined) winlog.record_id = Number(d.RecordNumber);
  const task = d.Category !== undefined ? String(d.Category) : channel === SYSMON_CHANNEL ? sysmonTask(eventIdNum) : d.Task !== undefined ? String(d.Task) : undefined;
  if (task !== undefined) winlog.task = task;
  if (d.Opcode !== undefined) winlog.opcode = String(d.Opcode);
  if (typeof d.Version === 'number') winlog.version = d.Version;
  if (d.ActivityID !== undefined) winlog.activity_id = String(d.ActivityID);
  if (d.ExecutionProcessID !== undefined) winlog.process = { pid: Number(d.ExecutionProcessID), ...(d.ThreadID !== undefined ? { thread: { id: Number(d.ThreadID) } } : {}) };
  if (hasUser) {
    winlog.user = { identifier: String(d.UserID) };
    if (d.AccountName !== undefined) winlog.user.name = String(d.AccountName);
    if (d.Domain !== undefined) winlog.user.domain = String(d.Domain);
    if (d.AccountType !== undefined) winlog.user.type = String(d.AccountType);
  }
  const nxEventType = typeof d.EventType === 'string' && NXLOG_EVENT_TYPES.has(d.EventType) ? d.EventType : undefined;
  const keywords = keywordNames(d.Keywords) ?? (nxEventType === 'AUDIT_SUCCESS' ? ['Audit Success'] : nxEventType === 'AUDIT_FAILURE' ? ['Audit Failure'] : undefined);
  if (keywords) winlog.keywords = keywords;

  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(d)) {
    if (NXLOG_ENVELOPE.has(k)) continue;
    if (k === 'EventType' && nxEventType) continue;
    if (hasUser && (NXLOG_USER_KEYS as readonly string[]).includes(k)) continue;
    data[k] = stringOf(v);
  }
  if (Object.keys(data).length) winlog.event_data = data;

  const host = d.Hostname !== undefined ? String(d.Hostname) : undefined;
  const out: WinlogbeatDoc = { '@timestamp': new Date(nxlogInstant(nxlogTimeFacts(d), clocks)).toISOString(), winlog };
  out.agent = { type: 'winlogbeat', ...(host ? { hostname: shortName(host), name: shortName(host) } : {}) };
  if (host) out.host = { name: host };
  out.log = { level: levelOf(d.Level, d.Severity) };
  out.event = eventSection(eventId, winlog.provider_name, task, keywords);
  if (typeof d.Message === 'string') out.message = d.Message.replaceAll('\r\n', '\n');
  if (Array.isArray(d.tags)) out.tags = d.tags.map(String);
  addTag(out, 'winlake-converted:nxlog');
  return out;
}

const SYSMON_CHANNEL = 'Microsoft-Windows-Sysmon/Operational';

function fromEvtxDump(d: Json): WinlogbeatDoc {
  const event = d.Event as Json;
  const system = event.System as Json;
  const eventIdRaw = textOf(req(system, 'EventID', 'evtx_dump Event.System'));
  const eventId = String(eventIdRaw);
  const channel = String(req(system, 'Channel', 'evtx_dump Event.System'));
  const provider = attrs(system.Provider);
  const winlog: WinlogSection = { channel, event_id: eventId, api: 'wineventlog' };
  if (provider.Name !== undefined) winlog.provider_name = String(provider.Name);
  if (provider.Guid !== undefined) winlog.provider_guid = braced(String(provider.Guid));
  if (system.Computer !== undefined) winlog.computer_name = String(system.Computer);
  if (system.EventRecordID !== undefined) winlog.record_id = Number(textOf(system.EventRecordID));
  const task = channel === SYSMON_CHANNEL ? sysmonTask(Number(eventIdRaw)) : system.Task !== undefined ? String(textOf(system.Task)) : undefined;
  if (task !== undefined) winlog.task = task;
  if (system.Opcode !== undefined) winlog.opcode = Number(textOf(system.Opcode)) === 0 ? 'Info' : String(textOf(system.Opcode));
  if (typeof system.Version === 'number') winlog.version = system.Version;
  const execution = attrs(system.Execution);
  if (execution.ProcessID !== undefined) winlog.process = { pid: Number(execution.ProcessID), ...(execution.ThreadID !== undefined ? { thread: { id: Number(execution.ThreadID) } } : {}) };
  const correlation = attrs(system.Correlation);
  if (correlation.ActivityID !== undefined) winlog.activity_id = braced(String(correlation.ActivityID));
  const security = attrs(system.Security);
  if (security.UserID !== undefined) winlog.user = { identifier: String(security.UserID) };
  const keywords = keywordNames(system.Keywords);
  if (keywords) winlog.keywords = keywords;
  const data = eventDataOf(event.EventData);
  if (data) winlog.event_data = data;
  const userData = userDataOf(event.UserData);
  if (userData) winlog.user_data = userData;

  const created = attrs(system.TimeCreated).SystemTime;
  const out: WinlogbeatDoc = { '@timestamp': isoOf(created), winlog };
  if (winlog.computer_name) {
    out.agent = { type: 'winlogbeat', hostname: shortName(winlog.computer_name), name: shortName(winlog.computer_name) };
    out.host = { name: winlog.computer_name };
  }
  out.log = { level: LEVEL_NAMES[Number(textOf(system.Level))] ?? 'information' };
  out.event = eventSection(eventId, winlog.provider_name, task, keywords);
  // evtx_dump does not render messages; a Sysmon message is just its title and fields, so rebuild it.
  const spec = channel === SYSMON_CHANNEL ? SYSMON[Number(eventIdRaw)] : undefined;
  if (spec && data) out.message = [spec.title, ...Object.entries(data).map(([k, v]) => `${k}: ${v}`)].join('\n');
  addTag(out, 'winlake-converted:evtx_dump');
  return out;
}

/** EventData: named fields, or unnamed `Data` values (winlogbeat names them param1..N). */
function eventDataOf(value: unknown): Record<string, string> | undefined {
  if (!isObject(value)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === '#attributes') continue;
    if (k === 'Data' && (Array.isArray(v) || (isObject(v) && '#text' in v))) {
      const items = Array.isArray(v) ? v : Array.isArray((v as Json)['#text']) ? ((v as Json)['#text'] as unknown[]) : [(v as Json)['#text']];
      items.forEach((item, i) => {
        out[`param${i + 1}`] = stringOf(textOf(item));
      });
      continue;
    }
    out[k] = stringOf(textOf(v));
  }
  return Object.keys(out).length ? out : undefined;
}

/** UserData holds one element; winlogbeat keeps its name as `xml_name` beside its fields. */
function userDataOf(value: unknown): Record<string, string> | undefined {
  if (!isObject(value)) return undefined;
  const [name, inner] = Object.entries(value).find(([k]) => k !== '#attributes') ?? [];
  if (name === undefined) return undefined;
  const out: Record<string, string> = { xml_name: name };
  if (isObject(inner)) for (const [k, v] of Object.entries(inner)) if (k !== '#attributes') out[k] = stringOf(textOf(v));
  return out;
}

// ---- time re-basing ----------------------------------------------------------------------------

const SYSMON_TIME_FIELDS = ['UtcTime', 'CreationUtcTime', 'PreviousCreationUtcTime'];
const SYSMON_TIME = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d+)?$/;

function rebaseDelta(times: readonly number[], start: Date): number {
  const target = start.getTime();
  if (Number.isNaN(target)) throw new Error('rebase.start is an invalid Date');
  let earliest = Number.POSITIVE_INFINITY;
  for (const t of times) if (t < earliest) earliest = t;
  return Number.isFinite(earliest) ? target - earliest : 0;
}

/** Moves a document in time: @timestamp, event.created, and Sysmon's time fields (also in message). */
function shiftDoc(doc: WinlogbeatDoc, delta: number): void {
  const t = Date.parse(doc['@timestamp']);
  if (Number.isNaN(t)) return;
  doc['@timestamp'] = new Date(t + delta).toISOString();
  if (doc.event?.created) doc.event.created = new Date(Date.parse(doc.event.created) + delta).toISOString();
  const data = doc.winlog.event_data;
  if (!data) return;
  for (const f of SYSMON_TIME_FIELDS) {
    const v = data[f];
    if (v === undefined) continue;
    const shifted = shiftSysmonTime(v, delta);
    if (shifted === v) continue;
    data[f] = shifted;
    if (doc.message) doc.message = doc.message.replace(`${f}: ${v}`, `${f}: ${shifted}`);
  }
}

function shiftSysmonTime(value: string, delta: number): string {
  const m = SYSMON_TIME.exec(value);
  if (!m) return value;
  const fraction = m[3] ?? '';
  const ms = Date.parse(`${m[1]}T${m[2]}${fraction.slice(0, 4)}Z`) + delta;
  if (Number.isNaN(ms)) return value;
  const iso = new Date(ms).toISOString();
  // Keep the source's precision; digits past milliseconds are carried over unchanged.
  const frac = fraction ? `${iso.slice(19, 23)}${fraction.slice(4)}`.slice(0, fraction.length) : '';
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac}`;
}

// ---- helpers -----------------------------------------------------------------------------------

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  return Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v;
}

function req(d: Json, key: string, layout: string): unknown {
  const v = d[key];
  if (v === undefined || v === null) throw new Error(`${layout} document without ${key}`);
  return v;
}

/** evtx_dump writes an element with attributes as {"#text": value, "#attributes": {...}}. */
function textOf(v: unknown): unknown {
  return isObject(v) && '#text' in v ? v['#text'] : v;
}

function attrs(v: unknown): Json {
  return isObject(v) && isObject(v['#attributes']) ? v['#attributes'] : {};
}

function stringOf(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

function stringValues(o: Json): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o)) out[k] = stringOf(v);
  return out;
}

function braced(guid: string): string {
  return guid.startsWith('{') ? guid : `{${guid}}`;
}

function shortName(host: string): string {
  const dot = host.indexOf('.');
  return dot > 0 ? host.slice(0, dot) : host;
}

function addTag(doc: WinlogbeatDoc, tag: string): void {
  doc.tags = [...(doc.tags ?? []), tag];
}

/** Any of the time notations in these layouts, to ISO-8601 UTC. Zone-less times are taken as UTC. */
function isoOf(v: unknown): string {
  if (typeof v !== 'string' && typeof v !== 'number') throw new Error(`event without a usable time (got ${describe(v)})`);
  let ms = typeof v === 'number' ? v : Date.parse(v);
  if (typeof v === 'string') {
    const naive = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d+)?)$/.exec(v);
    if (naive) ms = Date.parse(`${naive[1]}T${naive[2]!.slice(0, 12)}Z`);
  }
  if (Number.isNaN(ms)) throw new Error(`cannot read the time ${JSON.stringify(v)}`);
  return new Date(ms).toISOString();
}

function levelOf(level: unknown, severity: unknown): string {
  if (level !== undefined && level !== null && level !== '') {
    const n = Number(level);
    if (Number.isInteger(n) && LEVEL_NAMES[n]) return LEVEL_NAMES[n]!;
    return String(level).toLowerCase();
  }
  if (typeof severity === 'string') return NXLOG_SEVERITY[severity.toUpperCase()] ?? severity.toLowerCase();
  return 'information';
}

/** Windows keyword bits → winlogbeat's names (only the audit ones matter for these channels). */
function keywordNames(v: unknown): string[] | undefined {
  let bits: bigint;
  try {
    if (typeof v === 'number' && Number.isFinite(v)) bits = BigInt.asUintN(64, BigInt(Math.trunc(v)));
    else if (typeof v === 'string' && /^(0x[0-9a-f]+|-?\d+)$/i.test(v.trim())) bits = BigInt.asUintN(64, BigInt(v.trim()));
    else return undefined;
  } catch {
    return undefined;
  }
  const names: string[] = [];
  if (bits & 0x0020000000000000n) names.push('Audit Success');
  if (bits & 0x0010000000000000n) names.push('Audit Failure');
  return names.length ? names : undefined;
}

/** winlogbeat's `event` object: code, kind, provider, action (the task) and the audit outcome. */
function eventSection(code: string, provider: string | undefined, task: string | undefined, keywords: readonly string[] | undefined): WinlogbeatDoc['event'] {
  return {
    code,
    kind: 'event',
    ...(provider ? { provider } : {}),
    ...(task ? { action: task } : {}),
    ...(keywords?.[0] === 'Audit Success' ? { outcome: 'success' } : keywords?.[0] === 'Audit Failure' ? { outcome: 'failure' } : {}),
  };
}
