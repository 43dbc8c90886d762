import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { Action, AddAction, RemoveAction } from '../kernel-lib/src/delta/actions.js';
import { ConcurrentModificationError } from '../kernel-lib/src/delta/commit.js';
import { history } from '../kernel-lib/src/delta/history.js';
import { readCommit } from '../kernel-lib/src/delta/log.js';
import { fromAddPath } from '../kernel-lib/src/delta/partition-path.js';
import { quoteString } from '../kernel-lib/src/engine/quote.js';
import { binPack, optimizeTable } from '../kernel-lib/src/delta/optimize.js';
import { readDelta } from '../kernel-lib/src/delta/read.js';
import { loadSnapshot } from '../kernel-lib/src/delta/snapshot.js';
import { writeDelta } from '../kernel-lib/src/delta/write.js';
import { zOrderedSql } from '../kernel-lib/src/delta/zorder.js';
import { col } from '../kernel-lib/src/frame/expr.js';
import type { Frame, ScanReport } from '../kernel-lib/src/frame/frame.js';
import { tempDir, testSession } from './helpers.js';
import { deltaPython } from './python.js';

const session = await testSession();
const root = tempDir('winlake-opt-');
let n = 0;
const table = (): string => path.join(root, `t${++n}`);

/** The scan report of a Frame read straight from a Delta scan. */
async function explainScan(frame: Frame): Promise<ScanReport> {
  const report = await frame.explain();
  if (typeof report === 'string') throw new Error('expected a Delta scan report, got a DuckDB plan');
  return report;
}

/** `rows` events spread over 3 days, ids from `offset`. */
function events(offset: number, rows: number): string {
  return `SELECT (${offset} + i)::BIGINT AS id,
    TIMESTAMPTZ '2024-05-01 00:00:00+00' + to_seconds(((${offset} + i) * 7919) % (3 * 86400)) AS _event_time,
    CAST(TIMESTAMPTZ '2024-05-01 00:00:00+00' + to_seconds(((${offset} + i) * 7919) % (3 * 86400)) AS DATE) AS _event_date,
    'proc' || (hash(${offset} + i) % 50) || '.exe' AS process_name,
    CAST(hash((${offset} + i) * 3) % 20 AS VARCHAR) AS event_id,
    'CORP\\user' || ((${offset} + i) % 97) AS user_name
    FROM range(${rows}) t(i)`;
}

async function appends(t: string, count: number, rows: number): Promise<void> {
  for (let k = 0; k < count; k++) await writeDelta(session, events(k * rows, rows), t, { partitionBy: ['_event_date'] });
}

async function rowsOf(t: string, version?: number): Promise<string[]> {
  const df = await readDelta(session, t, version === undefined ? {} : { version });
  const rows = await session.rows<{ r: string }>(`SELECT concat_ws('|', id, _event_time, _event_date, process_name, event_id, user_name) AS r FROM (${await df.toSql()}) ORDER BY id`);
  return rows.map((r) => r.r);
}

const actionsOf = async (t: string, v: number): Promise<Action[]> => readCommit(t, v);
const removesOf = (a: Action[]): RemoveAction[] => a.flatMap((x) => ('remove' in x ? [x.remove as RemoveAction] : []));
const addsOf = (a: Action[]): AddAction[] => a.flatMap((x) => ('add' in x ? [x.add as AddAction] : []));

const python = (script: string): string => deltaPython(script);

test('zOrderedSql interleaves quantile buckets: the first column leads, equal values stay together', async () => {
  const sql = zOrderedSql(`SELECT * FROM (VALUES ('b', 1), ('a', 2), ('b', 2), ('a', 1)) AS v(s, x)`, ['s', 'x'], { bitsPerColumn: 1 });
  const rows = await session.rows<{ s: string; x: number }>(sql);
  assert.deepEqual(rows.map((r) => `${r.s}${r.x}`), ['a1', 'a2', 'b1', 'b2']);
  assert.throws(() => zOrderedSql('SELECT 1 AS a', ['a'], { bitsPerColumn: 63 }), /bitsPerColumn must be an integer from 1 to 62/);
});

test('binPack groups small files up to the target and drops single-file bins', () => {
  const f = (p: string, size: number): AddAction => ({ path: p, size, partitionValues: {}, modificationTime: 0, dataChange: true });
  const bins = binPack([f('a', 10), f('b', 20), f('c', 30), f('big', 500), f('d', 90)], 100, 60);
  assert.deepEqual(bins.map((b) => b.map((x) => x.path)), [['a', 'b', 'c']]);
});

