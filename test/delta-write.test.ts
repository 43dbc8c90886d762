import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { Action, AddAction, CommitInfoAction, FileStats, MetadataAction } from '../kernel-lib/src/delta/actions.js';
import { checkpointFileName, commitFileName } from '../kernel-lib/src/delta/actions.js';
import { ConcurrentModificationError, commitActions } from '../kernel-lib/src/delta/commit.js';
import { dataFilePath, readCommit, latestVersion } from '../kernel-lib/src/delta/log.js';
import { escapePartitionPathPart, fromAddPath, toAddPath } from '../kernel-lib/src/delta/partition-path.js';
import { readDelta } from '../kernel-lib/src/delta/read.js';
import { mergeSchemas, sparkSchemaFromDuckDB } from '../kernel-lib/src/delta/schema/to-spark.js';
import { loadSnapshot } from '../kernel-lib/src/delta/snapshot.js';
import { fileStats, truncateMaxString } from '../kernel-lib/src/delta/stats.js';
import { writeDelta } from '../kernel-lib/src/delta/write.js';
import { tempDir, testSession } from './helpers.js';

const session = await testSession();
const root = tempDir('winlake-dw-');
let n = 0;
const table = (): string => path.join(root, `t${++n}`);

function actionsOf(t: string, v: number): Action[] {
  return readFileSync(path.join(t, '_delta_log', commitFileName(v)), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Action);
}
const adds = (actions: Action[]): AddAction[] => actions.flatMap((a) => ('add' in a ? [a.add as AddAction] : []));
const commitInfo = (actions: Action[]): CommitInfoAction => (actions.find((a) => 'commitInfo' in a) as { commitInfo: CommitInfoAction }).commitInfo;

test('create then append: protocol, metadata, commitInfo and rows', async () => {
  const t = table();
  const r0 = await writeDelta(session, 'select i::BIGINT as id, \'h\' || i as host from range(5) t(i)', t, { tableName: 'hosts' });
  assert.equal(r0.version, 0);
  assert.equal(r0.numRows, 5);
  const a0 = actionsOf(t, 0);
  assert.deepEqual((a0.find((a) => 'protocol' in a) as { protocol: unknown }).protocol, { minReaderVersion: 1, minWriterVersion: 2 });
  const md = (a0.find((a) => 'metaData' in a) as { metaData: MetadataAction }).metaData;
  assert.match(md.id, /^[0-9a-f-]{36}$/);
  assert.equal(md.name, 'hosts');
  assert.deepEqual(md.format, { provider: 'parquet', options: {} });
  assert.deepEqual(JSON.parse(md.schemaString), {
    type: 'struct',
    fields: [
      { name: 'id', type: 'long', nullable: true, metadata: {} },
      { name: 'host', type: 'string', nullable: true, metadata: {} },
    ],
  });
  const ci0 = commitInfo(a0);
  assert.equal(ci0.operation, 'WRITE');
  assert.deepEqual(ci0.operationParameters, { mode: 'Append', partitionBy: '[]' });
  assert.match(String(ci0.engineInfo), /^winlake\/\S+ duckdb\/\S+$/);
  assert.equal(ci0.isBlindAppend, true);
  assert.deepEqual(ci0.operationMetrics, { numFiles: '1', numOutputRows: '5', numOutputBytes: String(r0.numBytes) });

  const r1 = await writeDelta(session, 'select 10::INT as id, \'x\' as host', t);
  assert.equal(r1.version, 1);
  assert.equal(commitInfo(actionsOf(t, 1)).readVersion, 0);
  const rows = await (await readDelta(session, t)).orderBy('id').toRows<{ id: bigint }>();
  assert.deepEqual(rows.map((r) => Number(r.id)), [0, 1, 2, 3, 4, 10]);
  await assert.rejects(writeDelta(session, 'select 1 as id', t, { mode: 'errorIfExists' }), /already exists/);
});

