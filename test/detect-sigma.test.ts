/**
 * Sigma → DuckDB SQL: each modifier and condition form compiled and run over small hand-built
 * silver-like tables, the errors for what cannot be compiled exactly, and the lakehouse run with
 * gold alerts written exactly once.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { quoteIdent, sqlLiteral } from '../kernel-lib/src/engine/quote.js';
import { Frame } from '../kernel-lib/src/frame/index.js';
import {
  checkRules,
  compileRule,
  compileSigma,
  parseSigmaRule,
  runSigmaRules,
  sigmaFieldMap,
  SigmaError,
  writeAlerts,
  type CompiledRule,
  type SigmaRule,
} from '../kernel-lib/src/detect/index.js';
import { loadPack } from '../kernel-lib/src/cim/pack.js';
import { loadEventFiles } from '../kernel-lib/src/lakehouse/load-files.js';
import { Catalog } from '../kernel-lib/src/lakehouse/catalog.js';
import { readTable, writeTableBatch } from '../kernel-lib/src/lakehouse/tables.js';
import { SHARED_DATA, tempDir, testSession } from './helpers.js';

const session = await testSession();

/** A rule's YAML around a detection block (indented by 4 under `detection:`). */
function ruleYaml(detection: string, category = 'process_creation', extra = ''): string {
  return [
    'title: Test rule',
    'id: 00000000-0000-4000-8000-000000000001',
    'status: test',
    'author: winlake tests',
    'references:',
    '    - https://example.org/rule',
    'level: high',
    'tags:',
    '    - attack.execution',
    'logsource:',
    `    category: ${category}`,
    '    product: windows',
    'detection:',
    detection.replace(/^\n/, '').replace(/\s+$/, ''),
    extra,
  ].join('\n');
}

type Row = Record<string, string | null>;
let tableCounter = 0;

/** Compiles the rule, loads the rows into a table with every column it needs, returns matching row numbers. */
async function matching(detection: string, rows: Row[], category = 'process_creation', lenient = false): Promise<{ ids: number[]; compiled: CompiledRule }> {
  const compiled = compileRule(parseSigmaRule(ruleYaml(detection, category)), sigmaFieldMap(), { lenient });
  const eventId = sigmaFieldMap().categories[category]!.eventIds[0]!;
  const columns = new Set<string>(['event_id', ...Object.values(sigmaFieldMap().categories[category]!.fields)]);
  for (const c of Object.values(compiled.fields)) if (c) columns.add(c);
  for (const r of rows) for (const k of Object.keys(r)) columns.add(k);
  const cols = [...columns];
  const table = `t_${++tableCounter}`;
  const values = rows.map((r, i) => `(${i}, ${cols.map((c) => (c === 'event_id' && !('event_id' in r) ? sqlLiteral(eventId) : `CAST(${sqlLiteral(r[c] ?? null)} AS VARCHAR)`)).join(', ')})`);
  await session.run(`CREATE TEMP TABLE ${table} AS SELECT * FROM (VALUES ${values.join(', ')}) AS v(id, ${cols.map(quoteIdent).join(', ')})`);
  const found = await session.rows<{ id: number }>(`SELECT id FROM ${table} WHERE ${compiled.sql} ORDER BY id`);
  return { ids: found.map((r) => Number(r.id)), compiled };
}

async function ids(detection: string, rows: Row[], category?: string, lenient?: boolean): Promise<number[]> {
  return (await matching(detection, rows, category, lenient)).ids;
}

