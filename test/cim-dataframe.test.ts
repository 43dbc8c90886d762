import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cimDataframe } from '../kernel-lib/src/cim/dataframe.js';
import { loadPack } from '../kernel-lib/src/cim/pack.js';
import { TransformError, type Transform } from '../kernel-lib/src/cim/transform.js';
import { Frame } from '../kernel-lib/src/frame/index.js';
import { testSession } from './helpers.js';

// The reference notebook's Process mapping (Sysmon 1, 5, 18), written as the post had it.
const PROCESS_TRANSFORMS: Transform[] = [
  { new: ['event_message', "EXPR=CASE WHEN event_id = '1' THEN 'Process Started' WHEN event_id = '5' THEN 'Process Terminated' WHEN event_id = '18' THEN 'Pipe Connected' END"] },
  { new: ['event_message_result', 'LITERAL=success'] },
  { new: ['event_schema_version', 'LITERAL=1.0'] },
  { new: ['event_schema_file', 'LITERAL=winlogbeat-sysmon'] },
  { new: ['event_result', 'LITERAL=success'] },
  { rename: ['_sourcetype', '_sourcetype'] },
  { rename: ['_event_time', '_event_time'] },
  { rename: ['_event_date', '_event_date'] },
  { rename: ['dvc_hostname', 'dvc_hostname'] },
  { rename: ['winlog:event_id', 'event_id'] },
  { rename: ['winlog:task', 'event_category_type'] },
  { rename: ['log:level', 'event_severity'] },
  { rename: ['event:action', 'event_status'] },
  { rename: ['winlog:event_data:CommandLine', 'process_command_line'] },
  { rename: ['winlog:event_data:Company', 'file_company'] },
  { rename: ['winlog:event_data:CurrentDirectory', 'process_file_directory'] },
  { rename: ['winlog:event_data:Description', 'file_description'] },
  { rename: ['winlog:event_data:Image', 'process_file_path'] },
  { rename: ['winlog:event_data:IntegrityLevel', 'process_integrity_level'] },
  { rename: ['winlog:event_data:LogonGuid', 'user_logon_guid'] },
  { rename: ['winlog:event_data:LogonId', 'user_logon_id'] },
  { rename: ['winlog:event_data:OriginalFileName', 'file_name_original'] },
  { rename: ['winlog:event_data:ParentCommandLine', 'process_parent_command_line'] },
  { rename: ['winlog:event_data:ParentImage', 'process_parent_file_path'] },
  { rename: ['winlog:event_data:ParentProcessGuid', 'process_parent_guid'] },
  { rename: ['winlog:event_data:ParentProcessId', 'process_parent_id'] },
  { rename: ['winlog:event_data:ParentUser', 'acting_user_name'] },
  { rename: ['winlog:event_data:ProcessId', 'process_id'] },
  { rename: ['winlog:event_data:ProcessName', 'process_name'] },
  { rename: ['winlog:event_data:Product', 'file_product'] },
  { rename: ['winlog:event_data:TerminalSessionId', 'user_session_id'] },
  { rename: ['winlog:event_data:User', 'user_name'] },
  { rename: ['winlog:event_data:FileVersion', 'file_version'] },
  { rename: ['winlog:event_data:ProcessGuid', 'process_guid'] },
  { rename: ['winlog:event_data:Hashes', 'file_hashes'] },
  { rename: ['winlog:event_data:PipeName', 'pipe_name'] },
];

const PROCESS_COLUMNS = [
  '_event_date', '_event_time', '_sourcetype', 'acting_user_name', 'dvc_hostname', 'event_category_type', 'event_id',
  'event_message', 'event_message_result', 'event_result', 'event_schema_file', 'event_schema_version', 'event_severity',
  'event_status', 'file_company', 'file_description', 'file_hashes', 'file_name_original', 'file_product', 'file_version',
  'pipe_name', 'process_command_line', 'process_file_directory', 'process_file_path', 'process_guid', 'process_id',
  'process_integrity_level', 'process_name', 'process_parent_command_line', 'process_parent_file_path',
  'process_parent_guid', 'process_parent_id', 'user_logon_guid', 'user_logon_id', 'user_name', 'user_session_id',
];

