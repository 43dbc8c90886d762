import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { quoteString } from '../kernel-lib/src/engine/quote.js';
import { convertDocs, detectLayout, readEventFiles, toWinlogbeat7 } from '../kernel-lib/src/winlogbeat/convert.js';
import { JsonObjectSplitter, readJsonDocuments } from '../kernel-lib/src/winlogbeat/files.js';
import type { WinlogbeatDoc } from '../kernel-lib/src/winlogbeat/types.js';
import { SHARED_DATA, tempDir, testSession } from './helpers.js';

const session = await testSession();
const MORDOR = path.join(SHARED_DATA, 'mordor');
const REGRESSION = path.join(SHARED_DATA, 'sigma', 'regression', 'rules', 'windows');
const SYSMON_CHANNEL = 'Microsoft-Windows-Sysmon/Operational';
/** Sysmon's `UtcTime` ('2020-10-19 07:30:42.056') as epoch ms. */
const utcOf = (v: string): number => Date.parse(`${v.replace(' ', 'T').slice(0, 23)}Z`);
const at = (d: WinlogbeatDoc): number => Date.parse(d['@timestamp']);

async function collect(paths: string | string[], options = {}): Promise<WinlogbeatDoc[]> {
  const out: WinlogbeatDoc[] = [];
  for await (const d of readEventFiles(paths, options)) out.push(d);
  return out;
}

function countBy(docs: readonly WinlogbeatDoc[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const d of docs) m.set(`${d.winlog.channel}|${d.winlog.event_id}`, (m.get(`${d.winlog.channel}|${d.winlog.event_id}`) ?? 0) + 1);
  return m;
}

/** Counts per channel and event id, computed by DuckDB straight from the raw file. */
async function duckCounts(sql: string): Promise<Map<string, number>> {
  const rows = await session.rows<{ k: string; n: bigint }>(`SELECT c || '|' || e AS k, count(*) AS n FROM (${sql}) GROUP BY ALL`);
  return new Map(rows.map((r) => [r.k, Number(r.n)]));
}

for (const file of ['cmd_psexec_lsa_secrets_dump.json', 'cmd_discover_iexplorer_version_registry.json', 'covenant_sharpsc_query_dcerpc_smb_svcctl.json']) {
  test(`NXLog ${file}: same events per channel and id, every EventData field kept as a string`, async () => {
    const f = path.join(MORDOR, file);
    const docs = await collect(f);
    const expected = await duckCounts(`SELECT Channel AS c, CAST(EventID AS VARCHAR) AS e FROM read_json(${quoteString(f)}, format='newline_delimited')`);
    assert.deepEqual(countBy(docs), expected);
    const raw = readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const [i, r] of raw.entries()) {
      const d = docs[i]!;
      assert.equal(detectLayout(r), 'nxlog');
      assert.equal(d.winlog.computer_name, r.Hostname);
      for (const k of ['Image', 'CommandLine', 'TargetObject', 'PipeName', 'GrantedAccess', 'ProcessGuid', 'ServiceName']) {
        if (r[k] !== undefined) assert.equal(d.winlog.event_data![k], String(r[k]), `${k} of event ${i + 1}`);
      }
      for (const k of ['Channel', 'EventID', 'Hostname', 'Message', 'SourceName', '@timestamp', 'EventTime']) assert.equal(d.winlog.event_data?.[k], undefined, k);
      assert.ok(!d.message?.includes('\r'));
    }
  });
}

