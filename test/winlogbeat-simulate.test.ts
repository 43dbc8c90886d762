import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import yaml from 'js-yaml';
import { SCENARIOS, simulateEvents, simulateNdjson, simulateWithTruth, type SimulatedEvent } from '../kernel-lib/src/winlogbeat/simulate.js';
import type { WinlogbeatDoc } from '../kernel-lib/src/winlogbeat/types.js';
import { SHARED_DATA } from './helpers.js';

const SYSMON = 'Microsoft-Windows-Sysmon/Operational';

/** The raw field names OSSEM-DD lists for an event (event_fields[].name). */
function ossemFields(file: string): string[] {
  const doc = yaml.load(readFileSync(path.join(SHARED_DATA, 'ossem', file), 'utf8')) as { event_fields: { name: string }[] };
  return doc.event_fields.map((f) => f.name);
}

const events: SimulatedEvent[] = [...simulateWithTruth({ seed: 42, count: 6000, attackRate: 0.05, hosts: 12, users: 15 })];
const docs = events.map((e) => e.doc);

test('same seed, same events; another seed, other events', () => {
  const a = [...simulateNdjson({ seed: 9, count: 500, attackRate: 0.1 })];
  const b = [...simulateNdjson({ seed: 9, count: 500, attackRate: 0.1 })];
  const c = [...simulateNdjson({ seed: 10, count: 500, attackRate: 0.1 })];
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.deepEqual(a.map((l) => JSON.parse(l) as unknown), [...simulateEvents({ seed: 9, count: 500, attackRate: 0.1 })]);
});

test('count, start, rate and span shape the timeline; times never go back', () => {
  const start = new Date('2026-02-01T00:00:00Z');
  const byRate = [...simulateEvents({ seed: 1, count: 1000, start, ratePerSecond: 100 })];
  assert.equal(byRate.length, 1000);
  assert.equal(byRate[0]!['@timestamp'].slice(0, 19), '2026-02-01T00:00:00');
  const times = byRate.map((d) => Date.parse(d['@timestamp']));
  assert.ok(times.every((t, i) => i === 0 || t >= times[i - 1]!));
  assert.ok(times.at(-1)! - times[0]! > 9_000 && times.at(-1)! - times[0]! < 10_000);
  const bySpan = [...simulateEvents({ seed: 1, count: 200, start, span: 3_600_000 })];
  const last = Date.parse(bySpan.at(-1)!['@timestamp']);
  assert.ok(last > start.getTime() + 3_500_000 && last < start.getTime() + 3_600_000);
  assert.throws(() => [...simulateEvents({ count: 1, attackRate: 2 })], /attackRate/);
  assert.throws(() => [...simulateEvents({ count: -1 })], /count/);
});

test('winlogbeat 7 sends agent.hostname, 8 only agent.name; both carry the common envelope', () => {
  const [d7] = [...simulateEvents({ seed: 3, count: 1, version: 7 })];
  const [d8] = [...simulateEvents({ seed: 3, count: 1, version: 8 })];
  assert.ok(d7!.agent!.hostname && d7!.agent!.version!.startsWith('7.'));
  assert.equal(d8!.agent!.hostname, undefined);
  assert.ok(d8!.agent!.name && d8!.agent!.version!.startsWith('8.'));
  for (const d of docs) {
    assert.equal(d.agent!.type, 'winlogbeat');
    assert.equal(d.event!.kind, 'event');
    assert.equal(d.event!.code, d.winlog.event_id);
    assert.equal(typeof d.winlog.event_id, 'string');
    assert.equal(d.winlog.api, 'wineventlog');
    assert.ok(d.winlog.computer_name!.startsWith(d.agent!.name!));
    assert.match(d.agent!.name!, /^(WKS|SRV)-\d{3}$/);
    assert.ok(typeof d.message === 'string' && d.message.length > 0);
    for (const v of Object.values(d.winlog.event_data ?? {})) assert.equal(typeof v, 'string');
  }
});

test('every simulated Sysmon and Security event has exactly the OSSEM-DD fields of its id', () => {
  const seen = new Set<string>();
  for (const d of docs) {
    const id = d.winlog.event_id;
    let file: string | undefined;
    if (d.winlog.channel === SYSMON) file = `sysmon/event-${id}.yml`;
    else if (d.winlog.channel === 'Security') file = { '4624': 'security/event-4624_v2.yml', '4625': 'security/event-4625.yml', '4672': 'security/event-4672.yml', '4688': 'security/event-4688_v2.yml' }[id];
    if (!file) continue;
    seen.add(`${d.winlog.channel}:${id}`);
    assert.deepEqual(new Set(Object.keys(d.winlog.event_data!)), new Set(ossemFields(file)), `${d.winlog.channel} ${id}`);
  }
  for (const id of ['1', '3', '5', '7', '8', '10', '11', '12', '13', '17', '18', '22']) assert.ok(seen.has(`${SYSMON}:${id}`), `Sysmon ${id} simulated`);
  for (const id of ['4624', '4625', '4672', '4688']) assert.ok(seen.has(`Security:${id}`), `Security ${id} simulated`);
  const others = new Set(docs.map((d) => `${d.winlog.channel}:${d.winlog.event_id}`));
  for (const k of ['System:7045', 'Microsoft-Windows-PowerShell/Operational:4104', 'Microsoft-Windows-WMI-Activity/Operational:5861']) assert.ok(others.has(k), k);
  assert.ok([...others].some((k) => k.startsWith('Application:')));
});

