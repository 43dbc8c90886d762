/**
 * The `winlake` command as users run it: the built package (kernel-lib/dist/cli/main.js) in a
 * child process, against a temporary lakehouse. Builds once first when dist is older than src.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { Frame } from '../kernel-lib/src/frame/frame.js';
import { Catalog } from '../kernel-lib/src/lakehouse/catalog.js';
import { writeTableBatch } from '../kernel-lib/src/lakehouse/tables.js';
import { writeDelta } from '../kernel-lib/src/delta/write.js';
import { tempDir, testSession } from './helpers.js';

const REPO = path.resolve(import.meta.dirname, '..');
const SRC = path.join(REPO, 'kernel-lib', 'src');
const DIST = path.join(REPO, 'kernel-lib', 'dist');
const MAIN = path.join(DIST, 'cli', 'main.js');

/** True when some src/**.ts is newer than its dist/**.js (or has none). */
function distIsStale(dir = SRC): boolean {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (distIsStale(file)) return true;
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
      const built = path.join(DIST, path.relative(SRC, file)).replace(/\.ts$/, '.js');
      if (!existsSync(built) || statSync(built).mtimeMs < statSync(file).mtimeMs) return true;
    }
  }
  return false;
}

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const root = tempDir('winlake-cli-');
const emptyHome = path.join(root, 'empty');
const home = path.join(root, 'lake');
// The CLI's DuckDB session keeps its work folder under the current directory: run it in the temp dir.
const cwd = path.join(root, 'cwd');

/** Runs `winlake <args>` the way the package bin runs it. */
function winlake(args: string[], env: Record<string, string> = { WINLAKE_HOME: home }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [MAIN, ...args], { cwd, env: { ...process.env, ...env }, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') reject(err);
      else resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
    });
  });
}

const lines = (text: string): string[] => text.split('\n').filter((l) => l !== '');

const FIRST = [
  { id: 1, host: 'WKS-1', note: 'plain', ts: '2024-05-01T10:00:00.000Z' },
  { id: 2, host: 'WKS-2', note: 'has, comma and "quotes"', ts: '2024-05-01T11:30:00.000Z' },
];
const SECOND = [{ id: 3, host: 'SRV-1', note: null, ts: '2024-05-02T08:15:00.500Z' }];

before(async () => {
  if (distIsStale()) {
    const build = spawnSync(process.execPath, [path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'kernel-lib/tsconfig.json'], {
      cwd: REPO,
      encoding: 'utf8',
    });
    // Type errors elsewhere still emit JavaScript: only a missing bin is fatal here (typecheck reports the rest).
    if (!existsSync(MAIN)) throw new Error(`the build did not produce ${MAIN}:\n${build.stdout}${build.stderr}`);
  }
  mkdirSync(emptyHome, { recursive: true });
  mkdirSync(cwd, { recursive: true });
  const session = await testSession();
  const catalog = new Catalog(home);
  const batch = (rows: typeof FIRST | typeof SECOND): Frame =>
    Frame.fromSql(
      session,
      rows
        .map((r) => `SELECT ${r.id}::BIGINT AS id, '${r.host}' AS host, ${r.note === null ? 'NULL::VARCHAR' : `'${r.note.replaceAll("'", "''")}'`} AS note, TIMESTAMPTZ '${r.ts}' AS ts`)
        .join(' UNION ALL '),
    );
  await writeTableBatch(batch(FIRST), 'Process', 'silver', [], { catalog, session });
  await writeTableBatch(batch(SECOND), 'Process', 'silver', [], { catalog, session });
  await writeTableBatch(
    Frame.fromSql(session, `SELECT 'raw ' || i AS message, (['sysmon', 'security'])[1 + i % 2] AS _sourcetype FROM range(5) t(i)`),
    'winlogbeat_kafka_bronze',
    'bronze',
    ['_sourcetype'],
    { catalog, session },
  );
});

test('table list: an empty lakehouse, then one with tables (--home)', async () => {
  const [empty, listed] = await Promise.all([
    winlake(['table', 'list'], { WINLAKE_HOME: emptyHome }),
    winlake(['table', 'list', '--home', home], { WINLAKE_HOME: emptyHome }),
  ]);
  assert.equal(empty.code, 0, empty.stderr);
  assert.equal(empty.stdout, `no tables in ${emptyHome}\n`);

  assert.equal(listed.code, 0, listed.stderr);
  assert.equal(listed.stderr, '');
  const [header, rule, ...rows] = lines(listed.stdout);
  assert.deepEqual(header!.split(/\s+/), ['name', 'tier', 'version', 'files', 'rows', 'bytes', 'partitions']);
  assert.match(rule!, /^-+( +-+){6}$/);
  const cells = rows.map((r) => r.split(/\s+/));
  assert.deepEqual(cells.map((c) => c.slice(0, 3)), [['winlogbeat_kafka_bronze', 'bronze', '0'], ['process', 'silver', '1']]);
  assert.deepEqual([cells[0]![4], cells[0]![6]], ['5', '_sourcetype']);
  assert.deepEqual([cells[1]![4], cells[1]![6]], ['3', undefined]);
});

test('table list --json and table describe: the data the Lakehouse panel shows', async () => {
  const [listed, bronze, process, missing] = await Promise.all([
    winlake(['table', 'list', '--json', '--home', home]),
    winlake(['table', 'describe', 'winlogbeat_kafka_bronze', '--home', home]),
    winlake(['table', 'describe', 'Process', '--history', '1', '--home', home]),
    winlake(['table', 'describe', 'nosuch', '--home', home]),
  ]);
  for (const r of [listed, bronze, process]) assert.equal(r.code, 0, r.stderr);
  const list = JSON.parse(listed.stdout) as { root: string; tables: { name: string; tier: string; version: number; rows: number; files: number; partitionColumns: string[] }[] };
  assert.equal(list.root, home);
  assert.deepEqual(
    list.tables.map((t) => [t.name, t.tier, t.version, t.rows, t.partitionColumns]),
    [
      ['winlogbeat_kafka_bronze', 'bronze', 0, 5, ['_sourcetype']],
      ['process', 'silver', 1, 3, []],
    ],
  );
  const b = JSON.parse(bronze.stdout) as { partitions: { values: Record<string, string>; rows: number; files: number }[]; quarantine: unknown; schema: { name: string }[] };
  assert.deepEqual(b.partitions.map((p) => [p.values, p.rows, p.files]), [
    [{ _sourcetype: 'security' }, 2, 1],
    [{ _sourcetype: 'sysmon' }, 3, 1],
  ]);
  assert.deepEqual(b.schema.map((f) => f.name), ['message', '_sourcetype']);
  assert.equal(b.quarantine, null);
  const p = JSON.parse(process.stdout) as { name: string; history: { version: number; operation: string }[]; schema: { name: string; type: string }[]; partitions: unknown[] };
  assert.equal(p.name, 'process');
  assert.deepEqual(p.history.map((c) => [c.version, c.operation]), [[1, 'WRITE']]);
  assert.deepEqual(p.schema.map((f) => [f.name, f.type]), [['id', 'BIGINT'], ['host', 'VARCHAR'], ['note', 'VARCHAR'], ['ts', 'TIMESTAMP WITH TIME ZONE']]);
  assert.deepEqual(p.partitions, []);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no table named "nosuch" in the lakehouse at/);
});

