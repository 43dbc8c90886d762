/**
 * A seeded, deterministic generator of realistic winlogbeat 7.x/8.x documents: a small Windows
 * domain (WKS-xxx workstations, SRV-xxx servers, domain users), each host with a consistent process
 * tree, emitting Sysmon, Security, System, PowerShell, WMI-Activity and Application events, with
 * attack scenarios mixed in at a known rate. Same options, same events.
 */
import { CHANNEL, PROVIDER, WMI_BINDING_FIELDS } from './catalog.js';
import { Random, Weighted } from './prng.js';
import {
  SCENARIO_LENGTH,
  SCENARIOS,
  SCENARIO_TECHNIQUE,
  fileCreate,
  logonMessage,
  pipe,
  scenarioSteps,
  scriptBlock,
  serviceInstall,
  type ScenarioName,
  type Step,
} from './scenarios.js';
import type { WinlogbeatDoc } from './types.js';
import { IMAGES, SYSTEM_USER, World, securityMessage, splitUser, type Host, type ImageMeta, type Proc, type User } from './world.js';

export { SCENARIOS, SCENARIO_TECHNIQUE, type ScenarioName } from './scenarios.js';

/** Options of the simulator. */
export interface SimulateOptions {
  /** PRNG seed; same seed (and options), same events. Default 1. */
  seed?: number;
  /** How many documents. */
  count: number;
  /** Time of the first event. Default 2026-01-05T08:00:00Z. */
  start?: Date;
  /** Events per second overall (default 20). Ignored when `span` is given. */
  ratePerSecond?: number;
  /** Total time covered by the events, in milliseconds (overrides ratePerSecond). */
  span?: number;
  /** Number of hosts (about one in five is a server). Default 10. */
  hosts?: number;
  /** Number of domain users. Default 20. */
  users?: number;
  /** Expected fraction of events that belong to an attack scenario, 0..1. Default 0.01. */
  attackRate?: number;
  /** Which scenarios to mix in. Default: all of {@link SCENARIOS}. */
  scenarios?: readonly ScenarioName[];
  /** Winlogbeat major version to imitate: 7 sends agent.hostname, 8 only agent.name. Default 8. */
  version?: 7 | 8;
  /** NetBIOS domain name. Default 'CORP'. */
  domain?: string;
  /** DNS domain. Default 'corp.example.com'. */
  dnsDomain?: string;
}

/** A simulated document and the ground truth about it (kept out of the document). */
export interface SimulatedEvent {
  doc: WinlogbeatDoc;
  /** The attack scenario the event belongs to, or null for benign activity. */
  scenario: ScenarioName | null;
  /** MITRE ATT&CK technique of the scenario, or null. */
  technique: string | null;
  /** Which run of the scenario (1, 2, ...), so the events of one attack can be grouped; 0 when benign. */
  run: number;
}

/** A benign event maker; it may queue follow-up events (e.g. 4688 after Sysmon 1). */
type Benign = (world: World, host: Host, ms: number, follow: Step[]) => WinlogbeatDoc;

/**
 * Simulated documents with their ground truth.
 *
 * @example
 * for (const e of simulateWithTruth({ seed: 7, count: 1000, attackRate: 0.05 })) {
 *   if (e.scenario) console.log(e.scenario, e.doc.winlog.event_id);
 * }
 */
export function* simulateWithTruth(options: SimulateOptions): Generator<SimulatedEvent> {
  const o = normalise(options);
  const random = new Random(o.seed);
  const world = new World(random, { hosts: o.hosts, users: o.users, version: o.version, domain: o.domain, dnsDomain: o.dnsDomain });
  const benign = benignMix();
  // A run of mean length L started with probability p per free slot makes a fraction pL/(pL+1-p)
  // of the events attacks; solve for p.
  const meanLength = o.scenarios.reduce((s, n) => s + SCENARIO_LENGTH[n], 0) / Math.max(1, o.scenarios.length);
  const startRate = o.attackRate >= 1 ? 1 : o.attackRate / (meanLength * (1 - o.attackRate) + o.attackRate);
  const interval = o.span !== undefined ? o.span / Math.max(1, o.count) : 1000 / o.ratePerSecond;
  const start = o.start.getTime();
  let queue: { steps: Step[]; scenario: ScenarioName | null; run: number } | undefined;
  let runs = 0;
  for (let i = 0; i < o.count; i++) {
    const ms = Math.floor(start + i * interval + random.next() * interval * 0.999);
    if (!queue && o.scenarios.length > 0 && random.chance(startRate)) {
      const name = random.pick(o.scenarios);
      queue = { steps: scenarioSteps(world, name), scenario: name, run: ++runs };
    }
    if (queue) {
      const step = queue.steps.shift()!;
      world.attackMode = queue.scenario !== null;
      const doc = step(ms);
      world.attackMode = false;
      const out: SimulatedEvent = {
        doc,
        scenario: queue.scenario,
        technique: queue.scenario ? SCENARIO_TECHNIQUE[queue.scenario] : null,
        run: queue.run,
      };
      if (queue.steps.length === 0) queue = undefined;
      yield out;
      continue;
    }
    const host = random.pick(world.hosts);
    const make = benign.draw(random);
    const follow: Step[] = [];
    const doc = make(world, host, ms, follow);
    if (follow.length) queue = { steps: follow, scenario: null, run: 0 };
    yield { doc, scenario: null, technique: null, run: 0 };
  }
}

