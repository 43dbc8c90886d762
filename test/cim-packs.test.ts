import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { buildPacks, ossemDictionaryFor } from '../kernel-lib/src/cim/generate-packs.js';
import { ossemColumns, ossemFields, toSnakeCase } from '../kernel-lib/src/cim/ossem.js';
import {
  applyPack,
  checkPackAgainstOssem,
  formatPack,
  listPacks,
  loadPack,
  loadPacks,
  PACKS_DIR,
  savePack,
  validatePack,
  type MappingPack,
} from '../kernel-lib/src/cim/pack.js';
import { parseTransforms } from '../kernel-lib/src/cim/transform.js';
import { quoteIdent, quoteString } from '../kernel-lib/src/engine/quote.js';
import { Frame } from '../kernel-lib/src/frame/index.js';
import { SHARED_DATA, tempDir, testSession } from './helpers.js';

const OSSEM = path.join(SHARED_DATA, 'ossem');
const EXPECTED_PACKS = [
  'CreateRemoteThread', 'DNS', 'File', 'ImageLoad', 'Logon', 'Network', 'PowerShellScriptBlock', 'Process',
  'ProcessAccess', 'Registry', 'SecurityProcess', 'Service', 'WMI',
];
const targetsOf = (pack: MappingPack): string[] => parseTransforms(pack.transforms).map((s) => s.target);

describe('OSSEM-DD helpers', () => {
  it('snake_cases standard names as OSSEM columns', () => {
    assert.equal(toSnakeCase('ProcessCommandLine'), 'process_command_line');
    assert.equal(toSnakeCase('SrcIpAddr'), 'src_ip_addr');
    assert.equal(toSnakeCase('UserLogonId'), 'user_logon_id');
    assert.equal(toSnakeCase('SrcIpIsIpv6'), 'src_ip_is_ipv6');
    assert.equal(toSnakeCase('DNSResponseName'), 'dns_response_name');
    assert.equal(toSnakeCase('Tag'), 'tag');
  });

  it('reads the raw name → column pairs of a dictionary, TBD names left undefined', () => {
    const fields = ossemFields(path.join(OSSEM, 'sysmon', 'event-1.yml'));
    const byName = new Map(fields.map((f) => [f.name, f.column]));
    assert.equal(byName.get('CommandLine'), 'process_command_line');
    assert.equal(byName.get('ParentUser'), 'acting_user_name');
    assert.equal(byName.get('Hashes'), undefined);
    assert.ok(ossemColumns([path.join(OSSEM, 'sysmon', 'event-3.yml')]).has('src_ip_addr'));
  });
});

