/**
 * Tables written by winlake are read by delta-rs (python `deltalake`) with identical rows, version
 * and schema; tables written by delta-rs are appended to by winlake and read back by delta-rs.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { checkpointFileName, commitFileName } from '../kernel-lib/src/delta/actions.js';
import { readDelta } from '../kernel-lib/src/delta/read.js';
import { loadSnapshot } from '../kernel-lib/src/delta/snapshot.js';
import { writeDelta } from '../kernel-lib/src/delta/write.js';
import { quoteIdent, quoteString } from '../kernel-lib/src/engine/quote.js';
import { tempDir, testSession } from './helpers.js';
import { deltaPythonJson } from './python.js';

const session = await testSession();
const root = tempDir('winlake-interop-');

const HELPER = `
import sys, json
from deltalake import DeltaTable, write_deltalake
import pyarrow as pa, pyarrow.parquet as pq
cmd = sys.argv[1]
if cmd == 'read':
    dt = DeltaTable(sys.argv[2])
    t = dt.to_pyarrow_table()
    pq.write_table(t, sys.argv[3])
    print(json.dumps({"version": dt.version(), "schema": json.loads(dt.schema().to_json()),
                      "partitionColumns": dt.metadata().partition_columns, "rows": t.num_rows,
                      "protocol": [dt.protocol().min_reader_version, dt.protocol().min_writer_version]}))
elif cmd == 'write':
    # write <table> <parquet> <mode> <partition cols comma-separated>
    t = pq.read_table(sys.argv[3])
    parts = [p for p in sys.argv[5].split(',') if p]
    write_deltalake(sys.argv[2], t, mode=sys.argv[4], partition_by=parts or None)
    print(json.dumps({"version": DeltaTable(sys.argv[2]).version()}))
`;
function py<T>(...args: string[]): T {
  return deltaPythonJson<T>(HELPER, args, `delta-rs helper (${args.join(' ')})`);
}

interface DeltaRsRead {
  version: number;
  schema: { fields: { name: string }[] };
  partitionColumns: string[];
  rows: number;
  protocol: [number, number];
}

/** Reads the table with delta-rs and checks rows (order-free, nested values included), version and schema. */
async function assertDeltaRsAgrees(table: string): Promise<DeltaRsRead> {
  const out = path.join(root, `rs-${path.basename(table)}-${Date.now()}.parquet`);
  const rs = py<DeltaRsRead>('read', table, out);
  const snap = await loadSnapshot(table, { session });
  assert.equal(rs.version, snap.version, 'same version');
  assert.deepEqual(rs.schema, JSON.parse(snap.metadata.schemaString), 'delta-rs reports the schema we wrote');
  assert.deepEqual(rs.partitionColumns, snap.metadata.partitionColumns);
  const ours = await (await readDelta(session, table)).toSql();
  const cols = snap.schema.fields.map((f) => `to_json(${quoteIdent(f.name)})::VARCHAR AS ${quoteIdent(f.name)}`).join(', ');
  const theirs = `SELECT * FROM read_parquet(${quoteString(out)})`;
  const diff = await session.scalar<bigint>(
    `SELECT count(*) FROM ((SELECT ${cols} FROM (${ours}) EXCEPT ALL SELECT ${cols} FROM (${theirs}))
      UNION ALL (SELECT ${cols} FROM (${theirs}) EXCEPT ALL SELECT ${cols} FROM (${ours})))`,
  );
  assert.equal(Number(diff), 0, 'delta-rs and winlake read the same rows');
  assert.equal(rs.rows, await (await readDelta(session, table)).count());
  return rs;
}

const richBatch = (from: number, count: number): string => `
  SELECT i AS id, 'host-' || (i % 7) AS host, i * 1.5 AS score, i % 2 = 0 AS flag,
    (DATE '2024-01-01' + (i % 40)::INT) AS day,
    TIMESTAMP '2024-01-01 00:00:00' + i * INTERVAL 1 minute + INTERVAL 123456 microsecond AS ts,
    {'user': 'u' || (i % 5), 'pid': i::INT, 'inner': {'depth': i % 3}} AS proc,
    ['a' || i, 'b'] AS tags,
    MAP {'k': i::VARCHAR} AS attrs,
    CASE i % 6 WHEN 0 THEN NULL WHEN 1 THEN 'a b' WHEN 2 THEN 'x/y' WHEN 3 THEN 'ü:=%' WHEN 4 THEN '' ELSE 'plain' END AS part
  FROM range(${from}, ${from + count}) t(i)`;

