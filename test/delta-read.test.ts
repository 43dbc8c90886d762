/**
 * The Delta reader on tables made here: a hand-written log over DuckDB-written Parquet (nested
 * struct evolution, partitions, stats, time travel, history, skipping), and tables written by
 * python deltalake (rows compared with what deltalake itself returns, checkpoints included).
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { quoteString } from '../kernel-lib/src/engine/quote.js';
import { col, lit } from '../kernel-lib/src/frame/expr.js';
import { commitFileName } from '../kernel-lib/src/delta/actions.js';
import { history } from '../kernel-lib/src/delta/history.js';
import { latestVersion, readCommit } from '../kernel-lib/src/delta/log.js';
import { readDelta } from '../kernel-lib/src/delta/read.js';
import { DeltaScan } from '../kernel-lib/src/delta/scan.js';
import { loadSnapshot } from '../kernel-lib/src/delta/snapshot.js';
import type { SkipStage } from '../kernel-lib/src/delta/skipping.js';
import { tempDir, testSession } from './helpers.js';
import { deltaPython } from './python.js';

const session = await testSession();

const SCHEMA = JSON.stringify({
  type: 'struct',
  fields: [
    { name: 'id', type: 'long', nullable: true, metadata: {} },
    { name: 'user_name', type: 'string', nullable: true, metadata: {} },
    { name: 'ts', type: 'timestamp', nullable: true, metadata: {} },
    {
      name: 'winlog',
      type: {
        type: 'struct',
        fields: [
          { name: 'event_id', type: 'integer', nullable: true, metadata: {} },
          { name: 'channel', type: 'string', nullable: true, metadata: {} },
        ],
      },
      nullable: true,
      metadata: {},
    },
    { name: 'tags', type: { type: 'array', elementType: 'string', containsNull: true }, nullable: true, metadata: {} },
    { name: '_event_date', type: 'date', nullable: true, metadata: {} },
  ],
});

const line = (o: unknown): string => JSON.stringify(o);

/** Writes one Parquet file with DuckDB and returns its add action (with stats for id/user_name/ts). */
async function parquetFile(table: string, rel: string, select: string, partitionValues: Record<string, string | null>): Promise<object> {
  const abs = path.join(table, rel);
  mkdirSync(path.dirname(abs), { recursive: true });
  await session.run(`COPY (${select}) TO ${quoteString(abs)} (FORMAT parquet)`);
  const st = await session.rows<{ n: bigint; min_id: bigint; max_id: bigint; min_u: string; max_u: string; nulls_u: bigint; min_ts: Date; max_ts: Date }>(
    `SELECT count(*) n, min(id) min_id, max(id) max_id, min(user_name) min_u, max(user_name) max_u,
            count(*) - count(user_name) nulls_u, min(ts) min_ts, max(ts) max_ts FROM read_parquet(${quoteString(abs)})`,
  );
  const s = st[0]!;
  const stats = {
    numRecords: Number(s.n),
    minValues: { id: Number(s.min_id), user_name: s.min_u, ts: s.min_ts.toISOString() },
    maxValues: { id: Number(s.max_id), user_name: s.max_u, ts: s.max_ts.toISOString() },
    nullCount: { id: 0, user_name: Number(s.nulls_u), ts: 0 },
  };
  const size = Number(await session.scalar(`SELECT sum(total_compressed_size) FROM parquet_metadata(${quoteString(abs)})`));
  return {
    add: { path: rel.split('/').map(encodeURIComponent).join('/'), partitionValues, size, modificationTime: 0, dataChange: true, stats: JSON.stringify(stats) },
  };
}

function commit(table: string, version: number, timestamp: number, actions: object[], operation = 'WRITE'): void {
  mkdirSync(path.join(table, '_delta_log'), { recursive: true });
  const info = { commitInfo: { timestamp, operation, operationParameters: { mode: 'Append' }, isBlindAppend: true, readVersion: version - 1, engineInfo: 'test' } };
  writeFileSync(path.join(table, '_delta_log', commitFileName(version)), [info, ...actions].map(line).join('\n') + '\n', { flag: 'wx' });
}

