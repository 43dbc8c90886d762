import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Frame, col } from '../kernel-lib/src/frame/index.js';
import { Catalog, canonicalTableName } from '../kernel-lib/src/lakehouse/catalog.js';
import { listTables, readTable, tableHistory, writeTableBatch } from '../kernel-lib/src/lakehouse/tables.js';
import { loadSnapshot } from '../kernel-lib/src/delta/index.js';
import { tempDir, testSession } from './helpers.js';

const session = await testSession();

test('table names are validated and case-insensitive; none escapes the lakehouse', () => {
  assert.equal(canonicalTableName('Process'), 'process');
  for (const bad of ['../etc', 'a/b', 'a.b', '', ' x', 'x;drop', '..', 'a\\b', 'ä', 'a'.repeat(129)]) {
    assert.throws(() => canonicalTableName(bad), /invalid table name/, bad);
  }
  const catalog = new Catalog(tempDir());
  assert.throws(() => catalog.pathFor('x', 'platinum' as never), /invalid table tier/);
  assert.equal(path.dirname(catalog.pathFor('Process', 'silver')), path.join(catalog.root, 'silver'));
});

test('write_table creates, appends, partitions and reads back; bronze sets dataSkippingNumIndexedCols=5', async () => {
  const catalog = new Catalog(tempDir());
  const rows = Frame.fromSql(
    session,
    `SELECT * FROM (VALUES
      (TIMESTAMPTZ '2026-11-01 10:00:00+00', DATE '2026-11-01', 'Microsoft-Windows-Sysmon/Operational', 'WKS-1', '1'),
      (TIMESTAMPTZ '2026-11-02 11:00:00+00', DATE '2026-11-02', 'Security', 'WKS-2', '4624')
    ) AS v(_event_time, _event_date, _sourcetype, dvc_hostname, "winlog:event_id")`,
  );
  const first = await writeTableBatch(rows, 'Winlogbeat_Bronze', 'bronze', ['_event_date', '_sourcetype'], { catalog });
  assert.equal(first.result.version, 0);
  await writeTableBatch(rows, 'winlogbeat_bronze', 'bronze', ['_event_date', '_sourcetype'], { catalog });
  const snap = await loadSnapshot(first.table.path);
  assert.equal(snap.metadata.configuration['delta.dataSkippingNumIndexedCols'], '5');
  assert.deepEqual(snap.metadata.partitionColumns, ['_event_date', '_sourcetype']);
  const back = await readTable('WINLOGBEAT_BRONZE', { catalog, session });
  assert.equal(await back.count(), 4);
  assert.equal(await back.filter(col('_sourcetype').eq('Security')).count(), 2);
  const v0 = await readTable('winlogbeat_bronze', { catalog, session, version: 0 });
  assert.equal(await v0.count(), 2);
  assert.equal((await tableHistory('winlogbeat_bronze', { catalog })).length, 2);
  const listed = await listTables({ catalog });
  assert.deepEqual(listed.map((t) => [t.name, t.tier, t.rows]), [['winlogbeat_bronze', 'bronze', 4]]);
  await assert.rejects(readTable('nope', { catalog, session }), /no table named "nope".*winlogbeat_bronze \(bronze\)/);
  await assert.rejects(writeTableBatch(rows, 'winlogbeat_bronze', 'silver', [], { catalog }), /already exists in the bronze tier/);
  await assert.rejects(writeTableBatch(rows, 'x', 'bronze', ['nope'], { catalog }), /cannot partition x by nope/);
});

test('corrupt rows go to <table>_quarantine with their reason, never dropped', async () => {
  const catalog = new Catalog(tempDir());
  const rows = Frame.fromSql(
    session,
    `SELECT * FROM (VALUES
      (DATE '2026-11-01', 'WKS-1', NULL, NULL, 0, 7::BIGINT),
      (NULL, NULL, 'not json{', 'invalid JSON', 1, 8::BIGINT),
      (NULL, NULL, '[1,2]', 'not a JSON object (array)', 2, 9::BIGINT)
    ) AS v(_event_date, dvc_hostname, _corrupt_record, _corrupt_reason, _kafka_partition, _kafka_offset)`,
  );
  const written = await writeTableBatch(rows, 'bronze_q', 'bronze', ['_event_date'], { catalog });
  assert.equal(written.result.numRows, 1);
  assert.equal(written.quarantine?.result.numRows, 2);
  const q = await readTable('bronze_q_quarantine', { catalog, session });
  const qRows = await q.orderBy('_kafka_offset').toRows();
  assert.deepEqual(qRows.map((r) => [r._corrupt_record, r._corrupt_reason, Number(r._kafka_offset)]), [
    ['not json{', 'invalid JSON', 8],
    ['[1,2]', 'not a JSON object (array)', 9],
  ]);
  const cleanCols = await (await readTable('bronze_q', { catalog, session })).columns();
  assert.ok(cleanCols.includes('dvc_hostname') && !cleanCols.includes('_corrupt_record') && !cleanCols.includes('_corrupt_reason'));
  assert.ok(existsSync(path.join(catalog.root, 'bronze', 'bronze_q')));
  assert.ok(readdirSync(path.join(catalog.root, 'bronze')).includes('bronze_q_quarantine'));
});
