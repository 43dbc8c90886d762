import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { quoteString } from '../kernel-lib/src/engine/quote.js';
import { BLOOM_ENABLED_KEY, BLOOM_FPP_KEY, bloomColumns, bloomCopyOptions, bloomCoverage, bloomSkipStage, createBloomFilter } from '../kernel-lib/src/delta/bloom.js';
import { history } from '../kernel-lib/src/delta/history.js';
import { DeltaScan } from '../kernel-lib/src/delta/scan.js';
import { loadSnapshot } from '../kernel-lib/src/delta/snapshot.js';
import { readDelta } from '../kernel-lib/src/delta/read.js';
import { writeDelta } from '../kernel-lib/src/delta/write.js';
import { col } from '../kernel-lib/src/frame/expr.js';
import { Frame, type ScanReport } from '../kernel-lib/src/frame/frame.js';
import { rmSync } from 'node:fs';
import { tempDir, testSession } from './helpers.js';
import { deltaPython } from './python.js';

const session = await testSession();
const root = tempDir('winlake-bloom-');

const python = (script: string): string => deltaPython(script);

/** The scan report of a Frame read straight from a Delta scan. */
async function explainScan(frame: Frame): Promise<ScanReport> {
  const report = await frame.explain();
  if (typeof report === 'string') throw new Error('expected a Delta scan report, got a DuckDB plan');
  return report;
}

/**
 * File k holds users user_<4j+k>, 5 events each: every file spans the same min/max range, so only
 * a bloom filter can tell which file holds a user. (Values repeat, as user names do: DuckDB
 * dictionary-encodes the column, and so writes its bloom filter.)
 */
function usersOfFile(k: number): string {
  return `SELECT 'user_' || ((i % 100) * 4 + ${k}) AS user_name, i::BIGINT AS n, 'host' || (i % 7) AS dvc_hostname FROM range(500) t(i)`;
}

/** A scan of the table; DeltaScan.create adds the bloom stage itself when the table has a bloom index. */
async function bloomScan(t: string): Promise<{ scan: DeltaScan; frame: Frame }> {
  const scan = await DeltaScan.create(session, t);
  return { scan, frame: Frame.fromScan(session, scan) };
}

test('createBloomFilter records Databricks field metadata in a CREATE BLOOMFILTER INDEX commit; python still reads the table', async () => {
  const t = path.join(root, 'meta');
  await writeDelta(session, usersOfFile(0), t);
  const r = await createBloomFilter(t, ['USER_NAME'], { session });
  assert.equal(r.version, 1);
  assert.deepEqual(r.columns, [{ column: 'user_name', fpp: 0.1, numItems: 1_000_000 }]);
  // DuckDB already wrote native filters into the existing file.
  assert.deepEqual(r.coverage, [{ column: 'user_name', filesWithFilter: 1, filesTotal: 1 }]);
  const snap = await loadSnapshot(t, { session });
  const field = snap.schema.fields.find((f) => f.name === 'user_name')!;
  assert.equal(field.metadata[BLOOM_ENABLED_KEY], true);
  assert.equal(field.metadata[BLOOM_FPP_KEY], 0.1);
  assert.deepEqual(bloomColumns(snap.schema), [{ column: 'user_name', fpp: 0.1, numItems: 1_000_000 }]);
  assert.deepEqual(bloomCopyOptions(snap.schema), ['BLOOM_FILTER_FALSE_POSITIVE_RATIO 0.01']);
  const [h] = await history(t, { limit: 1 });
  assert.equal(h!.operation, 'CREATE BLOOMFILTER INDEX');
  assert.equal(h!.operationParameters.columns, '["user_name"]');

  await assert.rejects(createBloomFilter(t, ['nope']), /no such column/);
  await assert.rejects(createBloomFilter(t, ['n'], { fpp: 1.5 }), /fpp must be between 0 and 1/);

  const out = python(`
import json
from deltalake import DeltaTable
dt = DeltaTable(${JSON.stringify(t)})
f = [f for f in dt.schema().fields if f.name == 'user_name'][0]
print(json.dumps({"n": dt.to_pyarrow_table().num_rows, "md": f.metadata.get("delta.bloomFilter.enabled")}))
`);
  assert.deepEqual(JSON.parse(out), { n: 500, md: true });
});

test('bloom stage: = and IN on the bloom column skip files whose filters exclude the values; rows stay correct', async () => {
  const t = path.join(root, 'skip');
  for (let k = 0; k < 4; k++) await writeDelta(session, usersOfFile(k), t);
  await createBloomFilter(t, ['user_name'], { session });
  // A file appended after the index is covered too.
  await writeDelta(session, `SELECT 'late_' || (i % 10) AS user_name, i::BIGINT AS n, 'h' AS dvc_hostname FROM range(100) t(i)`, t);
  const snap = await loadSnapshot(t, { session });
  const coverage = await bloomCoverage(session, snap, ['user_name']);
  assert.equal([...coverage.values()].filter((c) => c.has('user_name')).length, 5);

  const { frame } = await bloomScan(t);
  const one = frame.filter(col('user_name').eq('user_9'));
  const report = await explainScan(one);
  const stats = report.stages.find((s) => s.stage === 'stats')!;
  const bloom = report.stages.find((s) => s.stage === 'bloom')!;
  assert.equal(stats.filesSkipped, 1, 'min/max only rules out the late file');
  assert.equal(bloom.filesSkipped, 3, JSON.stringify(report));
  assert.equal(report.filesScanned, 1);
  const rows = await one.toRows();
  assert.equal(rows.length, 5);
  assert.ok(rows.every((r) => r.user_name === 'user_9'));

  const two = frame.filter(col('user_name').isin(['user_9', 'user_10']));
  const r2 = await explainScan(two);
  assert.equal(r2.filesScanned, 2);
  assert.equal(await two.count(), 10);

  const none = frame.filter(col('user_name').eq('user_3').or(col('user_name').eq('nobody_here')));
  assert.equal((await explainScan(none)).filesScanned, 1);

  // Not an equality on a bloom column: nothing skipped by the bloom stage.
  const other = await explainScan(frame.filter(col('dvc_hostname').eq('host3')));
  assert.equal(other.stages.find((s) => s.stage === 'bloom')!.filesSkipped, 0);
  const ne = await explainScan(frame.filter(col('user_name').ne('user_9')));
  assert.equal(ne.stages.find((s) => s.stage === 'bloom')!.filesSkipped, 0);
});

