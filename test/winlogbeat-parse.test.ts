import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import yaml from 'js-yaml';
import { quoteString } from '../kernel-lib/src/engine/quote.js';
import { Session } from '../kernel-lib/src/engine/session.js';
import { Frame } from '../kernel-lib/src/frame/index.js';
import { addIngestMeta, parseWinlogbeat } from '../kernel-lib/src/winlogbeat/parse.js';
import { simulateEvents } from '../kernel-lib/src/winlogbeat/simulate.js';
import type { WinlogbeatDoc } from '../kernel-lib/src/winlogbeat/types.js';
import { tempDir, testSession } from './helpers.js';

const session = await testSession();
const dir = tempDir();

// Bronze as the Kafka source builds it: the envelope declared, event_data a MAP, Kafka metadata.
const STRUCTURE = JSON.stringify({
  '@timestamp': 'TIMESTAMPTZ',
  agent: { hostname: 'VARCHAR', name: 'VARCHAR', id: 'VARCHAR', type: 'VARCHAR', version: 'VARCHAR' },
  host: { name: 'VARCHAR' },
  ecs: { version: 'VARCHAR' },
  log: { level: 'VARCHAR' },
  event: { action: 'VARCHAR', code: 'VARCHAR', kind: 'VARCHAR', provider: 'VARCHAR', created: 'TIMESTAMPTZ' },
  message: 'VARCHAR',
  winlog: {
    channel: 'VARCHAR', event_id: 'VARCHAR', provider_name: 'VARCHAR', computer_name: 'VARCHAR', record_id: 'BIGINT', task: 'VARCHAR',
    process: { pid: 'BIGINT', thread: { id: 'BIGINT' } },
    user: { identifier: 'VARCHAR', name: 'VARCHAR', domain: 'VARCHAR', type: 'VARCHAR' },
    event_data: 'MAP(VARCHAR, VARCHAR)',
    keywords: ['VARCHAR'],
  },
});

function writeNdjson(name: string, docs: readonly unknown[]): string {
  const file = path.join(dir, name);
  writeFileSync(file, docs.map((d) => JSON.stringify(d)).join('\n') + '\n');
  return file;
}

/** A bronze-like Frame over docs, plus one corrupt record. */
function bronze(file: string, structure = STRUCTURE): Frame {
  return Frame.fromSql(
    session,
    `SELECT unnest(json_transform(json, ${quoteString(structure)})), 0 AS _kafka_partition, row_number() OVER () AS _kafka_offset,
            NULL::VARCHAR AS _corrupt_record, NULL::VARCHAR AS _corrupt_reason
       FROM read_json_objects(${quoteString(file)}, format='newline_delimited')
     UNION ALL BY NAME
     SELECT 0 AS _kafka_partition, -1 AS _kafka_offset, '{not json' AS _corrupt_record, 'malformed JSON' AS _corrupt_reason`,
  );
}

const v7 = [...simulateEvents({ seed: 11, count: 300, version: 7, attackRate: 0.05 })];
const v8 = [...simulateEvents({ seed: 12, count: 300, version: 8, attackRate: 0.05 })];
const v7File = writeNdjson('v7.json', v7);
const v8File = writeNdjson('v8.json', v8);

test('addIngestMeta prepends one TIMESTAMPTZ shared by the whole batch', async () => {
  const before = Date.now();
  const df = addIngestMeta(bronze(v7File));
  const after = Date.now();
  const schema = await df.schema();
  assert.equal(schema[0]!.name, '_ingest_time');
  assert.equal(schema[0]!.type, 'TIMESTAMP WITH TIME ZONE');
  const rows = await session.rows<{ n: bigint; t: Date }>(`SELECT count(DISTINCT _ingest_time) AS n, min(_ingest_time) AS t FROM (${await df.toSql()})`);
  assert.equal(rows[0]!.n, 1n);
  assert.ok(rows[0]!.t.getTime() >= before - 1 && rows[0]!.t.getTime() <= after + 1);
  // Applying it twice replaces, never duplicates, the column.
  const twice = await addIngestMeta(df).columns();
  assert.equal(twice.filter((c) => c === '_ingest_time').length, 1);
});