test('NXLog details: Sysmon EventType is EventData, NXLog EventType is not; users and audit keywords', async () => {
  const docs = await collect(path.join(MORDOR, 'covenant_sharpsc_query_dcerpc_smb_svcctl.json'));
  const sysmon13 = docs.filter((d) => d.winlog.channel === 'Microsoft-Windows-Sysmon/Operational' && d.winlog.event_id === '13');
  assert.ok(sysmon13.length > 0 && sysmon13.every((d) => d.winlog.event_data!.EventType === 'SetValue'));
  assert.ok(sysmon13.every((d) => d.winlog.task === 'Registry value set (rule: RegistryEvent)' || d.winlog.task !== undefined));
  const security = docs.filter((d) => d.winlog.channel === 'Security');
  assert.ok(security.every((d) => d.winlog.event_data?.EventType === undefined));
  assert.ok(security.some((d) => d.winlog.keywords?.[0] === 'Audit Success' && d.event!.outcome === 'success'));
  assert.ok(security.some((d) => d.winlog.keywords?.[0] === 'Audit Failure'));
  const withUser = docs.find((d) => d.winlog.channel === 'Microsoft-Windows-Sysmon/Operational')!;
  assert.deepEqual(withUser.winlog.user, { identifier: 'S-1-5-18', name: 'SYSTEM', domain: 'NT AUTHORITY', type: 'User' });
  assert.equal(withUser.agent!.hostname, 'WORKSTATION5');
  // The psexec dataset: service install keeps AccountName as EventData (no UserID there) and the pipe.
  const psexec = await collect(path.join(MORDOR, 'cmd_psexec_lsa_secrets_dump.json'));
  const svc = psexec.find((d) => d.winlog.event_id === '7045')!;
  assert.equal(svc.winlog.event_data!.AccountName, 'LocalSystem');
  assert.ok(psexec.some((d) => d.winlog.event_id === '18' && d.winlog.event_data!.PipeName === '\\PSEXESVC'));
});

test('winlogbeat 6 .tar.gz: same events as the archive member read by DuckDB; @timestamp already UTC', async () => {
  const archive = path.join(MORDOR, 'empire_enable_rdp.tar.gz');
  const dir = tempDir();
  // The archive lacks its gzip trailer: tar complains but extracts the whole member.
  spawnSync('tar', ['-xzf', archive, '-C', dir]);
  const member = path.join(dir, 'empire_enable_rdp_2019-05-18203650.json');
  assert.equal(statSync(member).size, 8500102);
  const docs = await collect(archive);
  const expected = await duckCounts(`SELECT log_name AS c, CAST(event_id AS VARCHAR) AS e FROM read_json(${quoteString(member)}, format='newline_delimited')`);
  assert.deepEqual(countBy(docs), expected);
  const d = docs.find((x) => x.winlog.channel === 'Microsoft-Windows-Sysmon/Operational' && x.winlog.event_id === '1')!;
  assert.equal(d.agent!.version, '6.7.0');
  assert.ok(d.winlog.event_data!.Image && d.winlog.process!.pid > 0 && typeof d.winlog.record_id === 'number');
  assert.equal(d.log!.level, 'information');
  assert.equal((d as Record<string, unknown>).log_name, undefined);
  assert.equal((d as Record<string, unknown>)['@metadata'], undefined);
  // @timestamp is UTC already: Sysmon records are created 0-5 s after their UtcTime.
  const created = docs.filter((x) => x.winlog.channel === SYSMON_CHANNEL && ['1', '11', '13'].includes(x.winlog.event_id));
  assert.ok(created.length > 100);
  for (const x of created) {
    const lag = at(x) - utcOf(x.winlog.event_data!.UtcTime!);
    assert.ok(lag >= 0 && lag < 5_000, `${x['@timestamp']} vs UtcTime ${x.winlog.event_data!.UtcTime}`);
  }
});

test('evtx_dump files (concatenated pretty JSON): ids, channels, hosts, EventData and UserData', async () => {
  const files = [
    'file/file_event/file_event_win_hktl_netexec_file_indicators/efc21479-9e83-41da-8cf1-122e06ba8db3.json',
    'registry/registry_set/registry_set_disable_system_restore/5de03871-5d46-4539-a82d-3aa992a69a83.json',
    'builtin/wmi/win_wmi_activity_nteventlogfile_cleareventlog/d4f1a2b3-7c8e-4d5f-b6a9-1e0c2d3f4e5b.json',
    'builtin/security/win_security_explicit_credential_local_logon/e3c6d245-7b8f-4e2a-c17f-a9d0e5b38f62.json',
  ].map((f) => path.join(REGRESSION, f));
  for (const f of files) {
    const docs = await collect(f);
    const raw = await session.rows<{ id: string; ch: string; pc: string; t: string }>(
      `SELECT CAST(Event.System.EventID AS VARCHAR) AS id, Event.System.Channel AS ch, Event.System.Computer AS pc,
              CAST(Event.System.TimeCreated."#attributes".SystemTime AS VARCHAR) AS t
         FROM read_json(${quoteString(f)}, format='unstructured')`,
    );
    assert.equal(docs.length, raw.length, f);
    for (const [i, r] of raw.entries()) {
      assert.equal(docs[i]!.winlog.event_id, r.id);
      assert.equal(docs[i]!.winlog.channel, r.ch);
      assert.equal(docs[i]!.winlog.computer_name, r.pc);
      assert.equal(docs[i]!['@timestamp'], new Date(Date.parse(r.t.replace(' ', 'T').replace(/(\.\d{3})\d*/, '$1'))).toISOString());
    }
  }
  const [netexec] = await collect(files[0]!);
  assert.equal(netexec!.winlog.task, 'File created (rule: FileCreate)');
  assert.equal(netexec!.winlog.event_data!.ProcessId, '12184');
  assert.ok(netexec!.message!.startsWith('File created:\nRuleName: -\nUtcTime: '));
  const [wmi] = await collect(files[2]!);
  assert.equal(wmi!.winlog.user_data!.xml_name, 'Operation_ClientFailure');
  assert.equal(wmi!.winlog.user_data!.ClientProcessId, '25920');
  assert.equal(wmi!.log!.level, 'error');
  const [logon] = await collect(files[3]!);
  assert.deepEqual(logon!.winlog.keywords, ['Audit Success']);
});

