/**
 * Hostile input, tried as an attacker would (issue 10): statements smuggled into EXPR= and Frame
 * strings, file reads through table functions, the engine's file access and configuration, and
 * symlinks that lead out of the lakehouse. Each probe must be refused with a clear error and leave
 * nothing behind.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cimDataframe } from '../kernel-lib/src/cim/dataframe.js';
import { TransformError } from '../kernel-lib/src/cim/transform.js';
import { vacuum } from '../kernel-lib/src/delta/vacuum.js';
import { writeDelta } from '../kernel-lib/src/delta/write.js';
import { optimizeTable } from '../kernel-lib/src/delta/optimize.js';
import { quoteString } from '../kernel-lib/src/engine/quote.js';
import { SandboxStatementError, Session } from '../kernel-lib/src/engine/session.js';
import { SqlExpressionError } from '../kernel-lib/src/engine/sql-guard.js';
import { Frame, sqlExpr } from '../kernel-lib/src/frame/index.js';
import { Catalog } from '../kernel-lib/src/lakehouse/catalog.js';
import { vacuumLakehouseTable } from '../kernel-lib/src/lakehouse/maintenance.js';
import { readTable, writeTableBatch } from '../kernel-lib/src/lakehouse/tables.js';
import './helpers.js';

/**
 * A session confined to `lake` alone: the tests' usual allowance of the machine's temp folder
 * (WINLAKE_ALLOWED_DIRS, set by helpers.ts) is left out, so that `outside` really is outside.
 */
async function strictSession(lake: string, workDir: string): Promise<Session> {
  const saved = process.env.WINLAKE_ALLOWED_DIRS;
  delete process.env.WINLAKE_ALLOWED_DIRS;
  try {
    return await Session.create({ workDir, allowedDirectories: [lake], threads: 2 });
  } finally {
    process.env.WINLAKE_ALLOWED_DIRS = saved;
  }
}

let base: string;
let lake: string;
let outside: string;
let session: Session;
let n = 0;

/** A path outside the sandbox that no probe may create. */
function bait(ext: string): string {
  return path.join(outside, `pwned-${++n}.${ext}`);
}

/** Statements an attacker would append, each naming the file it would create (if any). */
function payloads(): { stmt: string; creates?: string }[] {
  const csv = bait('csv');
  const db = bait('duckdb');
  return [
    { stmt: `COPY (SELECT 'pwned') TO ${quoteString(csv)}`, creates: csv },
    { stmt: `ATTACH ${quoteString(db)} AS pwned`, creates: db },
    { stmt: 'SET enable_external_access = true' },
    { stmt: 'SET lock_configuration = false' },
    { stmt: 'INSTALL httpfs' },
    { stmt: 'LOAD httpfs' },
  ];
}

/** Ways to smuggle a statement into one expression: close the expression, end a statement, comment out. */
function injections(stmt: string): string[] {
  return [
    `1) FROM (SELECT 1)); ${stmt}; SELECT * FROM (SELECT (1`,
    `1); ${stmt}; SELECT (1`,
    `1; ${stmt}`,
    `1 --\n; ${stmt}`,
    `1 /* */ ; ${stmt} ; SELECT 1`,
  ];
}

