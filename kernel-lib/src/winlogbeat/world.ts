/**
 * The simulated estate behind the simulator: hosts, domain users, a live process tree per host,
 * and the builders that turn an event's values into a winlogbeat document. Internal to the
 * winlogbeat room (simulate.ts and scenarios.ts use it).
 */
import { CHANNEL, LEVEL_NAMES, PROVIDER, SECURITY, SYSMON } from './catalog.js';
import { fakeDigest, type Random } from './prng.js';
import type { WinlogbeatDoc } from './types.js';

export interface User {
  name: string;
  domain: string;
  sid: string;
}

export interface ImageMeta {
  path: string;
  FileVersion: string;
  Description: string;
  Product: string;
  Company: string;
  OriginalFileName: string;
}

export interface Proc {
  guid: string;
  pid: number;
  image: ImageMeta;
  cmd: string;
  cwd: string;
  /** DOMAIN\name as Sysmon prints it. */
  user: string;
  userSid: string;
  integrity: 'System' | 'High' | 'Medium' | 'Low';
  logonId: string;
  logonGuid: string;
  session: string;
  parent: Proc | undefined;
  core: boolean;
}

export interface Host {
  name: string;
  fqdn: string;
  ip: string;
  kind: 'WKS' | 'SRV';
  agentId: string;
  ephemeralId: string;
  guidPrefix: string;
  user: User | undefined;
  procs: Proc[];
  core: Record<'system' | 'wininit' | 'winlogon' | 'services' | 'lsass' | 'svchost' | 'sysmon' | 'defender' | 'search', Proc> & {
    explorer?: Proc;
  };
  records: Map<string, number>;
  nextPid: number;
  guidCounter: number;
}

/**
 * Microsoft's own binaries share their product and company.
 * @example msImage('C:\\Windows\\System32\\cmd.exe', 'Windows Command Processor', 'Cmd.Exe').Company // => 'Microsoft Corporation'
 */
export function msImage(path: string, description: string, original: string, version = '10.0.19041.1 (WinBuild.160101.0800)'): ImageMeta {
  return {
    path,
    FileVersion: version,
    Description: description,
    Product: 'Microsoft® Windows® Operating System',
    Company: 'Microsoft Corporation',
    OriginalFileName: original,
  };
}

/**
 * Image metadata naming its own product, company and version (binaries not versioned with Windows).
 * @example image('C:\\Windows\\Sysmon64.exe', 'System activity monitor', 'Sysinternals Sysmon', 'Sysinternals - www.sysinternals.com', '?', '15.14')
 */
export function image(path: string, description: string, product: string, company: string, original: string, version: string): ImageMeta {
  return { path, FileVersion: version, Description: description, Product: product, Company: company, OriginalFileName: original };
}