test('partition folders use Hive escaping; add.path is URI-escaped; null and empty → __HIVE_DEFAULT_PARTITION__', async () => {
  const t = table();
  const values = ['a b', 'x/y', 'k=v', '50%', 'c:d', 'ünï', '', null, 'q"#?'];
  const sql = values.map((v, i) => `select ${i} as id, ${v === null ? 'NULL::VARCHAR' : `'${v}'`} as p`).join(' union all ');
  const r = await writeDelta(session, sql, t, { partitionBy: ['p'] });
  const byValue = new Map(r.files.map((f) => [f.partitionValues.p, f]));
  assert.equal(r.files.length, values.length - 1, 'empty string and null share the null partition');
  assert.equal(byValue.get(null)!.path.split('/')[0], 'p=__HIVE_DEFAULT_PARTITION__');
  assert.equal(byValue.get('x/y')!.path.split('/')[0], 'p=x%252Fy');
  assert.equal(byValue.get('a b')!.path.split('/')[0], 'p=a%20b');
  for (const f of r.files) {
    const rel = fromAddPath(f.path);
    assert.ok(existsSync(path.join(t, rel)), `file of ${f.path} exists`);
    const v = f.partitionValues.p!;
    assert.equal(rel.split('/')[0], `p=${v === null ? '__HIVE_DEFAULT_PARTITION__' : escapePartitionPathPart(v)}`);
    // Partition columns live in the log, not in the data files.
    const cols = await session.rows<{ name: string }>(`select name from parquet_schema('${path.join(t, rel).replaceAll("'", "''")}')`);
    assert.ok(!cols.some((c) => c.name === 'p'));
  }
  assert.ok(readdirSync(t).includes('p=ünï'));
  assert.ok(readdirSync(t).includes('p=k%3Dv'));
  const rows = await (await readDelta(session, t)).orderBy('id').toRows<{ id: number; p: string | null }>();
  assert.deepEqual(rows.map((x) => x.p), values.map((v) => (v === '' ? null : v)));
});

test('a small write: big partitions get a COPY each, the small ones share a PARTITION_BY COPY, and many partitions one PARTITION_BY COPY; the same table', async () => {
  // Host h0 holds three rows in four (~11k per day: a COPY each); the other hosts a few hundred.
  const source = (parts: number): string =>
    `select i::BIGINT as id, 'h' || CASE WHEN i % 4 <> 0 THEN 0 ELSE i % ${parts} END as host, ` +
    `CASE WHEN i % 7 = 0 THEN NULL ELSE DATE '2024-01-01' + ((i // 3) % 2)::INT END as day, repeat('x', 50) as pad from range(40000) t(i)`;
  for (const parts of [3, 41]) {
    const t = table();
    const r = await writeDelta(session, source(parts), t, { partitionBy: ['host', 'day'] });
    const expected = Number(await session.scalar(`SELECT count(*) FROM (SELECT DISTINCT host, day FROM (${source(parts)}))`));
    const partitions = new Set(r.files.map((f) => JSON.stringify(f.partitionValues)));
    assert.equal(r.files.length, expected, `${parts} hosts × 3 days (one of them null): one file each`);
    assert.equal(partitions.size, r.files.length);
    assert.equal(r.numRows, 40000);
    assert.equal(r.files.reduce((n, f) => n + (JSON.parse(f.stats!) as FileStats).numRecords, 0), 40000);
    const back = await readDelta(session, t);
    const mismatched = await session.scalar(
      `SELECT count(*) FROM ((SELECT id, host, day, pad FROM (${await back.toSql()}) EXCEPT ALL SELECT id, host, day, pad FROM (${source(parts)})) ` +
        `UNION ALL (SELECT id, host, day, pad FROM (${source(parts)}) EXCEPT ALL SELECT id, host, day, pad FROM (${await back.toSql()})))`,
    );
    assert.equal(Number(mismatched), 0, `${parts} hosts: the rows read back are the rows written`);
    // Small writes get 16,384-row row groups: h0's ~11k-row files are one, the small ones too.
    for (const f of r.files) {
      const groups = await session.scalar(`SELECT count(DISTINCT row_group_id) FROM parquet_metadata(${JSON.stringify(path.join(t, fromAddPath(f.path))).replaceAll('"', "'")})`);
      assert.equal(Number(groups), Math.ceil(JSON.parse(f.stats!).numRecords / 16384));
    }
  }
  const empty = table();
  const none = await writeDelta(session, `select * from (${source(3)}) where false`, empty, { partitionBy: ['host', 'day'] });
  assert.equal(none.files.length, 0);
});