function compileError(detection: string, category?: string): SigmaError {
  try {
    compileRule(parseSigmaRule(ruleYaml(detection, category)));
  } catch (err) {
    assert.ok(err instanceof SigmaError, `expected a SigmaError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the rule not to compile');
}

describe('parseSigmaRule', () => {
  it('reads the metadata, keeps numbers as written text and reads null', () => {
    const rule = parseSigmaRule(
      ruleYaml(`
    selection:
        GrantedAccess: 0x1410
        DestinationPort: 0445
        ParentImage: null
    condition: selection`),
    );
    assert.equal(rule.title, 'Test rule');
    assert.equal(rule.author, 'winlake tests');
    assert.deepEqual(rule.references, ['https://example.org/rule']);
    assert.deepEqual(rule.tags, ['attack.execution']);
    assert.equal(rule.level, 'high');
    assert.deepEqual(rule.logsource, { category: 'process_creation', product: 'windows' });
    const sel = rule.searches.get('selection');
    assert.equal(sel?.kind, 'map');
    assert.deepEqual(
      sel.kind === 'map' && sel.fields.map((f) => f.values[0]),
      ['0x1410', '0445', null],
    );
  });

  it('names the rule and the problem when a rule is malformed', () => {
    assert.throws(() => parseSigmaRule('title: x\nid: y\nlogsource: {category: process_creation}\ndetection:\n    sel: {a: 1}\n'), /Sigma rule x \(y\): condition: detection has no condition/);
    assert.throws(() => parseSigmaRule('title: [unclosed'), /YAML/);
    assert.throws(() => parseSigmaRule(ruleYaml('    selection:\n        Image: a\n    timeframe: 5m\n    condition: selection')), /timeframe/);
    assert.throws(() => parseSigmaRule(`${ruleYaml('    s:\n        Image: a\n    condition: s')}\n---\ntitle: second\n`), /rule collections/);
  });
});

describe('values: wildcards, escapes and case', () => {
  it('matches case-insensitively with * and ? wildcards', async () => {
    const rows = [{ process_file_path: 'C:\\Windows\\System32\\CMD.EXE' }, { process_file_path: 'C:\\Windows\\cmd.exe' }, { process_file_path: 'C:\\Tools\\cmd.exe' }, { process_file_path: 'C:\\Windows\\System32\\cmdx.exe' }];
    // `\\*` is a backslash then a wildcard (`\*` alone would be a literal star)
    assert.deepEqual(await ids("    selection:\n        Image: 'c:\\windows\\\\*\\cmd.exe'\n    condition: selection", rows), [0]);
    assert.deepEqual(await ids("    selection:\n        Image: 'c:\\windows\\*\\cmd.exe'\n    condition: selection", rows), []);
    assert.deepEqual(await ids("    selection:\n        Image: 'C:\\Windows\\\\????????\\cmd.exe'\n    condition: selection", rows), [0]);
    assert.deepEqual(await ids("    selection:\n        Image|endswith: '\\cmd.exe'\n    condition: selection", rows), [0, 1, 2]);
    assert.deepEqual(await ids("    selection:\n        Image|startswith: 'C:\\Windows\\'\n    condition: selection", rows), [0, 1, 3]);
  });

  it('treats \\*, \\? and \\\\ as literal characters, other backslashes as themselves', async () => {
    const rows = [{ process_command_line: 'echo a*b' }, { process_command_line: 'echo axxb' }, { process_command_line: 'x\\abc' }, { process_command_line: 'xabc' }, { process_command_line: 'what?' }, { process_command_line: 'whatx' }];
    assert.deepEqual(await ids("    selection:\n        CommandLine|contains: 'a\\*b'\n    condition: selection", rows), [0]);
    assert.deepEqual(await ids("    selection:\n        CommandLine|startswith: 'x\\\\a'\n    condition: selection", rows), [2]);
    assert.deepEqual(await ids("    selection:\n        CommandLine: 'what\\?'\n    condition: selection", rows), [4]);
    assert.deepEqual(await ids("    selection:\n        CommandLine: 'what?'\n    condition: selection", rows), [4, 5]);
  });

  it('never lets % or _ in a value act as a LIKE wildcard', async () => {
    const rows = [{ process_command_line: 'get 50%_off now' }, { process_command_line: 'get 50xyoff now' }, { process_command_line: 'get 50%_offs' }];
    assert.deepEqual(await ids("    selection:\n        CommandLine: '*50%_off ?ow'\n    condition: selection", rows), [0]);
    assert.deepEqual(await ids("    selection:\n        CommandLine|contains: '%_off'\n    condition: selection", rows), [0, 2]);
  });

  it('cased compares exactly; plain values and lists are case-insensitive', async () => {
    const rows = [{ process_command_line: 'Invoke-Mimikatz' }, { process_command_line: 'invoke-mimikatz' }];
    assert.deepEqual(await ids("    selection:\n        CommandLine|cased: 'Invoke-Mimikatz'\n    condition: selection", rows), [0]);
    assert.deepEqual(await ids("    selection:\n        CommandLine|contains|cased: 'mimikatz'\n    condition: selection", rows), [1]);
    assert.deepEqual(await ids("    selection:\n        CommandLine:\n            - 'INVOKE-MIMIKATZ'\n            - 'other'\n    condition: selection", rows), [0, 1]);
  });

  it('null matches an absent value, and an empty string only the empty string', async () => {
    const rows = [{ process_parent_file_path: null }, { process_parent_file_path: '' }, { process_parent_file_path: 'C:\\x.exe' }];
    assert.deepEqual(await ids('    selection:\n        ParentImage: null\n    condition: selection', rows), [0]);
    assert.deepEqual(await ids("    selection:\n        ParentImage: ''\n    condition: selection", rows), [1]);
    assert.deepEqual(await ids("    selection:\n        Image|endswith: '.exe'\n    filter:\n        ParentImage: null\n    condition: not filter", rows), [1, 2]);
  });
});

describe('modifiers', () => {
  it('|contains|all needs every value, plain |contains any', async () => {
    const rows = [{ process_command_line: 'powershell -nop -w hidden -enc AAA' }, { process_command_line: 'powershell -nop' }, { process_command_line: 'cmd /c hidden' }];
    assert.deepEqual(await ids("    selection:\n        CommandLine|contains|all:\n            - ' -nop'\n            - 'hidden'\n    condition: selection", rows), [0]);
    assert.deepEqual(await ids("    selection:\n        CommandLine|contains:\n            - ' -nop'\n            - 'hidden'\n    condition: selection", rows), [0, 1, 2]);
  });

  it('|windash matches -, /, en dash, em dash and horizontal bar at the start of a switch', async () => {
    const rows = ['net user -add', 'net user /add', 'net user \u2013add', 'net user \u2014add', 'net user \u2015add', 'net user add', 'net user x-add'].map((c) => ({ process_command_line: c }));
    const { ids: found, compiled } = await matching("    selection:\n        CommandLine|windash|contains: ' -add'\n    condition: selection", rows);
    assert.deepEqual(found, [0, 1, 2, 3, 4]);
    assert.match(compiled.sql, / \/add/);
    // a dash inside a word is not a switch: 'x-add' stays as written
    assert.deepEqual(await ids("    selection:\n        CommandLine|contains|windash: 'x-add'\n    condition: selection", rows), [6]);
  });

  it('|re is case-sensitive and unanchored; |re|i, |re|m and |re|s set the flags', async () => {
    const rows = [{ process_command_line: 'IEX (New-Object Net.WebClient)' }, { process_command_line: 'iex (new-object net.webclient)' }, { process_command_line: 'line1\nIEX two' }];
    assert.deepEqual(await ids("    selection:\n        CommandLine|re: 'IEX \\(New-Object'\n    condition: selection", rows), [0]);
    assert.deepEqual(await ids("    selection:\n        CommandLine|re|i: 'iex \\(new-object'\n    condition: selection", rows), [0, 1]);
    assert.deepEqual(await ids("    selection:\n        CommandLine|re: '^IEX'\n    condition: selection", rows), [0]);
    assert.deepEqual(await ids("    selection:\n        CommandLine|re|m: '^IEX'\n    condition: selection", rows), [0, 2]);
    assert.deepEqual(await ids("    selection:\n        CommandLine|re: 'line1.IEX'\n    condition: selection", rows), []);
    assert.deepEqual(await ids("    selection:\n        CommandLine|re|s: 'line1.IEX'\n    condition: selection", rows), [2]);
  });

  it('|base64offset|contains finds a string at any of the three base64 alignments', async () => {
    const b64 = (s: string): string => Buffer.from(s).toString('base64');
    const rows = [`cmd ${b64('http://evil')}`, `cmd ${b64('a http://evil')}`, `cmd ${b64('ab http://evil')}`, `cmd ${b64('nothing here')}`].map((c) => ({ process_command_line: c }));
    assert.deepEqual(await ids("    selection:\n        CommandLine|base64offset|contains: 'http://'\n    condition: selection", rows), [0, 1, 2]);
    // plain base64 (with its padding) only finds text that starts at a multiple of 3 bytes ('ab ' + ...)
    assert.deepEqual(await ids("    selection:\n        CommandLine|base64|contains: 'http://ev'\n    condition: selection", rows), [0, 2]);
  });

  it('|utf16le|base64offset|contains and |wide find PowerShell -EncodedCommand text', async () => {
    const enc = (s: string): string => Buffer.from(s, 'utf16le').toString('base64');
    const rows = [`powershell -enc ${enc('IEX (iwr http://x)')}`, `powershell -enc ${enc('x; Invoke-Expression $a')}`, `powershell -enc ${enc('Get-Date')}`].map((c) => ({ process_command_line: c }));
    assert.deepEqual(await ids("    selection:\n        CommandLine|utf16le|base64offset|contains:\n            - 'IEX ('\n            - 'Invoke-Expression'\n    condition: selection", rows), [0, 1]);
    assert.deepEqual(await ids("    selection:\n        CommandLine|wide|base64offset|contains: 'Invoke-Expression'\n    condition: selection", rows), [1]);
    const be = Buffer.from('Get-Date', 'utf16le').swap16().toString('base64');
    assert.deepEqual(await ids("    selection:\n        CommandLine|utf16be|base64|contains: 'Get-Date'\n    condition: selection", [{ process_command_line: `x ${be} y` }]), [0]);
  });

  it('|cidr matches IPv4 and IPv6 networks, and nothing that is not an address', async () => {
    const rows = ['10.1.2.3', '192.168.1.20', '172.31.255.255', '172.32.0.1', '8.8.8.8', '::1', '0:0:0:0:0:0:0:1', 'fe80::1c2:3%12', 'febf:ffff::1', 'fec0::1', '2001:db8::1', 'not-an-ip', '10.1.2.300', null].map((ip) => ({ dst_ip_addr: ip }));
    const detection = "    selection:\n        DestinationIp|cidr:\n            - '10.0.0.0/8'\n            - '172.16.0.0/12'\n            - '192.168.0.0/16'\n            - '::1/128'\n            - 'fe80::/10'\n    condition: selection";
    assert.deepEqual(await ids(detection, rows, 'network_connection'), [0, 1, 2, 5, 6, 7, 8]);
    const notPrivate = "    selection:\n        Image|endswith: '.exe'\n    filter:\n        DestinationIp|cidr: '10.0.0.0/8'\n    condition: selection and not filter";
    assert.deepEqual(await ids(notPrivate, rows.map((r) => ({ ...r, process_file_path: 'a.exe' })), 'network_connection'), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
  });

  it('|exists tests presence, also of fields the table does not have', async () => {
    const rows = [{ file_name_original: 'cmd.exe' }, { file_name_original: null }];
    assert.deepEqual(await ids('    selection:\n        OriginalFileName|exists: true\n    condition: selection', rows), [0]);
    assert.deepEqual(await ids('    selection:\n        OriginalFileName|exists: false\n    condition: selection', rows), [1]);
    assert.deepEqual(await ids('    selection:\n        NoSuchField|exists: false\n    condition: selection', rows, undefined, true), [0, 1]);
    assert.deepEqual(await ids('    selection:\n        NoSuchField|exists: true\n    condition: selection', rows, undefined, true), []);
  });

  it('|lt, |lte, |gt, |gte compare numbers; text that is no number never matches', async () => {
    const rows = ['80', '443', '1024', '49152', 'http', null].map((p) => ({ dst_port_number: p }));
    assert.deepEqual(await ids('    selection:\n        DestinationPort|lt: 1024\n    condition: selection', rows, 'network_connection'), [0, 1]);
    assert.deepEqual(await ids('    selection:\n        DestinationPort|lte: 1024\n    condition: selection', rows, 'network_connection'), [0, 1, 2]);
    assert.deepEqual(await ids('    selection:\n        DestinationPort|gt: 1024\n    condition: selection', rows, 'network_connection'), [3]);
    assert.deepEqual(await ids('    selection:\n        DestinationPort|gte: 1024\n    condition: selection', rows, 'network_connection'), [2, 3]);
  });

  it('|fieldref compares two fields case-insensitively', async () => {
    const rows = [
      { user_name: 'CORP\\alice', acting_user_name: 'corp\\Alice' },
      { user_name: 'CORP\\alice', acting_user_name: 'NT AUTHORITY\\SYSTEM' },
      { user_name: null, acting_user_name: null },
    ];
    assert.deepEqual(await ids('    selection:\n        User|fieldref: ParentUser\n    condition: selection', rows), [0]);
    assert.deepEqual(await ids("    selection:\n        Image|exists: false\n    filter:\n        User|fieldref: ParentUser\n    condition: selection and not filter", rows), [1, 2]);
  });

  it('EventID maps to event_id, and a list of keywords searches every mapped text column', async () => {
    const rows = [
      { event_id: '12', registry_key_path: 'HKLM\\Software\\Evil', process_file_path: 'a.exe' },
      { event_id: '13', registry_key_path: 'HKLM\\Software\\Evil', process_file_path: 'a.exe' },
      { event_id: '13', registry_key_path: 'HKLM\\Software\\Good', process_file_path: 'mimikatz.exe' },
    ];
    assert.deepEqual(await ids("    selection:\n        EventID: 13\n        TargetObject|contains: 'evil'\n    condition: selection", rows, 'registry_event'), [1]);
    assert.deepEqual(await ids("    keywords:\n        - 'MIMIKATZ'\n        - 'software\\evil'\n    condition: keywords", rows, 'registry_event'), [0, 1, 2]);
  });
});

describe('conditions', () => {
  const rows = [
    { process_file_path: 'C:\\Windows\\System32\\rundll32.exe', process_command_line: 'rundll32 evil.dll,Start', process_parent_file_path: 'C:\\Windows\\explorer.exe' },
    { process_file_path: 'C:\\Windows\\System32\\rundll32.exe', process_command_line: 'rundll32 shell32.dll,Control_RunDLL', process_parent_file_path: 'C:\\Windows\\explorer.exe' },
    { process_file_path: 'C:\\Windows\\System32\\cmd.exe', process_command_line: 'cmd /c whoami', process_parent_file_path: 'C:\\Windows\\System32\\rundll32.exe' },
  ];
  const searches = `
    selection_img:
        Image|endswith: '\\rundll32.exe'
    selection_cli:
        CommandLine|contains: ','
    filter_main_shell32:
        CommandLine|contains: 'shell32.dll'
    filter_optional_control:
        CommandLine|contains: 'Control_RunDLL'
    _helper_parent:
        ParentImage|endswith: '\\rundll32.exe'`;

  const cases: [string, number[]][] = [
    ['all of selection_*', [0, 1]],
    ['1 of selection_*', [0, 1]],
    ['all of selection_* and not 1 of filter_main_*', [0]],
    ['all of selection_* and not 1 of filter_main_* and not 1 of filter_optional_*', [0]],
    ['selection_img and not (filter_main_shell32 or filter_optional_control)', [0]],
    ['not selection_img', [2]],
    ['1 of them', [0, 1]],
    ['_helper_parent or selection_img and selection_cli', [0, 1, 2]],
    ['(_helper_parent or selection_img) and not selection_cli', [2]],
    // _helper_parent is left out of `them`; row 1 satisfies all the others
    ['all of them', [1]],
    ['not not selection_img', [0, 1]],
  ];
  for (const [condition, expected] of cases) {
    it(condition, async () => {
      assert.deepEqual(await ids(`${searches}\n    condition: ${condition}`, rows), expected);
    });
  }

  it('a list of maps is an OR of ANDs, and a list of conditions is an OR', async () => {
    const detection = `
    selection:
        - Image|endswith: '\\cmd.exe'
          CommandLine|contains: 'whoami'
        - CommandLine|contains: 'evil'
    other:
        Image|endswith: '\\nothing.exe'
    condition:
        - selection
        - other`;
    assert.deepEqual(await ids(detection, rows), [0, 2]);
  });
});

describe('absent fields', () => {
  it('refuse the rule, naming every such field, unless lenient', () => {
    const detection = "    selection:\n        TargetFilename|endswith: '.dll'\n        ParentImage: 'x'\n    filter:\n        CommandLine|contains: 'x'\n    condition: selection and not filter";
    const err = compileError(detection, 'file_event');
    assert.equal(err.construct, 'fields');
    assert.match(err.message, /fields ParentImage, CommandLine are not mapped for file_event \(table File\)/);
  });

  it('in lenient mode never match, also under not, and are reported as warnings', async () => {
    const detection = "    selection:\n        TargetFilename|endswith: '.dll'\n    filter:\n        CommandLine|contains: 'x'\n    condition: selection and not filter";
    const { ids: found, compiled } = await matching(detection, [{ file_name: 'C:\\a.dll' }, { file_name: 'C:\\a.txt' }], 'file_event', true);
    assert.deepEqual(found, [0]);
    assert.equal(compiled.table, 'File');
    assert.deepEqual(compiled.eventIds, ['11']);
    assert.equal(compiled.fields.CommandLine, null);
    assert.match(compiled.warnings.join('\n'), /field CommandLine is not mapped for file_event \(table File\)/);
  });

  it('a column the real table lacks (schema given) counts as absent; a non-text column is cast', () => {
    const rule = parseSigmaRule(ruleYaml("    selection:\n        Image|endswith: '.exe'\n    pid:\n        ProcessId: 4\n    condition: selection or pid"));
    const c = compileRule(rule, sigmaFieldMap(), { columns: { event_id: 'VARCHAR', process_id: 'BIGINT' } });
    assert.equal(c.fields.Image, null);
    assert.match(c.sql, /CAST\("process_id" AS VARCHAR\)/);
    assert.match(c.warnings.join('\n'), /Image maps to process_file_path, which table Process does not have/);
  });

  it('pipe_created reads Sysmon 17 and 18, both loaded by the Process pack', () => {
    const c = compileRule(parseSigmaRule(ruleYaml("    selection:\n        PipeName|startswith: '\\psexesvc'\n    condition: selection", 'pipe_created')));
    assert.equal(c.table, 'Process');
    assert.deepEqual(c.eventIds, ['17', '18']);
    assert.deepEqual(c.warnings, []);
    assert.deepEqual(loadPack('Process').sources[0]!.eventIds, ['1', '5', '17', '18']);
  });
});

describe('clear errors for what cannot be compiled exactly', () => {
  const cases: [string, string, RegExp, string?][] = [
    ['unknown modifier', "    s:\n        Image|sortof: 'x'\n    condition: s", /field Image\|sortof: unknown modifier "sortof"/],
    ['expand', "    s:\n        Image|expand: '%x%'\n    condition: s", /expand modifier \(placeholders\) is not supported/],
    ['re with contains', "    s:\n        Image|re|contains: 'x'\n    condition: s", /re cannot be combined with contains/],
    ['two kinds', "    s:\n        Image|re|cidr: 'x'\n    condition: s", /modifiers re and cidr cannot be combined/],
    ['i without re', "    s:\n        Image|contains|i: 'x'\n    condition: s", /need the re modifier/],
    ['lookahead', "    s:\n        Image|re: 'a(?=b)'\n    condition: s", /lookaround .* DuckDB \(RE2\) does not support/],
    ['backreference', "    s:\n        Image|re: '(a)\\1'\n    condition: s", /backreferences/],
    ['utf16 without base64', "    s:\n        Image|utf16le|contains: 'x'\n    condition: s", /contains cannot follow a utf16 modifier/],
    ['utf16 alone', "    s:\n        Image|wide: 'x'\n    condition: s", /wide yields bytes: follow it with base64/],
    ['base64 of a wildcard', "    s:\n        Image|contains|base64: 'x'\n    condition: s", /base64 cannot encode wildcards/],
    ['exists not boolean', "    s:\n        Image|exists: 'yes'\n    condition: s", /exists needs true or false/],
    ['lt not a number', "    s:\n        Image|lt: 'ten'\n    condition: s", /lt needs a number/],
    ['bad cidr', "    s:\n        Image|cidr: '10.0.0.0/33'\n    condition: s", /not an IPv4 CIDR network/],
    ['null with modifiers', '    s:\n        Image|contains: null\n    condition: s', /null cannot take modifiers/],
    ['unknown search', "    s:\n        Image: 'x'\n    condition: s and t", /unknown search "t"/],
    ['quantifier selecting nothing', "    s:\n        Image: 'x'\n    condition: 1 of filter_*", /selects no search/],
    ['2 of', "    s:\n        Image: 'x'\n    condition: 2 of s*", /`2 of` is not supported/],
    ['aggregation', "    s:\n        Image: 'x'\n    condition: s | count() by Image > 5", /aggregations/],
    ['syntax', "    s:\n        Image: 'x'\n    condition: (s and s", /missing \)/],
    ['trailing token', "    s:\n        Image: 'x'\n    condition: s s", /unexpected "s" after a complete condition/],
    ['category', "    s:\n        Image: 'x'\n    condition: s", /category no_such_category is not supported/, 'no_such_category'],
  ];
  for (const [name, detection, message, category] of cases) {
    it(name, () => {
      const err = compileError(detection, category);
      assert.match(err.message, /^Sigma rule Test rule \(00000000-0000-4000-8000-000000000001\): /);
      assert.match(err.message, message);
    });
  }
});

describe('runSigmaRules and writeAlerts over a lakehouse', () => {
  const rules = [
    parseSigmaRule(ruleYaml("    selection:\n        Image|endswith: '\\whoami.exe'\n    condition: selection").replace('Test rule', 'Whoami')),
    parseSigmaRule(
      ruleYaml("    selection:\n        CommandLine|contains: 'evil'\n    condition: selection")
        .replace('Test rule', 'Evil')
        .replace('-000000000001', '-000000000002'),
    ),
    parseSigmaRule(
      ruleYaml("    selection:\n        QueryName|endswith: '.onion'\n    condition: selection", 'dns_query')
        .replace('Test rule', 'Onion')
        .replace('-000000000001', '-000000000003'),
    ),
  ];

  async function silverProcess(catalog: Catalog, rows: [string, string, string, string][]): Promise<void> {
    const values = rows.map(([time, id, image, cli]) => `(TIMESTAMPTZ '${time}', '${id}', 'wks1', ${sqlLiteral(image)}, ${sqlLiteral(cli)})`);
    const frame = Frame.fromSql(
      session,
      `SELECT _event_time, CAST(_event_time AS DATE) AS _event_date, event_id, dvc_hostname, process_file_path, process_command_line FROM (VALUES ${values.join(', ')}) AS v(_event_time, event_id, dvc_hostname, process_file_path, process_command_line)`,
    );
    await writeTableBatch(frame, 'Process', 'silver', ['_event_date'], { catalog, session });
  }

  it('counts matches per rule, samples them, and reports a missing table', async () => {
    const catalog = new Catalog(tempDir());
    await silverProcess(catalog, [
      ['2026-01-05T10:00:00Z', '1', 'C:\\Windows\\System32\\whoami.exe', 'whoami /all'],
      ['2026-01-05T11:00:00Z', '1', 'C:\\Windows\\System32\\cmd.exe', 'cmd /c evil'],
      ['2026-01-05T12:00:00Z', '5', 'C:\\Windows\\System32\\whoami.exe', null as unknown as string],
    ]);
    const results = await runSigmaRules(rules, { catalog, session, sample: 2, countBy: 'dvc_hostname' });
    assert.deepEqual(
      results.map((r) => [r.rule.title, r.table, r.matches]),
      [
        ['Whoami', 'Process', 1],
        ['Evil', 'Process', 1],
        ['Onion', 'DNS', 0],
      ],
    );
    assert.deepEqual(results[0]!.matchesBy, { wks1: 1 });
    assert.equal(results[0]!.sample?.[0]?.process_command_line, 'whoami /all');
    assert.match(results[2]!.error ?? '', /table DNS is not in the lakehouse/);
    // the silver table lacks most Process columns: the compile used its real schema
    assert.equal(results[0]!.warnings.length, 0);
  });

  it('counts repeated events once per distinct row, weighted: the same counts as a WHERE per rule, also for not over NULL and long value lists', async () => {
    const catalog = new Catalog(tempDir());
    const at = (i: number): string => `2026-01-05T10:${String(i % 60).padStart(2, '0')}:00Z`;
    const events: [string, string, string, string][] = [];
    for (let i = 0; i < 7; i++) events.push([at(i), '1', 'C:\\Windows\\System32\\cmd.exe', 'cmd /c EVIL.bat']);
    for (let i = 0; i < 3; i++) events.push([at(i), '1', 'C:\\Windows\\System32\\cmd.exe', null as unknown as string]);
    for (let i = 0; i < 2; i++) events.push([at(i), '1', 'C:\\Windows\\System32\\cmd.exe', 'cmd /c safe evil']);
    for (let i = 0; i < 4; i++) events.push([at(i), '1', 'C:\\Tools\\Tool17.EXE', 'WHOAMI /ALL']);
    for (let i = 0; i < 5; i++) events.push([at(i), '5', 'C:\\Windows\\System32\\cmd.exe', 'cmd /c evil.bat']);
    await silverProcess(catalog, events);
    const many = Array.from({ length: 40 }, (_, i) => `\\tool${i}.exe`);
    const yaml = (detection: string, n: number): SigmaRule => parseSigmaRule(ruleYaml(detection).replace('-000000000001', `-0000000001${n}0`));
    const pack = [
      // not over a NULL command line matches (Sigma: the field does not contain 'safe')
      yaml("    selection:\n        Image|endswith: '\\cmd.exe'\n    filter:\n        CommandLine|contains: 'safe'\n    condition: selection and not filter", 1),
      // 40 endswith values: one regular expression, still case-insensitive
      yaml(`    selection:\n        Image|endswith:\n${many.map((v) => `            - '${v}'`).join('\n')}\n    condition: selection`, 2),
      // a long exact list with a wildcard among the values: one IN list plus the pattern
      yaml(`    selection:\n        CommandLine:\n${[...Array.from({ length: 30 }, (_, i) => `whoami /x${i}`), 'whoami /all', 'cmd /c evil*'].map((v) => `            - '${v}'`).join('\n')}\n    condition: selection`, 3),
    ];
    const onePass = await runSigmaRules(pack, { catalog, session, sample: 0, countBy: 'dvc_hostname' });
    const perRule = await runSigmaRules(pack, { catalog, session, sample: 0, strategy: 'rule' });
    const from = await (await readTable('Process', { catalog, session })).toSql();
    const where = await Promise.all(onePass.map(async (r) => Number(await session.scalar(`SELECT count(*) FROM (${from}) WHERE ${r.compiled!.sql}`))));
    assert.deepEqual(onePass.map((r) => r.error), [undefined, undefined, undefined]);
    assert.deepEqual(onePass.map((r) => r.matches), [10, 4, 11]);
    assert.deepEqual(perRule.map((r) => r.matches), [10, 4, 11]);
    assert.deepEqual(where, [10, 4, 11]);
    assert.deepEqual(onePass.map((r) => r.matchesBy), [{ wks1: 10 }, { wks1: 4 }, { wks1: 11 }]);
    assert.match(onePass[1]!.compiled!.sql, /regexp_matches/);
    assert.match(onePass[2]!.compiled!.sql, / IN \('whoami \/x0', /);
  });

  it('writes each (rule, event) alert exactly once to the gold table sigma_alerts', async () => {
    const catalog = new Catalog(tempDir());
    await silverProcess(catalog, [
      ['2026-01-05T10:00:00Z', '1', 'C:\\Windows\\System32\\whoami.exe', 'whoami evil'],
      ['2026-01-06T11:00:00Z', '1', 'C:\\Windows\\System32\\cmd.exe', 'cmd /c evil'],
    ]);
    const first = await writeAlerts(rules.slice(0, 2), { catalog, session, detectedAt: new Date('2026-01-07T00:00:00Z') });
    assert.equal(first.written, 3);
    assert.equal(first.alreadyPresent, 0);
    assert.deepEqual(first.perRule, { '00000000-0000-4000-8000-000000000001': 1, '00000000-0000-4000-8000-000000000002': 2 });

    const again = await writeAlerts(rules.slice(0, 2), { catalog, session });
    assert.equal(again.written, 0);
    assert.equal(again.alreadyPresent, 3);
    assert.equal(again.version, null);

    // a new event: only its alert is added
    await silverProcess(catalog, [['2026-01-08T09:00:00Z', '1', 'C:\\Temp\\whoami.exe', 'whoami']]);
    const results = await runSigmaRules(rules.slice(0, 2), { catalog, session, sample: 0 });
    const third = await writeAlerts(results, { catalog, session });
    assert.equal(third.written, 1);
    assert.equal(third.alreadyPresent, 3);

    const gold = await readTable('sigma_alerts', { catalog, session });
    assert.equal(catalog.find('sigma_alerts')?.tier, 'gold');
    const rows = await session.rows<Record<string, unknown>>(`SELECT * FROM (${await gold.toSql()}) ORDER BY _event_time, rule_id`);
    assert.equal(rows.length, 4);
    assert.deepEqual(
      Object.keys(rows[0]!).sort(),
      ['_event_date', '_event_time', 'alert_id', 'detected_at', 'dvc_hostname', 'event', 'rule_author', 'rule_id', 'rule_level', 'rule_references', 'rule_tags', 'rule_title', 'table'].sort(),
    );
    const a = rows[0]!;
    assert.equal(a.rule_title, 'Whoami');
    assert.equal(a.rule_author, 'winlake tests');
    assert.deepEqual(a.rule_references, ['https://example.org/rule']);
    assert.deepEqual(a.rule_tags, ['attack.execution']);
    assert.equal(a.rule_level, 'high');
    assert.equal(a.table, 'Process');
    assert.equal(a.dvc_hostname, 'wks1');
    assert.equal((a.detected_at as Date).toISOString(), '2026-01-07T00:00:00.000Z');
    assert.equal(JSON.parse(a.event as string).process_command_line, 'whoami evil');
    assert.equal(new Set(rows.map((r) => r.alert_id)).size, 4);
  });
});

describe('services and the channel view', () => {
  const doc = (channel: string, eventId: number, data: Record<string, string>, message: string, host: string): string =>
    JSON.stringify({ '@timestamp': '2026-01-05T10:00:00.000Z', agent: { type: 'winlogbeat', hostname: host }, winlog: { channel, event_id: eventId, provider_name: 'P', event_data: data }, message });
  const serviceRule = (service: string, detection: string): SigmaRule =>
    parseSigmaRule(ruleYaml(detection).replace('    category: process_creation', `    service: ${service}`));

  it('service rules read their channel through event data names; keywords search message and event data', async () => {
    const session = await testSession();
    const catalog = new Catalog(tempDir());
    const file = path.join(tempDir(), 'events.ndjson');
    writeFileSync(
      file,
      [
        doc('Security', 4625, { TargetUserName: 'admin', LogonType: '3' }, 'An account failed to log on.', 'h0'),
        doc('Security', 4625, { TargetUserName: 'bob', LogonType: '10' }, 'An account failed to log on.', 'h1'),
        doc('System', 7045, { ServiceName: 'evil', ImagePath: 'C:\\x\\mimikatz.exe' }, 'A service was installed.', 'h2'),
        doc('Application', 1000, { Data: 'nothing' }, 'sekurlsa::logonpasswords was run', 'h3'),
      ].join('\n') + '\n',
    );
    await loadEventFiles([file], { catalog, session });
    const rules = [
      serviceRule('security', "    s:\n        EventID: 4625\n        LogonType: 3\n    condition: s"),
      serviceRule('system', "    s:\n        Provider_Name: 'P'\n        ImagePath|endswith: '\\mimikatz.exe'\n    condition: s"),
      parseSigmaRule(ruleYaml("    keywords:\n        - 'MIMIKATZ'\n        - 'sekurlsa::'\n    condition: keywords").replace('    category: process_creation\n', '')),
      serviceRule('security', "    s:\n        NoSuchField: 'x'\n    condition: s"),
    ];
    const results = await runSigmaRules(rules, { catalog, session, countBy: 'dvc_hostname', sample: 1 });
    assert.equal(results[0]!.error, undefined, results[0]!.error);
    assert.deepEqual(results.slice(0, 3).map((r) => r.matchesBy), [{ h0: 1 }, { h2: 1 }, { h2: 1, h3: 1 }]);
    assert.equal(results[0]!.table, 'channel view');
    assert.match(results[0]!.compiled!.sql, /"_sourcetype" IN \('Security'\)/);
    assert.equal(results[0]!.sample?.length, 1);
    // A field no event of the channel has is data-dependent in the channel view: a warning, not a refusal.
    assert.equal(results[3]!.matches, 0);
    assert.match(results[3]!.warnings.join('\n'), /NoSuchField maps to winlog:event_data:NoSuchField, which no event read has/);
  });

  it('an unknown service is refused with the supported ones', () => {
    assert.throws(() => compileRule(serviceRule('nosuch', "    s:\n        a: 'x'\n    condition: s")), /service nosuch is not supported \(no channel known for it\); supported: security, /);
  });

  it('many contains values of a field are one regular expression with the same matches; folded columns are named once', async () => {
    const values = ['a.b', 'c(d', 'e|f', 'q{r', 's+t', 'k[l', 'm$n', 'o^p', '😀'];
    const detection = `    s:\n        CommandLine|contains:\n${values.map((v) => `            - '${v.replace(/'/g, "''")}'`).join('\n')}\n    condition: s`;
    const rows = ['xx A.B yy', 'axb', 'E|F', 'ehf', 'smile 😀', 'Q{R', 'qxr', null].map((c) => ({ process_command_line: c }));
    const { ids: found, compiled } = await matching(detection, rows);
    assert.match(compiled.sql, /regexp_matches\(lower\("process_command_line"\), '\(\?s\)\(\?:a\\\.b\|/);
    assert.deepEqual(found, [0, 2, 4, 5]);
    const folded = compileRule(parseSigmaRule(ruleYaml(detection)), sigmaFieldMap(), { foldedColumns: true });
    assert.deepEqual(folded.folded, { 'lower("process_command_line")': 'lower("process_command_line")' });
    assert.match(folded.sql, /regexp_matches\("lower\(""process_command_line""\)"/);
  });
});

describe('checkRules and compileSigma over SigmaHQ rules/windows', () => {
  it('at least 98% compile; every refusal has a reason, and refused fields are named', () => {
    const checks = checkRules(path.join(SHARED_DATA, 'sigma', 'rules', 'windows'));
    const refused = checks.filter((c) => c.status === 'refused');
    assert.ok(checks.length > 2000, `${checks.length} rules`);
    assert.ok(refused.length / checks.length <= 0.02, `${refused.length} of ${checks.length} refused: ${refused.map((c) => c.reason).join('\n')}`);
    for (const c of refused) assert.match(c.reason ?? '', /^fields: fields? \S+.* (is|are) not mapped for /);
    assert.ok(refused.some((c) => /field CommandLine is not mapped for file_event/.test(c.reason ?? '')));
    const pipe = checks.filter((c) => c.file.includes(`${path.sep}pipe_created${path.sep}`));
    assert.ok(pipe.length > 0 && pipe.every((c) => c.status === 'compiled' && c.warnings.length === 0));
  });

  it('compileSigma takes a rule file and gives the SQL and what it reads', () => {
    const dir = path.join(SHARED_DATA, 'sigma', 'rules', 'windows', 'builtin', 'security');
    const file = checkRules(dir).find((c) => c.status === 'compiled')!.file;
    const c = compileSigma(file);
    assert.deepEqual(c.tables, ['channel view']);
    assert.deepEqual(c.channels, ['Security']);
    assert.match(c.sql, /^"_sourcetype" IN \('Security'\)/);
  });
});
