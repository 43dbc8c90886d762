/**
 * What winlogbeat ships for the event types winlake simulates and converts: channels, providers,
 * task names, message titles and the EventData field names in order. Field names follow OSSEM-DD
 * (`ossem/sysmon/event-N.yml`, `ossem/security/event-*.yml`, `event_fields[].name`).
 */

export const CHANNEL = {
  sysmon: 'Microsoft-Windows-Sysmon/Operational',
  security: 'Security',
  system: 'System',
  application: 'Application',
  powershell: 'Microsoft-Windows-PowerShell/Operational',
  windowsPowershell: 'Windows PowerShell',
  wmi: 'Microsoft-Windows-WMI-Activity/Operational',
} as const;

export const PROVIDER = {
  sysmon: { name: 'Microsoft-Windows-Sysmon', guid: '{5770385f-c22a-43e0-bf4c-06f5698ffbd9}' },
  security: { name: 'Microsoft-Windows-Security-Auditing', guid: '{54849625-5478-4994-a5ba-3e3b0328c30d}' },
  scm: { name: 'Service Control Manager', guid: '{555908d1-a6d7-4695-8e1e-26931d2012f4}' },
  powershell: { name: 'Microsoft-Windows-PowerShell', guid: '{a0c1853b-5c40-4b15-8766-3cf1c58f985a}' },
  wmi: { name: 'Microsoft-Windows-WMI-Activity', guid: '{1418ef04-b0b4-4623-bf7e-d74ab47bbdaa}' },
} as const;

/** A Sysmon event type: its message title, task (winlogbeat's `winlog.task`) and EventData fields. */
export interface SysmonEventSpec {
  title: string;
  task: string;
  version: number;
  fields: readonly string[];
}

/** Sysmon events by id; `fields` in the order Sysmon renders them (OSSEM-DD event_fields). */
export const SYSMON: Readonly<Record<number, SysmonEventSpec>> = {
  1: {
    title: 'Process Create:',
    task: 'Process Create (rule: ProcessCreate)',
    version: 5,
    fields: ['RuleName', 'UtcTime', 'ProcessGuid', 'ProcessId', 'Image', 'FileVersion', 'Description', 'Product', 'Company', 'OriginalFileName', 'CommandLine', 'CurrentDirectory', 'User', 'LogonGuid', 'LogonId', 'TerminalSessionId', 'IntegrityLevel', 'Hashes', 'ParentProcessGuid', 'ParentProcessId', 'ParentImage', 'ParentCommandLine', 'ParentUser'],
  },
  3: {
    title: 'Network connection detected:',
    task: 'Network connection detected (rule: NetworkConnect)',
    version: 5,
    fields: ['RuleName', 'UtcTime', 'ProcessGuid', 'ProcessId', 'Image', 'User', 'Protocol', 'Initiated', 'SourceIsIpv6', 'SourceIp', 'SourceHostname', 'SourcePort', 'SourcePortName', 'DestinationIsIpv6', 'DestinationIp', 'DestinationHostname', 'DestinationPort', 'DestinationPortName'],
  },
  5: {
    title: 'Process terminated:',
    task: 'Process terminated (rule: ProcessTerminate)',
    version: 3,
    fields: ['RuleName', 'UtcTime', 'ProcessGuid', 'ProcessId', 'Image', 'User'],
  },
  7: {
    title: 'Image loaded:',
    task: 'Image loaded (rule: ImageLoad)',
    version: 3,
    fields: ['RuleName', 'UtcTime', 'ProcessGuid', 'ProcessId', 'Image', 'ImageLoaded', 'FileVersion', 'Description', 'Product', 'Company', 'OriginalFileName', 'Hashes', 'Signed', 'Signature', 'SignatureStatus', 'User'],
  },
  8: {
    title: 'CreateRemoteThread detected:',
    task: 'CreateRemoteThread detected (rule: CreateRemoteThread)',
    version: 2,
    fields: ['RuleName', 'UtcTime', 'SourceProcessGuid', 'SourceProcessId', 'SourceImage', 'TargetProcessGuid', 'TargetProcessId', 'TargetImage', 'NewThreadId', 'StartAddress', 'StartModule', 'StartFunction', 'SourceUser', 'TargetUser'],
  },
  10: {
    title: 'Process accessed:',
    task: 'Process accessed (rule: ProcessAccess)',
    version: 3,
    fields: ['RuleName', 'UtcTime', 'SourceProcessGuid', 'SourceProcessId', 'SourceThreadId', 'SourceImage', 'TargetProcessGuid', 'TargetProcessId', 'TargetImage', 'GrantedAccess', 'CallTrace', 'SourceUser', 'TargetUser'],
  },
  11: {
    title: 'File created:',
    task: 'File created (rule: FileCreate)',
    version: 2,
    fields: ['RuleName', 'UtcTime', 'ProcessGuid', 'ProcessId', 'Image', 'TargetFilename', 'CreationUtcTime', 'User'],
  },
  12: {
    title: 'Registry object added or deleted:',
    task: 'Registry object added or deleted (rule: RegistryEvent)',
    version: 2,
    fields: ['RuleName', 'EventType', 'UtcTime', 'ProcessGuid', 'ProcessId', 'Image', 'TargetObject', 'User'],
  },
  13: {
    title: 'Registry value set:',
    task: 'Registry value set (rule: RegistryEvent)',
    version: 2,
    fields: ['RuleName', 'EventType', 'UtcTime', 'ProcessGuid', 'ProcessId', 'Image', 'TargetObject', 'Details', 'User'],
  },
  17: {
    title: 'Pipe Created:',
    task: 'Pipe Created (rule: PipeEvent)',
    version: 1,
    fields: ['RuleName', 'EventType', 'UtcTime', 'ProcessGuid', 'ProcessId', 'PipeName', 'Image', 'User'],
  },
  18: {
    title: 'Pipe Connected:',
    task: 'Pipe Connected (rule: PipeEvent)',
    version: 1,
    fields: ['RuleName', 'EventType', 'UtcTime', 'ProcessGuid', 'ProcessId', 'PipeName', 'Image', 'User'],
  },
  22: {
    title: 'Dns query:',
    task: 'Dns query (rule: DnsQuery)',
    version: 5,
    fields: ['RuleName', 'UtcTime', 'ProcessGuid', 'ProcessId', 'QueryName', 'QueryStatus', 'QueryResults', 'Image', 'User'],
  },
};