/**
 * Simulated winlogbeat documents (objects).
 * @example const docs = [...simulateEvents({ seed: 1, count: 100, version: 7 })];
 */
export function* simulateEvents(options: SimulateOptions): Generator<WinlogbeatDoc> {
  for (const e of simulateWithTruth(options)) yield e.doc;
}

/**
 * Simulated winlogbeat documents as NDJSON lines (no trailing newline), as winlogbeat's Kafka
 * output would send them.
 * @example writeFileSync('events.json', [...simulateNdjson({ seed: 1, count: 100 })].join('\n') + '\n');
 */
export function* simulateNdjson(options: SimulateOptions): Generator<string> {
  for (const e of simulateWithTruth(options)) yield JSON.stringify(e.doc);
}

interface Normalised {
  seed: number;
  count: number;
  start: Date;
  ratePerSecond: number;
  span: number | undefined;
  hosts: number;
  users: number;
  attackRate: number;
  scenarios: readonly ScenarioName[];
  version: 7 | 8;
  domain: string;
  dnsDomain: string;
}

function normalise(o: SimulateOptions): Normalised {
  const count = o.count;
  if (!Number.isInteger(count) || count < 0) throw new Error(`simulate: count must be a whole number >= 0, got ${count}`);
  const attackRate = o.attackRate ?? 0.01;
  if (!(attackRate >= 0 && attackRate <= 1)) throw new Error(`simulate: attackRate must be within 0..1, got ${attackRate}`);
  const rate = o.ratePerSecond ?? 20;
  if (!(rate > 0)) throw new Error(`simulate: ratePerSecond must be > 0, got ${rate}`);
  if (o.span !== undefined && !(o.span >= 0)) throw new Error(`simulate: span must be >= 0 ms, got ${o.span}`);
  const hosts = o.hosts ?? 10;
  const users = o.users ?? 20;
  if (!Number.isInteger(hosts) || hosts < 1) throw new Error(`simulate: hosts must be a whole number >= 1, got ${hosts}`);
  if (!Number.isInteger(users) || users < 1) throw new Error(`simulate: users must be a whole number >= 1, got ${users}`);
  const version = o.version ?? 8;
  if (version !== 7 && version !== 8) throw new Error(`simulate: version must be 7 or 8, got ${String(version)}`);
  const start = o.start ?? new Date('2026-01-05T08:00:00Z');
  if (Number.isNaN(start.getTime())) throw new Error('simulate: start is an invalid Date');
  const scenarios = o.scenarios ?? SCENARIOS;
  for (const s of scenarios) if (!SCENARIOS.includes(s)) throw new Error(`simulate: unknown scenario ${JSON.stringify(s)}; known: ${SCENARIOS.join(', ')}`);
  return {
    seed: o.seed ?? 1,
    count,
    start,
    ratePerSecond: rate,
    span: o.span,
    hosts,
    users,
    attackRate,
    scenarios,
    version,
    domain: o.domain ?? 'CORP',
    dnsDomain: o.dnsDomain ?? 'corp.example.com',
  };
}

// ---- benign activity -------------------------------------------------------------------------

function benignMix(): Weighted<Benign> {
  return new Weighted<Benign>([
    [imageLoad, 22],
    [networkConnect, 10],
    [processAccess, 7],
    [fileCreated, 8],
    [registrySet, 8],
    [registryKey, 4],
    [dnsQuery, 8],
    [spawn, 6],
    [terminate, 6],
    [pipeConnect, 3],
    [remoteThread, 0.3],
    [logon, 5],
    [logonFailed, 0.5],
    [scriptBlockBenign, 2],
    [serviceInstalled, 0.1],
    [wmiBinding, 0.2],
    [application, 3],
  ]);
}

interface SpawnTemplate {
  image: ImageMeta;
  cmd: (host: Host, user: User, r: Random) => string;
  parent: 'explorer' | 'services' | 'svchost' | 'shell' | 'browser' | 'search';
  who: 'user' | 'system';
  hosts: 'WKS' | 'SRV' | 'any';
}

