/**
 * `winlake load <files...>` as a user runs it (a child process): real Mordor recordings in three
 * layouts and a truncated .tar.gz → bronze → every silver table, into a temp lakehouse. The
 * mapping of each event to silver is build-silver.test.ts's business; this file checks the CLI path:
 * what it reads, what it prints, what it leaves behind, and how it fails.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { constants as zlibConstants, gunzipSync } from 'node:zlib';
import { loadPacks } from '../kernel-lib/src/cim/pack.js';
import { closeSession } from '../kernel-lib/src/engine/session.js';
import { Catalog } from '../kernel-lib/src/lakehouse/catalog.js';
import { BRONZE_TABLE } from '../kernel-lib/src/lakehouse/load-files.js';
import { listTables, readTable } from '../kernel-lib/src/lakehouse/tables.js';
import { SHARED_DATA, tempDir } from './helpers.js';

const execFileAsync = promisify(execFile);
const REPO = path.resolve(import.meta.dirname, '..');
const MORDOR = path.join(SHARED_DATA, 'mordor');
const FILES = readdirSync(MORDOR)
  .filter((f) => f.endsWith('.json') || f.endsWith('.tar.gz'))
  .sort()
  .map((f) => path.join(MORDOR, f));

/** Runs `winlake load`; resolves with the exit code and output (a failing run does not throw). */
async function winlakeLoad(home: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, ['--import', 'tsx', 'kernel-lib/src/cli/main.ts', 'load', ...args], {
      cwd: REPO,
      env: { ...process.env, WINLAKE_HOME: home },
      maxBuffer: 16 * 1024 * 1024,
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/**
 * The JSON lines of a file, read without winlake: plain NDJSON, or the one member of a tar.gz whose
 * gzip stream ends early (inflate what is there, drop the 512-byte tar header and NUL padding).
 */
function rawLines(file: string): Record<string, unknown>[] {
  const text = file.endsWith('.tar.gz')
    ? gunzipSync(readFileSync(file), { finishFlush: zlibConstants.Z_SYNC_FLUSH }).subarray(512).toString('utf8').replace(/\0+/g, '\n')
    : readFileSync(file, 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('winlake load', () => {
  after(async () => {
    await closeSession();
  });

  it('loads the Mordor files (NXLog and winlogbeat 6 layouts, .json and .tar.gz) into bronze and every silver table', async () => {
    assert.equal(FILES.length, 4);
    const documents = FILES.reduce((n, f) => n + rawLines(f).length, 0);
    const home = tempDir('winlake-load-');
    const run = await winlakeLoad(home, FILES);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`^bronze ${BRONZE_TABLE}: ${documents} documents read: ${documents} in bronze, 0 quarantined \\(version 0\\)$`, 'm'));
    assert.ok(run.stdout.trimEnd().endsWith(`lakehouse: ${home}`), run.stdout);

    const catalog = new Catalog(home);
    assert.equal(await (await readTable(BRONZE_TABLE, { catalog })).count(), documents);

    // Which (channel, event id) pairs bronze holds, and so which silver tables must have rows.
    const bronze = await readTable(BRONZE_TABLE, { catalog });
    const present = new Set(
      (await bronze.selectExpr("_sourcetype || '|' || winlog.event_id AS k").distinct().toRows<{ k: string }>()).map((r) => r.k),
    );
    const printed = new Map([...run.stdout.matchAll(/^silver (\S+): \+(\d+) rows/gm)].map((m) => [m[1]!, Number(m[2])]));
    const tables = new Map((await listTables({ catalog })).map((t) => [t.name, t.rows ?? 0]));
    const packs = loadPacks();
    assert.deepEqual([...printed.keys()].sort(), packs.map((p) => p.table).sort(), 'one line per silver table');
    let populated = 0;
    for (const pack of packs) {
      const expectRows = pack.sources.some((s) => s.eventIds.some((id) => present.has(`${s.sourcetype}|${id}`)));
      const rows = printed.get(pack.table)!;
      assert.equal(tables.get(pack.table.toLowerCase()) ?? 0, rows, `${pack.table}: printed vs stored rows`);
      assert.equal(rows > 0, expectRows, `${pack.table}: ${rows} rows, but bronze ${expectRows ? 'has' : 'has no'} events for it`);
      if (rows > 0) populated++;
    }
    assert.ok(populated >= 10, `only ${populated} silver tables have rows`);

    // Spot values from the PsExec recording.
    const psexec = rawLines(path.join(MORDOR, 'cmd_psexec_lsa_secrets_dump.json'));
    const pipes = await (await readTable('Process', { catalog })).filter("event_id = '18'").select('pipe_name').toRows<{ pipe_name: string }>();
    assert.ok(pipes.some((r) => r.pipe_name === '\\PSEXESVC'), JSON.stringify(pipes));
    const newProcess = psexec.find((d) => d.EventID === 4688)!.NewProcessName as string;
    const security = await (await readTable('SecurityProcess', { catalog })).select('process_path').toRows<{ process_path: string }>();
    assert.ok(security.some((r) => r.process_path === newProcess), `4688 NewProcessName ${newProcess} in SecurityProcess`);
  });

  it('a file with a broken document fails naming the file and the document, and writes nothing', async () => {
    const dir = tempDir('winlake-load-bad-');
    const good = rawLines(path.join(MORDOR, 'cmd_discover_iexplorer_version_registry.json')).slice(0, 3);
    const broken = path.join(dir, 'broken.json');
    const lines = good.map((d) => JSON.stringify(d));
    writeFileSync(broken, `${lines.join('\n')}\n{"Channel": "Security", "EventID": 4688, "Hostname": }\n${lines[0]}\n`);
    const home = path.join(dir, 'lakehouse');
    const run = await winlakeLoad(home, [path.join(MORDOR, 'cmd_psexec_lsa_secrets_dump.json'), broken]);
    assert.equal(run.code, 1, run.stdout);
    assert.match(run.stderr, /^winlake: .*broken\.json: object 4 is not valid JSON/m);
    assert.equal(run.stdout, '');
    assert.equal(existsSync(home) && readdirSync(home).length > 0, false, 'a failed load left files in the lakehouse');

  });

  it('quarantines documents it cannot convert, expands array lines, and every count reconciles', async () => {
    const dir = tempDir('winlake-load-odd-');
    const good = rawLines(path.join(MORDOR, 'cmd_discover_iexplorer_version_registry.json')).slice(0, 3);
    const odd = path.join(dir, 'odd.json');
    const noTime = { winlog: { channel: 'Security', event_data: { a: 'b' } }, agent: { hostname: 'H' } };
    writeFileSync(
      odd,
      [JSON.stringify(good[0]), '{"level": "info", "msg": "not a Windows event"}', `[${JSON.stringify(good[1])},${JSON.stringify(good[2])}]`, '[1,2,3]', JSON.stringify(noTime)].join('\n') + '\n',
    );
    const home = path.join(dir, 'lakehouse');
    const run = await winlakeLoad(home, [odd, '--no-silver']);
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stderr, /Unhandled|ENOENT|\n\s+at /);
    // 1 + 1 + 2 + 3 + 1 documents: 4 converted to bronze, the unknown layout and the 3 numbers quarantined.
    assert.match(run.stdout, new RegExp(`^bronze ${BRONZE_TABLE}: 8 documents read: 4 in bronze, 4 quarantined in ${BRONZE_TABLE}_quarantine`, 'm'));
    const catalog = new Catalog(home);
    const quarantine = await (await readTable(`${BRONZE_TABLE}_quarantine`, { catalog })).select('_corrupt_record', '_corrupt_reason').toRows();
    const reasons = quarantine.map((r) => String(r._corrupt_reason)).sort();
    assert.equal(reasons.length, 4);
    assert.match(reasons.join('\n'), /odd\.json: event 2: cannot tell the layout/);
    assert.deepEqual(quarantine.map((r) => String(r._corrupt_record)).sort(), ['1', '2', '3', '{"level":"info","msg":"not a Windows event"}']);
    const bronze = await (await readTable(BRONZE_TABLE, { catalog })).filter("agent.hostname = 'H'").selectExpr('winlog.event_id AS eid', '_event_date', '_raw').toRows();
    assert.equal(bronze.length, 1);
    assert.equal(bronze[0]!.eid, null, 'a missing event_id is NULL, not "undefined"');
    assert.notEqual(bronze[0]!._event_date, null, 'no @timestamp: the ingest-time fallback partition');
  });
});
