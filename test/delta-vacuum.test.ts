import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { history } from '../kernel-lib/src/delta/history.js';
import { optimizeTable } from '../kernel-lib/src/delta/optimize.js';
import { readDelta } from '../kernel-lib/src/delta/read.js';
import { loadSnapshot } from '../kernel-lib/src/delta/snapshot.js';
import { vacuum } from '../kernel-lib/src/delta/vacuum.js';
import { writeDelta } from '../kernel-lib/src/delta/write.js';
import { tempDir, testSession } from './helpers.js';

const session = await testSession();
const root = tempDir('winlake-vac-');
const DAY = 86_400_000;

function rows(offset: number): string {
  return `SELECT (${offset} + i)::BIGINT AS id, DATE '2024-05-01' + ((${offset} + i) % 2)::INTEGER AS _event_date, 'u' || (i % 5) AS user_name FROM range(50) t(i)`;
}

/** Writes a file and backdates it, like the leftovers of a write that crashed long ago. */
function oldFile(file: string, ageMs: number): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, 'not committed');
  const t = new Date(Date.now() - ageMs);
  utimesSync(file, t, t);
}

const logFiles = (t: string): string[] => readdirSync(path.join(t, '_delta_log')).sort();

test('vacuum keeps what retained versions need, deletes old orphans, and dryRun deletes nothing', async () => {
  const t = path.join(root, 'a');
  for (let k = 0; k < 3; k++) await writeDelta(session, rows(k * 50), t, { partitionBy: ['_event_date'] });
  await optimizeTable(session, t); // v3: removes 6 files, adds 2
  const v2 = await loadSnapshot(t, { version: 2, session });
  const current = await loadSnapshot(t, { session });

  oldFile(path.join(t, '_event_date=2024-05-01', 'part-crashed.parquet'), 10 * DAY);
  oldFile(path.join(t, 'part-orphan-root.parquet'), 8 * DAY);
  oldFile(path.join(t, '_winlake_staging_dead', 'part-x.parquet'), 9 * DAY);
  oldFile(path.join(t, '_event_date=2024-05-02', 'part-fresh.parquet'), 1 * DAY); // maybe a write in progress: kept
  oldFile(path.join(t, '_SUCCESS'), 30 * DAY); // hidden: never touched
  oldFile(path.join(t, '_delta_log', 'old-junk.json.tmp'), 30 * DAY); // the log: never touched
  const log = logFiles(t);

  const preview = await vacuum(t, { dryRun: true });
  assert.deepEqual(preview.files, ['_event_date=2024-05-01/part-crashed.parquet', '_winlake_staging_dead/part-x.parquet', 'part-orphan-root.parquet']);
  assert.equal(preview.dryRun, true);
  assert.ok(existsSync(path.join(t, 'part-orphan-root.parquet')));
  assert.deepEqual(logFiles(t), log);

  const done = await vacuum(t);
  assert.deepEqual(done.files, preview.files);
  for (const f of done.files) assert.ok(!existsSync(path.join(t, f)), f);
  assert.ok(existsSync(path.join(t, '_event_date=2024-05-02', 'part-fresh.parquet')));
  assert.ok(existsSync(path.join(t, '_SUCCESS')));
  assert.ok(existsSync(path.join(t, '_delta_log', 'old-junk.json.tmp')));
  // Files removed by OPTIMIZE a moment ago are still needed by version 2: time travel works.
  for (const f of v2.files) assert.ok(existsSync(path.join(t, decodeURIComponent(f.path))), f.path);
  assert.equal(await (await readDelta(session, t, { version: 2 })).count(), 150);

  const [end, start] = await history(t, { limit: 2 });
  assert.equal(start!.operation, 'VACUUM START');
  assert.equal(start!.operationMetrics.numFilesToDelete, '3');
  assert.equal(start!.operationParameters.specifiedRetentionMillis, 168 * 3_600_000);
  assert.equal(end!.operation, 'VACUUM END');
  assert.equal(end!.operationParameters.status, 'COMPLETED');
  assert.equal(end!.operationMetrics.numDeletedFiles, '3');

  // Eight days later the OPTIMIZE tombstones have expired: their files go, the current ones stay.
  const later = Date.now() + 8 * DAY;
  const expired = await vacuum(t, { now: later, dryRun: true });
  const removedPaths = v2.files.map((f) => decodeURIComponent(f.path)).sort();
  assert.deepEqual(expired.files, [...removedPaths, '_event_date=2024-05-02/part-fresh.parquet'].sort());
  await vacuum(t, { now: later });
  for (const f of current.files) assert.ok(existsSync(path.join(t, decodeURIComponent(f.path))), f.path);
  for (const p of removedPaths) assert.ok(!existsSync(path.join(t, p)), p);
  assert.equal(await (await readDelta(session, t)).count(), 150);
  const again = await vacuum(t, { now: later });
  assert.deepEqual(again.files, []);
  assert.equal(again.startVersion, undefined);
});