const SPAWNS: readonly (readonly [SpawnTemplate, number])[] = [
  [{ image: IMAGES.chrome, cmd: () => `"${IMAGES.chrome.path}" `, parent: 'explorer', who: 'user', hosts: 'WKS' }, 3],
  [{ image: IMAGES.chrome, cmd: (_h, _u, r) => `"${IMAGES.chrome.path}" --type=renderer --lang=en-US --renderer-client-id=${r.int(5, 200)} --mojo-platform-channel-handle=${r.int(2000, 9000)} /prefetch:1`, parent: 'browser', who: 'user', hosts: 'WKS' }, 6],
  [{ image: IMAGES.msedge, cmd: () => `"${IMAGES.msedge.path}" --single-argument https://intranet.corp.example.com/`, parent: 'explorer', who: 'user', hosts: 'WKS' }, 2],
  [{ image: IMAGES.outlook, cmd: () => `"${IMAGES.outlook.path}" `, parent: 'explorer', who: 'user', hosts: 'WKS' }, 1],
  [{ image: IMAGES.winword, cmd: (_h, u, r) => `"${IMAGES.winword.path}" /n "C:\\Users\\${u.name}\\Documents\\${r.pick(['Report-Q3', 'Budget', 'Minutes', 'Proposal'])}.docx"`, parent: 'explorer', who: 'user', hosts: 'WKS' }, 1],
  [{ image: IMAGES.excel, cmd: (_h, u) => `"${IMAGES.excel.path}" "C:\\Users\\${u.name}\\Documents\\forecast.xlsx"`, parent: 'explorer', who: 'user', hosts: 'WKS' }, 1],
  [{ image: IMAGES.notepad, cmd: (_h, u) => `"C:\\Windows\\system32\\notepad.exe" C:\\Users\\${u.name}\\Desktop\\notes.txt`, parent: 'explorer', who: 'user', hosts: 'WKS' }, 1],
  [{ image: IMAGES.cmd, cmd: () => '"C:\\Windows\\system32\\cmd.exe" ', parent: 'explorer', who: 'user', hosts: 'WKS' }, 1],
  [{ image: IMAGES.powershell, cmd: () => `"${IMAGES.powershell.path}" `, parent: 'explorer', who: 'user', hosts: 'WKS' }, 0.5],
  [{ image: IMAGES.conhost, cmd: () => '\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1', parent: 'shell', who: 'user', hosts: 'any' }, 1.5],
  [{ image: IMAGES.ipconfig, cmd: () => 'ipconfig  /all', parent: 'shell', who: 'user', hosts: 'any' }, 0.5],
  [{ image: IMAGES.runtimebroker, cmd: () => 'C:\\Windows\\System32\\RuntimeBroker.exe -Embedding', parent: 'svchost', who: 'user', hosts: 'WKS' }, 2],
  [{ image: IMAGES.backgroundtaskhost, cmd: () => '"C:\\Windows\\system32\\backgroundTaskHost.exe" -ServerName:BackgroundTaskHost.WebAccountProvider', parent: 'svchost', who: 'user', hosts: 'WKS' }, 1.5],
  [{ image: IMAGES.taskhostw, cmd: () => 'taskhostw.exe Install $(Arg0)', parent: 'svchost', who: 'system', hosts: 'any' }, 2],
  [{ image: IMAGES.wmiprvse, cmd: () => 'C:\\Windows\\system32\\wbem\\wmiprvse.exe -secured -Embedding', parent: 'svchost', who: 'system', hosts: 'any' }, 2],
  [{ image: IMAGES.svchost, cmd: (_h, _u, r) => `C:\\Windows\\system32\\svchost.exe -k ${r.pick(['netsvcs -p -s BITS', 'LocalSystemNetworkRestricted -p -s SysMain', 'wsappx -p -s ClipSVC', 'netsvcs -p -s gpsvc'])}`, parent: 'services', who: 'system', hosts: 'any' }, 2],
  [{ image: IMAGES.searchprotocolhost, cmd: () => '"C:\\Windows\\system32\\SearchProtocolHost.exe" Global\\UsGthrFltPipeMssGthrPipe1_ Global\\UsGthrCtrlFltPipeMssGthrPipe1 1 -2147483646 "Software\\Microsoft\\Windows Search"', parent: 'search', who: 'system', hosts: 'any' }, 2],
  [{ image: IMAGES.mpcmdrun, cmd: () => `"${IMAGES.mpcmdrun.path}" -wdenable`, parent: 'svchost', who: 'system', hosts: 'any' }, 0.5],
  [{ image: IMAGES.mousocoreworker, cmd: () => 'C:\\Windows\\System32\\MoUsoCoreWorker.exe -Embedding', parent: 'svchost', who: 'system', hosts: 'any' }, 0.5],
  [{ image: IMAGES.gpupdate, cmd: () => 'gpupdate.exe /target:computer', parent: 'svchost', who: 'system', hosts: 'any' }, 0.3],
];