test('compaction: same rows, one file per partition, OPTIMIZE commit as Delta records it, time travel, python reads it', async () => {
  const t = table();
  await appends(t, 5, 300);
  const before = await rowsOf(t);
  const snap = await loadSnapshot(t, { session });
  assert.equal(snap.files.length, 15);

  const m = await optimizeTable(session, t);
  assert.equal(m.version, 5);
  assert.equal(m.numFilesRemoved, 15);
  assert.equal(m.numFilesAdded, 3);
  assert.equal(m.partitionsOptimized, 3);
  assert.equal(m.numRowsRewritten, 1500);
  assert.deepEqual(await rowsOf(t), before);

  const actions = await actionsOf(t, 5);
  const removes = removesOf(actions);
  const adds = addsOf(actions);
  assert.equal(removes.length, 15);
  for (const r of removes) {
    assert.equal(r.dataChange, false);
    assert.equal(typeof r.deletionTimestamp, 'number');
    assert.equal(typeof r.size, 'number');
    assert.match(String(r.partitionValues?._event_date), /^2024-05-0[123]$/);
  }
  for (const a of adds) {
    assert.equal(a.dataChange, false);
    assert.match(a.path, /^_event_date=2024-05-0[123]\/part-.*\.parquet$/);
    assert.equal(JSON.parse(a.stats!).numRecords > 0, true);
  }
  const [h] = await history(t, { limit: 1 });
  assert.equal(h!.operation, 'OPTIMIZE');
  assert.equal(h!.operationParameters.predicate, '[]');
  assert.equal(h!.operationParameters.zOrderBy, '[]');
  assert.equal(h!.operationMetrics.numRemovedFiles, '15');
  assert.equal(h!.operationMetrics.numAddedFiles, '3');
  assert.ok(Number(h!.operationMetrics.maxFileSize) >= Number(h!.operationMetrics.minFileSize));

  // Time travel to the version before OPTIMIZE still reads the old files.
  assert.deepEqual(await rowsOf(t, 4), before);
  assert.equal((await loadSnapshot(t, { version: 4, session })).files.length, 15);

  // Nothing left to compact: no commit.
  const again = await optimizeTable(session, t);
  assert.equal(again.version, null);
  assert.equal(again.totalFilesSkipped, 3);

  const out = python(`
import json
from deltalake import DeltaTable
dt = DeltaTable(${JSON.stringify(t)})
tab = dt.to_pyarrow_table()
ids = sorted(tab.column('id').to_pylist())
old = DeltaTable(${JSON.stringify(t)}, version=4).to_pyarrow_table()
print(json.dumps({"n": tab.num_rows, "sum": sum(ids), "files": len(dt.file_uris()), "op": dt.history(1)[0]["operation"], "old": old.num_rows}))
`);
  assert.deepEqual(JSON.parse(out), { n: 1500, sum: (1499 * 1500) / 2, files: 3, op: 'OPTIMIZE', old: 1500 });
});

test('Z-order into one file per partition: its rows are in Z-order, and every row is kept', async () => {
  const t = table();
  await appends(t, 3, 2000);
  const before = await rowsOf(t);
  const m = await optimizeTable(session, t, { zOrderBy: ['process_name', 'event_id'] });
  const files = (await loadSnapshot(t, { session })).files;
  assert.equal(m.numFilesAdded, new Set(files.map((f) => JSON.stringify(f.partitionValues))).size, 'one file per partition');
  assert.deepEqual(await rowsOf(t), before);
  for (const f of files) {
    const file = quoteString(path.join(t, fromAddPath(f.path)));
    // Rows with equal keys may come in any order: compare the sequence of keys, not of ids.
    const keysOf = async (sql: string): Promise<string[]> =>
      (await session.rows<{ k: string }>(`SELECT concat_ws('|', process_name, event_id) AS k FROM (${sql})`)).map((r) => r.k);
    const inFile = await keysOf(`SELECT * FROM read_parquet(${file})`);
    assert.ok(inFile.length > 1000);
    assert.deepEqual(inFile, await keysOf(zOrderedSql(`SELECT * FROM read_parquet(${file})`, ['process_name', 'event_id'])), `${f.path} is in Z-order`);
  }
});

test('Z-order: files cut by target size, zOrderBy recorded, stats skip files for process_name = X, python reads it', async () => {
  const t = table();
  await appends(t, 4, 6000);
  const before = await rowsOf(t);
  const bytes = (await loadSnapshot(t, { session })).files.reduce((s, f) => s + f.size, 0);
  // About 4 files per partition.
  const m = await optimizeTable(session, t, { zOrderBy: ['process_name', 'event_id'], targetFileSize: Math.floor(bytes / 12), rowGroupRows: 2048 });
  assert.equal(m.numFilesRemoved, 12);
  assert.ok(m.numFilesAdded >= 9, `expected several files per partition, got ${m.numFilesAdded}`);
  assert.deepEqual(m.zOrderBy, ['process_name', 'event_id']);
  assert.deepEqual(await rowsOf(t), before);

  const [h] = await history(t, { limit: 1 });
  assert.equal(h!.operation, 'OPTIMIZE');
  assert.equal(h!.operationParameters.zOrderBy, '["process_name","event_id"]');

  const df = await readDelta(session, t);
  const report = await explainScan(df.filter(col('process_name').eq('proc7.exe').and(col('event_id').eq('3'))));
  const stats = report.stages.find((s) => s.stage === 'stats')!;
  assert.ok(stats.filesSkipped >= m.numFilesAdded / 2, `Z-order should let stats skip most files: ${JSON.stringify(report.stages)}`);
  const expected = before.filter((r) => r.split('|')[3] === 'proc7.exe' && r.split('|')[4] === '3').length;
  assert.equal(await df.filter(col('process_name').eq('proc7.exe').and(col('event_id').eq('3'))).count(), expected);

  const out = python(`
import json
from deltalake import DeltaTable
dt = DeltaTable(${JSON.stringify(t)})
tab = dt.to_pyarrow_table()
h = dt.history(1)[0]
print(json.dumps({"n": tab.num_rows, "ids": sum(tab.column('id').to_pylist()), "z": h["operationParameters"]["zOrderBy"]}))
`);
  assert.deepEqual(JSON.parse(out), { n: 24000, ids: (23999 * 24000) / 2, z: '["process_name","event_id"]' });
});