test('add.path escaping round-trips', () => {
  for (const rel of ['p=a%2Fb c/part-1.parquet', 'x=ü/y=__HIVE_DEFAULT_PARTITION__/f.parquet', 'a=b:c/f.parquet']) {
    assert.equal(fromAddPath(toAddPath(rel)), rel);
    assert.ok(!toAddPath(rel).includes(':'));
  }
});

test('types: TIMESTAMP is written as TIMESTAMPTZ; nested, list, map, decimal, date; unsupported types are refused', async () => {
  const t = table();
  await writeDelta(
    session,
    `select TIMESTAMP '2024-03-01 12:00:00.987654' as ts, DATE '2024-03-01' as d, 1.25::DECIMAL(9,2) as dec,
       {'a': 1, 'b': {'c': 'x'}} as st, ['u', 'v'] as li, MAP {'k': 1} as m, true as b, 2.5::FLOAT as f,
       1::TINYINT as t8, 2::SMALLINT as t16, 7::UINTEGER as u32, 9::HUGEINT as huge, uuid() as u, 'ab'::BLOB as bin`,
    t,
  );
  const snap = await loadSnapshot(t, { session });
  const types = Object.fromEntries(snap.schema.fields.map((f) => [f.name, f.type]));
  assert.equal(types.ts, 'timestamp');
  assert.equal(types.d, 'date');
  assert.equal(types.dec, 'decimal(9,2)');
  assert.deepEqual(types.li, { type: 'array', elementType: 'string', containsNull: true });
  assert.deepEqual(types.m, { type: 'map', keyType: 'string', valueType: 'integer', valueContainsNull: true });
  assert.equal(types.b, 'boolean');
  assert.equal(types.f, 'float');
  assert.equal(types.t8, 'byte');
  assert.equal(types.t16, 'short');
  assert.equal(types.u32, 'long');
  assert.equal(types.huge, 'decimal(38,0)');
  assert.equal(types.u, 'string');
  assert.equal(types.bin, 'binary');
  const file = path.join(t, fromAddPath(snap.files[0]!.path));
  const ts = await session.rows<{ duckdb_type: string; logical_type: string }>(`select duckdb_type, logical_type from parquet_schema('${file}') where name = 'ts'`);
  assert.equal(ts[0]!.duckdb_type, 'TIMESTAMP WITH TIME ZONE');
  assert.match(ts[0]!.logical_type, /isAdjustedToUTC=1/);
  const stats = JSON.parse(snap.files[0]!.stats!) as FileStats;
  assert.equal((stats.minValues as Record<string, unknown>).ts, '2024-03-01T12:00:00.987Z');
  assert.deepEqual((stats.minValues as Record<string, unknown>).st, { a: 1, b: { c: 'x' } });
  await assert.rejects(writeDelta(session, "select TIME '10:00' as tm", table()), /column tm has DuckDB type TIME/);
  const dup = await session.run('select 1 as a, 2 as "A"');
  assert.throws(() => sparkSchemaFromDuckDB(dup.columnNames(), dup.columnTypes()), /duplicate column "A"/);
});