test('rebase moves the earliest event to start and keeps every gap; Sysmon times follow', async () => {
  const f = path.join(MORDOR, 'cmd_discover_iexplorer_version_registry.json');
  const kept = await collect(f);
  const start = new Date('2030-06-01T12:00:00.000Z');
  const moved = await collect(f, { rebase: { start } });
  const t = (d: WinlogbeatDoc): number => Date.parse(d['@timestamp']);
  assert.equal(Math.min(...moved.map(t)), start.getTime());
  const delta = t(moved[0]!) - t(kept[0]!);
  assert.ok(moved.every((d, i) => t(d) - t(kept[i]!) === delta));
  const sysmon = moved.find((d) => d.winlog.event_data?.UtcTime && d.message?.includes('UtcTime: '))!;
  assert.ok(sysmon.winlog.event_data!.UtcTime!.startsWith('2030-'));
  assert.ok(sysmon.message!.includes(`UtcTime: ${sysmon.winlog.event_data!.UtcTime}`));
  // convertDocs does the same in memory.
  const lines = readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as unknown);
  assert.deepEqual(convertDocs(lines, { rebase: { start } }), moved);
});

/** Per host, the UTC window its Sysmon events span, checking each Sysmon @timestamp is its UtcTime. */
function sysmonWindows(docs: readonly WinlogbeatDoc[]): Map<string, [number, number]> {
  const windows = new Map<string, [number, number]>();
  for (const d of docs) {
    const utc = d.winlog.event_data?.UtcTime;
    if (d.winlog.channel !== SYSMON_CHANNEL || utc === undefined) continue;
    assert.equal(d['@timestamp'], new Date(utcOf(utc)).toISOString(), `Sysmon ${d.winlog.event_id} of ${d.winlog.computer_name}`);
    const w = windows.get(d.winlog.computer_name!) ?? [Infinity, -Infinity];
    windows.set(d.winlog.computer_name!, [Math.min(w[0], at(d)), Math.max(w[1], at(d))]);
  }
  return windows;
}

/** First event of each NXLog recording: its local wall clock and the UTC instant it must become. */
const NXLOG_FIRST_EVENT = {
  // TimeCreated is EDT on a 12-hour clock, stamped "Z" by HELK: 16 h behind UtcTime.
  'cmd_discover_iexplorer_version_registry.json': ['2020-10-21T11:28:08.823Z', '2020-10-22T03:28:08.823Z'],
  // TimeCreated is EDT without a zone.
  'cmd_psexec_lsa_secrets_dump.json': ['2020-10-19 03:30:41.104', '2020-10-19T07:30:41.104Z'],
  // EventTime is EDT without a zone; @timestamp is Logstash's receipt, 3.6 s later.
  'covenant_sharpsc_query_dcerpc_smb_svcctl.json': ['2020-08-06 01:20:11', '2020-08-06T05:20:11.000Z'],
} as const;