function parentFor(world: World, host: Host, kind: SpawnTemplate['parent']): Proc {
  const r = world.random;
  const live = (img: ImageMeta): Proc[] => host.procs.filter((p) => p.image === img);
  switch (kind) {
    case 'explorer':
      return host.core.explorer ?? host.core.services;
    case 'services':
      return host.core.services;
    case 'svchost':
      return r.pick(live(IMAGES.svchost));
    case 'search':
      return host.core.search;
    case 'shell': {
      const shells = host.procs.filter((p) => p.image === IMAGES.cmd || p.image === IMAGES.powershell);
      return shells.length ? r.pick(shells) : host.core.explorer ?? host.core.services;
    }
    case 'browser': {
      const browsers = live(IMAGES.chrome).filter((p) => !p.cmd.includes('--type='));
      return browsers.length ? r.pick(browsers) : host.core.explorer ?? host.core.services;
    }
  }
}

const spawnTables = new Map<string, Weighted<SpawnTemplate>>();
function spawnTable(kind: 'WKS' | 'SRV'): Weighted<SpawnTemplate> {
  let t = spawnTables.get(kind);
  if (!t) {
    t = new Weighted(SPAWNS.filter(([s]) => s.hosts === 'any' || s.hosts === kind));
    spawnTables.set(kind, t);
  }
  return t;
}

const MAX_LIVE = 60;

/** Sysmon 1 for a new benign process; sometimes Security 4688 for it follows. */
function spawn(world: World, host: Host, ms: number, follow: Step[]): WinlogbeatDoc {
  const r = world.random;
  const t = spawnTable(host.kind).draw(r);
  const parent = parentFor(world, host, t.parent);
  const user = t.who === 'system' ? SYSTEM_USER : t.parent === 'shell' || t.parent === 'browser' ? userOf(world, parent) : (host.user ?? r.pick(world.users));
  const proc = world.newProc(host, t.image, t.cmd(host, user, r), parent, user, false, undefined, ms);
  const live = host.procs.filter((p) => !p.core);
  if (live.length > MAX_LIVE) world.endProc(host, live[0]!);
  if (r.chance(0.5)) follow.push((at) => world.processCreate4688(host, proc, at));
  return world.processCreate(host, proc, ms);
}

function userOf(world: World, p: Proc): User {
  const [domain, name] = splitUser(p.user);
  return world.users.find((u) => u.name === name && u.domain === domain) ?? { name, domain, sid: p.userSid };
}

function anyProc(world: World, host: Host): Proc {
  return world.random.pick(host.procs.length > 1 ? host.procs.slice(1) : host.procs);
}

function terminate(world: World, host: Host, ms: number, follow: Step[]): WinlogbeatDoc {
  const live = host.procs.filter((p) => !p.core);
  if (live.length === 0) return spawn(world, host, ms, follow);
  const p = world.random.pick(live);
  world.endProc(host, p);
  return world.sysmon(host, 5, { ProcessGuid: p.guid, ProcessId: String(p.pid), Image: p.image.path, User: p.user }, ms);
}

const DLLS: readonly ImageMeta[] = [
  ['ntdll.dll', 'NT Layer DLL'],
  ['kernel32.dll', 'Windows NT BASE API Client DLL'],
  ['KernelBase.dll', 'Windows NT BASE API Client DLL'],
  ['advapi32.dll', 'Advanced Windows 32 Base API'],
  ['crypt32.dll', 'Crypto API32'],
  ['wininet.dll', 'Internet Extensions for Win32'],
  ['winhttp.dll', 'Windows HTTP Services'],
  ['amsi.dll', 'Anti-Malware Scan Interface'],
  ['userenv.dll', 'Userenv'],
  ['dnsapi.dll', 'DNS Client API DLL'],
  ['bcrypt.dll', "Windows Cryptographic Primitives Library"],
  ['combase.dll', 'Microsoft COM for Windows'],
].map(([f, d]) => ({
  path: `C:\\Windows\\System32\\${f}`,
  FileVersion: '10.0.19041.3636 (WinBuild.160101.0800)',
  Description: d!,
  Product: 'Microsoft® Windows® Operating System',
  Company: 'Microsoft Corporation',
  OriginalFileName: f!,
}));