test('stats: numRecords, min/max/nullCount, string prefix with an upper-bound max, numIndexedCols', async () => {
  const t = table();
  const long = 'z'.repeat(40);
  await writeDelta(
    session,
    `select i as a, case when i % 2 = 0 then null else i end as b, '${long}' || i as s, {'x': i} as st, i as e from range(10) t(i)`,
    t,
    { configuration: { 'delta.dataSkippingNumIndexedCols': '4' } },
  );
  const snap = await loadSnapshot(t, { session });
  const stats = JSON.parse(snap.files[0]!.stats!) as Required<FileStats>;
  assert.equal(stats.numRecords, 10);
  assert.deepEqual(stats.minValues, { a: 0, b: 1, s: 'z'.repeat(32), st: { x: 0 } });
  assert.equal(stats.maxValues.a, 9);
  assert.equal(stats.maxValues.b, 9);
  assert.equal(stats.maxValues.s, `${'z'.repeat(32)}\u{10FFFF}`);
  assert.ok(Buffer.compare(Buffer.from(stats.maxValues.s as string), Buffer.from(`${long}9`)) > 0, 'cut max stays an upper bound');
  assert.deepEqual(stats.nullCount, { a: 0, b: 5, s: 0, st: { x: 0 } });
  assert.ok(!('e' in stats.minValues), 'only the first 4 leaf columns are indexed');
  assert.equal(truncateMaxString('short'), 'short');
});

test('schema enforcement and mergeSchema (new columns and nested fields)', async () => {
  const t = table();
  await writeDelta(session, "select 1::BIGINT as id, {'a': 1} as st", t);
  await assert.rejects(writeDelta(session, "select 2::BIGINT as id, {'a': 2} as st, 'x' as extra", t), /extra.*mergeSchema/s);
  await assert.rejects(writeDelta(session, "select 'x' as id", t), /column id: the data has type string but the table has long/);
  // Narrower data is written as the table's type; missing columns read as null.
  await writeDelta(session, 'select 3::INT as id', t);
  const r = await writeDelta(session, "select 4::BIGINT as id, {'a': 4, 'b': 'new'} as st, 'e' as extra", t, { mergeSchema: true });
  assert.equal(r.version, 2);
  const md = (actionsOf(t, 2).find((a) => 'metaData' in a) as { metaData: MetadataAction }).metaData;
  assert.deepEqual(
    (JSON.parse(md.schemaString) as { fields: { name: string }[] }).fields.map((f) => f.name),
    ['id', 'st', 'extra'],
  );
  const rows = await (await readDelta(session, t)).orderBy('id').toRows<{ id: bigint; st: { a: bigint; b: string | null } | null; extra: string | null }>();
  assert.deepEqual(
    rows.map((x) => [Number(x.id), x.st?.b ?? null, x.extra]),
    [
      [1, null, null],
      [3, null, null],
      [4, 'new', 'e'],
    ],
  );
  assert.throws(
    () => mergeSchemas(
      { type: 'struct', fields: [{ name: 's', type: { type: 'struct', fields: [{ name: 'x', type: 'long', nullable: true, metadata: {} }] }, nullable: true, metadata: {} }] },
      { type: 'struct', fields: [{ name: 's', type: { type: 'struct', fields: [{ name: 'x', type: 'string', nullable: true, metadata: {} }] }, nullable: true, metadata: {} }] },
    ),
    /column s\.x: the data has type string but the table has long/,
  );
});

test('partitionBy must match the table', async () => {
  const t = table();
  await writeDelta(session, "select 1 as id, 'a' as p", t, { partitionBy: ['p'] });
  await assert.rejects(writeDelta(session, "select 1 as id, 'a' as p", t, { partitionBy: ['id'] }), /partitioned by \[p\]/);
  await assert.rejects(writeDelta(session, 'select 1 as id', t), /no partition column "p"/);
  await assert.rejects(writeDelta(session, "select 'a' as p", table(), { partitionBy: ['p'] }), /at least one data column/);
});

