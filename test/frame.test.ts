import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as arrow from 'apache-arrow';
import { Frame, col, lit } from '../kernel-lib/src/frame/index.js';
import { testSession } from './helpers.js';

const session = await testSession();
const base = Frame.fromSql(
  session,
  `SELECT * FROM (VALUES
     ('1', 'WS01', 'C:\\Windows\\System32\\cmd.exe', 10, {'a': 1, 'b': [1,2]}),
     ('5', 'WS02', 'C:\\Windows\\notepad.exe', 20, {'a': 2, 'b': []}),
     ('1', NULL, 'powershell.exe', 30, NULL)
   ) AS v("winlog:event_id", "agent.host name", "a""b", n, s)`,
);

test('odd column names work in filter, select, withColumn, drop and orderBy', async () => {
  const out = await base
    .filter(col('winlog:event_id').eq('1'))
    .withColumn('x@y', col('n').gt(15))
    .select('a"b', 'agent.host name', 'x@y')
    .orderBy({ column: 'a"b', descending: true })
    .toRows();
  assert.deepEqual(out, [
    { 'a"b': 'powershell.exe', 'agent.host name': null, 'x@y': true },
    { 'a"b': 'C:\\Windows\\System32\\cmd.exe', 'agent.host name': 'WS01', 'x@y': false },
  ]);
  assert.deepEqual(await base.drop('a"b', 'missing').columns(), ['winlog:event_id', 'agent.host name', 'n', 's']);
});

test('expression builder: isin, like, isNull, and/or/not, lit', async () => {
  assert.equal(await base.filter(col('winlog:event_id').isin(['5', '18'])).count(), 1);
  assert.equal(await base.filter(col('a"b').like('%.exe')).count(), 3);
  assert.equal(await base.filter(col('agent.host name').isNull()).count(), 1);
  assert.equal(await base.filter(col('n').ge(lit(20)).and(col('n').lt(30)).or(col('n').eq(10))).count(), 2);
  assert.equal(await base.filter(col('winlog:event_id').eq('1').not()).count(), 1);
  assert.equal(await base.filter(col('n').isin([])).count(), 0);
  assert.equal(await base.filter(`"winlog:event_id" = '1'`).count(), 2);
});

test('withColumn replaces in place; withColumnRenamed keeps position', async () => {
  assert.deepEqual(await base.withColumn('n', 'n * 2').columns(), ['winlog:event_id', 'agent.host name', 'a"b', 'n', 's']);
  assert.deepEqual((await base.withColumn('n', 'n * 2').orderBy('n').select('n').toRows()).map((r) => r.n), [20, 40, 60]);
  assert.deepEqual(await base.withColumnRenamed('n', 'count').columns(), ['winlog:event_id', 'agent.host name', 'a"b', 'count', 's']);
  await assert.rejects(base.withColumnRenamed('nope', 'x').columns(), /no column "nope"/);
});

test('schema shows nested types', async () => {
  const schema = await base.schema();
  const s = schema.find((f) => f.name === 's')!;
  assert.equal(s.kind, 'struct');
  assert.deepEqual(s.children.map((c) => [c.name, c.kind]), [['a', 'scalar'], ['b', 'list']]);
});

test('toArrow keeps types and nested values', async () => {
  const table = await base.orderBy('n').toArrow();
  assert.ok(table instanceof arrow.Table);
  assert.equal(table.numRows, 3);
  assert.equal(table.getChild('n')!.type.typeId, arrow.Type.Int);
  assert.equal(table.getChild('s')!.get(0)!.a, 1);
  assert.deepEqual([...table.getChild('s')!.get(0)!.b], [1, 2]);
  assert.equal(table.getChild('winlog:event_id')!.get(1), '5');
});

test('cache, limit, distinct, groupBy, unionByName', async () => {
  const cached = await base.cache();
  assert.equal(await cached.count(), 3);
  assert.equal(await base.limit(2).count(), 2);
  assert.equal(await base.select('winlog:event_id').distinct().count(), 2);
  const g = await base.groupBy('winlog:event_id').agg('sum(n) AS total').orderBy('winlog:event_id').toRows();
  assert.deepEqual(g.map((r) => [r['winlog:event_id'], Number(r.total)]), [['1', 40], ['5', 20]]);
  const u = base.select('n').unionByName(base.select('winlog:event_id'));
  assert.equal(await u.count(), 6);
});

test('toDanfo loads danfojs on demand', async () => {
  const ddf = (await base.select('winlog:event_id', 'n').toDanfo()) as { shape: number[]; columns: string[] };
  assert.deepEqual(ddf.shape, [3, 2]);
  assert.deepEqual(ddf.columns, ['winlog:event_id', 'n']);
});