for (const [file, [local, utc]] of Object.entries(NXLOG_FIRST_EVENT)) {
  test(`NXLog ${file}: @timestamp is UTC (Sysmon = UtcTime; other events in their host's Sysmon window)`, async () => {
    const f = path.join(MORDOR, file);
    const docs = await collect(f);
    const raw = readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(raw[0]!.TimeCreated ?? raw[0]!.EventTime, local);
    assert.equal(docs[0]!['@timestamp'], utc);
    const windows = sysmonWindows(docs);
    assert.ok(windows.size > 0);
    const others = docs.filter((d) => d.winlog.channel !== SYSMON_CHANNEL);
    assert.ok(others.some((d) => d.winlog.channel === 'Security'));
    for (const d of others) {
      const [from, to] = windows.get(d.winlog.computer_name!)!;
      // A minute of slack: the recordings last one to two minutes; the bug was hours.
      assert.ok(at(d) >= from - 60_000 && at(d) <= to + 60_000, `${d.winlog.channel} ${d.winlog.event_id} of ${d.winlog.computer_name} at ${d['@timestamp']}`);
    }
    assert.deepEqual(convertDocs(raw), docs);
  });
}

test('NXLog clock rules: learned per host, receipt pair, Sysmon outliers, lone documents', () => {
  const sysmon = (host: string, local: string, utc: string): Record<string, unknown> => ({ Channel: SYSMON_CHANNEL, EventID: 1, Hostname: host, TimeCreated: local, UtcTime: utc });
  const security = (host: string, local: string): Record<string, unknown> => ({ Channel: 'Security', EventID: 4688, Hostname: host, TimeCreated: local });
  const docs = convertDocs([
    security('A', '2020-01-01 10:00:00.000'),
    sysmon('A', '2020-01-01 10:00:01.002', '2020-01-01 15:00:01.000'),
    sysmon('A', '2020-01-01 10:00:02.002', '2020-01-01 15:00:02.000'),
    // A Sysmon 3 whose UtcTime is days older than its record: the host's clock decides.
    { ...sysmon('A', '2020-01-01 10:00:03.000', '2019-12-20 08:00:00.000'), EventID: 3 },
    // Host B's clock runs +02:00 and is stamped with a false Z.
    sysmon('B', '2020-01-01T17:00:00.500Z', '2020-01-01 15:00:00.499'),
    security('B', '2020-01-01T17:00:05.000Z'),
    // Host C has no Sysmon event: its local time stays as written.
    security('C', '2020-01-01 10:00:00.000'),
  ]);
  assert.deepEqual(docs.map((d) => d['@timestamp']), [
    '2020-01-01T15:00:00.000Z',
    '2020-01-01T15:00:01.000Z',
    '2020-01-01T15:00:02.000Z',
    '2020-01-01T15:00:03.000Z',
    '2020-01-01T15:00:00.499Z',
    '2020-01-01T15:00:05.000Z',
    '2020-01-01T10:00:00.000Z',
  ]);
  // Alone, a document with Logstash's UTC receipt beside NXLog's local one tells its offset itself.
  const receipt = { Channel: 'Security', EventID: 5156, Hostname: 'DC', EventTime: '2020-08-06 01:20:11', EventReceivedTime: '2020-08-06 01:20:14', '@timestamp': '2020-08-06T05:20:14.617Z' };
  assert.equal(toWinlogbeat7(receipt)['@timestamp'], '2020-08-06T05:20:11.000Z');
  // A lone Sysmon event has its UtcTime.
  assert.equal(toWinlogbeat7(sysmon('A', '2020-01-01 10:00:01.002', '2020-01-01 15:00:01.000'))['@timestamp'], '2020-01-01T15:00:01.000Z');
  assert.throws(() => toWinlogbeat7({ Channel: 'Security', EventID: 1, Hostname: 'A' }), /without a usable TimeCreated, EventTime/);
});

test('rebase keeps NXLog times consistent: Sysmon @timestamp still equals the shifted UtcTime', async () => {
  const f = path.join(MORDOR, 'cmd_psexec_lsa_secrets_dump.json');
  const kept = await collect(f);
  const start = new Date('2026-01-05T11:30:00.000Z');
  const moved = await collect(f, { rebase: { start } });
  assert.equal(Math.min(...moved.map(at)), start.getTime());
  // The earliest event is Security 1102 at 07:30:41.104 UTC, not a Sysmon one 4 h "later".
  assert.equal(moved[0]!.winlog.event_id, '1102');
  assert.equal(moved[0]!['@timestamp'], start.toISOString());
  const delta = at(moved[0]!) - at(kept[0]!);
  assert.ok(moved.every((d, i) => at(d) - at(kept[i]!) === delta));
  const windows = sysmonWindows(moved);
  const [from, to] = windows.get('WORKSTATION5')!;
  assert.ok(from - start.getTime() < 2_000 && to - start.getTime() < 60_000, `${new Date(from).toISOString()}..${new Date(to).toISOString()}`);
});