test('raw stage prepends _sourcetype, _event_time, _event_date, dvc_hostname and keeps the rest', async () => {
  const df = await parseWinlogbeat(bronze(v7File), 'raw');
  const schema = await df.schema();
  assert.deepEqual(schema.slice(0, 4).map((f) => [f.name, f.type]), [
    ['_sourcetype', 'VARCHAR'],
    ['_event_time', 'TIMESTAMP WITH TIME ZONE'],
    ['_event_date', 'DATE'],
    ['dvc_hostname', 'VARCHAR'],
  ]);
  const rest = schema.slice(4).map((f) => f.name);
  for (const c of ['@timestamp', 'agent', 'host', 'winlog', 'message', '_kafka_offset', '_corrupt_record']) assert.ok(rest.includes(c), c);

  const rows = await session.rows<{ st: string; et: Date; ed: Date; dvc: string; off: bigint }>(
    `SELECT _sourcetype AS st, _event_time AS et, _event_date AS ed, dvc_hostname AS dvc, _kafka_offset AS off FROM (${await df.toSql()}) ORDER BY _kafka_offset`,
  );
  assert.equal(rows.length, v7.length + 1);
  const corrupt = rows[0]!;
  assert.equal(corrupt.off, -1n);
  assert.deepEqual([corrupt.st, corrupt.et, corrupt.ed, corrupt.dvc], [null, null, null, null]);
  for (const [i, doc] of v7.entries()) {
    const r = rows[i + 1]!;
    assert.equal(r.st, doc.winlog.channel);
    assert.equal(r.et.toISOString(), doc['@timestamp']);
    assert.equal(r.ed.toISOString().slice(0, 10), doc['@timestamp'].slice(0, 10));
    assert.equal(r.dvc, doc.agent!.hostname, 'v7: agent.hostname');
  }
});

test('_event_date is the UTC date whatever the session time zone', async () => {
  const late = { ...v7[0]!, '@timestamp': '2026-03-01T23:30:00.000Z' } as WinlogbeatDoc;
  const df = await parseWinlogbeat(bronze(writeNdjson('late.json', [late])), 'raw');
  // A sandboxed session's time zone stays UTC (SET is refused); an unconfined one may be set to any.
  await assert.rejects(session.run("SET TimeZone = 'Asia/Tokyo'"), /sandbox refuses SET statements/);
  const loose = await Session.create({ workDir: tempDir('winlake-duck-tz-'), sandbox: false });
  try {
    await loose.run("SET TimeZone = 'Asia/Tokyo'");
    const d = await loose.scalar<Date>(`SELECT CAST(_event_date AS VARCHAR) FROM (${await df.toSql()}) WHERE _corrupt_record IS NULL`);
    assert.equal(d, '2026-03-01');
  } finally {
    loose.close();
  }
});

test('dvc_hostname falls back to host.name, then winlog.computer_name, built from the fields that exist', async () => {
  // v8 with agent.hostname declared but absent in the data.
  const declared = await (await parseWinlogbeat(bronze(v8File), 'raw')).filter('_corrupt_record IS NULL').toRows<{ dvc_hostname: string }>();
  assert.deepEqual(declared.map((r) => r.dvc_hostname), v8.map((d) => d.host!.name));
  assert.ok(v8.every((d) => d.host!.name === d.host!.name!.toLowerCase() && d.agent!.hostname === undefined));

  // v8 where the schema has no agent.hostname at all.
  const s = JSON.parse(STRUCTURE) as { agent: Record<string, unknown>; host?: unknown };
  delete s.agent.hostname;
  const noField = await (await parseWinlogbeat(bronze(v8File, JSON.stringify(s)), 'raw')).filter('_corrupt_record IS NULL').toRows<{ dvc_hostname: string }>();
  assert.deepEqual(noField.map((r) => r.dvc_hostname), v8.map((d) => d.host!.name));

  // No agent and no host at all: winlog.computer_name.
  delete (s as { agent?: unknown }).agent;
  delete s.host;
  const bare = await (await parseWinlogbeat(bronze(v8File, JSON.stringify(s)), 'raw')).filter('_corrupt_record IS NULL').toRows<{ dvc_hostname: string }>();
  assert.deepEqual(bare.map((r) => r.dvc_hostname), v8.map((d) => d.winlog.computer_name));
});

