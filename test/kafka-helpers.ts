/** Shared by the Kafka tests and benchmarks: the local broker and winlogbeat-like documents. */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { brokerOptions, startBroker } from '../kernel-lib/src/source/kafka/broker.js';
import { localKafka } from '../kernel-lib/src/source/kafka/local.js';

/** The default broker's bootstrap address. */
export const BOOTSTRAP = localKafka().bootstrap;

let starting: Promise<string> | undefined;

/**
 * Starts the default local broker unless it is running (tests start what they need) and returns
 * its bootstrap address.
 */
export function ensureBroker(): Promise<string> {
  starting ??= startBroker(brokerOptions()).then(() => BOOTSTRAP);
  return starting;
}

/** Deletes test topics from the default broker (missing ones are ignored). */
export async function deleteTopics(topics: readonly string[]): Promise<void> {
  if (topics.length === 0) return;
  const admin = new Kafka({ brokers: [BOOTSTRAP], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics: [...topics] }).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
}

/** A topic name no other test uses. */
export function uniqueTopic(prefix = 'test'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

const IMAGES = ['C:\\Windows\\System32\\cmd.exe', 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe', 'C:\\Windows\\explorer.exe', 'C:\\Program Files\\Mozilla Firefox\\firefox.exe'];
const HOSTS = ['WORKSTATION5', 'WORKSTATION6', 'MORDORDC', 'HR001'];

/**
 * A winlogbeat 7-layout document (about 1.5 KB), deterministic in `i`: Sysmon 1 (process create),
 * Sysmon 3 (network) and Security 4624 in turn, so `event_data` keys differ per event id.
 */
export function winlogbeatDoc(i: number): Record<string, unknown> {
  const kind = i % 3;
  const host = HOSTS[i % HOSTS.length]!;
  const image = IMAGES[i % IMAGES.length]!;
  const ts = new Date(Date.UTC(2024, 4, 1, 12, 0, 0) + i * 1000).toISOString();
  const sysmon = kind !== 2;
  const eventId = kind === 0 ? 1 : kind === 1 ? 3 : 4624;
  const eventData: Record<string, string> =
    kind === 0
      ? {
          RuleName: '-',
          UtcTime: ts.replace('T', ' ').replace('Z', ''),
          ProcessGuid: `{a1b2c3d4-0000-${String(i % 10000).padStart(4, '0')}-0000-000000000000}`,
          ProcessId: String(1000 + (i % 5000)),
          Image: image,
          FileVersion: '10.0.19041.1 (WinBuild.160101.0800)',
          Description: 'Windows Command Processor',
          Product: 'Microsoft® Windows® Operating System',
          Company: 'Microsoft Corporation',
          OriginalFileName: 'Cmd.Exe',
          CommandLine: `"${image}" /c whoami /all & echo ${i}`,
          CurrentDirectory: 'C:\\Users\\pgustavo\\',
          User: `THESHIRE\\user${i % 7}`,
          LogonGuid: '{a1b2c3d4-1111-2222-3333-444455556666}',
          LogonId: '0x3e7',
          TerminalSessionId: '1',
          IntegrityLevel: 'High',
          Hashes: 'SHA1=99AE9C73E9BEE6F9C76D6F4093A9882DF06832CF,MD5=F4F684066175B77E0C3A000549D2922C',
          ParentProcessGuid: '{a1b2c3d4-0000-0000-0000-000000000001}',
          ParentProcessId: '4242',
          ParentImage: 'C:\\Windows\\explorer.exe',
          ParentCommandLine: 'C:\\Windows\\Explorer.EXE',
        }
      : kind === 1
        ? {
            RuleName: '-',
            UtcTime: ts.replace('T', ' ').replace('Z', ''),
            ProcessGuid: '{a1b2c3d4-0000-0000-0000-000000000002}',
            ProcessId: '3312',
            Image: image,
            User: 'NT AUTHORITY\\SYSTEM',
            Protocol: 'tcp',
            Initiated: 'true',
            SourceIsIpv6: 'false',
            SourceIp: `172.18.39.${i % 250}`,
            SourceHostname: `${host}.theshire.local`,
            SourcePort: String(49152 + (i % 10000)),
            DestinationIsIpv6: 'false',
            DestinationIp: '172.18.39.5',
            DestinationHostname: 'MORDORDC.theshire.local',
            DestinationPort: '445',
            DestinationPortName: 'microsoft-ds',
          }
        : {
            SubjectUserSid: 'S-1-5-18',
            SubjectUserName: `${host}$`,
            SubjectDomainName: 'THESHIRE',
            SubjectLogonId: '0x3e7',
            TargetUserSid: 'S-1-5-21-1-2-3-1104',
            TargetUserName: `user${i % 7}`,
            TargetDomainName: 'THESHIRE',
            TargetLogonId: `0x${(0x10000 + i).toString(16)}`,
            LogonType: '3',
            LogonProcessName: 'NtLmSsp ',
            AuthenticationPackageName: 'NTLM',
            WorkstationName: host,
            IpAddress: '172.18.39.6',
            IpPort: '0',
          };
  const channel = sysmon ? 'Microsoft-Windows-Sysmon/Operational' : 'Security';
  return {
    '@timestamp': ts,
    '@metadata': { beat: 'winlogbeat', type: '_doc', version: '7.17.0' },
    agent: { hostname: host, name: host, id: 'a1b2c3d4-agent', type: 'winlogbeat', version: '7.17.0', ephemeral_id: 'e-1' },
    ecs: { version: '1.12.0' },
    host: { name: `${host}.theshire.local`, hostname: host, os: { family: 'windows', name: 'Windows 10 Enterprise', build: '19044.1288', kernel: '10.0.19041.1288' } },
    log: { level: 'information' },
    event: { code: String(eventId), kind: 'event', provider: sysmon ? 'Microsoft-Windows-Sysmon' : 'Microsoft-Windows-Security-Auditing', created: ts, action: sysmon ? (kind === 0 ? 'Process Create (rule: ProcessCreate)' : 'Network connection detected (rule: NetworkConnect)') : 'logged-in' },
    winlog: {
      channel,
      computer_name: `${host}.theshire.local`,
      event_id: eventId,
      provider_name: sysmon ? 'Microsoft-Windows-Sysmon' : 'Microsoft-Windows-Security-Auditing',
      provider_guid: '{5770385f-c22a-43e0-bf4c-06f5698ffbd9}',
      record_id: 100000 + i,
      task: sysmon ? (kind === 0 ? 'Process Create (rule: ProcessCreate)' : 'Network connection detected (rule: NetworkConnect)') : 'Logon',
      opcode: 'Info',
      version: sysmon ? 5 : 2,
      api: 'wineventlog',
      process: { pid: 2460, thread: { id: 3760 } },
      user: { identifier: 'S-1-5-18', name: 'SYSTEM', domain: 'NT AUTHORITY', type: 'User' },
      event_data: eventData,
    },
    message: `Event ${eventId} on ${host}\nRuleName: -\nImage: ${image}\nUser: THESHIRE\\user${i % 7}`,
  };
}