/**
 * v0: create (no files). v1: a file whose struct lacks `channel` and which has no `tags` column.
 * v2: a file with the full struct and tags, another partition. v3: removes the v1 file and adds one more.
 */
async function handWrittenTable(): Promise<string> {
  const table = path.join(tempDir(), 'bronze table');
  commit(table, 0, 1_000, [
    { protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
    { metaData: { id: 'test-id', format: { provider: 'parquet', options: {} }, schemaString: SCHEMA, partitionColumns: ['_event_date'], configuration: {}, createdTime: 1_000 } },
  ], 'CREATE TABLE');
  const f1 = await parquetFile(
    table,
    '_event_date=2024-05-01/part-1.parquet',
    `SELECT * FROM (VALUES (1::BIGINT, 'alice', TIMESTAMPTZ '2024-05-01 10:00:00.123456+00', {'event_id': 1}),
                           (2, NULL, TIMESTAMPTZ '2024-05-01 11:00:00+00', {'event_id': 5})) v(id, user_name, ts, winlog)`,
    { _event_date: '2024-05-01' },
  );
  commit(table, 1, 2_000, [f1]);
  const f2 = await parquetFile(
    table,
    '_event_date=2024-05-02/part 2 [x].parquet',
    `SELECT * FROM (VALUES (10::BIGINT, 'carol', TIMESTAMPTZ '2024-05-02 09:00:00+00', {'event_id': 1, 'channel': 'Sysmon'}, ['a', 'b']),
                           (11, 'dave', TIMESTAMPTZ '2024-05-02 09:30:00+00', NULL, NULL)) v(id, user_name, ts, winlog, tags)`,
    { _event_date: '2024-05-02' },
  );
  commit(table, 2, 3_000, [f2]);
  const f3 = await parquetFile(
    table,
    '_event_date=__HIVE_DEFAULT_PARTITION__/part-3.parquet',
    `SELECT 20::BIGINT AS id, 'erin' AS user_name, TIMESTAMPTZ '2024-05-03 00:00:00+00' AS ts, {'channel': 'Security', 'event_id': 4624} AS winlog`,
    { _event_date: null },
  );
  commit(table, 3, 4_000, [{ remove: { path: (f1 as { add: { path: string } }).add.path, deletionTimestamp: 4_000, dataChange: true } }, f3], 'DELETE');
  return table;
}

const table = await handWrittenTable();

test('latest version: struct fields and columns missing from older files read as NULL, table order, typed partitions', async () => {
  const df = await readDelta(session, table);
  assert.deepEqual(await df.columns(), ['id', 'user_name', 'ts', 'winlog', 'tags', '_event_date']);
  const types = (await df.schema()).map((f) => f.type);
  assert.deepEqual(types, ['BIGINT', 'VARCHAR', 'TIMESTAMP WITH TIME ZONE', 'STRUCT("event_id" INTEGER, "channel" VARCHAR)', 'VARCHAR[]', 'DATE']);
  const rows = await session.rows(`SELECT id, winlog, tags, _event_date::VARCHAR AS d FROM (${await df.toSql()}) ORDER BY id`);
  assert.deepEqual(rows, [
    { id: 10n, winlog: { event_id: 1, channel: 'Sysmon' }, tags: ['a', 'b'], d: '2024-05-02' },
    { id: 11n, winlog: null, tags: null, d: '2024-05-02' },
    { id: 20n, winlog: { event_id: 4624, channel: 'Security' }, tags: null, d: null },
  ]);
});

test('time travel by version: v1 reads a file lacking a nested field and a column', async () => {
  const df = await readDelta(session, table, { version: 1 });
  const rows = await session.rows(`SELECT id, user_name, ts::VARCHAR AS ts, winlog, tags FROM (${await df.toSql()}) ORDER BY id`);
  assert.deepEqual(rows, [
    { id: 1n, user_name: 'alice', ts: '2024-05-01 10:00:00.123456+00', winlog: { event_id: 1, channel: null }, tags: null },
    { id: 2n, user_name: null, ts: '2024-05-01 11:00:00+00', winlog: { event_id: 5, channel: null }, tags: null },
  ]);
  assert.equal(await (await readDelta(session, table, { version: 2 })).count(), 4);
});

test('an empty table (version 0) has zero rows with the right columns and types', async () => {
  const df = await readDelta(session, table, { version: 0 });
  assert.equal(await df.count(), 0);
  assert.deepEqual((await df.schema()).map((f) => `${f.name} ${f.type}`), [
    'id BIGINT',
    'user_name VARCHAR',
    'ts TIMESTAMP WITH TIME ZONE',
    'winlog STRUCT("event_id" INTEGER, "channel" VARCHAR)',
    'tags VARCHAR[]',
    '_event_date DATE',
  ]);
});

test('time travel by timestamp picks the latest commit at or before it; clear errors outside the range', async () => {
  assert.equal((await loadSnapshot(table, { timestamp: 2_500, session })).version, 1);
  assert.equal((await loadSnapshot(table, { timestamp: new Date(3_000), session })).version, 2);
  assert.equal((await loadSnapshot(table, { timestamp: '2030-01-01T00:00:00Z', session })).version, 3);
  const snap = await loadSnapshot(table, { timestamp: '1970-01-01 00:00:02', session });
  assert.equal(snap.version, 1);
  assert.equal(snap.timestamp, 2_000);
  await assert.rejects(loadSnapshot(table, { timestamp: 999, session }), /earliest available commit is version 0 at 1970-01-01T00:00:01.000Z/);
  await assert.rejects(loadSnapshot(table, { version: 7, session }), /version 7 .* not available: the log holds versions 0\.\.3/);
  assert.equal(await latestVersion(table), 3);
  assert.equal(await latestVersion(path.join(table, 'nope')), -1);
});

test('history lists commits newest first, like DESCRIBE HISTORY', async () => {
  const h = await history(table);
  assert.deepEqual(h.map((e) => [e.version, e.operation, e.timestamp.getTime(), e.readVersion]), [
    [3, 'DELETE', 4_000, 2],
    [2, 'WRITE', 3_000, 1],
    [1, 'WRITE', 2_000, 0],
    [0, 'CREATE TABLE', 1_000, -1],
  ]);
  assert.deepEqual((await history(table, { limit: 1 })).map((e) => e.version), [3]);
  assert.equal((await readCommit(table, 3)).length, 3);
});

test('partition pruning and stats skipping are reported by explain, and rows stay right', async () => {
  const scan = await DeltaScan.create(session, table);
  const byPartition = await scan.explain([col('_event_date').eq(lit('2024-05-02')).node]);
  assert.equal(byPartition.filesTotal, 2);
  assert.deepEqual(byPartition.stages.map((s) => [s.stage, s.filesSkipped]), [['partitions', 1], ['stats', 0]]);
  assert.equal(byPartition.filesScanned, 1);
  assert.ok(byPartition.bytesScanned > 0 && byPartition.bytesScanned < byPartition.bytesTotal);

  const byStats = await scan.explain([col('id').ge(20).node]);
  assert.deepEqual(byStats.stages.map((s) => [s.stage, s.filesSkipped]), [['partitions', 0], ['stats', 1]]);
  const nullPartition = await scan.explain([col('_event_date').isNull().node]);
  assert.equal(nullPartition.filesScanned, 1);
  const inList = await scan.explain([col('user_name').isin(['zed', 'carol']).node, col('ts').lt(new Date('2024-05-02T09:00:00.001Z')).node]);
  assert.equal(inList.filesScanned, 1);
  // Timestamps in stats are ms-truncated: a max of 09:30:00 may hide 09:30:00.000999.
  const edge = await scan.explain([col('ts').gt(new Date('2024-05-02T09:30:00.000Z')).node]);
  assert.equal(edge.stages[1]!.filesSkipped, 0);
  const unknown = await scan.explain([col('user_name').like('%a%').node, col('id').ne(10).node]);
  assert.equal(unknown.filesScanned, 2);

  const df = (await readDelta(session, table)).filter(col('id').ge(20));
  assert.deepEqual((await df.toRows()).map((r) => r.id), [20n]);
  const report = await df.explain();
  assert.ok(typeof report !== 'string' && report.filesScanned === 1);
});

test('extra skipping stages run after partitions and stats', async () => {
  const seen: string[] = [];
  const bloom: SkipStage = {
    name: 'bloom',
    keep: (file) => {
      seen.push(file.add.path);
      return !file.add.path.includes('part-3');
    },
  };
  const scan = await DeltaScan.create(session, table, { stages: [bloom] });
  const report = await scan.explain([col('id').gt(0).node]);
  assert.deepEqual(report.stages.map((s) => s.stage), ['partitions', 'stats', 'bloom']);
  assert.equal(report.stages[2]!.filesSkipped, 1);
  assert.equal(seen.length, 2);
});

test('clear errors: no _delta_log, missing commit after a checkpoint-less gap, reader version too high', async () => {
  await assert.rejects(loadSnapshot(tempDir(), { session }), /no _delta_log folder/);
  const gap = path.join(tempDir(), 't');
  commit(gap, 0, 1, [{ protocol: { minReaderVersion: 1, minWriterVersion: 2 } }, { metaData: { id: 'x', format: { provider: 'parquet', options: {} }, schemaString: SCHEMA, partitionColumns: [], configuration: {} } }]);
  commit(gap, 2, 3, []);
  await assert.rejects(loadSnapshot(gap, { session }), /commit 1 is missing/);
  const future = path.join(tempDir(), 'f');
  commit(future, 0, 1, [{ protocol: { minReaderVersion: 3, minWriterVersion: 7, readerFeatures: ['deletionVectors', 'variantType'], writerFeatures: [] } }, { metaData: { id: 'x', format: { provider: 'parquet', options: {} }, schemaString: SCHEMA, partitionColumns: [], configuration: {} } }]);
  await assert.rejects(loadSnapshot(future, { session }), /unsupported Delta reader feature\(s\): deletionVectors, variantType/);
});

test('tables written by python deltalake read the same as deltalake reads them (with a checkpoint)', async () => {
  const dir = tempDir();
  const deltaPath = path.join(dir, 'dl table');
  const expected = path.join(dir, 'expected.parquet');
  const script = `
import sys, datetime as dt
import pyarrow as pa, pyarrow.parquet as pq
from deltalake import write_deltalake, DeltaTable
path, out = sys.argv[1], sys.argv[2]
def batch(start, day, n):
    return pa.table({
        'id': pa.array(range(start, start + n), pa.int64()),
        'host': pa.array([f'ws{i % 3}' for i in range(n)], pa.string()),
        'score': pa.array([i / 3 for i in range(n)], pa.float64()),
        'seen': pa.array([dt.datetime(2024, 5, day, i % 24, tzinfo=dt.timezone.utc) for i in range(n)], pa.timestamp('us', tz='UTC')),
        'day': pa.array([f'2024-05-0{day}'] * n, pa.string()),
    })
write_deltalake(path, batch(0, 1, 50), partition_by=['day'], mode='append')
write_deltalake(path, batch(50, 2, 50), partition_by=['day'], mode='append')
DeltaTable(path).create_checkpoint()
write_deltalake(path, batch(100, 3, 50), partition_by=['day'], mode='append')
dt_ = DeltaTable(path)
dt_.delete("id < 10")
pq.write_table(DeltaTable(path).to_pyarrow_table(), out)
`;
  deltaPython(script, [deltaPath, expected]);
  const snap = await loadSnapshot(deltaPath, { session });
  assert.equal(snap.version, 3);
  const df = await readDelta(session, deltaPath);
  const ours = await df.toSql();
  const theirs = `SELECT id, host, score, seen, day FROM read_parquet(${quoteString(expected)})`;
  const diff = async (a: string, b: string): Promise<number> => Number(await session.scalar(`SELECT count(*) FROM (${a} EXCEPT ALL ${b})`));
  assert.equal(await diff(`SELECT id, host, score, seen, day FROM (${ours})`, theirs), 0);
  assert.equal(await diff(theirs, `SELECT id, host, score, seen, day FROM (${ours})`), 0);
  assert.equal(await df.count(), 140);
  const pruned = await (await readDelta(session, deltaPath)).filter(col('day').eq('2024-05-02')).explain();
  assert.ok(typeof pruned !== 'string');
  assert.equal(pruned.filesScanned, 1);
  // version 1 comes from commits alone; version 2 from the checkpoint plus nothing
  assert.equal(await (await readDelta(session, deltaPath, { version: 1 })).count(), 100);
});
