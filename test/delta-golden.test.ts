/**
 * Conformance: every table of delta-kernel-rs's golden data (SHARED_DATA/delta-golden), read with
 * our Delta reader and compared, order-free and exactly, with `<name>/expected/`.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { quoteIdent, quoteString } from '../kernel-lib/src/engine/quote.js';
import type { Session } from '../kernel-lib/src/engine/session.js';
import { history } from '../kernel-lib/src/delta/history.js';
import { listLog, replayLog } from '../kernel-lib/src/delta/log.js';
import { DeltaScan } from '../kernel-lib/src/delta/scan.js';
import { loadSnapshot } from '../kernel-lib/src/delta/snapshot.js';
import { SHARED_DATA, testSession } from './helpers.js';

const GOLDEN = path.join(SHARED_DATA, 'delta-golden');
const session = await testSession();
const tableDir = (name: string): string => path.join(GOLDEN, name, 'delta');

/** Tables a reader must refuse, and what the error must say. */
const MUST_FAIL: Record<string, RegExp> = {
  'deltalog-invalid-protocol-version': /reader version 99/,
  'deltalog-state-reconstruction-from-checkpoint-missing-metadata': /no metaData action/,
  'deltalog-state-reconstruction-without-metadata': /no metaData action/,
  'no-delta-log-folder': /no _delta_log folder/,
};

/** Tables whose reader features we refuse: the error must name the feature. */
const REFUSED: Record<string, string> = {
  'dv-with-columnmapping': 'deletionVectors',
  'log-replay-dv-key-cases': 'deletionVectors',
};

/** The README's "expectations other readers also skip" that we skip too, and why. */
const SKIPPED: Record<string, string> = {
  'data-reader-partition-values':
    'expected/ holds timestamp partition values shifted by the writer session time zone (PDT); the log says 11:11:11 without zone',
  hive: 'a plain Hive table without _delta_log (not a Delta table)',
  'log-replay-special-characters-b': 'log-only fixture: its data file "special p@#h" is not in the folder',
};

/** Log-only fixtures (no expected/): checked at the log level. */
const LOG_ONLY = new Set([
  'checkpoint',
  'update-deleted-directory',
  'data-reader-absolute-paths-escaped-chars',
  'deltalog-commit-info',
  'canonicalized-paths-normal-a',
  'canonicalized-paths-normal-b',
  'canonicalized-paths-special-b',
]);

/** Rows only on one side, both ways, after aligning expected/ columns to ours by name and type. */
async function diffWithExpected(s: Session, name: string, ourSql: string): Promise<{ onlyOurs: number; onlyExpected: number; rows: number }> {
  const expectedGlob = path.join(GOLDEN, name, 'expected', '**', '*.parquet');
  await s.run(`CREATE OR REPLACE TEMP TABLE ours AS ${ourSql}`);
  await s.run(`CREATE OR REPLACE TEMP TABLE expected_raw AS SELECT * FROM read_parquet(${quoteString(expectedGlob)}, hive_partitioning=false)`);
  const ours = await s.rows<{ column_name: string; column_type: string }>('DESCRIBE ours');
  const expected = await s.rows<{ column_name: string }>('DESCRIBE expected_raw');
  assert.deepEqual(
    expected.map((c) => c.column_name.toLowerCase()).sort(),
    ours.map((c) => c.column_name.toLowerCase()).sort(),
    `${name}: same columns`,
  );
  const byName = new Map(expected.map((c) => [c.column_name.toLowerCase(), c.column_name]));
  const aligned = ours.map((c) => `CAST(${quoteIdent(byName.get(c.column_name.toLowerCase())!)} AS ${c.column_type}) AS ${quoteIdent(c.column_name)}`);
  await s.run(`CREATE OR REPLACE TEMP TABLE expected AS SELECT ${aligned.join(', ')} FROM expected_raw`);
  const count = async (sql: string): Promise<number> => Number(await s.scalar<bigint>(`SELECT count(*) FROM (${sql})`));
  return {
    onlyOurs: await count('SELECT * FROM ours EXCEPT ALL SELECT * FROM expected'),
    onlyExpected: await count('SELECT * FROM expected EXCEPT ALL SELECT * FROM ours'),
    rows: await count('SELECT * FROM ours'),
  };
}