test('table read: ndjson rows equal the table; --limit; a table path with --version', async () => {
  const [latest, limited, v0ByPath] = await Promise.all([
    winlake(['table', 'read', 'Process', '--format', 'ndjson']),
    winlake(['table', 'read', 'process', '--format=ndjson', '--limit', '2']),
    winlake(['table', 'read', path.join(home, 'silver', 'process'), '--format', 'ndjson', '--version', '0']),
  ]);
  for (const r of [latest, limited, v0ByPath]) assert.equal(r.code, 0, r.stderr);
  const parse = (r: CliResult): Record<string, unknown>[] =>
    lines(r.stdout)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .sort((a, b) => Number(a.id) - Number(b.id));
  assert.deepEqual(parse(latest), [...FIRST, ...SECOND]);
  assert.equal(parse(limited).length, 2);
  assert.deepEqual(parse(v0ByPath), FIRST);
});

test('table read --format csv and table', async () => {
  const [csv, table] = await Promise.all([
    winlake(['table', 'read', 'process', '--format', 'csv', '--version', '0']),
    winlake(['table', 'read', 'process', '--version', '0']),
  ]);
  assert.equal(csv.code, 0, csv.stderr);
  const [header, ...rows] = lines(csv.stdout);
  assert.equal(header, 'id,host,note,ts');
  assert.deepEqual(rows.sort(), [
    '1,WKS-1,plain,2024-05-01T10:00:00.000Z',
    '2,WKS-2,"has, comma and ""quotes""",2024-05-01T11:30:00.000Z',
  ]);
  assert.equal(table.code, 0, table.stderr);
  const [head, rule, ...body] = lines(table.stdout);
  assert.deepEqual(head!.split(/\s+/), ['id', 'host', 'note', 'ts']);
  assert.match(rule!, /^-+( +-+){3}$/);
  assert.equal(body.length, 2);
  assert.ok(body.some((l) => l.includes('WKS-2') && l.includes('has, comma and "quotes"')));
});