// A flattened bronze batch: ParentUser, ProcessName, Hashes, Company... never occur, so their columns are absent.
const FLAT_SQL = `
SELECT * FROM (VALUES
  ('Microsoft-Windows-Sysmon/Operational', TIMESTAMPTZ '2024-05-01 10:00:00+00', DATE '2024-05-01', 'ws01', '1',
   'Process Create (rule: ProcessCreate)', 'information', 'Process Create (rule: ProcessCreate)',
   'cmd.exe /c whoami', 'C:\\Windows\\System32\\cmd.exe', 'CORP\\alice', '4242', '{p-1}', NULL),
  ('Microsoft-Windows-Sysmon/Operational', TIMESTAMPTZ '2024-05-01 10:00:05+00', DATE '2024-05-01', 'ws01', '5',
   'Process terminated (rule: ProcessTerminate)', 'information', 'Process terminated (rule: ProcessTerminate)',
   NULL, 'C:\\Windows\\System32\\cmd.exe', 'CORP\\alice', '4242', '{p-1}', NULL),
  ('Microsoft-Windows-Sysmon/Operational', TIMESTAMPTZ '2024-05-01 10:01:00+00', DATE '2024-05-01', 'ws02', '18',
   'Pipe Connected (rule: PipeEvent)', 'information', 'Pipe Connected (rule: PipeEvent)',
   NULL, 'C:\\Windows\\PSEXESVC.exe', NULL, '77', '{p-2}', '\\PSEXESVC')
) AS t("_sourcetype", "_event_time", "_event_date", "dvc_hostname", "winlog:event_id", "winlog:task", "log:level",
       "event:action", "winlog:event_data:CommandLine", "winlog:event_data:Image", "winlog:event_data:User",
       "winlog:event_data:ProcessId", "winlog:event_data:ProcessGuid", "winlog:event_data:PipeName")`;

const session = await testSession();