test('overwrite removes every active file in the same commit', async () => {
  const t = table();
  await writeDelta(session, 'select i as id from range(3) t(i)', t);
  await writeDelta(session, 'select i as id from range(3, 6) t(i)', t);
  const r = await writeDelta(session, 'select 100 as id', t, { mode: 'overwrite' });
  const actions = actionsOf(t, r.version!);
  assert.equal(actions.filter((a) => 'remove' in a).length, 2);
  assert.equal(adds(actions).length, 1);
  const ci = commitInfo(actions);
  assert.equal(ci.isBlindAppend, false);
  assert.equal((ci.operationParameters as Record<string, unknown>).mode, 'Overwrite');
  const rows = await (await readDelta(session, t)).toRows<{ id: bigint }>();
  assert.deepEqual(rows.map((x) => Number(x.id)), [100]);
});

test('txn: a batch already committed for an appId is skipped', async () => {
  const t = table();
  const first = await writeDelta(session, 'select 1 as id', t, { txn: { appId: 'stream-1', version: 0 } });
  assert.equal(first.skipped, false);
  const again = await writeDelta(session, 'select 1 as id', t, { txn: { appId: 'stream-1', version: 0 } });
  assert.deepEqual(again, { version: null, skipped: true, files: [], numRows: 0, numBytes: 0 });
  await writeDelta(session, 'select 2 as id', t, { txn: { appId: 'stream-1', version: 1 } });
  const snap = await loadSnapshot(t, { session });
  assert.equal(snap.appTxns.get('stream-1'), 1);
  assert.equal(await (await readDelta(session, t)).count(), 2);
});

test('checkpoint every 10 commits; readers use it', async () => {
  const t = table();
  for (let i = 0; i <= 12; i++) {
    const r = await writeDelta(session, `select ${i} as id`, t, { txn: { appId: 'a', version: i } });
    assert.equal(r.checkpointVersion, i === 10 ? 10 : undefined);
  }
  assert.ok(existsSync(path.join(t, '_delta_log', checkpointFileName(10))));
  assert.deepEqual(JSON.parse(readFileSync(path.join(t, '_delta_log', '_last_checkpoint'), 'utf8')), {
    version: 10,
    size: 14,
    sizeInBytes: JSON.parse(readFileSync(path.join(t, '_delta_log', '_last_checkpoint'), 'utf8')).sizeInBytes,
    numOfAddFiles: 11,
  });
  const cols = await session.rows<{ name: string }>(
    `select name from parquet_schema('${path.join(t, '_delta_log', checkpointFileName(10))}') where name in ('txn','add','remove','metaData','protocol','partitionValues')`,
  );
  assert.deepEqual(cols.map((c) => c.name).sort(), ['add', 'metaData', 'partitionValues', 'partitionValues', 'protocol', 'remove', 'txn'].sort());
  // Without the commits before it, the checkpoint alone must carry the state.
  for (let v = 0; v < 10; v++) writeFileSync(path.join(t, '_delta_log', commitFileName(v)), 'not json');
  const snap = await loadSnapshot(t, { session });
  assert.equal(snap.version, 12);
  assert.equal(snap.files.length, 13);
  assert.equal(snap.appTxns.get('a'), 12);
});