test('where: only the selected partitions are rewritten; other columns in the predicate are refused', async () => {
  const t = table();
  await appends(t, 3, 200);
  const m = await optimizeTable(session, t, { where: col('_event_date').eq('2024-05-02') });
  assert.equal(m.numFilesRemoved, 3);
  assert.deepEqual(m.predicate, [`("_event_date" = '2024-05-02')`]);
  const files = (await loadSnapshot(t, { session })).files;
  assert.equal(files.filter((f) => f.partitionValues._event_date === '2024-05-02').length, 1);
  assert.equal(files.filter((f) => f.partitionValues._event_date !== '2024-05-02').length, 6);
  const [h] = await history(t, { limit: 1 });
  assert.equal(h!.operationParameters.predicate, JSON.stringify([`("_event_date" = '2024-05-02')`]));

  const sqlWhere = await optimizeTable(session, t, { where: "_event_date >= DATE '2024-05-03'", zOrderBy: ['user_name'] });
  assert.equal(sqlWhere.numFilesRemoved, 3);
  await assert.rejects(optimizeTable(session, t, { where: "user_name = 'x'" }), /must use only partition columns \(_event_date\)/);
  await assert.rejects(optimizeTable(session, t, { zOrderBy: ['_event_date'] }), /cannot Z-order by partition column/);
  await assert.rejects(optimizeTable(session, t, { zOrderBy: ['nope'] }), /cannot Z-order by "nope": no such column/);
});

test('an append committed while OPTIMIZE runs is kept: OPTIMIZE retries at the next version', async () => {
  const t = table();
  await appends(t, 3, 200);
  const before = await rowsOf(t);
  let appendedVersion: number | null = null;
  const m = await optimizeTable(session, t, {
    zOrderBy: ['process_name'],
    beforeCommit: async () => {
      appendedVersion = (await writeDelta(session, events(100_000, 50), t)).version;
    },
  });
  assert.equal(appendedVersion, 3);
  assert.equal(m.readVersion, 2);
  assert.equal(m.version, 4);
  assert.equal(m.attempts, 2);
  const after = await rowsOf(t);
  assert.equal(after.length, before.length + 50);
  assert.deepEqual(after.slice(0, before.length), before);
  // The appended files are still active next to the optimized ones.
  const snap = await loadSnapshot(t, { session });
  assert.equal(snap.files.filter((f) => f.dataChange).length, addsOf(await actionsOf(t, 3)).length);
});

test('a concurrent removal of an OPTIMIZE input fails it clearly and leaves the table unchanged', async () => {
  const t = table();
  await appends(t, 2, 200);
  const parquetCount = (): number => {
    let count = 0;
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory() && e.name !== '_delta_log') walk(path.join(d, e.name));
        else if (e.name.endsWith('.parquet')) count++;
      }
    };
    walk(t);
    return count;
  };
  // A concurrent OPTIMIZE wins the race and removes the same files.
  let inner: Awaited<ReturnType<typeof optimizeTable>> | undefined;
  await assert.rejects(
    optimizeTable(session, t, {
      beforeCommit: async () => {
        inner = await optimizeTable(session, t);
      },
    }),
    (err: unknown) => {
      assert.ok(err instanceof ConcurrentModificationError);
      assert.equal(err.kind, 'concurrentDeleteDelete');
      assert.match(err.message, /OPTIMIZE of .* was not committed and the table is unchanged: file .* was already removed by a concurrent commit/);
      return true;
    },
  );
  assert.equal(inner!.version, 2);
  const snap = await loadSnapshot(t, { session });
  assert.equal(snap.version, 2);
  // The loser's new files were deleted: only the 6 inputs and the 3 winner outputs remain on disk.
  assert.equal(parquetCount(), 6 + 3);
  for (const f of snap.files) assert.ok(existsSync(path.join(t, decodeURIComponent(f.path))));

  // An overwrite that removes everything also fails a pending OPTIMIZE.
  await assert.rejects(
    optimizeTable(session, t, {
      zOrderBy: ['user_name'],
      beforeCommit: async () => {
        await writeDelta(session, events(0, 10), t, { mode: 'overwrite' });
      },
    }),
    /was not committed and the table is unchanged/,
  );
  assert.equal((await rowsOf(t)).length, 10);
});