const S32 = 'C:\\Windows\\System32\\';
export const IMAGES = {
  system: image('System', '-', '-', '-', '-', '-'),
  smss: msImage(`${S32}smss.exe`, 'Windows Session Manager', 'smss.exe'),
  wininit: msImage(`${S32}wininit.exe`, 'Windows Start-Up Application', 'WinInit.exe'),
  winlogon: msImage(`${S32}winlogon.exe`, 'Windows Logon Application', 'WINLOGON.EXE'),
  services: msImage(`${S32}services.exe`, 'Services and Controller app', 'services.exe'),
  lsass: msImage(`${S32}lsass.exe`, 'Local Security Authority Process', 'lsass.exe'),
  svchost: msImage(`${S32}svchost.exe`, 'Host Process for Windows Services', 'svchost.exe'),
  explorer: msImage('C:\\Windows\\explorer.exe', 'Windows Explorer', 'EXPLORER.EXE'),
  cmd: msImage(`${S32}cmd.exe`, 'Windows Command Processor', 'Cmd.Exe'),
  conhost: msImage(`${S32}conhost.exe`, 'Console Window Host', 'CONHOST.EXE'),
  powershell: msImage(`${S32}WindowsPowerShell\\v1.0\\powershell.exe`, 'Windows PowerShell', 'PowerShell.EXE'),
  notepad: msImage(`${S32}notepad.exe`, 'Notepad', 'NOTEPAD.EXE'),
  taskhostw: msImage(`${S32}taskhostw.exe`, 'Host Process for Windows Tasks', 'taskhostw.exe'),
  wmiprvse: msImage(`${S32}wbem\\WmiPrvSE.exe`, 'WMI Provider Host', 'Wmiprvse.exe'),
  runtimebroker: msImage(`${S32}RuntimeBroker.exe`, 'Runtime Broker', 'RuntimeBroker.exe'),
  backgroundtaskhost: msImage(`${S32}backgroundTaskHost.exe`, 'Background Task Host', 'backgroundTaskHost.exe'),
  searchprotocolhost: msImage(`${S32}SearchProtocolHost.exe`, 'Microsoft Windows Search Protocol Host', 'SearchProtocolHost.exe'),
  searchindexer: msImage(`${S32}SearchIndexer.exe`, 'Microsoft Windows Search Indexer', 'SearchIndexer.exe'),
  mousocoreworker: msImage(`${S32}MoUsoCoreWorker.exe`, 'MoUSO Core Worker Process', 'MoUsoCoreWorker.exe'),
  gpupdate: msImage(`${S32}gpupdate.exe`, 'Microsoft® Windows Group Policy Update Utility', 'GPUpdate.exe'),
  ipconfig: msImage(`${S32}ipconfig.exe`, 'IP Configuration Utility', 'ipconfig.exe'),
  rundll32: msImage(`${S32}rundll32.exe`, 'Windows host process (Rundll32)', 'RUNDLL32.EXE'),
  schtasks: msImage(`${S32}schtasks.exe`, 'Task Scheduler Configuration Tool', 'schtasks.exe'),
  certutil: msImage(`${S32}certutil.exe`, 'CertUtil.exe', 'CertUtil.exe'),
  bitsadmin: msImage(`${S32}bitsadmin.exe`, 'BITS administration utility', 'bitsadmin.exe'),
  defender: image(
    'C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.23110.3-0\\MsMpEng.exe',
    'Antimalware Service Executable',
    'Microsoft® Windows® Operating System',
    'Microsoft Corporation',
    'MsMpEng.exe',
    '4.18.23110.3 (WinBuild.160101.0800)',
  ),
  mpcmdrun: image(
    'C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.23110.3-0\\MpCmdRun.exe',
    'Microsoft Malware Protection Command Line Utility',
    'Microsoft® Windows® Operating System',
    'Microsoft Corporation',
    'MpCmdRun.exe',
    '4.18.23110.3 (WinBuild.160101.0800)',
  ),
  sysmon: image('C:\\Windows\\Sysmon64.exe', 'System activity monitor', 'Sysinternals Sysmon', 'Sysinternals - www.sysinternals.com', '?', '15.14'),
  chrome: image('C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe', 'Google Chrome', 'Google Chrome', 'Google LLC', 'chrome.exe', '131.0.6778.86'),
  msedge: image('C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe', 'Microsoft Edge', 'Microsoft Edge', 'Microsoft Corporation', 'msedge.exe', '131.0.2903.70'),
  outlook: image('C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE', 'Microsoft Outlook', 'Microsoft Outlook', 'Microsoft Corporation', 'Outlook.exe', '16.0.17928.20156'),
  winword: image('C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE', 'Microsoft Word', 'Microsoft Office', 'Microsoft Corporation', 'WinWord.exe', '16.0.17928.20156'),
  excel: image('C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE', 'Microsoft Excel', 'Microsoft Office', 'Microsoft Corporation', 'Excel.exe', '16.0.17928.20156'),
  sqlservr: image('C:\\Program Files\\Microsoft SQL Server\\MSSQL16.MSSQLSERVER\\MSSQL\\Binn\\sqlservr.exe', 'SQL Server Windows NT - 64 Bit', 'Microsoft SQL Server', 'Microsoft Corporation', 'sqlservr.exe', '2022.160.1000.6'),
  w3wp: msImage(`${S32}inetsrv\\w3wp.exe`, 'IIS Worker Process', 'w3wp.exe'),
  procdump: image('C:\\Users\\Public\\procdump64.exe', 'Sysinternals process dump utility', 'ProcDump', 'Sysinternals - www.sysinternals.com', 'procdump', '11.0'),
  psexesvc: image('C:\\Windows\\PSEXESVC.exe', 'PsExec Service', 'Sysinternals PsExec', 'Sysinternals - www.sysinternals.com', 'psexesvc.exe', '2.43'),
} satisfies Record<string, ImageMeta>;

export const SYSTEM_USER: User = { name: 'SYSTEM', domain: 'NT AUTHORITY', sid: 'S-1-5-18' };
export const LOCAL_SERVICE: User = { name: 'LOCAL SERVICE', domain: 'NT AUTHORITY', sid: 'S-1-5-19' };
export const NETWORK_SERVICE: User = { name: 'NETWORK SERVICE', domain: 'NT AUTHORITY', sid: 'S-1-5-20' };