test('raw stage twice replaces its columns instead of duplicating them', async () => {
  const once = await parseWinlogbeat(bronze(v7File), 'raw');
  const twice = await parseWinlogbeat(once, 'raw');
  assert.deepEqual(await twice.columns(), await once.columns());
});

test('flatten: every leaf becomes a column named by its path, MAP keys expand, lists stay whole', async () => {
  const raw = await parseWinlogbeat(bronze(v7File), 'raw');
  const flat = await parseWinlogbeat(raw, 'flatten');
  const schema = await flat.schema();
  const names = schema.map((f) => f.name);
  for (const c of ['_sourcetype', '_event_time', '_event_date', 'dvc_hostname', '@timestamp', 'message', 'message_fields', 'winlog:event_id', 'winlog:channel', 'log:level', 'event:action', 'agent:hostname', 'winlog:process:thread:id', 'winlog:event_data:CommandLine', 'winlog:event_data:Image', 'winlog:keywords', '_kafka_offset', '_corrupt_record']) {
    assert.ok(names.includes(c), `missing ${c}`);
  }
  assert.ok(schema.every((f) => f.kind !== 'struct'), 'no struct left');
  assert.equal(schema.find((f) => f.name === 'winlog:keywords')!.kind, 'list');
  assert.equal(schema.find((f) => f.name === 'message')!.type, 'VARCHAR[]');
  assert.equal(schema.find((f) => f.name === 'message_fields')!.type, 'MAP(VARCHAR, VARCHAR)');
  // One column per event_data key present in the data.
  const keys = new Set(v7.flatMap((d) => Object.keys(d.winlog.event_data ?? {})));
  const dataCols = names.filter((n) => n.startsWith('winlog:event_data:')).map((n) => n.slice('winlog:event_data:'.length));
  assert.deepEqual(new Set(dataCols), keys);

  const rows = await flat.filter('_corrupt_record IS NULL').orderBy('_kafka_offset').toRows();
  for (const [i, doc] of v7.entries()) {
    const r = rows[i]!;
    assert.equal(r['winlog:event_id'], doc.winlog.event_id);
    assert.equal(r['agent:hostname'], doc.agent!.hostname);
    assert.equal(r['event:action'], doc.event!.action);
    assert.equal(r['log:level'], doc.log!.level);
    assert.equal(r['winlog:process:thread:id'], BigInt(doc.winlog.process!.thread!.id));
    for (const k of keys) assert.equal(r[`winlog:event_data:${k}`], doc.winlog.event_data?.[k] ?? null, k);
    assert.deepEqual(r.message, doc.message!.split('\n'));
  }
  // The corrupt row passes through the flatten with its reason.
  const bad = await flat.filter('_corrupt_record IS NOT NULL').toRows();
  assert.equal(bad.length, 1);
  assert.equal(bad[0]!._corrupt_reason, 'malformed JSON');
});