test('put-if-absent: a lost race on a blind append is retried; a real conflict fails clearly', async () => {
  const t = table();
  await writeDelta(session, 'select 1 as id', t);
  const snap = await loadSnapshot(t, { session });
  const file = snap.files[0]!;
  // Two writers both read version 0 and remove the same file: the second must fail.
  await commitActions(t, [{ remove: { path: file.path, dataChange: true, deletionTimestamp: Date.now() } }], {
    readVersion: 0, isBlindAppend: false, operation: 'DELETE',
  });
  await assert.rejects(
    commitActions(t, [{ remove: { path: file.path, dataChange: true, deletionTimestamp: Date.now() } }], {
      readVersion: 0, isBlindAppend: false, operation: 'DELETE',
    }),
    (err: unknown) => err instanceof ConcurrentModificationError && err.kind === 'concurrentDeleteDelete' && /already removed/.test(err.message),
  );
  // A blind append that read version 0 lands at version 2.
  const { version, attempts } = await commitActions(t, [{ add: { ...file, path: 'other.parquet' } }], {
    readVersion: 0, isBlindAppend: true, operation: 'WRITE',
  });
  assert.equal(version, 2);
  assert.equal(attempts, 2);
  assert.equal(commitInfo(await readCommit(t, 2)).readVersion, 0);
  // Metadata changed concurrently → conflict.
  await commitActions(t, [{ metaData: { ...snap.metadata, configuration: { x: '1' } } }], { readVersion: 2, isBlindAppend: false, operation: 'SET TBLPROPERTIES' });
  await assert.rejects(
    commitActions(t, [{ add: { ...file, path: 'third.parquet' } }], { readVersion: 2, isBlindAppend: true, operation: 'WRITE' }),
    /metadata .* changed by a concurrent commit/,
  );
  assert.equal(await latestVersion(t), 3);
  assert.ok(!readdirSync(path.join(t, '_delta_log')).some((f) => f.endsWith('.tmp')), 'no temp files left');
});

test('a write that fails after DuckDB started writing files leaves the table unchanged', async () => {
  const t = table();
  await writeDelta(session, 'select 1::BIGINT as id', t);
  await assert.rejects(
    writeDelta(session, "select i as id, (i % 3)::VARCHAR as p, case when i = 150000 then error('boom') end as e from range(200000) t(i)", t, {
      mergeSchema: true,
    }),
    /boom/,
  );
  assert.equal(await latestVersion(t), 0);
  assert.deepEqual((await (await readDelta(session, t)).toRows<{ id: number }>()).map((r) => Number(r.id)), [1]);
});

test('empty source: the table is created with no files', async () => {
  const t = table();
  const r = await writeDelta(session, 'select 1 as id where false', t);
  assert.equal(r.version, 0);
  assert.equal(r.files.length, 0);
  assert.equal(readdirSync(t).filter((f) => f.endsWith('.parquet')).length, 0);
  assert.equal(await (await readDelta(session, t)).count(), 0);
});

test('targetFileRows splits a write into several files', async () => {
  const t = table();
  const r = await writeDelta(session, 'select i as id from range(30000) t(i)', t, { targetFileRows: 10000 });
  assert.equal(r.files.length, 3);
  assert.equal(r.numRows, 30000);
});

test('stats reported by COPY equal the stats read back from the Parquet footers (float bounds exact, NaN unbounded)', async () => {
  const t = table();
  await writeDelta(
    session,
    `select (i % 100)::TINYINT as t8, i::SMALLINT as t16, i::INT as t32, i * 1000000000000 as t64, (i / 3)::FLOAT as f,
       case when i = 7 then 'nan'::DOUBLE else i / 7 end as dn, (i / 7)::DOUBLE as d, (i * 1.25)::DECIMAL(9,2) as dec, -(i * 1.25)::DECIMAL(38,10) as dec2,
       DATE '2024-03-01' + i::INT as dt, TIMESTAMPTZ '2024-03-01 12:00:00.987654+05:30' + i * INTERVAL 1 hour as ts,
       'str' || i || '"q' as s, repeat('x', 300) || i as longs, {'a': i, 'b': {'c': 'x' || i}} as "we""ird.st", ['u'] as li,
       i % 2 = 0 as p, case when i % 3 = 0 then null else i end as nul, 'ab'::BLOB as bin, NULL::VARCHAR as allnull
     from range(3000) t(i)`,
    t,
    { partitionBy: ['p'], configuration: { 'delta.dataSkippingNumIndexedCols': '-1' } },
  );
  const snap = await loadSnapshot(t, { session });
  const dataSchema = { type: 'struct' as const, fields: snap.schema.fields.filter((f) => f.name !== 'p') };
  assert.equal(snap.files.length, 2);
  for (const f of snap.files) {
    const abs = dataFilePath(t, f.path);
    const fromFooter = JSON.parse((await fileStats(session, [abs], dataSchema, { numIndexedCols: -1 })).get(abs)!) as Required<FileStats>;
    const fromCopy = JSON.parse(f.stats!) as Required<FileStats>;
    for (const k of ['minValues', 'maxValues'] as const) {
      const copyFloat = fromCopy[k].f as number;
      const footerFloat = fromFooter[k].f as number;
      // The footer path renders the float's shortest text; COPY stats keep the exact float value.
      assert.equal(copyFloat, Math.fround(footerFloat));
      assert.equal('dn' in fromCopy[k], f.partitionValues.p !== 'false', 'the file holding NaN has no dn bounds');
      for (const stats of [fromCopy, fromFooter]) {
        delete stats[k].f;
        delete stats[k].dn;
      }
    }
    assert.deepEqual(fromCopy, fromFooter);
  }
});