function imageLoad(world: World, host: Host, ms: number): WinlogbeatDoc {
  const p = anyProc(world, host);
  const dll = world.random.pick(DLLS);
  return world.sysmon(host, 7, {
    ProcessGuid: p.guid, ProcessId: String(p.pid), Image: p.image.path, ImageLoaded: dll.path, FileVersion: dll.FileVersion,
    Description: dll.Description, Product: dll.Product, Company: dll.Company, OriginalFileName: dll.OriginalFileName,
    Hashes: world.hashesOf(dll.path), Signed: 'true', Signature: 'Microsoft Windows', SignatureStatus: 'Valid', User: p.user,
  }, ms);
}

const SITES = ['www.google.com', 'clients2.google.com', 'outlook.office365.com', 'login.microsoftonline.com', 'teams.microsoft.com', 'update.googleapis.com', 'settings-win.data.microsoft.com', 'ctldl.windowsupdate.com', 'github.com', 'www.bing.com', 'fonts.gstatic.com', 'www.wikipedia.org'];

function siteIp(name: string): string {
  const d = Number.parseInt(name.length.toString(16) + [...name].reduce((a, c) => (a * 31 + c.charCodeAt(0)) >>> 0, 7).toString(16).slice(-5), 16);
  const firsts = [13, 20, 40, 52, 104, 142, 151, 172];
  return `${firsts[d % firsts.length]}.${(d >>> 3) % 256}.${(d >>> 11) % 256}.${((d >>> 19) % 253) + 1}`;
}

function networkActor(world: World, host: Host): Proc {
  const talkers = host.procs.filter((p) => p.image === IMAGES.chrome || p.image === IMAGES.msedge || p.image === IMAGES.outlook || p.image === IMAGES.svchost);
  return world.random.pick(talkers.length ? talkers : host.procs);
}

function networkConnect(world: World, host: Host, ms: number): WinlogbeatDoc {
  const r = world.random;
  const p = networkActor(world, host);
  const internal = p.image === IMAGES.svchost || r.chance(0.3);
  const dc = world.dc;
  const site = r.pick(SITES);
  const port = internal ? r.pick(['389', '445', '88', '135', '53']) : r.pick(['443', '443', '443', '80']);
  const names: Record<string, string> = { '389': 'ldap', '445': 'microsoft-ds', '88': 'kerberos', '135': 'epmap', '53': 'domain', '443': 'https', '80': 'http' };
  return world.sysmon(host, 3, {
    ProcessGuid: p.guid, ProcessId: String(p.pid), Image: p.image.path, User: p.user, Protocol: port === '53' ? 'udp' : 'tcp', Initiated: 'true',
    SourceIsIpv6: 'false', SourceIp: host.ip, SourceHostname: host.fqdn, SourcePort: String(r.int(49152, 65535)), SourcePortName: '-',
    DestinationIsIpv6: 'false', DestinationIp: internal ? dc.ip : siteIp(site), DestinationHostname: internal ? dc.fqdn : site,
    DestinationPort: port, DestinationPortName: names[port] ?? '-',
  }, ms);
}

function dnsQuery(world: World, host: Host, ms: number): WinlogbeatDoc {
  const r = world.random;
  const p = networkActor(world, host);
  const internal = r.chance(0.25);
  const name = internal ? r.pick([world.dc.fqdn, `_ldap._tcp.dc._msdcs.${world.options.dnsDomain}`, `wpad.${world.options.dnsDomain}`]) : r.pick(SITES);
  const ip = internal ? world.dc.ip : siteIp(name);
  const status = name.startsWith('wpad.') ? '9003' : '0';
  return world.sysmon(host, 22, {
    ProcessGuid: p.guid, ProcessId: String(p.pid), QueryName: name, QueryStatus: status,
    QueryResults: status === '0' ? `::ffff:${ip};` : '-', Image: p.image.path, User: p.user,
  }, ms);
}

function processAccess(world: World, host: Host, ms: number): WinlogbeatDoc {
  const r = world.random;
  const byDefender = r.chance(0.5);
  const source = byDefender ? host.core.defender : r.pick(host.procs.filter((p) => p.image === IMAGES.svchost || p.image === IMAGES.wmiprvse));
  const target = byDefender ? anyProc(world, host) : r.chance(0.3) ? host.core.lsass : anyProc(world, host);
  return world.sysmon(host, 10, {
    SourceProcessGuid: source.guid, SourceProcessId: String(source.pid), SourceThreadId: String(r.int(100, 9000)), SourceImage: source.image.path,
    TargetProcessGuid: target.guid, TargetProcessId: String(target.pid), TargetImage: target.image.path,
    GrantedAccess: r.pick(['0x1000', '0x1400', '0x101000', '0x100000']),
    CallTrace: 'C:\\Windows\\SYSTEM32\\ntdll.dll+9d4c4|C:\\Windows\\System32\\KERNELBASE.dll+2c13e|C:\\Windows\\system32\\sysmain.dll+5e8a1',
    SourceUser: source.user, TargetUser: target.user,
  }, ms);
}