const FIRST = ['james', 'mary', 'robert', 'patricia', 'john', 'jennifer', 'michael', 'linda', 'david', 'elizabeth', 'william', 'barbara', 'richard', 'susan', 'joseph', 'jessica', 'thomas', 'sarah', 'chris', 'karen', 'daniel', 'lisa', 'matthew', 'nancy', 'anthony', 'betty', 'mark', 'sandra', 'paul', 'ashley'];
const LAST = ['smith', 'johnson', 'williams', 'brown', 'jones', 'garcia', 'miller', 'davis', 'rodriguez', 'martinez', 'hernandez', 'lopez', 'wilson', 'anderson', 'thomas', 'taylor', 'moore', 'jackson', 'martin', 'lee'];

/**
 * ISO-8601 with milliseconds and Z, as winlogbeat writes `@timestamp`.
 * @example isoTime(0) // => '1970-01-01T00:00:00.000Z'
 */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * Sysmon's UtcTime format.
 * @example sysmonTime(0) // => '1970-01-01 00:00:00.000'
 */
export function sysmonTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}`;
}

export interface WorldOptions {
  hosts: number;
  users: number;
  version: 7 | 8;
  domain: string;
  dnsDomain: string;
}

/** Values of one event, to become a document (see {@link World.doc}). */
export interface EventSpec {
  channel: string;
  eventId: number;
  provider: { name: string; guid: string };
  task: string;
  level: number;
  version: number;
  message: string;
  eventData?: Record<string, string>;
  userData?: Record<string, string>;
  user?: User;
  pid: number;
  keywords?: string[];
  outcome?: 'success' | 'failure';
}

/** The estate: hosts with their process trees and the domain's users. */
export class World {
  readonly hosts: Host[] = [];
  readonly users: User[] = [];
  readonly domainSid: string;
  /**
   * While an attack scenario runs, its processes stay out of the hosts' live trees, so benign
   * activity never picks them (which would put attack markers into events labelled benign).
   */
  attackMode = false;
  private readonly hashes = new Map<string, string>();

  constructor(
    readonly random: Random,
    readonly options: WorldOptions,
  ) {
    const r = random;
    this.domainSid = `S-1-5-21-${r.int(1e9, 4e9)}-${r.int(1e9, 4e9)}-${r.int(1e9, 4e9)}`;
    const names = new Set<string>();
    for (let i = 0; i < options.users; i++) {
      let name = `${r.pick(FIRST)}.${r.pick(LAST)}`;
      while (names.has(name)) name = `${name}${r.int(1, 9)}`;
      names.add(name);
      this.users.push({ name, domain: options.domain, sid: `${this.domainSid}-${1100 + i}` });
    }
    const servers = Math.max(1, Math.round(options.hosts / 5));
    for (let i = 0; i < options.hosts; i++) {
      const kind = i < servers ? 'SRV' : 'WKS';
      const n = kind === 'SRV' ? i + 1 : i - servers + 1;
      const name = `${kind}-${String(n).padStart(3, '0')}`;
      this.hosts.push(this.makeHost(name, kind, kind === 'WKS' ? this.users[(i - servers) % this.users.length] : undefined, i));
    }
  }

  /** The first server plays the domain controller. */
  get dc(): Host {
    return this.hosts[0]!;
  }

  private makeHost(name: string, kind: 'WKS' | 'SRV', user: User | undefined, index: number): Host {
    const r = this.random;
    const host = {
      name,
      fqdn: `${name}.${this.options.dnsDomain}`,
      ip: kind === 'SRV' ? `10.0.0.${10 + index}` : `10.0.${1 + (index >> 8)}.${(index % 250) + 2}`,
      kind,
      agentId: uuid(r),
      ephemeralId: uuid(r),
      guidPrefix: r.hex(8),
      user,
      procs: [],
      records: new Map(),
      nextPid: 300 + r.int(0, 50) * 4,
      guidCounter: r.int(0x1000, 0x8000),
    } as unknown as Host;
    const sys = (img: ImageMeta, cmd: string, parent: Proc | undefined, who: User = SYSTEM_USER): Proc =>
      this.newProc(host, img, cmd, parent, who, true);
    const system = sys(IMAGES.system, '', undefined);
    system.pid = 4;
    const smss = sys(IMAGES.smss, '\\SystemRoot\\System32\\smss.exe', system);
    const wininit = sys(IMAGES.wininit, 'wininit.exe', smss);
    const winlogon = sys(IMAGES.winlogon, 'winlogon.exe', smss);
    const services = sys(IMAGES.services, 'C:\\Windows\\system32\\services.exe', wininit);
    const lsass = sys(IMAGES.lsass, 'C:\\Windows\\system32\\lsass.exe', wininit);
    const svchost = sys(IMAGES.svchost, 'C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule', services);
    sys(IMAGES.svchost, 'C:\\Windows\\system32\\svchost.exe -k DcomLaunch -p', services);
    sys(IMAGES.svchost, 'C:\\Windows\\system32\\svchost.exe -k LocalService -p', services, LOCAL_SERVICE);
    sys(IMAGES.svchost, 'C:\\Windows\\System32\\svchost.exe -k NetworkService -p', services, NETWORK_SERVICE);
    const sysmon = sys(IMAGES.sysmon, 'C:\\Windows\\Sysmon64.exe', services);
    const defender = sys(IMAGES.defender, `"${IMAGES.defender.path}"`, services);
    const search = sys(IMAGES.searchindexer, 'C:\\Windows\\system32\\SearchIndexer.exe /Embedding', services);
    host.core = { system, wininit, winlogon, services, lsass, svchost, sysmon, defender, search };
    if (user) host.core.explorer = this.newProc(host, IMAGES.explorer, 'C:\\Windows\\Explorer.EXE', winlogon, user, true, 'Medium');
    if (kind === 'SRV' && index > 0) sys(index % 2 ? IMAGES.sqlservr : IMAGES.w3wp, index % 2 ? `"${IMAGES.sqlservr.path}" -sMSSQLSERVER` : `c:\\windows\\system32\\inetsrv\\w3wp.exe -ap "DefaultAppPool"`, services, NETWORK_SERVICE);
    return host;
  }

  /** Adds a live process to a host's tree; core processes never terminate. */
  newProc(host: Host, img: ImageMeta, cmd: string, parent: Proc | undefined, who: User, core = false, integrity?: Proc['integrity'], ms = 0): Proc {
    const r = this.random;
    const pid = host.nextPid;
    host.nextPid += 4 * r.int(1, 40);
    if (host.nextPid > 60000) host.nextPid = 400 + r.int(0, 100) * 4;
    const isSystem = who.sid === SYSTEM_USER.sid || who.domain === 'NT AUTHORITY';
    const tick = (Math.floor(ms / 1000) >>> 0).toString(16).toUpperCase().padStart(8, '0');
    const proc: Proc = {
      guid: `{${host.guidPrefix}-${tick.slice(4)}-${tick.slice(0, 4)}-${r.hex(4)}-${(host.guidCounter++).toString(16).toUpperCase().padStart(12, '0')}}`,
      pid,
      image: img,
      cmd,
      cwd: isSystem ? 'C:\\Windows\\system32\\' : `C:\\Users\\${who.name}\\`,
      user: `${who.domain}\\${who.name}`,
      userSid: who.sid,
      integrity: integrity ?? (isSystem ? 'System' : 'Medium'),
      logonId: isSystem ? (who.sid === SYSTEM_USER.sid ? '0x3e7' : who.sid === LOCAL_SERVICE.sid ? '0x3e5' : '0x3e4') : userLogonId(host, who),
      logonGuid: `{${host.guidPrefix}-0000-0000-0000-${fakeDigest(`${host.name}/${who.sid}`, 12)}}`,
      session: isSystem ? '0' : '1',
      parent,
      core,
    };
    if (!this.attackMode) host.procs.push(proc);
    return proc;
  }

  /** Removes a process from its host's live tree. */
  endProc(host: Host, proc: Proc): void {
    const i = host.procs.indexOf(proc);
    if (i >= 0) host.procs.splice(i, 1);
  }

  /** The Sysmon `Hashes` value for an image: stable per path, like real file hashes. */
  hashesOf(path: string): string {
    let h = this.hashes.get(path);
    if (!h) {
      h = `SHA1=${fakeDigest(`sha1${path}`, 40)},MD5=${fakeDigest(`md5${path}`, 32)},SHA256=${fakeDigest(`sha256${path}`, 64)},IMPHASH=${fakeDigest(`imp${path}`, 32)}`;
      this.hashes.set(path, h);
    }
    return h;
  }

  /** A winlogbeat document for one event on a host at `ms`. */
  doc(host: Host, spec: EventSpec, ms: number): WinlogbeatDoc {
    const r = this.random;
    const v8 = this.options.version === 8;
    const recordId = (host.records.get(spec.channel) ?? 10000 + (fakeDigest(host.name + spec.channel, 4).charCodeAt(0) % 7) * 1000) + 1;
    host.records.set(spec.channel, recordId);
    const winlog: WinlogbeatDoc['winlog'] = {
      channel: spec.channel,
      event_id: String(spec.eventId),
      provider_name: spec.provider.name,
      provider_guid: spec.provider.guid,
      computer_name: host.fqdn,
      record_id: recordId,
      task: spec.task,
      opcode: 'Info',
      version: spec.version,
      api: 'wineventlog',
      process: { pid: spec.pid, thread: { id: r.int(100, 9000) } },
    };
    if (spec.keywords) winlog.keywords = spec.keywords;
    if (spec.user) winlog.user = { identifier: spec.user.sid, name: spec.user.name, domain: spec.user.domain, type: spec.user.sid.startsWith('S-1-5-21') ? 'User' : 'Well Known Group' };
    if (spec.eventData) winlog.event_data = spec.eventData;
    if (spec.userData) winlog.user_data = spec.userData;
    const event: WinlogbeatDoc['event'] = {
      action: spec.task,
      code: String(spec.eventId),
      kind: 'event',
      provider: spec.provider.name,
      created: isoTime(ms + r.int(200, 3000)),
    };
    if (spec.outcome) event.outcome = spec.outcome;
    return {
      '@timestamp': isoTime(ms),
      agent: v8
        ? { name: host.name, id: host.agentId, ephemeral_id: host.ephemeralId, type: 'winlogbeat', version: '8.15.3' }
        : { hostname: host.name, name: host.name, id: host.agentId, ephemeral_id: host.ephemeralId, type: 'winlogbeat', version: '7.17.25' },
      ecs: { version: v8 ? '8.0.0' : '1.12.0' },
      host: { name: v8 ? host.name.toLowerCase() : host.name },
      log: { level: LEVEL_NAMES[spec.level] ?? 'information' },
      event,
      message: spec.message,
      winlog,
    };
  }

  /** A Sysmon event: fields in Sysmon's order, '-' for any value not given, message rendered. */
  sysmon(host: Host, eventId: number, values: Record<string, string>, ms: number): WinlogbeatDoc {
    const spec = SYSMON[eventId];
    if (!spec) throw new Error(`no Sysmon event ${eventId} in the catalog`);
    const data: Record<string, string> = {};
    const lines = [spec.title];
    for (const f of spec.fields) {
      const v = f === 'UtcTime' ? (values.UtcTime ?? sysmonTime(ms)) : (values[f] ?? '-');
      data[f] = v;
      lines.push(`${f}: ${v}`);
    }
    return this.doc(
      host,
      { channel: CHANNEL.sysmon, eventId, provider: PROVIDER.sysmon, task: spec.task, level: 4, version: spec.version, message: lines.join('\n'), eventData: data, user: SYSTEM_USER, pid: host.core.sysmon.pid },
      ms,
    );
  }

  /** A Security event: EventData from `values` (every catalog field, '-' when not given). */
  security(host: Host, eventId: number, values: Record<string, string>, message: string, ms: number, outcome: 'success' | 'failure' = 'success'): WinlogbeatDoc {
    const spec = SECURITY[eventId];
    if (!spec) throw new Error(`no Security event ${eventId} in the catalog`);
    const data: Record<string, string> = {};
    for (const f of spec.fields) data[f] = values[f] ?? '-';
    return this.doc(
      host,
      {
        channel: CHANNEL.security,
        eventId,
        provider: PROVIDER.security,
        task: spec.task,
        level: 0,
        version: spec.version,
        message,
        eventData: data,
        pid: host.core.lsass.pid,
        keywords: [outcome === 'success' ? 'Audit Success' : 'Audit Failure'],
        outcome,
      },
      ms,
    );
  }

  /** Sysmon 1 values for a process (its parent's image, guid and command line included). */
  processCreateValues(host: Host, p: Proc): Record<string, string> {
    const parent = p.parent;
    return {
      ProcessGuid: p.guid,
      ProcessId: String(p.pid),
      Image: p.image.path,
      FileVersion: p.image.FileVersion,
      Description: p.image.Description,
      Product: p.image.Product,
      Company: p.image.Company,
      OriginalFileName: p.image.OriginalFileName,
      CommandLine: p.cmd,
      CurrentDirectory: p.cwd,
      User: p.user,
      LogonGuid: p.logonGuid,
      LogonId: p.logonId,
      TerminalSessionId: p.session,
      IntegrityLevel: p.integrity,
      Hashes: this.hashesOf(p.image.path),
      ParentProcessGuid: parent?.guid ?? '-',
      ParentProcessId: parent ? String(parent.pid) : '-',
      ParentImage: parent?.image.path ?? '-',
      ParentCommandLine: parent?.cmd ?? '-',
      ParentUser: parent?.user ?? '-',
    };
  }

  /** Sysmon 1 for a process, as it starts. */
  processCreate(host: Host, p: Proc, ms: number): WinlogbeatDoc {
    return this.sysmon(host, 1, this.processCreateValues(host, p), ms);
  }

  /** Security 4688 for a process (Security's own view of process creation). */
  processCreate4688(host: Host, p: Proc, ms: number): WinlogbeatDoc {
    const [domain, name] = splitUser(p.user);
    const pidHex = `0x${p.pid.toString(16)}`;
    const ppidHex = `0x${(p.parent?.pid ?? 0).toString(16)}`;
    const label = p.integrity === 'System' ? 'S-1-16-16384' : p.integrity === 'High' ? 'S-1-16-12288' : 'S-1-16-8192';
    const values = {
      SubjectUserSid: p.userSid,
      SubjectUserName: p.userSid === SYSTEM_USER.sid ? `${host.name}$` : name,
      SubjectDomainName: p.userSid === SYSTEM_USER.sid ? this.options.domain : domain,
      SubjectLogonId: p.logonId,
      NewProcessId: pidHex,
      NewProcessName: p.image.path,
      TokenElevationType: p.integrity === 'High' ? '%%1937' : '%%1936',
      ProcessId: ppidHex,
      CommandLine: p.cmd,
      TargetUserSid: 'S-1-0-0',
      TargetUserName: '-',
      TargetDomainName: '-',
      TargetLogonId: '0x0',
      ParentProcessName: p.parent?.image.path ?? '',
      MandatoryLabel: label,
    };
    const message = securityMessage('A new process has been created.', [
      ['Creator Subject', [['Security ID', values.SubjectUserSid], ['Account Name', values.SubjectUserName], ['Account Domain', values.SubjectDomainName], ['Logon ID', values.SubjectLogonId]]],
      ['Target Subject', [['Security ID', 'S-1-0-0'], ['Account Name', '-'], ['Account Domain', '-'], ['Logon ID', '0x0']]],
      ['Process Information', [['New Process ID', pidHex], ['New Process Name', p.image.path], ['Token Elevation Type', values.TokenElevationType], ['Mandatory Label', label], ['Creator Process ID', ppidHex], ['Creator Process Name', values.ParentProcessName], ['Process Command Line', p.cmd]]],
    ], 'Token Elevation Type indicates the type of token that was assigned to the new process in accordance with User Account Control policy.');
    return this.security(host, 4688, values, message, ms);
  }
}

/**
 * Renders a Security-style message: title, tab-indented sections, closing prose.
 * @example securityMessage('A new process has been created.', [['Creator Subject', [['Logon ID', '0x3e7']]]])
 */
export function securityMessage(title: string, sections: readonly (readonly [string, readonly (readonly [string, string])[]])[], footer?: string): string {
  const parts = [title, ''];
  for (const [header, rows] of sections) {
    parts.push(`${header}:`);
    for (const [k, v] of rows) parts.push(`\t${k}:${k.length < 14 ? '\t\t' : '\t'}${v}`);
    parts.push('');
  }
  if (footer) parts.push(footer);
  else parts.pop();
  return parts.join('\n');
}

/**
 * Splits `DOMAIN\name` into `[domain, name]`; a bare name gets an empty domain.
 * @example splitUser('CONTOSO\\alice') // => ['CONTOSO', 'alice']
 */
export function splitUser(user: string): [string, string] {
  const i = user.indexOf('\\');
  return i < 0 ? ['', user] : [user.slice(0, i), user.slice(i + 1)];
}

function userLogonId(host: Host, who: User): string {
  return `0x${fakeDigest(`${host.name}/${who.sid}/logon`, 6).toLowerCase().replace(/^0+/, '')}`;
}

function uuid(r: Random): string {
  const h = r.hex(32).toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20)}`;
}