test('Sysmon messages render the event data, one "Key: Value" line per field after the title', () => {
  for (const d of docs.filter((x) => x.winlog.channel === SYSMON)) {
    const lines = d.message!.split('\n');
    assert.match(lines[0]!, /:$/);
    assert.deepEqual(lines.slice(1), Object.entries(d.winlog.event_data!).map(([k, v]) => `${k}: ${v}`));
  }
});

test('process trees are consistent: a child names its parent by guid, pid, image and command line', () => {
  const created = new Map<string, Record<string, string>>();
  let linked = 0;
  for (const d of docs) {
    if (d.winlog.channel !== SYSMON || d.winlog.event_id !== '1') continue;
    const e = d.winlog.event_data!;
    const key = `${d.winlog.computer_name}|${e.ParentProcessGuid}`;
    const parent = created.get(key);
    if (parent) {
      linked++;
      assert.equal(e.ParentImage, parent.Image);
      assert.equal(e.ParentProcessId, parent.ProcessId);
      assert.equal(e.ParentCommandLine, parent.CommandLine);
      assert.equal(e.ParentUser, parent.User);
    }
    assert.ok(!created.has(`${d.winlog.computer_name}|${e.ProcessGuid}`), 'process guids are unique');
    created.set(`${d.winlog.computer_name}|${e.ProcessGuid}`, e);
  }
  assert.ok(linked > 50, `children of simulated parents: ${linked}`);
  // Terminations name a process that was alive.
  const guids = new Set(docs.filter((d) => d.winlog.channel === SYSMON && d.winlog.event_id === '1').map((d) => d.winlog.event_data!.ProcessGuid));
  const ends = docs.filter((d) => d.winlog.channel === SYSMON && d.winlog.event_id === '5');
  assert.ok(ends.filter((d) => guids.has(d.winlog.event_data!.ProcessGuid!)).length > ends.length / 2);
});

test('attacks come at the requested rate, are labelled outside the documents, and look like themselves', () => {
  const attack = events.filter((e) => e.scenario);
  const rate = attack.length / events.length;
  assert.ok(rate > 0.03 && rate < 0.07, `attack rate ${rate}`);
  assert.deepEqual(new Set(attack.map((e) => e.scenario)), new Set(SCENARIOS));
  assert.ok(events.every((e) => !JSON.stringify(e.doc).includes('credential_dumping')));
  const runs = new Map<string, WinlogbeatDoc[]>();
  for (const e of attack) runs.set(`${e.scenario}#${e.run}`, [...(runs.get(`${e.scenario}#${e.run}`) ?? []), e.doc]);
  const data = (d: WinlogbeatDoc): Record<string, string> => d.winlog.event_data ?? {};
  for (const [key, run] of runs) {
    const scenario = key.split('#')[0];
    const cmd = run.map((d) => data(d).CommandLine ?? '').join('\n');
    const hosts = new Set(run.map((d) => d.winlog.computer_name));
    assert.equal(hosts.size, 1, `${key} stays on one host`);
    if (run.length < 3) continue; // a run cut short by the end of the stream
    switch (scenario) {
      case 'credential_dumping':
        assert.match(cmd, /procdump64\.exe -accepteula -ma lsass\.exe|comsvcs\.dll, MiniDump/);
        if (run.length >= 3) assert.ok(run.some((d) => d.winlog.event_id === '10' && data(d).TargetImage!.endsWith('lsass.exe') && data(d).GrantedAccess === '0x1FFFFF'));
        break;
      case 'encoded_powershell':
        assert.match(cmd, /powershell\.exe .*-enc [A-Za-z0-9+/=]+/);
        assert.ok(run.some((d) => d.winlog.event_id === '4104' && data(d).ScriptBlockText!.includes('DownloadString')));
        break;
      case 'psexec':
        assert.ok(run.some((d) => d.winlog.event_id === '7045' && data(d).ServiceName === 'PSEXESVC'));
        if (run.length >= 6) assert.ok(run.some((d) => d.winlog.event_id === '18' && data(d).PipeName === '\\PSEXESVC'));
        break;
      case 'scheduled_task':
        assert.match(cmd, /schtasks {2}\/create /);
        break;
      case 'lolbin_download':
        assert.match(cmd, /certutil\.exe -urlcache -split -f http|bitsadmin \/transfer/);
        break;
    }
  }
  // Benign events carry none of the attack markers.
  const benign = events.filter((e) => !e.scenario).map((e) => JSON.stringify(e.doc));
  for (const marker of ['-enc ', 'PSEXESVC', 'comsvcs', 'urlcache', 'procdump', 'schtasks']) assert.ok(benign.every((s) => !s.includes(marker)), marker);
  // attackRate 0: nothing; scenario choice restricts the mix.
  assert.ok([...simulateWithTruth({ seed: 5, count: 2000, attackRate: 0 })].every((e) => e.scenario === null));
  const only = [...simulateWithTruth({ seed: 5, count: 2000, attackRate: 0.2, scenarios: ['psexec'] })].filter((e) => e.scenario);
  assert.ok(only.length > 0 && only.every((e) => e.scenario === 'psexec' && e.technique === 'T1569.002'));
});