test('table read writes DATE, TIMESTAMP, BINARY and MAP as users expect; --format parquet|csv|ndjson --output FILE', async () => {
  const session = await testSession();
  const typed = path.join(root, 'typed');
  const values = `SELECT DATE '2020-01-01' AS d, TIMESTAMPTZ '2020-01-01 01:02:03.5+02' AS tz, TIMESTAMP '2020-01-01 00:00:00.000001' AS ntz,
    '1'::BLOB AS b, MAP {'k': 1} AS m, {'n': 2} AS s, [1, 2] AS l`;
  await writeDelta(session, values, typed);
  const want = { d: '2020-01-01', tz: '2019-12-31T23:02:03.500Z', ntz: '2020-01-01T00:00:00.000001Z', b: 'MQ==', m: { k: 1 }, s: { n: 2 }, l: [1, 2] };
  const files = { parquet: path.join(root, 'out.parquet'), csv: path.join(root, 'out.csv'), ndjson: path.join(root, 'out.ndjson') };
  const results = await Promise.all([
    winlake(['table', 'read', typed, '--format', 'ndjson']),
    winlake(['table', 'read', typed, '--format', 'csv']),
    ...Object.entries(files).map(([format, file]) => winlake(['table', 'read', typed, '--format', format, '--output', file])),
    winlake(['table', 'read', typed, '--format', 'parquet']),
  ]);
  const [ndjson, csv, ...rest] = results;
  const noOutput = rest.pop()!;
  for (const r of [ndjson!, csv!, ...rest]) assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(lines(ndjson!.stdout).map((l) => JSON.parse(l) as unknown), [want]);
  assert.deepEqual(lines(csv!.stdout), ['d,tz,ntz,b,m,s,l', '2020-01-01,2019-12-31T23:02:03.500Z,2020-01-01T00:00:00.000001Z,MQ==,"{""k"":1}","{""n"":2}","[1,2]"']);
  assert.deepEqual(lines(readFileSync(files.ndjson, 'utf8')).map((l) => JSON.parse(l) as unknown), [want]);
  assert.deepEqual(lines(readFileSync(files.csv, 'utf8')), lines(csv!.stdout));
  // Parquet keeps the table's own types: the same values come back from DuckDB's reader.
  const [back] = await session.rows<Record<string, unknown>>(
    `SELECT typeof(d) AS d, typeof(b) AS b, typeof(m) AS m, (SELECT count(*) FROM (${values}) v, read_parquet('${files.parquet}') p WHERE v.d = p.d AND v.tz = p.tz AND v.ntz = p.ntz AND v.b = p.b AND v.m = p.m AND v.s = p.s AND v.l = p.l) AS same FROM read_parquet('${files.parquet}')`,
  );
  assert.deepEqual({ ...back, same: Number(back!.same) }, { d: 'DATE', b: 'BLOB', m: 'MAP(VARCHAR, INTEGER)', same: 1 });
  assert.equal(noOutput.code, 1);
  assert.match(noOutput.stderr, /--format parquet needs --output FILE/);
});

test('table history and table schema', async () => {
  const [hist, schema] = await Promise.all([winlake(['table', 'history', 'process']), winlake(['table', 'schema', 'process'])]);
  assert.equal(hist.code, 0, hist.stderr);
  const [header, , ...entries] = lines(hist.stdout);
  assert.deepEqual(header!.split(/\s+/), ['version', 'timestamp', 'operation', 'parameters', 'metrics']);
  assert.deepEqual(entries.map((e) => e.split(/\s+/)).map((c) => [c[0], c[2]]), [['1', 'WRITE'], ['0', 'WRITE']]);
  assert.match(entries[0]!, /"mode":"Append"/);
  assert.equal(schema.code, 0, schema.stderr);
  assert.equal(schema.stdout, 'root\n |-- id: bigint\n |-- host: varchar\n |-- note: varchar\n |-- ts: timestamp with time zone\n');
});

test('errors: unknown table, command, subcommand and format go to stderr with a non-zero exit', async () => {
  const [unknownTable, unknownSub, unknownFormat, unknownCommand, noSub] = await Promise.all([
    winlake(['table', 'read', 'nosuch']),
    winlake(['table', 'frobnicate']),
    winlake(['table', 'read', 'process', '--format', 'xml']),
    winlake(['nosuch']),
    winlake(['table']),
  ]);
  assert.equal(unknownTable.code, 1);
  assert.match(unknownTable.stderr, /no table named "nosuch".*known tables: winlogbeat_kafka_bronze \(bronze\), process \(silver\)/);
  assert.equal(unknownSub.code, 2);
  assert.match(unknownSub.stderr, /unknown subcommand 'frobnicate'/);
  assert.equal(unknownFormat.code, 1);
  assert.match(unknownFormat.stderr, /unknown --format "xml": use table, ndjson, csv, parquet/);
  assert.equal(unknownCommand.code, 2);
  assert.match(unknownCommand.stderr, /unknown command 'nosuch'/);
  assert.equal(noSub.code, 2);
  assert.match(noSub.stderr, /usage: winlake table/);
  for (const r of [unknownTable, unknownSub, unknownFormat, unknownCommand, noSub]) assert.equal(r.stdout, '');
});

test('--help prints the usage on stdout with exit 0', async () => {
  const [top, table] = await Promise.all([winlake(['--help']), winlake(['table', '--help'])]);
  assert.equal(top.code, 0);
  assert.match(top.stdout, /^usage: winlake <command>/);
  assert.equal(table.code, 0);
  assert.match(table.stdout, /^usage: winlake table <subcommand>/);
});