function fileCreated(world: World, host: Host, ms: number): WinlogbeatDoc {
  const r = world.random;
  const p = anyProc(world, host);
  const [, user] = splitUser(p.user);
  const target = p.image === IMAGES.chrome
    ? `C:\\Users\\${user}\\Downloads\\${r.pick(['report', 'invoice', 'slides', 'photo'])}-${r.int(1, 999)}.${r.pick(['pdf', 'docx', 'png'])}`
    : p.userSid === SYSTEM_USER.sid
      ? `C:\\Windows\\Prefetch\\${p.image.OriginalFileName.toUpperCase()}-${r.hex(8)}.pf`
      : `C:\\Users\\${user}\\AppData\\Local\\Temp\\${r.hex(8).toLowerCase()}.tmp`;
  return fileCreate(world, host, p, target, ms);
}

function registrySet(world: World, host: Host, ms: number): WinlogbeatDoc {
  const r = world.random;
  const p = anyProc(world, host);
  const targets = [
    [`HKLM\\System\\CurrentControlSet\\Services\\bam\\State\\UserSettings\\${p.userSid}\\\\Device\\HarddiskVolume3${p.image.path.slice(2)}`, 'Binary Data'],
    ['HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\WindowsUpdate\\Auto Update\\LastOnlineScanTimeForAppCategory', `QWORD (0x${r.hex(8)}-0x${r.hex(8)})`],
    [`HKU\\${p.userSid}\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\UserAssist\\{CEBFF5CD-ACE2-4F4F-9178-9926F41749EA}\\Count\\HRZR_PGYFRFFVBA`, 'Binary Data'],
    ['HKLM\\SOFTWARE\\Microsoft\\Windows Defender\\Signature Updates\\SignaturesLastUpdated', `QWORD (0x${r.hex(8)}-0x${r.hex(8)})`],
    [`HKU\\${p.userSid}\\Software\\Microsoft\\Office\\16.0\\Common\\Roaming\\Identities\\Enabled`, 'DWORD (0x00000001)'],
  ] as const;
  const [target, details] = r.pick(targets);
  return world.sysmon(host, 13, { EventType: 'SetValue', ProcessGuid: p.guid, ProcessId: String(p.pid), Image: p.image.path, TargetObject: target, Details: details, User: p.user }, ms);
}

function registryKey(world: World, host: Host, ms: number): WinlogbeatDoc {
  const r = world.random;
  const p = anyProc(world, host);
  const target = r.pick([
    `HKU\\${p.userSid}\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\RecentDocs\\.docx`,
    'HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Schedule\\TaskCache\\Tasks',
    `HKLM\\System\\CurrentControlSet\\Services\\Tcpip\\Parameters\\Interfaces\\{${r.hex(8)}-${r.hex(4)}}`,
  ]);
  return world.sysmon(host, 12, { EventType: r.chance(0.8) ? 'CreateKey' : 'DeleteKey', ProcessGuid: p.guid, ProcessId: String(p.pid), Image: p.image.path, TargetObject: target, User: p.user }, ms);
}

function pipeConnect(world: World, host: Host, ms: number): WinlogbeatDoc {
  const r = world.random;
  const p = anyProc(world, host);
  return pipe(world, host, 18, p, r.pick(['\\srvsvc', '\\wkssvc', '\\lsass', '\\ntsvcs', '\\MsFteWds', '\\winreg', '\\Winsock2\\CatalogChangeListener-3f0-0']), ms);
}

function remoteThread(world: World, host: Host, ms: number): WinlogbeatDoc {
  const r = world.random;
  const source = host.core.wininit;
  const target = anyProc(world, host);
  return world.sysmon(host, 8, {
    SourceProcessGuid: source.guid, SourceProcessId: String(source.pid), SourceImage: source.image.path,
    TargetProcessGuid: target.guid, TargetProcessId: String(target.pid), TargetImage: target.image.path,
    NewThreadId: String(r.int(1000, 20000)), StartAddress: `0x00007FF${r.hex(9)}`, StartModule: 'C:\\Windows\\System32\\KERNELBASE.dll',
    StartFunction: 'CtrlRoutine', SourceUser: source.user, TargetUser: target.user,
  }, ms);
}