describe('mapping packs', () => {
  it('ships one pack per silver table', () => {
    assert.deepEqual(listPacks(), EXPECTED_PACKS);
  });

  it('every pack loads and validates, with partitions on _event_date', () => {
    const packs = loadPacks();
    assert.equal(packs.length, EXPECTED_PACKS.length);
    for (const pack of packs) {
      assert.deepEqual(pack.partitions, ['_event_date'], pack.table);
      for (const column of ['_sourcetype', '_event_time', '_event_date', 'dvc_hostname', 'event_id', 'event_message']) {
        assert.ok(targetsOf(pack).includes(column), `${pack.table} lacks ${column}`);
      }
    }
  });

  it('names only columns OSSEM-DD defines for its events, or deliberate extensions', () => {
    for (const pack of loadPacks()) {
      assert.deepEqual(checkPackAgainstOssem(pack, OSSEM), [], `${pack.table} names columns OSSEM-DD does not define`);
    }
  });

  it('the check catches a column that is neither OSSEM nor an extension', () => {
    const pack = loadPack('DNS');
    const edited = { ...pack, transforms: [...pack.transforms, { rename: ['winlog:event_data:QueryName', 'query_name'] as const }] };
    assert.deepEqual(checkPackAgainstOssem(edited, OSSEM), ['query_name']);
  });

  it('lists as extensions only columns that OSSEM-DD really lacks, each with a reason', () => {
    for (const pack of loadPacks()) {
      const defined = ossemColumns(pack.ossem.map((r) => path.join(OSSEM, r.dictionary)));
      for (const ext of pack.extensions) {
        assert.ok(!defined.has(ext.column), `${pack.table}: ${ext.column} is OSSEM-defined, not an extension`);
        assert.ok(ext.reason.length > 10, `${pack.table}: ${ext.column} needs a reason`);
      }
    }
  });

  it('references the OSSEM-DD dictionary of every event that has one', () => {
    for (const pack of loadPacks()) {
      for (const source of pack.sources) {
        for (const id of source.eventIds) {
          const dictionary = ossemDictionaryFor(OSSEM, source.sourcetype, id);
          if (dictionary) assert.ok(pack.ossem.some((r) => r.dictionary === dictionary && r.eventId === id), `${pack.table} ${id}`);
        }
      }
    }
    assert.equal(ossemDictionaryFor(OSSEM, 'Security', '4624'), 'security/event-4624_v2.yml');
    assert.equal(ossemDictionaryFor(OSSEM, 'System', '7045'), undefined);
  });

  it('the pack files are what the generator makes from OSSEM-DD (no hand edits drift)', () => {
    for (const pack of buildPacks(OSSEM)) {
      const onDisk = readFileSync(path.join(PACKS_DIR, `${pack.table}.json`), 'utf8');
      assert.equal(onDisk, formatPack(pack), `${pack.table}.json differs from the generator's output: regenerate it`);
    }
  });

  it('savePack writes a pack that loadPack reads back', () => {
    const dir = tempDir();
    const pack = { ...loadPack('Process'), table: 'MyProcess', description: 'a prototype' };
    const file = savePack(pack, dir);
    assert.equal(file, path.join(dir, 'MyProcess.json'));
    assert.deepEqual(loadPack('MyProcess', dir), pack);
    assert.deepEqual(listPacks(dir), ['MyProcess']);
    assert.throws(() => loadPack('Nope', dir), /no mapping pack "Nope".*available: MyProcess/);
  });

  describe('validatePack errors', () => {
    const base = (): Record<string, unknown> => JSON.parse(JSON.stringify(loadPack('DNS'))) as Record<string, unknown>;
    const fails = (edit: (p: Record<string, unknown>) => void, pattern: RegExp): void => {
      const pack = base();
      edit(pack);
      assert.throws(() => validatePack(pack), pattern);
    };
    it('unknown key', () => fails((p) => (p.zorderBy = []), /mapping pack "DNS": unknown key\(s\) zorderBy/));
    it('missing key', () => fails((p) => delete p.sources, /missing sources/));
    it('bad event id', () => fails((p) => (p.sources = [{ sourcetype: 'x', eventIds: [22] }]), /eventIds must be/));
    it('layout column not made', () => fails((p) => (p.bloom = ['nope']), /bloom names column\(s\) the transforms do not make: nope/));
    it('bad transform, with its index', () =>
      fails((p) => (p.transforms as unknown[]).push({ new: ['x', 'oops'] }), /transform #18 .*EXPR=<sql> or LITERAL=<text>/));
    it('pipeline column dropped', () =>
      fails((p) => (p.transforms = (p.transforms as { rename?: string[] }[]).filter((t) => t.rename?.[0] !== '_event_date')), /must keep _event_date/));
    it('extension without reason', () => fails((p) => (p.extensions = [{ column: 'event_id', reason: ' ' }]), /extensions\[0\]/));
    it('ossem path escaping the folder', () => fails((p) => (p.ossem = [{ dictionary: '../x.yml', eventId: '22' }]), /inside the OSSEM-DD folder/));
  });
});

const session = await testSession();

describe('applyPack on a synthetic flattened batch', () => {
  let flat: Frame;
  const packs = loadPacks();
  // Every raw column any pack reads, except ProcessName, which the batch never carries.
  const rawColumns = [...new Set(packs.flatMap((p) => parseTransforms(p.transforms).flatMap((s) => (s.verb === 'rename' ? [s.source] : []))))]
    .filter((c) => !['_sourcetype', '_event_time', '_event_date', 'winlog:event_id', 'winlog:event_data:ProcessName'].includes(c))
    .sort();
  const events = [
    ...packs.flatMap((p) => p.sources.flatMap((s) => s.eventIds.map((id) => [s.sourcetype, id] as const))),
    // Noise that no pack takes: wrong channel for the id, or an id no pack maps.
    ['System', '4'] as const,
    ['Microsoft-Windows-Sysmon/Operational', '7045'] as const,
    ['Microsoft-Windows-Sysmon/Operational', '2'] as const,
  ];
  const valueOf = (column: string, id: string): string => `${column.slice(column.lastIndexOf(':') + 1)}@${id}`;

  before(() => {
    const rows = events.map(([sourcetype, id]) =>
      [quoteString(sourcetype), "TIMESTAMPTZ '2024-05-01 10:00:00+00'", "DATE '2024-05-01'", quoteString(id), ...rawColumns.map((c) => quoteString(valueOf(c, id)))].join(', '),
    );
    const names = ['_sourcetype', '_event_time', '_event_date', 'winlog:event_id', ...rawColumns].map(quoteIdent).join(', ');
    flat = Frame.fromSql(session, `SELECT * FROM (VALUES (${rows.join('), (')})) AS t(${names})`);
  });

  it('gives each pack its columns, sorted, for its events only', async () => {
    for (const pack of packs) {
      const out = await applyPack(flat, pack);
      assert.deepEqual(await out.columns(), targetsOf(pack).sort(), pack.table);
      const rows = await out.toRows();
      const expected = pack.sources.flatMap((s) => s.eventIds.map((id) => `${s.sourcetype}|${id}`)).sort();
      assert.deepEqual(rows.map((r) => `${String(r._sourcetype)}|${String(r.event_id)}`).sort(), expected, pack.table);
      for (const row of rows) {
        const id = String(row.event_id);
        assert.equal(typeof row.event_message, 'string', `${pack.table} ${id} event_message`);
        for (const step of parseTransforms(pack.transforms)) {
          if (step.verb !== 'rename' || !rawColumns.includes(step.source)) continue;
          assert.equal(row[step.target], valueOf(step.source, id), `${pack.table} ${id} ${step.target}`);
        }
      }
    }
  });

  it('makes absent raw fields NULL, and derives Process process_name from Image when ProcessName is absent', async () => {
    const rows = await (await applyPack(flat, 'Process')).toRows();
    assert.equal(rows.length, 4); // Sysmon 1, 5, 17, 18
    for (const row of rows) {
      assert.equal(row.process_name_raw, null);
      assert.equal(row.process_name, `Image@${String(row.event_id)}`);
    }
  });

  it('Process process_name: ProcessName when present, else the file name of Image (either slash)', async () => {
    const batch = Frame.fromSql(
      session,
      `SELECT * FROM (VALUES
        ('1', 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe', NULL),
        ('5', '/usr/bin/pwsh', NULL),
        ('18', 'C:\\Windows\\PSEXESVC.exe', 'psexesvc'),
        ('1', NULL, NULL),
        ('1', 'C:\\dir\\', NULL)
      ) AS t(id, image, pname)`,
    ).selectExpr(
      "'Microsoft-Windows-Sysmon/Operational' AS _sourcetype",
      'NULL::TIMESTAMPTZ AS _event_time',
      'NULL::DATE AS _event_date',
      'NULL::VARCHAR AS dvc_hostname',
      'id AS "winlog:event_id"',
      'image AS "winlog:event_data:Image"',
      'pname AS "winlog:event_data:ProcessName"',
    );
    const rows = await (await applyPack(batch, 'Process')).toRows();
    assert.deepEqual(
      rows.map((r) => r.process_name),
      ['powershell.exe', 'pwsh', 'psexesvc', null, null],
    );
  });

  it('fills an event-dependent column from the right raw field per event (Logon user_name)', async () => {
    const rows = await (await applyPack(flat, 'Logon')).orderBy('event_id').toRows();
    assert.deepEqual(
      rows.map((r) => [r.event_id, r.user_name, r.user_logon_id]),
      [
        ['4624', 'TargetUserName@4624', 'TargetLogonId@4624'],
        ['4625', 'TargetUserName@4625', null],
        ['4672', 'SubjectUserName@4672', 'SubjectLogonId@4672'],
      ],
    );
  });

  it('takes System 7045 into Service, but not a Sysmon 7045', async () => {
    const rows = await (await applyPack(flat, 'Service')).toRows();
    assert.deepEqual(rows.map((r) => `${String(r._sourcetype)}|${String(r.event_id)}`).sort(), [
      'Microsoft-Windows-Sysmon/Operational|4',
      'Microsoft-Windows-Sysmon/Operational|6',
      'System|7045',
    ]);
    const installed = rows.find((r) => r.event_id === '7045')!;
    assert.equal(installed.service_name, 'ServiceName@7045');
    assert.equal(installed.event_message, 'A service was installed in the system');
  });

  it('refuses a frame that is not a flattened bronze frame', async () => {
    await assert.rejects(applyPack(Frame.fromSql(session, 'SELECT 1 AS x'), 'DNS'), /needs a flattened bronze frame; it has no _sourcetype or winlog:event_id/);
  });
});