test('vacuum refuses a retention shorter than the table keeps unless forced', async () => {
  const t = path.join(root, 'b');
  await writeDelta(session, rows(0), t, { configuration: { 'delta.deletedFileRetentionDuration': 'interval 2 days' } });
  await writeDelta(session, rows(50), t, { mode: 'overwrite' });
  await assert.rejects(vacuum(t, { retentionHours: 1 }), /refusing to vacuum .* retention of 1 hours: the table keeps 48 hours/);
  // 48 hours (the table's setting) is accepted without force.
  assert.deepEqual((await vacuum(t, { retentionHours: 48, dryRun: true })).files, []);
  const forced = await vacuum(t, { retentionHours: 0, force: true, now: Date.now() + 1000 });
  assert.equal(forced.files.length, 1);
  assert.equal(await (await readDelta(session, t)).count(), 50);
  await assert.rejects(vacuum(t, { retentionHours: -1, force: true }), /non-negative/);
});

/** Backdates a file or folder. */
function age(p: string, ageMs: number): void {
  const t = new Date(Date.now() - ageMs);
  utimesSync(p, t, t);
}

test('vacuum sweeps stale temporary log files and empty staging folders, never fresh ones', async () => {
  const t = path.join(root, 'c');
  await writeDelta(session, rows(0), t, { partitionBy: ['_event_date'] });
  const uuid = '0b4c7d3e-9f1a-4c2b-8d5e-6a7f8091a2b3';
  const logTemps = [`.00000000000000000001.json.${uuid}.tmp`, `.checkpoint-${uuid}.ndjson.tmp`, `.checkpoint-${uuid}.parquet.tmp`, `._last_checkpoint.${uuid}.tmp`];
  for (const n of logTemps) oldFile(path.join(t, '_delta_log', n), 8 * DAY);
  const freshTemp = `.00000000000000000001.json.${uuid.replace('0b', 'ff')}.tmp`;
  oldFile(path.join(t, '_delta_log', freshTemp), 1 * DAY); // a live writer's commit in progress
  oldFile(path.join(t, '_delta_log', 'old-junk.json.tmp'), 30 * DAY); // not a winlake temporary name

  const mkdir = (rel: string, ageMs: number): void => {
    mkdirSync(path.join(t, rel), { recursive: true });
    age(path.join(t, rel), ageMs);
  };
  mkdir('_winlake_staging_empty_old', 8 * DAY);
  mkdir('_winlake_staging_empty_fresh', 1 * DAY);
  oldFile(path.join(t, '_winlake_staging_crashed', '_event_date=2024-05-01', 'part-a.parquet'), 9 * DAY);
  age(path.join(t, '_winlake_staging_crashed', '_event_date=2024-05-01'), 9 * DAY);
  age(path.join(t, '_winlake_staging_crashed'), 9 * DAY);
  oldFile(path.join(t, '_winlake_staging_live', '_event_date=2024-05-01', 'part-b.parquet'), 1 * DAY); // being written
  age(path.join(t, '_winlake_staging_live'), 9 * DAY);

  const preview = await vacuum(t, { dryRun: true });
  assert.deepEqual(preview.files, ['_delta_log/' + logTemps[1], '_delta_log/' + logTemps[3], '_delta_log/' + logTemps[0], '_delta_log/' + logTemps[2], '_winlake_staging_crashed/_event_date=2024-05-01/part-a.parquet'].sort());
  assert.deepEqual(preview.dirs.sort(), ['_winlake_staging_crashed', '_winlake_staging_crashed/_event_date=2024-05-01', '_winlake_staging_empty_old']);
  assert.ok(existsSync(path.join(t, '_winlake_staging_empty_old')), 'a dry run removes nothing');

  const done = await vacuum(t);
  assert.deepEqual(done.files, preview.files);
  assert.deepEqual(done.dirs, preview.dirs);
  for (const n of logTemps) assert.ok(!existsSync(path.join(t, '_delta_log', n)), n);
  for (const d of done.dirs) assert.ok(!existsSync(path.join(t, d)), d);
  for (const kept of ['_delta_log/' + freshTemp, '_delta_log/old-junk.json.tmp', '_winlake_staging_empty_fresh', '_winlake_staging_live/_event_date=2024-05-01/part-b.parquet']) {
    assert.ok(existsSync(path.join(t, kept)), `${kept} is kept`);
  }
  const [end] = await history(t, { limit: 1 });
  assert.equal(end!.operationMetrics.numVacuumedDirectories, '3');
  assert.equal(await (await readDelta(session, t)).count(), 50);
});