test('flatten: Sysmon message_fields equal event_data (values with colons stay whole)', async () => {
  const flat = await parseWinlogbeat(await parseWinlogbeat(bronze(v8File), 'raw'), 'flatten');
  const rows = await flat
    .filter(`_sourcetype = 'Microsoft-Windows-Sysmon/Operational'`)
    .orderBy('_kafka_offset')
    .selectExpr('message_fields')
    .toRows<{ message_fields: { key: string; value: string }[] }>();
  const sysmon = v8.filter((d) => d.winlog.channel === 'Microsoft-Windows-Sysmon/Operational');
  assert.equal(rows.length, sysmon.length);
  for (const [i, doc] of sysmon.entries()) {
    const fields = Object.fromEntries(rows[i]!.message_fields.map((e) => [e.key, e.value]));
    assert.deepEqual(fields, doc.winlog.event_data);
    assert.match(fields.UtcTime!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/);
  }
});

test('message_fields: title skipped, colons in values, continuation lines, indentation, blank lines, repeats', async () => {
  const messages = [
    'Process Create:\r\nRuleName: -\r\nUtcTime: 2021-05-10 12:34:56.789\r\nCommandLine: powershell -c "a"\r\n  more: of the command\r\ncontinued here\r\nImage: C:\\Windows\\System32\\cmd.exe\r\nEmpty: ',
    'A new process has been created.\n\nCreator Subject:\n\tSecurity ID:\t\tS-1-5-18\n\tAccount Name:\t\tWKS$\n\nTarget Subject:\n\tSecurity ID:\t\tS-1-0-0\n\nProcess Information:\n\tProcess Command Line:\tcmd /c echo a: b\n\nToken Elevation Type indicates the type of token.',
    'Just a title',
    '',
  ];
  const df = Frame.fromSql(session, `SELECT * FROM (VALUES ${messages.map((m, i) => `(${i}, ${quoteString(m)})`).join(', ')}, (9, NULL)) AS v(n, message)`);
  const rows = await (await parseWinlogbeat(df, 'flatten')).orderBy('n').toRows<{ n: number; message: string[] | null; message_fields: { key: string; value: string }[] | null }>();
  const fields = rows.map((r) => (r.message_fields ? Object.fromEntries(r.message_fields.map((e) => [e.key, e.value])) : null));
  assert.deepEqual(rows[0]!.message, ['Process Create:', 'RuleName: -', 'UtcTime: 2021-05-10 12:34:56.789', 'CommandLine: powershell -c "a"', '  more: of the command', 'continued here', 'Image: C:\\Windows\\System32\\cmd.exe', 'Empty: ']);
  // "  more: of the command" looks like a key (indentation allowed), so only "continued here" continues it.
  assert.deepEqual(fields[0], {
    RuleName: '-',
    UtcTime: '2021-05-10 12:34:56.789',
    CommandLine: 'powershell -c "a"',
    more: 'of the command\ncontinued here',
    Image: 'C:\\Windows\\System32\\cmd.exe',
    Empty: '',
  });
  assert.deepEqual(fields[1], {
    'Creator Subject': '',
    'Security ID': 'S-1-5-18',
    'Account Name': 'WKS$',
    'Target Subject': '',
    'Process Information': '',
    'Process Command Line': 'cmd /c echo a: b',
  });
  assert.deepEqual(fields[2], {});
  assert.deepEqual(rows[3]!.message, ['']);
  assert.deepEqual(fields[3], {});
  assert.equal(rows[4]!.message, null);
  assert.equal(fields[4], null);
});

