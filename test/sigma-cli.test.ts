/**
 * `winlake sigma compile|check|test|run` as a rule author runs it (a child process), on SigmaHQ's
 * own rules and regression `.evtx` files, and on rules broken on purpose.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import yaml from 'js-yaml';
import { parseSince } from '../kernel-lib/src/cli/sigma.js';
import { closeSession } from '../kernel-lib/src/engine/session.js';
import { Catalog } from '../kernel-lib/src/lakehouse/catalog.js';
import { readTable } from '../kernel-lib/src/lakehouse/tables.js';
import { SHARED_DATA, tempDir } from './helpers.js';

const REPO = path.resolve(import.meta.dirname, '..');
const RULES = path.join(SHARED_DATA, 'sigma', 'rules', 'windows');
const REGRESSION = path.join(SHARED_DATA, 'sigma', 'regression', 'rules', 'windows');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function winlake(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(REPO, 'kernel-lib', 'src', 'cli', 'main.ts'), ...args],
      { cwd: REPO, env: { ...process.env, ...env }, maxBuffer: 1 << 26, timeout: 300_000 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') reject(err);
        else resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
      },
    );
  });
}

/** A regression case: the rule file, the .evtx and match_count (absent: at least one, as SigmaHQ's runner reads it). */
interface Case {
  rule: string;
  evtx: string;
  matchCount: number;
}

function regressionCase(category: string, name: string): Case {
  const dir = path.join(REGRESSION, category, name);
  const info = yaml.load(readFileSync(path.join(dir, 'info.yml'), 'utf8')) as { regression_tests_info: { match_count?: number }[] };
  const evtx = readdirSync(dir).find((f) => f.endsWith('.evtx'))!;
  return { rule: path.join(RULES, category, `${name}.yml`), evtx: path.join(dir, evtx), matchCount: info.regression_tests_info[0]!.match_count ?? 1 };
}

const CASES = [
  regressionCase('file/file_event', 'file_event_win_creation_system_file'),
  regressionCase('process_creation', 'proc_creation_win_renamed_curl'),
  regressionCase('process_creation', 'proc_creation_win_browsers_chromium_headless_file_download'),
];

/** A file_event rule on a field the File table has no column for: refused, naming the field. */
const UNMAPPED_FIELD = `title: Command line on a file event
id: 22222222-3333-4444-5555-666666666666
logsource:
    category: file_event
    product: windows
detection:
    selection:
        CommandLine|contains: 'whoami'
    condition: selection
`;

const WHOAMI = `title: Whoami with a typo
id: 11111111-2222-3333-4444-555555555555
logsource:
    category: process_creation
    product: windows
detection:
    selection:
        Image|endswith: '\\whoami.exe'
        CommandLine|contians: '/all'
    condition: selection
level: low
`;

const MALFORMED = `title: Broken YAML
id: 11111111-2222-3333-4444-666666666666
logsource:
    category: process_creation
detection:
    selection:
        Image|endswith: '\\whoami.exe'
      CommandLine: x
    condition: selection
`;

after(closeSession);