/** Runs `fn` with a fault injected in this process (see kernel-lib/src/delta/fault-points.ts). */
async function withFault<T>(spec: string, fn: () => Promise<T>): Promise<T> {
  process.env.WINLAKE_FAULT = spec;
  try {
    return await fn();
  } finally {
    delete process.env.WINLAKE_FAULT;
  }
}

test('on a full disk vacuum still frees space: it deletes without VACUUM START, and records END once there is room', async () => {
  for (const [spec, endLogged] of [['commit.temp-write=enospc', false], ['commit.temp-write=enospc*1', true]] as const) {
    const t = path.join(root, `full-${endLogged}`);
    await writeDelta(session, rows(0), t);
    await writeDelta(session, rows(50), t, { mode: 'overwrite' });
    const before = logFiles(t);
    // Writes fail for lack of space, as they would on a full disk.
    await assert.rejects(withFault('commit.temp-write=enospc', () => writeDelta(session, rows(100), t)), /ENOSPC/);
    assert.deepEqual(logFiles(t), before, 'a commit that failed for lack of space leaves no file behind');
    const later = Date.now() + 8 * DAY;
    const removed = (await vacuum(t, { now: later, dryRun: true })).files;
    assert.equal(removed.length, 2, 'the overwritten file and the failed write’s orphan');

    const done = await withFault(spec, () => vacuum(t, { now: later }));
    assert.deepEqual(done.files, removed);
    for (const f of removed) assert.ok(!existsSync(path.join(t, f)), `${f} was deleted: the space is free`);
    assert.equal(done.startVersion, undefined);
    assert.match(done.unlogged!, /VACUUM START was not written \(ENOSPC/);
    if (endLogged) {
      assert.equal(done.endVersion, 2);
      const [end] = await history(t, { limit: 1 });
      assert.equal(end!.operation, 'VACUUM END');
      assert.equal(end!.operationMetrics.numDeletedFiles, '2');
    } else {
      assert.equal(done.endVersion, undefined);
      assert.match(done.unlogged!, /VACUUM END was not written/);
      assert.deepEqual(logFiles(t), before, 'nothing was recorded, nothing half-written');
    }
    assert.equal(await (await readDelta(session, t)).count(), 50);
    assert.equal((await writeDelta(session, rows(100), t)).version, endLogged ? 3 : 2, 'with room again, writes go on');
  }
});