test('delta-rs reads our tables: types, nested, partitions with null and special values, append + overwrite + checkpoint', async () => {
  const t = path.join(root, 'rich');
  await writeDelta(session, richBatch(0, 50), t, { partitionBy: ['part'] });
  await assertDeltaRsAgrees(t);
  await writeDelta(session, richBatch(50, 50), t);
  await writeDelta(session, richBatch(1000, 30), t, { mode: 'overwrite' });
  for (let v = 3; v <= 11; v++) await writeDelta(session, richBatch(2000 + v * 10, 10), t);
  assert.ok(existsSync(path.join(t, '_delta_log', checkpointFileName(10))));
  const rs = await assertDeltaRsAgrees(t);
  assert.equal(rs.version, 11);
  assert.deepEqual(rs.protocol, [1, 2]);
});

test('25 commits: delta-rs loads version 24 from our checkpoint at 20', async () => {
  const t = path.join(root, 'many');
  for (let v = 0; v < 25; v++) await writeDelta(session, `SELECT ${v} AS id, 'v${v}' AS label`, t, { partitionBy: v === 0 ? ['label'] : undefined });
  assert.equal(JSON.parse(readFileSync(path.join(t, '_delta_log', '_last_checkpoint'), 'utf8')).version, 20);
  await assertDeltaRsAgrees(t);
  // Without the commits the checkpoint covers, delta-rs can only get the state from our checkpoint.
  for (let v = 0; v < 20; v++) rmSync(path.join(t, '_delta_log', commitFileName(v)));
  const rs = await assertDeltaRsAgrees(t);
  assert.equal(rs.version, 24);
  assert.equal(rs.rows, 25);
});

test('mergeSchema append (new column and nested struct field) is read by delta-rs', async () => {
  const t = path.join(root, 'merge');
  await writeDelta(session, "SELECT 1::BIGINT AS id, {'a': 1::BIGINT} AS st", t);
  await writeDelta(session, "SELECT 2::BIGINT AS id, {'a': 2::BIGINT, 'b': 'new'} AS st, 'extra' AS added", t, { mergeSchema: true });
  const rs = await assertDeltaRsAgrees(t);
  assert.deepEqual(rs.schema.fields.map((f) => f.name), ['id', 'st', 'added']);
});

test('we append to tables delta-rs wrote (partitioned, several versions), and delta-rs reads the result', async () => {
  const t = path.join(root, 'from-rs');
  const src = path.join(root, 'rs-src.parquet');
  await session.run(
    `COPY (SELECT i::BIGINT AS id, 'h' || (i % 3) AS host, TIMESTAMPTZ '2024-05-01 00:00:00+00' + i * INTERVAL 1 hour AS ts, (DATE '2024-05-01' + (i % 2)::INT) AS day FROM range(20) t(i))
     TO ${quoteString(src)} (FORMAT parquet)`,
  );
  py('write', t, src, 'append', 'day');
  py('write', t, src, 'append', 'day');
  await writeDelta(session, "SELECT 100::BIGINT AS id, 'ours' AS host, TIMESTAMP '2024-06-01 00:00:00' AS ts, DATE '2024-05-02' AS day", t);
  await writeDelta(session, "SELECT 101::BIGINT AS id, 'ours' AS host, NULL::TIMESTAMPTZ AS ts, NULL::DATE AS day", t);
  const rs = await assertDeltaRsAgrees(t);
  assert.equal(rs.version, 3);
  assert.equal(rs.rows, 42);
  py('write', t, src, 'append', 'day');
  const again = await assertDeltaRsAgrees(t);
  assert.equal(again.rows, 62);
});