test('backfill rewrites files written without native filters (by delta-rs) so the index covers them', async () => {
  const t = path.join(root, 'backfill');
  python(`
import pyarrow as pa
from deltalake import write_deltalake
for k in range(3):
    users = ['user_%d' % ((i % 60) * 3 + k) for i in range(300)]
    write_deltalake(${JSON.stringify(t)}, pa.table({'user_name': users, 'n': list(range(300))}), mode='append')
`);
  const before = await loadSnapshot(t, { session });
  const r = await createBloomFilter(t, ['user_name'], { session, backfill: true });
  assert.deepEqual(r.coverage, [{ column: 'user_name', filesWithFilter: 0, filesTotal: 3 }]);
  assert.equal(r.backfillVersion, 4);
  const after = await loadSnapshot(t, { session });
  assert.equal(after.files.length, 3);
  assert.ok(after.files.every((f) => !before.files.some((b) => b.path === f.path)));
  const coverage = await bloomCoverage(session, after, ['user_name']);
  assert.equal([...coverage.values()].filter((c) => c.has('user_name')).length, 3);
  const { frame } = await bloomScan(t);
  const q = frame.filter(col('user_name').eq('user_4'));
  assert.equal((await explainScan(q)).stages.find((s) => s.stage === 'bloom')!.filesSkipped, 2);
  assert.equal(await q.count(), 5);
  const [h] = await history(t, { limit: 1 });
  assert.equal(h!.operation, 'BACKFILL BLOOMFILTER INDEX');
});

test('readDelta adds the bloom stage by itself; it probes only the files partitions and stats kept', async () => {
  const t = path.join(root, 'auto');
  for (let k = 0; k < 4; k++) {
    await writeDelta(session, `SELECT DATE '2024-05-0${1 + (k % 2)}' AS day, * FROM (${usersOfFile(k)})`, t, { partitionBy: ['day'] });
  }
  const plain = await explainScan((await readDelta(session, t)).filter(col('user_name').eq('user_9')));
  assert.deepEqual(plain.stages.map((s) => s.stage), ['partitions', 'stats'], 'no bloom index: no bloom stage');

  await createBloomFilter(t, ['user_name'], { session });
  const frame = (await readDelta(session, t)).filter(col('user_name').eq('user_9'));
  const all = await explainScan(frame);
  assert.deepEqual(all.stages.map((s) => [s.stage, s.filesSkipped]), [['partitions', 0], ['stats', 0], ['bloom', 3]]);
  assert.equal(await frame.count(), 5);

  // Used without the scan (keep alone, no prepare), the stage probes the whole snapshot once.
  const snap = await loadSnapshot(t, { session });
  const stage = bloomSkipStage(session, snap);
  const preds = [col('user_name').eq('user_9').node];
  const context = { columns: snap.schema.fields, partitionColumns: new Set(['day']) };
  const verdicts = await Promise.all(snap.files.map((add) => stage.keep({ add, absolutePath: path.join(t, add.path), stats: () => undefined }, preds, context)));
  assert.equal(verdicts.filter(Boolean).length, 1);

  // Files of the pruned day are not probed: deleting them from disk does not disturb the scan.
  for (const f of snap.files.filter((f) => f.partitionValues.day === '2024-05-02')) rmSync(path.join(t, f.path));
  const dayOne = (await readDelta(session, t)).filter(col('day').eq('2024-05-01')).filter(col('user_name').eq('user_6'));
  const report = await explainScan(dayOne);
  assert.deepEqual(report.stages.map((s) => [s.stage, s.filesSkipped]), [['partitions', 2], ['stats', 0], ['bloom', 1]]);
  assert.equal(await dayOne.count(), 5);
});

test("appends after createBloomFilter write filters at the index fpp (when tighter than DuckDB's 0.01)", async () => {
  const t = path.join(root, 'fpp');
  const distinct = `SELECT 'user_' || (i % 2000) AS user_name, i::BIGINT AS n FROM range(40000) t(i)`;
  await writeDelta(session, distinct, t);
  await createBloomFilter(t, ['user_name'], { session, fpp: 0.0001 });
  await writeDelta(session, distinct, t);
  const snap = await loadSnapshot(t, { session });
  const sizes = await session.rows<{ file_name: string; bytes: bigint }>(
    `SELECT file_name, sum(bloom_filter_length) AS bytes FROM parquet_metadata([${snap.files.map((f) => quoteString(path.join(t, f.path))).join(', ')}])
     WHERE path_in_schema = 'user_name' GROUP BY ALL`,
  );
  const bytesOf = (add: string): number => Number(sizes.find((r) => r.file_name === path.join(t, add))!.bytes);
  const [before, after] = snap.files.map((f) => bytesOf(f.path)).sort((a, b) => a - b);
  assert.ok(after! > before! * 1.3, `filter at fpp 0.0001 (${after} B) should be larger than at DuckDB's 0.01 (${before} B)`);
});