const names = readdirSync(GOLDEN, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

test('the golden data set is where the README says', () => {
  assert.ok(names.length >= 50, `found ${names.length} tables in ${GOLDEN}`);
});

for (const name of names) {
  if (name in SKIPPED) {
    test.skip(`${name} (skipped: ${SKIPPED[name]})`, () => {});
    continue;
  }
  if (name in MUST_FAIL) {
    test(`${name}: refused with a clear error`, async () => {
      await assert.rejects(DeltaScan.create(session, tableDir(name)), MUST_FAIL[name]!);
    });
    continue;
  }
  if (name in REFUSED) {
    test(`${name}: refused naming ${REFUSED[name]}`, async () => {
      await assert.rejects(DeltaScan.create(session, tableDir(name)), new RegExp(`unsupported Delta reader feature.*${REFUSED[name]}`));
    });
    continue;
  }
  if (LOG_ONLY.has(name)) continue; // below
  test(`${name}: latest snapshot equals expected/`, async () => {
    assert.ok(existsSync(path.join(GOLDEN, name, 'expected')), `${name} has expected/`);
    const scan = await DeltaScan.create(session, tableDir(name));
    const diff = await diffWithExpected(session, name, await scan.toSql([]));
    assert.deepEqual({ onlyOurs: diff.onlyOurs, onlyExpected: diff.onlyExpected }, { onlyOurs: 0, onlyExpected: 0 }, `${name}: ${diff.rows} rows`);
  });
}

test('checkpoint: replay starts at the version-10 checkpoint and ends with one file at version 14', async () => {
  const listing = await listLog(tableDir('checkpoint'));
  const state = await replayLog(session, listing, 14);
  assert.equal(state.checkpointVersion, 10);
  assert.deepEqual([...state.files.values()].map((f) => f.path), ['15']);
  const snap = await loadSnapshot(tableDir('checkpoint'), { session });
  assert.equal(snap.version, 14);
  assert.equal(snap.files.length, 1);
});

test('update-deleted-directory: a checkpoint at version 0 holds the ten files', async () => {
  const listing = await listLog(tableDir('update-deleted-directory'));
  const state = await replayLog(session, listing, 0);
  assert.equal(state.checkpointVersion, 0);
  assert.deepEqual([...state.files.values()].map((f) => f.path).sort((a, b) => Number(a) - Number(b)), ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
});

test('data-reader-absolute-paths-escaped-chars: both files are active (log only, no metadata)', async () => {
  const listing = await listLog(tableDir('data-reader-absolute-paths-escaped-chars'));
  const state = await replayLog(session, listing, 1);
  assert.equal(state.files.size, 2);
  await assert.rejects(loadSnapshot(tableDir('data-reader-absolute-paths-escaped-chars'), { session }), /no metaData action/);
});

test('deltalog-commit-info: history returns the commit info', async () => {
  const [entry, ...rest] = await history(tableDir('deltalog-commit-info'));
  assert.equal(rest.length, 0);
  assert.ok(entry);
  assert.equal(entry.version, 0);
  assert.equal(entry.timestamp.getTime(), 1540415658000);
  assert.equal(entry.operation, 'WRITE');
  assert.deepEqual(entry.operationParameters, { test: 'test' });
  assert.deepEqual(entry.operationMetrics, { test: 'test' });
  assert.equal(entry.readVersion, -1);
  assert.equal(entry.isBlindAppend, true);
  assert.equal(entry.userMetadata, 'foo');
});

for (const name of ['canonicalized-paths-normal-a', 'canonicalized-paths-normal-b', 'canonicalized-paths-special-b']) {
  test(`${name}: a remove by file: URI cancels the add by absolute path`, async () => {
    const snap = await loadSnapshot(tableDir(name), { session });
    assert.equal(snap.files.length, 0);
    const scan = await DeltaScan.create(session, tableDir(name));
    assert.equal(Number(await session.scalar(`SELECT count(*) FROM (${await scan.toSql([])})`)), 0);
  });
}