describe('cimDataframe', () => {
  const flat = Frame.fromSql(session, FLAT_SQL);

  it('maps the reference Process list: sorted target columns, values, NULL for absent sources', async () => {
    const out = await cimDataframe(flat, PROCESS_TRANSFORMS);
    assert.deepEqual(await out.columns(), PROCESS_COLUMNS);
    const rows = await out.orderBy('_event_time').toRows();
    assert.equal(rows.length, 3);
    const [started, terminated, pipe] = rows;
    assert.equal(started!.event_id, '1');
    assert.equal(started!.event_message, 'Process Started');
    assert.equal(terminated!.event_message, 'Process Terminated');
    assert.equal(pipe!.event_message, 'Pipe Connected');
    assert.equal(started!.process_command_line, 'cmd.exe /c whoami');
    assert.equal(started!.process_file_path, 'C:\\Windows\\System32\\cmd.exe');
    assert.equal(started!.user_name, 'CORP\\alice');
    assert.equal(started!.event_category_type, 'Process Create (rule: ProcessCreate)');
    assert.equal(started!.event_severity, 'information');
    assert.equal(pipe!.pipe_name, '\\PSEXESVC');
    assert.equal(pipe!.dvc_hostname, 'ws02');
    for (const row of rows) {
      assert.equal(row.event_message_result, 'success');
      assert.equal(row.event_schema_version, '1.0');
      assert.equal(row.event_schema_file, 'winlogbeat-sysmon');
      assert.equal(row.event_result, 'success');
      // Sources absent from the batch are SQL NULL, not the reference's string 'null'.
      for (const absent of ['acting_user_name', 'process_name', 'file_hashes', 'file_company', 'process_parent_id']) {
        assert.equal(row[absent], null, `${absent} should be NULL`);
      }
    }
    assert.ok(started!._event_time instanceof Date);
    assert.equal((started!._event_time as Date).toISOString(), '2024-05-01T10:00:00.000Z');
  });

  it('types absent sources as VARCHAR and keeps the input types of present ones', async () => {
    const out = await cimDataframe(flat, PROCESS_TRANSFORMS);
    const types = Object.fromEntries((await out.schema()).map((f) => [f.name, f.type]));
    assert.match(String(types.acting_user_name), /VARCHAR/i);
    assert.match(String(types._event_time), /TIMESTAMP WITH TIME ZONE|TIMESTAMPTZ/i);
    assert.match(String(types._event_date), /DATE/i);
  });

  it('is the Process pack, but for process_name (derived from Image when ProcessName is absent) and Sysmon 17 (Pipe Created)', () => {
    const pack = loadPack('Process').transforms;
    const derived = pack.filter((t) => 'new' in t && t.new[0] === 'process_name');
    assert.equal(derived.length, 1);
    const rest = pack.filter((t) => !derived.includes(t));
    const staged = PROCESS_TRANSFORMS.map((t) =>
      'rename' in t && t.rename[1] === 'process_name'
        ? { rename: [t.rename[0], 'process_name_raw'] }
        : 'new' in t && t.new[0] === 'event_message'
          ? { new: ['event_message', t.new[1].replace(" WHEN event_id = '18'", " WHEN event_id = '17' THEN 'Pipe Created' WHEN event_id = '18'")] }
          : t,
    );
    assert.deepEqual(rest, staged);
  });

  it('evaluates EXPR after renames and literals, in list order, and may use raw columns no rename consumed', async () => {
    const out = await cimDataframe(flat, [
      { new: ['is_cmd', "EXPR=process_file_path ILIKE '%cmd.exe' AND result = 'ok'"] },
      { new: ['cmd_and_host', "EXPR=CASE WHEN is_cmd THEN dvc_hostname END"] },
      { new: ['pid_len', 'EXPR=length("winlog:event_data:ProcessId")'] },
      { new: ['result', 'LITERAL=ok'] },
      { rename: ['winlog:event_data:Image', 'process_file_path'] },
      { rename: ['dvc_hostname', 'dvc_hostname'] },
      { rename: ['winlog:event_id', 'event_id'] },
    ]);
    assert.deepEqual(await out.columns(), ['cmd_and_host', 'dvc_hostname', 'event_id', 'is_cmd', 'pid_len', 'process_file_path', 'result']);
    const rows = await out.orderBy('event_id').toRows();
    assert.deepEqual(
      rows.map((r) => [r.event_id, r.is_cmd, r.cmd_and_host, r.pid_len]),
      [
        ['1', true, 'ws01', 4n],
        ['18', false, null, 2n],
        ['5', true, 'ws01', 4n],
      ],
    );
  });

  it('lets one rename source feed two targets and handles spaces around EXPR= / LITERAL=', async () => {
    const out = await cimDataframe(flat, [
      { rename: ['winlog:event_data:Image', 'process_file_path'] },
      { rename: ['winlog:event_data:Image', 'process_path'] },
      { new: ['upper_path', 'EXPR = upper(process_path)'] },
      { new: ['spaced', 'EXPR=  lower(process_file_path)  '] },
      { new: ['tag', 'LITERAL = lab'] },
      { rename: ['winlog:event_id', 'event_id'] },
    ]);
    const row = (await out.filter("event_id = '18'").toRows())[0]!;
    assert.equal(row.process_file_path, 'C:\\Windows\\PSEXESVC.exe');
    assert.equal(row.process_path, 'C:\\Windows\\PSEXESVC.exe');
    assert.equal(row.upper_path, 'C:\\WINDOWS\\PSEXESVC.EXE');
    assert.equal(row.spaced, 'c:\\windows\\psexesvc.exe');
    assert.equal(row.tag, 'lab');
  });

  it('replaces a raw column that has the same name as a target', async () => {
    const df = Frame.fromSql(session, `SELECT 'raw' AS user_name, 'CORP\\bob' AS "winlog:event_data:User"`);
    const out = await cimDataframe(df, [{ rename: ['winlog:event_data:User', 'user_name'] }]);
    assert.deepEqual(await out.toRows(), [{ user_name: 'CORP\\bob' }]);
  });

  it('quotes every identifier and literal', async () => {
    const df = Frame.fromSql(session, `SELECT 'x' AS "we""ird:col"`);
    const out = await cimDataframe(df, [
      { rename: ['we"ird:col', 'odd "name"'] },
      { new: ['quote', "LITERAL=it's"] },
    ]);
    assert.deepEqual(await out.toRows(), [{ 'odd "name"': 'x', quote: "it's" }]);
  });

  describe('errors name the entry', () => {
    const rejects = async (transforms: unknown[], index: number, pattern: RegExp): Promise<void> => {
      await assert.rejects(cimDataframe(flat, transforms as Transform[]), (err: unknown) => {
        assert.ok(err instanceof TransformError, `expected TransformError, got ${String(err)}`);
        assert.equal(err.index, index);
        assert.match(err.message, new RegExp(`transform #${index} `));
        assert.match(err.message, pattern);
        return true;
      });
    };
    const ok = { rename: ['winlog:event_id', 'event_id'] };

    it('unknown verb', () => rejects([ok, { drop: ['a', 'b'] }], 1, /unknown verb "drop"/));
    it('not a one-key object', () => rejects([{ new: ['a', 'LITERAL=x'], rename: ['b', 'c'] }], 0, /exactly one key/));
    it('not an object', () => rejects([ok, ['rename', 'a', 'b']], 1, /one-key object/));
    it('value not two strings', () => rejects([ok, { rename: ['a'] }], 1, /two strings/));
    it('value with a non-string', () => rejects([{ rename: ['a', 7] }], 0, /two strings/));
    it('new without EXPR= or LITERAL=', () => rejects([ok, { new: ['x', 'success'] }], 1, /EXPR=<sql> or LITERAL=<text>/));
    it('lowercase keyword (Spark would ignore it)', () => rejects([{ new: ['x', 'expr=1'] }], 0, /EXPR=<sql>/));
    it('empty EXPR', () => rejects([{ new: ['x', 'EXPR=  '] }], 0, /no SQL expression/));
    it('duplicate target', () => rejects([ok, { new: ['a', 'LITERAL=1'] }, { rename: ['dvc_hostname', 'A'] }], 2, /already made by transform #1/));
    it('SQL error in an EXPR, with DuckDB message', () =>
      rejects([ok, { new: ['good', 'EXPR=1'] }, { new: ['bad', 'EXPR=no_such_column + 1'] }], 2, /DuckDB rejected the expression: .*no_such_column/s));
    it('SQL syntax error in an EXPR', () => rejects([ok, { new: ['bad', 'EXPR=CASE WHEN'] }], 1, /DuckDB rejected the expression: .*syntax/is));
    it('empty list', async () => {
      await assert.rejects(cimDataframe(flat, []), /at least one transform/);
    });
  });
});