/** Security events simulated, with their EventData fields (OSSEM-DD) and task names. */
export const SECURITY: Readonly<Record<number, { task: string; version: number; fields: readonly string[] }>> = {
  4624: {
    task: 'Logon',
    version: 2,
    fields: ['SubjectUserSid', 'SubjectUserName', 'SubjectDomainName', 'SubjectLogonId', 'TargetUserSid', 'TargetUserName', 'TargetDomainName', 'TargetLogonId', 'LogonType', 'LogonProcessName', 'AuthenticationPackageName', 'WorkstationName', 'LogonGuid', 'TransmittedServices', 'LmPackageName', 'KeyLength', 'ProcessId', 'ProcessName', 'IpAddress', 'IpPort', 'ImpersonationLevel', 'RestrictedAdminMode', 'TargetOutboundUserName', 'TargetOutboundDomainName', 'VirtualAccount', 'TargetLinkedLogonId', 'ElevatedToken'],
  },
  4625: {
    task: 'Logon',
    version: 0,
    fields: ['SubjectUserSid', 'SubjectUserName', 'SubjectDomainName', 'SubjectLogonId', 'TargetUserSid', 'TargetUserName', 'TargetDomainName', 'Status', 'FailureReason', 'SubStatus', 'LogonType', 'LogonProcessName', 'AuthenticationPackageName', 'WorkstationName', 'TransmittedServices', 'LmPackageName', 'KeyLength', 'ProcessId', 'ProcessName', 'IpAddress', 'IpPort'],
  },
  4672: {
    task: 'Special Logon',
    version: 0,
    fields: ['SubjectUserSid', 'SubjectUserName', 'SubjectDomainName', 'SubjectLogonId', 'PrivilegeList'],
  },
  4688: {
    task: 'Process Creation',
    version: 2,
    fields: ['SubjectUserSid', 'SubjectUserName', 'SubjectDomainName', 'SubjectLogonId', 'NewProcessId', 'NewProcessName', 'TokenElevationType', 'ProcessId', 'CommandLine', 'TargetUserSid', 'TargetUserName', 'TargetDomainName', 'TargetLogonId', 'ParentProcessName', 'MandatoryLabel'],
  },
};

/** EventData of System 7045 (service installed). */
export const SERVICE_INSTALL_FIELDS = ['ServiceName', 'ImagePath', 'ServiceType', 'StartType', 'AccountName'] as const;
/** EventData of PowerShell 4104 (script block logging). */
export const SCRIPT_BLOCK_FIELDS = ['MessageNumber', 'MessageTotal', 'ScriptBlockText', 'ScriptBlockId', 'Path'] as const;
/** UserData of WMI-Activity 5861 (permanent event consumer binding); winlogbeat puts it in winlog.user_data. */
export const WMI_BINDING_FIELDS = ['Namespace', 'ESS', 'CONSUMER', 'PossibleCause'] as const;

/** Windows event levels → winlogbeat's `log.level` text. Level 0 (LogAlways, Security) reads as information. */
export const LEVEL_NAMES: Readonly<Record<number, string>> = {
  0: 'information',
  1: 'critical',
  2: 'error',
  3: 'warning',
  4: 'information',
  5: 'verbose',
};

/**
 * Sysmon task names by event id, for events converted from layouts that carry only the number.
 * @example sysmonTask(1) // => 'Process Create (rule: ProcessCreate)'
 */
export function sysmonTask(eventId: number): string | undefined {
  return SYSMON[eventId]?.task;
}