test('flatten accepts event_data as MAP, STRUCT or JSON, merges case variants, and quotes any name', async () => {
  const docs = [
    { '@timestamp': '2026-01-01T00:00:00Z', winlog: { channel: 'Security', event_id: '5156', event_data: { ProcessID: '4', 'we"ird:key': 'x' } } },
    { '@timestamp': '2026-01-01T00:00:01Z', winlog: { channel: 'Microsoft-Windows-Sysmon/Operational', event_id: '1', event_data: { ProcessId: '10', Image: 'a.exe' } } },
    { '@timestamp': '2026-01-01T00:00:02Z', winlog: { channel: 'Microsoft-Windows-Sysmon/Operational', event_id: '1', event_data: { ProcessId: '11', Image: 'b.exe' } } },
  ];
  const file = writeNdjson('variants.json', docs);
  const expected = [
    { 'winlog:event_data:ProcessId': '4', 'winlog:event_data:Image': null, 'winlog:event_data:we"ird:key': 'x' },
    { 'winlog:event_data:ProcessId': '10', 'winlog:event_data:Image': 'a.exe', 'winlog:event_data:we"ird:key': null },
    { 'winlog:event_data:ProcessId': '11', 'winlog:event_data:Image': 'b.exe', 'winlog:event_data:we"ird:key': null },
  ];
  const variants = {
    map: `SELECT unnest(json_transform(json, '{"@timestamp":"TIMESTAMPTZ","winlog":{"channel":"VARCHAR","event_id":"VARCHAR","event_data":"MAP(VARCHAR, VARCHAR)"}}')) FROM read_json_objects(${quoteString(file)})`,
    json: `SELECT unnest(json_transform(json, '{"@timestamp":"TIMESTAMPTZ","winlog":{"channel":"VARCHAR","event_id":"VARCHAR","event_data":"JSON"}}')) FROM read_json_objects(${quoteString(file)})`,
  };
  for (const [kind, sql] of Object.entries(variants)) {
    const flat = await parseWinlogbeat(await parseWinlogbeat(Frame.fromSql(session, sql), 'raw'), 'flatten');
    const cols = await flat.columns();
    // ProcessId is the more frequent spelling, so the merged column is named by it.
    assert.equal(cols.filter((c) => c.toLowerCase() === 'winlog:event_data:processid').length, 1, kind);
    const rows = await flat.orderBy('@timestamp').select('winlog:event_data:ProcessId', 'winlog:event_data:Image', 'winlog:event_data:we"ird:key').toRows();
    assert.deepEqual(rows, expected, kind);
  }
  // DuckDB cannot infer a STRUCT with keys differing only in case, so the STRUCT case has none.
  const structFile = writeNdjson('struct.json', docs.slice(1));
  const inferred = Frame.fromSql(session, `SELECT * FROM read_json(${quoteString(structFile)}, format='newline_delimited')`);
  assert.equal((await inferred.schema()).find((f) => f.name === 'winlog')!.children.find((c) => c.name === 'event_data')!.kind, 'struct');
  const flat = await parseWinlogbeat(await parseWinlogbeat(inferred, 'raw'), 'flatten');
  assert.deepEqual(await flat.orderBy('@timestamp').select('winlog:event_data:ProcessId', 'winlog:event_data:Image', 'winlog:event_id').toRows(), [
    { 'winlog:event_data:ProcessId': '10', 'winlog:event_data:Image': 'a.exe', 'winlog:event_id': '1' },
    { 'winlog:event_data:ProcessId': '11', 'winlog:event_data:Image': 'b.exe', 'winlog:event_id': '1' },
  ]);
});

test('the shipped winlogbeat.yml is the corrected Kafka configuration', () => {
  const file = new URL('../kernel-lib/config/winlogbeat.yml', import.meta.url);
  const config = yaml.load(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const logs = (config['winlogbeat.event_logs'] as { name: string; event_id?: string }[]).map((l) => l.name);
  assert.deepEqual(logs, ['Application', 'Security', 'System', 'Microsoft-Windows-Sysmon/Operational', 'Microsoft-Windows-PowerShell/Operational', 'Windows PowerShell', 'Microsoft-Windows-WMI-Activity/Operational']);
  const kafka = config['output.kafka'] as Record<string, unknown>;
  assert.deepEqual(kafka.hosts, ['broker:9094']);
  assert.equal(kafka.topic, 'winlogbeat');
  // Beats configs use dotted keys: `partition.random:` is one YAML key.
  assert.equal((kafka['partition.random'] as { reachable_only: boolean }).reachable_only, false);
  assert.equal(kafka.max_message_bytes, 1000000);
  assert.equal(kafka.required_acks, 1);
  assert.ok(typeof kafka.compression === 'string');
});