describe('winlake sigma', () => {
  it('parses --since as an ISO time or an age', () => {
    const now = new Date('2026-12-01T12:00:00Z');
    assert.equal(parseSince('2h', now).toISOString(), '2026-12-01T10:00:00.000Z');
    assert.equal(parseSince('15m', now).toISOString(), '2026-12-01T11:45:00.000Z');
    assert.equal(parseSince('2026-11-30T00:00:00Z', now).toISOString(), '2026-11-30T00:00:00.000Z');
    assert.throws(() => parseSince('yesterday', now), /--since must be an ISO time or an age/);
  });

  it('compile prints the SQL and the tables it reads (text and --json)', async () => {
    const [text, json] = await Promise.all([winlake(['sigma', 'compile', CASES[1]!.rule]), winlake(['sigma', 'compile', CASES[1]!.rule, '--json'])]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^-- tables: Process$/m);
    assert.match(text.stdout, /^-- event ids: 1$/m);
    assert.match(text.stdout, /^SELECT \* FROM Process WHERE .*"event_id" IN \('1'\).*;$/m);
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout) as { tables: string[]; sql: string; id: string };
    assert.deepEqual(parsed.tables, ['Process']);
    assert.equal(parsed.id, '7530cd3d-7671-43e3-b209-976966f6ea48');
    assert.ok(text.stdout.includes(parsed.sql), 'the text and JSON forms print the same SQL');
  });

  it('check names each refusal with the file and line; --json lists every rule', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'typo.yml'), WHOAMI);
    writeFileSync(path.join(dir, 'malformed.yml'), MALFORMED);
    copyFileSync(CASES[0]!.rule, path.join(dir, 'good.yml'));
    copyFileSync(path.join(RULES, 'builtin', 'security', 'win_security_susp_lsass_dump_generic.yml'), path.join(dir, 'service.yml'));
    writeFileSync(path.join(dir, 'unmapped.yml'), UNMAPPED_FIELD);
    const text = await winlake(['sigma', 'check', dir]);
    assert.equal(text.code, 1, 'refusals make a non-zero exit');
    assert.ok(text.stdout.includes(`refused   ${path.join(dir, 'typo.yml')}:9: field CommandLine|contians: unknown modifier "contians"`), text.stdout);
    assert.ok(text.stdout.includes(`refused   ${path.join(dir, 'malformed.yml')}:8: YAML: bad indentation`), text.stdout);
    assert.match(text.stdout, /^compiled  .*good\.yml  → File/m);
    assert.match(text.stdout, /^compiled  .*service\.yml  → channel view/m);
    assert.match(text.stdout, /^5 rules: 2 compiled, 3 refused$/m);

    const json = await winlake(['sigma', 'check', dir, '--json']);
    const report = JSON.parse(json.stdout) as { total: number; compiled: number; rules: { file: string; status: string; line?: number; reason?: string; tables?: string[] }[] };
    assert.equal(report.total, 5);
    const byName = new Map(report.rules.map((r) => [path.basename(r.file), r]));
    assert.deepEqual(byName.get('good.yml')?.tables, ['File']);
    assert.equal(byName.get('typo.yml')?.line, 9);
    assert.equal(byName.get('malformed.yml')?.line, 8);
    assert.equal(byName.get('service.yml')?.status, 'compiled');
    assert.equal(byName.get('unmapped.yml')?.status, 'refused');
    assert.match(byName.get('unmapped.yml')!.reason!, /^fields: field CommandLine is not mapped for file_event/);

    const good = await winlake(['sigma', 'check', path.join(dir, 'good.yml')]);
    assert.equal(good.code, 0, good.stdout);
  });

  it('test loads .evtx through bronze and silver; --expect match_count passes, one more fails', async () => {
    const dir = tempDir();
    for (const c of CASES) copyFileSync(c.rule, path.join(dir, path.basename(c.rule)));
    const events = CASES.map((c) => c.evtx);
    const least = Math.min(...CASES.map((c) => c.matchCount));
    const pass = await winlake(['sigma', 'test', dir, ...events, '--expect', String(least), '--json']);
    assert.equal(pass.code, 0, pass.stdout + pass.stderr);
    const report = JSON.parse(pass.stdout) as { events: number; rules: { id: string; matches: number; pass: boolean; table: string }[] };
    assert.equal(report.rules.length, CASES.length);
    for (const c of CASES) {
      const id = (yaml.load(readFileSync(c.rule, 'utf8')) as { id: string }).id;
      const r = report.rules.find((x) => x.id === id)!;
      assert.ok(r.matches >= c.matchCount, `${c.rule}: ${r.matches} matches, SigmaHQ expects ${c.matchCount}`);
      assert.equal(r.pass, true);
    }
    const fail = await winlake(['sigma', 'test', CASES[0]!.rule, CASES[0]!.evtx, '--expect', String(CASES[0]!.matchCount + 1)]);
    assert.equal(fail.code, 1, fail.stdout);
    assert.match(fail.stdout, /^FAIL +\d+ {2}Files With System Process Name/m);
  });

  it('test reads evtx_dump JSON and winlogbeat NDJSON too, and fails on a refused rule', async () => {
    const dir = tempDir();
    const c = CASES[1]!;
    const json = c.evtx.replace(/\.evtx$/, '.json');
    const fromJson = await winlake(['sigma', 'test', c.rule, json, '--expect', String(c.matchCount)]);
    assert.equal(fromJson.code, 0, fromJson.stdout + fromJson.stderr);
    // The same events as winlogbeat NDJSON (what `winlake load` puts in bronze: winlogbeat 7 layout).
    const { readEventFiles } = await import('../kernel-lib/src/winlogbeat/convert.js');
    const docs: string[] = [];
    for await (const d of readEventFiles(c.evtx)) docs.push(JSON.stringify(d));
    const ndjson = path.join(dir, 'events.ndjson');
    writeFileSync(ndjson, `${docs.join('\n')}\n`);
    const fromNdjson = await winlake(['sigma', 'test', c.rule, ndjson, '--expect', String(c.matchCount)]);
    assert.equal(fromNdjson.code, 0, fromNdjson.stdout + fromNdjson.stderr);
    const rules = path.join(dir, 'rules');
    mkdirSync(rules);
    writeFileSync(path.join(rules, 'typo.yml'), WHOAMI);
    copyFileSync(c.rule, path.join(rules, 'good.yml'));
    const refused = await winlake(['sigma', 'test', rules, c.evtx]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /typo\.yml:9: field CommandLine\|contians: unknown modifier/);
    assert.match(refused.stdout, /^match +\d+ {2}Renamed CURL/im);
  });

  it('run appends alerts to gold sigma_alerts once; --since limits the events', async () => {
    const home = tempDir();
    const load = await winlake(['load', ...CASES.map((c) => c.evtx), '--home', home]);
    assert.equal(load.code, 0, load.stderr);
    const rules = CASES.map((c) => c.rule);
    const future = await winlake(['sigma', 'run', ...rules, '--home', home, '--since', '2100-01-01T00:00:00Z']);
    assert.equal(future.code, 0, future.stderr);
    assert.match(future.stdout, /0 matched; 0 new alert\(s\)/);
    const first = await winlake(['sigma', 'run', ...rules, '--home', home, '--since', '2000-01-01T00:00:00Z']);
    assert.equal(first.code, 0, first.stderr);
    const written = Number(/(\d+) new alert\(s\) in gold sigma_alerts/.exec(first.stdout)?.[1]);
    assert.ok(written >= CASES.reduce((s, c) => s + c.matchCount, 0), first.stdout);
    const again = await winlake(['sigma', 'run', ...rules, '--home', home]);
    assert.match(again.stdout, new RegExp(`0 new alert\\(s\\) in gold sigma_alerts, ${written} already there`));
    const alerts = await readTable('sigma_alerts', { catalog: new Catalog(home) });
    assert.equal(await alerts.count(), written);
  });
});