test('mixed layouts convert per document; unknown layouts fail clearly', () => {
  const docs = convertDocs([
    { Channel: 'Security', EventID: 4688, Hostname: 'WKS5.corp.local', TimeCreated: '2020-10-19 03:30:41.104', CommandLine: 'whoami', NewProcessId: 42 },
    { '@timestamp': '2019-05-18T20:36:46.254Z', log_name: 'System', event_id: 7045, computer_name: 'DC1', event_data: { ServiceName: 'x' }, beat: { hostname: 'DC1', version: '6.7.0' } },
    { '@timestamp': '2026-01-01T00:00:00Z', winlog: { channel: 'Security', event_id: 4624, event_data: { LogonType: 3 } } },
  ]);
  assert.deepEqual(docs.map((d) => [d.winlog.channel, d.winlog.event_id, d['@timestamp']]), [
    ['Security', '4688', '2020-10-19T03:30:41.104Z'],
    ['System', '7045', '2019-05-18T20:36:46.254Z'],
    ['Security', '4624', '2026-01-01T00:00:00.000Z'],
  ]);
  assert.deepEqual(docs[0]!.winlog.event_data, { CommandLine: 'whoami', NewProcessId: '42' });
  assert.equal(docs[0]!.agent!.hostname, 'WKS5');
  assert.deepEqual(docs[2]!.winlog.event_data, { LogonType: '3' });
  assert.throws(() => toWinlogbeat7({ foo: 1 }), /cannot tell the layout.*foo/);
  assert.throws(() => detectLayout([1]), /must be a JSON object/);
});

test('JSON splitter: chunk boundaries, braces in strings, escapes, arrays, truncation', () => {
  const text = '{"a":"}{\\"x"}\n{"b":[1,{"c":2}]}  {"d":"\\\\"}';
  for (let cut = 1; cut < text.length; cut += 3) {
    const s = new JsonObjectSplitter();
    const out = [...s.push(text.slice(0, cut)), ...s.push(text.slice(cut))];
    s.end();
    assert.deepEqual(out.map((o) => JSON.parse(o) as unknown), [{ a: '}{"x' }, { b: [1, { c: 2 }] }, { d: '\\' }]);
  }
  const arr = new JsonObjectSplitter();
  assert.deepEqual(arr.push('[{"a":1},\n {"a":2}]'), ['{"a":1}', '{"a":2}']);
  const cut = new JsonObjectSplitter();
  cut.push('{"a": {"b": 1}');
  assert.throws(() => cut.end(), /truncated/);
});

test('tar reader: several members, long names (GNU and pax), gzip NDJSON', async () => {
  const dir = tempDir();
  const src = path.join(dir, 'src');
  const long = `${'deep-folder-name/'.repeat(8)}events.json`;
  mkdirSync(path.join(src, path.dirname(long)), { recursive: true });
  const nx = { Channel: 'Security', EventID: 4624, Hostname: 'H1', TimeCreated: '2020-01-01 00:00:00', LogonType: '3' };
  writeFileSync(path.join(src, 'a.json'), `${JSON.stringify(nx)}\n${JSON.stringify({ ...nx, EventID: 4625 })}\n`);
  writeFileSync(path.join(src, long), `${JSON.stringify({ ...nx, EventID: 4672 })}\n`);
  writeFileSync(path.join(src, 'empty.json'), '');
  for (const format of ['gnu', 'pax']) {
    const archive = path.join(dir, `${format}.tar.gz`);
    const r = spawnSync('tar', [`--format=${format}`, '-czf', archive, '-C', src, 'a.json', 'empty.json', long]);
    assert.equal(r.status, 0, r.stderr.toString());
    const members: string[] = [];
    for await (const d of readJsonDocuments(archive)) members.push(d.member!);
    assert.deepEqual(members, ['a.json', 'a.json', long], format);
    assert.deepEqual((await collect(archive)).map((d) => d.winlog.event_id), ['4624', '4625', '4672']);
  }
  const gz = path.join(dir, 'one.json.gz');
  spawnSync('sh', ['-c', `gzip -c ${quoteString(path.join(src, 'a.json'))} > ${quoteString(gz)}`]);
  assert.equal((await collect(gz)).length, 2);
});