function logon(world: World, host: Host, ms: number, follow: Step[]): WinlogbeatDoc {
  const r = world.random;
  const network = host.kind === 'SRV' || r.chance(0.4);
  const user = network ? r.pick(world.users) : (host.user ?? r.pick(world.users));
  const others = world.hosts.filter((h) => h !== host && h.kind === 'WKS');
  const from = others.length ? r.pick(others) : host;
  const type = network ? '3' : r.pick(['2', '7', '11']);
  const logonId = `0x${r.hex(6).toLowerCase()}`;
  const values = {
    SubjectUserSid: network ? 'S-1-0-0' : 'S-1-5-18', SubjectUserName: network ? '-' : `${host.name}$`, SubjectDomainName: network ? '-' : world.options.domain,
    SubjectLogonId: network ? '0x0' : '0x3e7', TargetUserSid: user.sid, TargetUserName: user.name, TargetDomainName: user.domain, TargetLogonId: logonId,
    LogonType: type, LogonProcessName: network ? 'Kerberos' : 'User32 ', AuthenticationPackageName: network ? 'Kerberos' : 'Negotiate',
    WorkstationName: network ? '-' : host.name, LogonGuid: `{${r.hex(8)}-${r.hex(4)}-${r.hex(4)}-${r.hex(4)}-${r.hex(12)}}`.toLowerCase(),
    TransmittedServices: '-', LmPackageName: '-', KeyLength: '0', ProcessId: network ? '0x0' : `0x${host.core.winlogon.pid.toString(16)}`,
    ProcessName: network ? '-' : IMAGES.winlogon.path, IpAddress: network ? from.ip : '127.0.0.1', IpPort: network ? '0' : '0',
    ImpersonationLevel: '%%1833', RestrictedAdminMode: '-', TargetOutboundUserName: '-', TargetOutboundDomainName: '-',
    VirtualAccount: '%%1843', TargetLinkedLogonId: '0x0', ElevatedToken: '%%1842',
  };
  // Administrators' logons are followed by 4672 (special privileges), as on a real DC or server.
  if (host.kind === 'SRV' && r.chance(0.4)) follow.push((at) => specialLogon(world, host, user, logonId, at));
  return world.security(host, 4624, values, logonMessage(values), ms);
}

function specialLogon(world: World, host: Host, user: User, logonId: string, ms: number): WinlogbeatDoc {
  const privileges = 'SeSecurityPrivilege\n\t\t\tSeBackupPrivilege\n\t\t\tSeRestorePrivilege\n\t\t\tSeTakeOwnershipPrivilege\n\t\t\tSeDebugPrivilege\n\t\t\tSeSystemEnvironmentPrivilege\n\t\t\tSeLoadDriverPrivilege\n\t\t\tSeImpersonatePrivilege';
  const values = { SubjectUserSid: user.sid, SubjectUserName: user.name, SubjectDomainName: user.domain, SubjectLogonId: logonId, PrivilegeList: privileges };
  const message = securityMessage('Special privileges assigned to new logon.', [
    ['Subject', [['Security ID', user.sid], ['Account Name', user.name], ['Account Domain', user.domain], ['Logon ID', logonId]]],
  ]) + `\n\nPrivileges:\t\t${privileges}`;
  return world.security(host, 4672, values, message, ms);
}

function logonFailed(world: World, host: Host, ms: number): WinlogbeatDoc {
  const r = world.random;
  const user = r.pick(world.users);
  const values = {
    SubjectUserSid: 'S-1-5-18', SubjectUserName: `${host.name}$`, SubjectDomainName: world.options.domain, SubjectLogonId: '0x3e7',
    TargetUserSid: 'S-1-0-0', TargetUserName: user.name, TargetDomainName: user.domain, Status: '0xc000006d', FailureReason: '%%2313',
    SubStatus: '0xc000006a', LogonType: '2', LogonProcessName: 'User32 ', AuthenticationPackageName: 'Negotiate', WorkstationName: host.name,
    TransmittedServices: '-', LmPackageName: '-', KeyLength: '0', ProcessId: `0x${host.core.winlogon.pid.toString(16)}`,
    ProcessName: IMAGES.winlogon.path, IpAddress: '127.0.0.1', IpPort: '0',
  };
  const message = securityMessage('An account failed to log on.', [
    ['Subject', [['Security ID', values.SubjectUserSid], ['Account Name', values.SubjectUserName], ['Account Domain', values.SubjectDomainName], ['Logon ID', values.SubjectLogonId]]],
    ['Account For Which Logon Failed', [['Security ID', 'S-1-0-0'], ['Account Name', user.name], ['Account Domain', user.domain]]],
    ['Failure Information', [['Failure Reason', 'Unknown user name or bad password.'], ['Status', values.Status], ['Sub Status', values.SubStatus]]],
  ]);
  return world.security(host, 4625, values, message, ms, 'failure');
}