/** Subqueries that read files, inside an otherwise valid expression. */
function fileReads(): string[] {
  const home = os.homedir();
  return [
    "(SELECT content FROM read_text('/etc/passwd'))",
    "(SELECT content FROM read_blob('/etc/hostname'))",
    `(SELECT count(*) FROM glob(${quoteString(`${home}/*`)}))`,
    "(SELECT count(*) FROM read_csv('/etc/passwd', sep = ':'))",
    "(SELECT count(*) FROM '/etc/passwd.csv')",
    "EXISTS (SELECT 1 FROM read_json('/etc/os-release'))",
  ];
}

/** The session is still confined and usable after a probe. */
async function assertStillSandboxed(): Promise<void> {
  assert.equal(await session.scalar("SELECT current_setting('enable_external_access')"), false);
  assert.equal(session.statementsGated, true);
  assert.equal(Number(await session.scalar("SELECT current_setting('threads')")) > 0, true);
  assert.equal(await session.scalar("SELECT current_setting('autoload_known_extensions')"), false);
  assert.equal(Number(await session.scalar('SELECT count(*) FROM duckdb_databases() WHERE database_name = \'pwned\'')), 0);
  assert.deepEqual(readdirSync(outside).filter((f) => f.startsWith('pwned')), []);
}

before(async () => {
  // Outside the machine's temp folder too would be best, but a sibling of the lake is enough:
  // the strict session allows only the lake and its work folder.
  base = mkdtempSync(path.join(os.tmpdir(), 'winlake-security-'));
  lake = path.join(base, 'lake');
  outside = path.join(base, 'outside');
  mkdirSync(lake, { recursive: true });
  mkdirSync(outside, { recursive: true });
  session = await strictSession(lake, path.join(lake, '.duckdb'));
});
after(() => {
  session?.close();
  rmSync(base, { recursive: true, force: true });
});

describe('user SQL is exactly one expression', () => {
  const flat = (): Frame => Frame.fromSql(session, "SELECT '1' AS event_id, 'cmd.exe' AS image");

  it('an EXPR= carrying a statement is refused naming the entry, before anything runs', async () => {
    for (const { stmt, creates } of payloads()) {
      for (const sql of injections(stmt)) {
        const list = [{ rename: ['image', 'process_name'] }, { new: ['x', `EXPR=${sql}`] }];
        await assert.rejects(
          cimDataframe(flat(), list as never),
          (err: unknown) => err instanceof TransformError && err.index === 1 && /transform #1 .*not one SQL expression/s.test(err.message),
          sql,
        );
        if (creates) assert.equal(existsSync(creates), false, `${creates} was written by ${sql}`);
      }
    }
    await assertStillSandboxed();
  });

  it('an EXPR= or filter reading a file through a table function is refused', async () => {
    for (const sql of fileReads()) {
      await assert.rejects(cimDataframe(flat(), [{ new: ['x', `EXPR=${sql}`] }]), /transform #0 .*(table function|names a file)/s, sql);
      await assert.rejects(flat().filter(`${sql} IS NOT NULL`).toRows(), (e: unknown) => e instanceof SqlExpressionError && e.what === 'filter', sql);
    }
  });

  it('filter, where, selectExpr, withColumn, agg and sqlExpr strings are checked alike', async () => {
    for (const { stmt, creates } of payloads()) {
      for (const sql of injections(stmt)) {
        const attempts: [string, () => Promise<unknown>][] = [
          ['filter', () => flat().filter(sql).toRows()],
          ['filter', () => flat().where(sqlExpr(sql)).count()],
          ['selectExpr #0', () => flat().selectExpr(sql).toRows()],
          ['withColumn "y"', () => flat().withColumn('y', sql).toRows()],
          ['agg #0', () => flat().groupBy('event_id').agg(sql).toRows()],
        ];
        for (const [what, attempt] of attempts) {
          await assert.rejects(attempt(), (e: unknown) => e instanceof SqlExpressionError && e.what === what && e.message.includes(what), `${what}: ${sql}`);
        }
        if (creates) assert.equal(existsSync(creates), false);
      }
    }
    await assertStillSandboxed();
  });

  it('plain expressions still work: CASE, LIKE, casts, lambdas, unnest subqueries, aliases in selectExpr', async () => {
    const rows = await flat()
      .filter("image LIKE '%.exe' -- a trailing comment is harmless")
      .withColumn('n', 'CAST(event_id AS INTEGER) + (SELECT max(x) FROM unnest([1, 2]) AS u(x))')
      .selectExpr("CASE WHEN n > 2 THEN 'big' END AS size", 'list_transform([1, 2], x -> x * n) AS l')
      .toRows();
    assert.deepEqual(rows, [{ size: 'big', l: [3, 6] }]);
  });
});

describe('the engine sees only the lakehouse', () => {
  it('file access outside is a permission error and writes nothing', async () => {
    const csv = bait('csv');
    const db = bait('duckdb');
    const probes = [
      "SELECT * FROM read_text('/etc/passwd')",
      "SELECT * FROM read_blob('/etc/hostname')",
      `SELECT * FROM glob(${quoteString(`${os.homedir()}/*`)})`,
      `SELECT * FROM glob(${quoteString(`${outside}/*`)})`,
      `COPY (SELECT 'pwned') TO ${quoteString(csv)}`,
      `ATTACH ${quoteString(db)} AS pwned`,
    ];
    for (const sql of probes) {
      await assert.rejects(session.run(sql), /Permission Error.*sandbox lets DuckDB open files only under|sandbox refuses ATTACH/s, sql);
    }
    assert.equal(existsSync(csv), false);
    assert.equal(existsSync(db), false);
    await assertStillSandboxed();
  });

  it('INSTALL, LOAD, SET, PRAGMA, ATTACH and PREPARE are refused by statement type, before anything runs', async () => {
    // The work folder lies inside the lake here, the worst case: still no download, no extension file.
    const refused = [
      'INSTALL httpfs',
      "INSTALL httpfs FROM 'http://extensions.duckdb.org'",
      'LOAD httpfs',
      'FORCE INSTALL httpfs',
      'SET enable_external_access = true',
      'RESET enable_external_access',
      `SET allowed_directories = [${quoteString(outside)}]`,
      'SET autoload_known_extensions = true',
      `SET temp_directory = ${quoteString(outside)}`,
      "SET extension_directory = '/tmp'",
      'PRAGMA threads = 1',
      'CALL pragma_version()',
      'UPDATE EXTENSIONS',
      'PREPARE p AS SELECT 1',
      // Hidden behind another statement, line comments, nested block comments, odd case.
      'SELECT 1; SET threads = 1',
      "SELECT ';' AS a; -- c\n  sEt threads = 1",
      // DuckDB ends a line comment at a lone CR too.
      'SELECT 1; -- c\rSET threads = 1',
      '/* /* */ */ SET threads = 1',
      '/* a */ LOAD httpfs',
    ];
    for (const sql of refused) {
      await assert.rejects(session.run(sql), (e: unknown) => e instanceof SandboxStatementError && /sandbox refuses [A-Z_]+ statements/.test(e.message), sql);
    }
    assert.equal(Number(await session.scalar("SELECT current_setting('threads')")) > 1, true, 'no SET ran');
    assert.deepEqual(readdirSync(lake, { recursive: true }).map(String).filter((f) => f.includes('httpfs')), []);
    await assertStillSandboxed();
  });

  it('the tuning settings change through session.set; the others are refused; ordinary SQL with such words runs', async () => {
    await session.set('memory_limit', '3GB');
    assert.match(String(await session.scalar("SELECT current_setting('memory_limit')")), /GiB|GB/);
    await session.withOneThread(async () => assert.equal(Number(await session.scalar("SELECT current_setting('threads')")), 1));
    assert.equal(Number(await session.scalar("SELECT current_setting('threads')")) > 1, true);
    for (const name of ['enable_external_access', 'allowed_directories', 'lock_configuration', 'extension_directory', 'temp_directory']) {
      await assert.rejects(session.set(name, 'x'), /not an engine setting winlake lets SQL change/, name);
    }
    assert.deepEqual(
      await session.rows("SELECT 'Set-MpPreference; Install-Module' AS v, 'call /* load */ use' AS w"),
      [{ v: 'Set-MpPreference; Install-Module', w: 'call /* load */ use' }],
    );
    await assertStillSandboxed();
  });

  it('one-thread holds overlap across a session and its siblings: the thread count comes back after the last, also after a failure', async () => {
    const threads = async (on: Session = session): Promise<number> => Number(await on.scalar("SELECT current_setting('threads')"));
    const before = await threads();
    assert.ok(before > 1, 'the test needs a session on more than one thread');
    const sibling = await session.sibling();
    try {
      const releaseA = await session.holdOneThread();
      const releaseB = await sibling.holdOneThread();
      assert.equal(await threads(sibling), 1);
      await releaseA();
      await releaseA(); // releasing twice counts once
      assert.equal(await threads(), 1, 'the sibling still holds');
      await assert.rejects(session.withOneThread(async () => { throw new Error('inside'); }), /inside/);
      assert.equal(await threads(), 1, 'a failing call inside a hold leaves the hold');
      await releaseB();
      assert.equal(await threads(), before);
      await assert.rejects(sibling.withOneThread(async () => { throw new Error('alone'); }), /alone/);
      assert.equal(await threads(), before, 'restored after a failure');
    } finally {
      sibling.close();
    }
  });

  it('a symlink inside the lakehouse does not lead DuckDB out', async () => {
    writeFileSync(path.join(outside, 'secret.txt'), 'secret');
    const link = path.join(lake, 'secret-link.txt');
    symlinkSync(path.join(outside, 'secret.txt'), link);
    try {
      await assert.rejects(session.run(`SELECT * FROM read_text(${quoteString(link)})`), /Permission Error/);
    } finally {
      rmSync(link);
    }
  });

  it('tables in the lakehouse and the scratch folder work as before', async () => {
    const catalog = new Catalog(lake);
    const df = Frame.fromSql(session, "SELECT i, 'h' || (i % 3) AS host FROM range(50) t(i)");
    await writeTableBatch(df, 'sandboxed', 'gold', ['host'], { catalog, session });
    assert.equal(await (await readTable('sandboxed', { catalog, session })).count(), 50);
    const dir = session.scratch('probe-');
    writeFileSync(path.join(dir, 'a.csv'), 'x\n1\n');
    assert.equal(Number(await session.scalar(`SELECT sum(x) FROM read_csv(${quoteString(path.join(dir, 'a.csv'))})`)), 1);
  });

  it('a sibling connection (the stream parses on one) is as confined, shares engine tables but not temp ones, and closes with its session', async () => {
    const side = await session.sibling();
    await side.run('CREATE TABLE sibling_shared AS SELECT 7 AS x');
    await side.run('CREATE TEMP TABLE sibling_own AS SELECT 8 AS x');
    assert.equal(Number(await session.scalar('SELECT x FROM sibling_shared')), 7);
    await assert.rejects(session.run('SELECT x FROM sibling_own'), /sibling_own/);
    await assert.rejects(side.run('SET enable_external_access = true'), SandboxStatementError);
    const probe = bait('csv');
    await assert.rejects(side.run(`COPY (SELECT 1) TO ${quoteString(probe)}`), /Permission|sandbox/);
    assert.equal(existsSync(probe), false);
    await session.run('DROP TABLE sibling_shared');
    const owner = await strictSession(lake, mkdtempSync(path.join(base, 'sibling-work-')));
    const child = await owner.sibling();
    owner.close();
    assert.equal(child.isClosed, true);
    await assert.rejects(child.run('SELECT 1'), /closed/);
    side.close();
    assert.equal(Number(await session.scalar('SELECT 1')), 1, 'closing a sibling leaves its session open');
  });

  it('a table outside the sandbox gets the permission error, naming how to allow it', async () => {
    await assert.rejects(writeDelta(session, 'SELECT 1 AS a', path.join(outside, 'table')), /sandbox lets DuckDB open files only under/);
    assert.deepEqual(readdirSync(path.join(outside, 'table')).filter((f) => f.endsWith('.parquet')), []);
  });
});

describe('symlinks stay inside the table', () => {
  it('a symlinked table folder is refused for writes, reads and vacuum; nothing outside changes', async () => {
    const catalog = new Catalog(lake);
    const target = path.join(outside, 'linked-target');
    mkdirSync(path.join(target, '_delta_log'), { recursive: true });
    const old = path.join(target, 'part-old.parquet');
    writeFileSync(old, 'unrelated');
    const month = (Date.now() - 30 * 24 * 3600 * 1000) / 1000;
    utimesSync(old, month, month);
    mkdirSync(path.join(lake, 'gold'), { recursive: true });
    symlinkSync(target, path.join(lake, 'gold', 'linked'));
    const df = Frame.fromSql(session, 'SELECT 1 AS a');
    await assert.rejects(writeTableBatch(df, 'linked', 'gold', [], { catalog, session }), /table folder .*linked.* outside/);
    await assert.rejects(vacuumLakehouseTable('linked', { catalog, session }), /table folder .*linked.* outside/);
    await assert.rejects(vacuum(path.join(lake, 'gold', 'linked')), /table folder .*linked is a symlink/);
    await assert.rejects(optimizeTable(session, path.join(lake, 'gold', 'linked')), /table folder .*linked is a symlink/);
    await assert.rejects(writeDelta(session, 'SELECT 1 AS a', path.join(lake, 'gold', 'linked')), /table folder .*linked is a symlink/);
    assert.deepEqual(readdirSync(target).sort(), ['_delta_log', 'part-old.parquet']);
    assert.deepEqual(readdirSync(path.join(target, '_delta_log')), []);
  });

  it('a symlinked partition folder receives no data file', async () => {
    const table = path.join(lake, 'silver', 'parted');
    await writeDelta(session, "SELECT 1 AS a, 'x' AS p", table, { partitionBy: ['p'] });
    const elsewhere = path.join(outside, 'partition-target');
    mkdirSync(elsewhere, { recursive: true });
    symlinkSync(elsewhere, path.join(table, 'p=y'));
    await assert.rejects(writeDelta(session, "SELECT 2 AS a, 'y' AS p", table, { partitionBy: ['p'] }), /partition folder .*p=y.* outside/);
    assert.deepEqual(readdirSync(elsewhere), []);
    // The failed write left the table readable, with its one row.
    assert.equal(Number(await session.scalar(`SELECT count(*) FROM read_parquet(${quoteString(`${table}/p=x/*.parquet`)})`)), 1);
  });

  it('vacuum never deletes a file outside, even through a symlinked file or folder', async () => {
    const table = path.join(lake, 'silver', 'vacuumed');
    await writeDelta(session, 'SELECT 1 AS a', table);
    const victim = path.join(outside, 'old-victim.parquet');
    writeFileSync(victim, 'thirty days old');
    const month = (Date.now() - 30 * 24 * 3600 * 1000) / 1000;
    utimesSync(victim, month, month);
    symlinkSync(victim, path.join(table, 'part-linked.parquet'));
    mkdirSync(path.join(outside, 'folder-victim'));
    const inner = path.join(outside, 'folder-victim', 'part-x.parquet');
    writeFileSync(inner, 'old');
    utimesSync(inner, month, month);
    symlinkSync(path.join(outside, 'folder-victim'), path.join(table, 'p=linked'));
    const result = await vacuum(table, { retentionHours: 0, force: true });
    assert.deepEqual(result.files, []);
    assert.equal(existsSync(victim), true);
    assert.equal(existsSync(inner), true);
  });
});