test('the cached table state follows commits made by other writers, and a table recreated at the same path', async () => {
  const t = table();
  await writeDelta(session, 'select 1::BIGINT as id', t, { txn: { appId: 'app', version: 0 } });
  await writeDelta(session, 'select 2::BIGINT as id', t);
  // Another writer (not through writeDelta, so the cache does not see it) removes a file, adds a
  // column and records a txn.
  const snap = await loadSnapshot(t, { session });
  const one = snap.files.find((f) => (JSON.parse(f.stats!) as FileStats).minValues?.id === 1)!;
  await commitActions(t, [{ remove: { path: one.path, dataChange: true, deletionTimestamp: Date.now() } }], { readVersion: 1, isBlindAppend: false, operation: 'DELETE' });
  const schema = JSON.parse(snap.metadata.schemaString) as { fields: unknown[] };
  schema.fields.push({ name: 'extra', type: 'string', nullable: true, metadata: {} });
  await commitActions(t, [{ metaData: { ...snap.metadata, schemaString: JSON.stringify(schema) } }, { txn: { appId: 'app', version: 5 } }], {
    readVersion: 2, isBlindAppend: false, operation: 'ADD COLUMNS',
  });
  // The new column is known without mergeSchema; the external txn makes batch 5 a no-op.
  assert.equal((await writeDelta(session, "select 3::BIGINT as id, 'e' as extra", t)).version, 4);
  assert.equal((await writeDelta(session, 'select 9::BIGINT as id', t, { txn: { appId: 'app', version: 5 } })).skipped, true);
  // An overwrite removes exactly the files active now (not the one already removed).
  const r = await writeDelta(session, 'select 4::BIGINT as id', t, { mode: 'overwrite' });
  const removed = actionsOf(t, r.version!).flatMap((a) => ('remove' in a ? [(a.remove as { path: string }).path] : []));
  assert.equal(removed.length, 2);
  assert.ok(!removed.includes(one.path));
  assert.deepEqual((await (await readDelta(session, t)).toRows<{ id: bigint }>()).map((x) => Number(x.id)), [4]);

  // Deleted and written again by someone else at the same path: the writer must not trust its cache.
  rmSync(t, { recursive: true, force: true });
  await commitActions(
    t,
    [
      { protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
      { metaData: { ...snap.metadata, id: 'other-table', schemaString: JSON.stringify({ type: 'struct', fields: [{ name: 'name', type: 'string', nullable: true, metadata: {} }] }) } },
    ],
    { readVersion: -1, isBlindAppend: false, operation: 'CREATE TABLE' },
  );
  for (let v = 1; v <= r.version!; v++) await commitActions(t, [], { readVersion: v - 1, isBlindAppend: true, operation: 'WRITE' });
  await assert.rejects(writeDelta(session, 'select 5::BIGINT as id', t), /the data has columns the table does not: id/);
  await writeDelta(session, "select 'x' as name", t);
  assert.deepEqual(await (await readDelta(session, t)).toRows(), [{ name: 'x' }]);
});