function scriptBlockBenign(world: World, host: Host, ms: number): WinlogbeatDoc {
  const r = world.random;
  const shells = host.procs.filter((p) => p.image === IMAGES.powershell);
  const p = shells.length ? r.pick(shells) : host.core.explorer ?? host.core.services;
  const text = r.pick(['prompt', 'Get-ChildItem -Path $env:TEMP | Where-Object { $_.LastWriteTime -lt (Get-Date).AddDays(-7) }', 'Import-Module Microsoft.PowerShell.Management', '$global:?', 'Get-Service -Name Spooler | Select-Object Status']);
  return scriptBlock(world, host, p, userOf(world, p), text, 5, ms);
}

function serviceInstalled(world: World, host: Host, ms: number): WinlogbeatDoc {
  const [name, path] = world.random.pick([
    ['Google Updater Service', '"C:\\Program Files (x86)\\Google\\GoogleUpdater\\131.0.6738.0\\updater.exe" --system --windows-service --service=update'],
    ['Microsoft Edge Update Service (edgeupdate)', '"C:\\Program Files (x86)\\Microsoft\\EdgeUpdate\\MicrosoftEdgeUpdate.exe" /svc'],
  ] as const);
  return serviceInstall(world, host, { ServiceName: name, ImagePath: path, ServiceType: 'user mode service', StartType: 'auto start', AccountName: 'LocalSystem' }, ms);
}

function wmiBinding(world: World, host: Host, ms: number): WinlogbeatDoc {
  const values: Record<(typeof WMI_BINDING_FIELDS)[number], string> = {
    Namespace: '//./root/subscription',
    ESS: '__EventFilter.Name="SCM Event Log Filter"',
    CONSUMER: 'NTEventLogEventConsumer="SCM Event Log Consumer"',
    PossibleCause: 'Binding EventFilter: \ninstance of __EventFilter\n{\n\tCreatorSID = {1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 32, 2, 0, 0};\n\tEventNamespace = "root\\\\cimv2";\n\tName = "SCM Event Log Filter";\n\tQuery = "select * from MSFT_SCMEventLogEvent";\n\tQueryLanguage = "WQL";\n};',
  };
  const message = `Namespace = ${values.Namespace}; Eventfilter = SCM Event Log Filter (refer to its activate eventid:5859); Consumer = ${values.CONSUMER}; PossibleCause = ${values.PossibleCause}`;
  return world.doc(host, {
    channel: CHANNEL.wmi, eventId: 5861, provider: PROVIDER.wmi, task: 'None', level: 4, version: 0, message,
    userData: { xml_name: 'Operation_ESStoConsumerBinding', ...values }, user: SYSTEM_USER, pid: host.core.svchost.pid,
  }, ms);
}

function application(world: World, host: Host, ms: number): WinlogbeatDoc {
  const r = world.random;
  const kind = r.int(0, 2);
  if (kind === 0) {
    const restart = new Date(ms + r.int(3600, 86400) * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
    return world.doc(host, {
      channel: CHANNEL.application, eventId: 16384, provider: { name: 'Microsoft-Windows-Security-SPP', guid: '{e23b33b0-c8c9-472c-a5f9-f2bdfea0f156}' },
      task: 'None', level: 4, version: 0, message: `Successfully scheduled Software Protection service for re-start at ${restart}. Reason: RulesEngine.`,
      eventData: { param1: restart, param2: 'RulesEngine' }, pid: 0,
    }, ms);
  }
  if (kind === 1) {
    return world.doc(host, {
      channel: CHANNEL.application, eventId: 10000, provider: { name: 'Microsoft-Windows-RestartManager', guid: '{0888e5ef-9b98-4695-979d-e92ce4247224}' },
      task: 'None', level: 4, version: 0, message: `Starting session 0 - ${new Date(ms).toISOString()}.`,
      eventData: { RmSessionId: '0', UTCStartTime: new Date(ms).toISOString() }, user: host.user ?? SYSTEM_USER, pid: r.int(1000, 9000),
    }, ms);
  }
  return world.doc(host, {
    channel: CHANNEL.application, eventId: 1000, provider: { name: 'Application Error', guid: '{a0e9b465-b939-57d7-b27d-95d8e925ff57}' },
    task: 'Application Crashing Events', level: 2, version: 0,
    message: 'Faulting application name: OUTLOOK.EXE, version: 16.0.17928.20156, time stamp: 0x6720a2f1\nFaulting module name: mso20win32client.dll, version: 0.0.0.0, time stamp: 0x00000000\nException code: 0xc0000005',
    eventData: { AppName: 'OUTLOOK.EXE', AppVersion: '16.0.17928.20156', ModuleName: 'mso20win32client.dll', ExceptionCode: 'c0000005' }, pid: 0,
  }, ms);
}
