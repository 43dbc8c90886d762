/**
 * The bronze fault and hostile-input suite: mixed winlogbeat 7 / 8 documents with every hostile
 * case of test/hostile.ts, through a Kafka batch read, a Kafka stream SIGKILLed and restarted, and
 * `winlake load`. Each asserts: every offset (or document) lands in bronze or quarantine exactly
 * once and on the expected side, its original value is recoverable, the stream goes to the end,
 * and silver builds on top.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { buildSilver } from '../kernel-lib/src/cim/build-silver.js';
import { Session, closeSession } from '../kernel-lib/src/engine/session.js';
import { Catalog } from '../kernel-lib/src/lakehouse/catalog.js';
import { BRONZE_PARTITIONS, BRONZE_TABLE } from '../kernel-lib/src/lakehouse/load-files.js';
import { readTable, writeTableBatch } from '../kernel-lib/src/lakehouse/tables.js';
import { createKafkaClient, type KafkaClient } from '../kernel-lib/src/source/kafka/client.js';
import { readKafkaTopic } from '../kernel-lib/src/source/kafka/read-topic.js';
import { addIngestMeta, parseWinlogbeat } from '../kernel-lib/src/winlogbeat/parse.js';
import { tempDir } from './helpers.js';
import { mixedValues, streamWithKills, type HostileValue } from './hostile.js';
import { BOOTSTRAP, deleteTopics, ensureBroker, uniqueTopic } from './kafka-helpers.js';

const PARTITIONS = 2;
const KAFKA_CASES = (name: string): boolean => name !== '2 MB value';
const [HOST, PORT] = BOOTSTRAP.split(':') as [string, string];

let session: Session;
let client: KafkaClient;
const topics: string[] = [];

before(async () => {
  await ensureBroker();
  // Not testSession(): an after() registered inside a before hook runs at once.
  session = await Session.create({ workDir: tempDir('winlake-duck-'), threads: 2 });
  client = createKafkaClient(BOOTSTRAP, { kind: 'platformatic', clientId: 'winlake-hostile' });
});
after(async () => {
  await deleteTopics(topics);
  await client.close();
  session.close();
  await closeSession();
});

/** Produces value i to partition i % PARTITIONS, in order: its offset is floor(i / PARTITIONS). */
async function produceValues(values: readonly HostileValue[]): Promise<string> {
  const topic = uniqueTopic('hostile');
  topics.push(topic);
  await client.createTopic(topic, { partitions: PARTITIONS });
  for (let i = 0; i < values.length; i += 50) {
    await client.produce(topic, values.slice(i, i + 50).map((v, j) => ({ value: v.value, partition: (i + j) % PARTITIONS })));
  }
  return topic;
}

/** What a quarantined value must read back as: the text, base64 for bytes that are not UTF-8. */
function expectedRecord(v: Buffer | null): string | null {
  if (v === null) return null;
  return Buffer.from(v.toString('utf8'), 'utf8').equals(v) ? v.toString('utf8') : v.toString('base64');
}

/** Every offset once, on its side, with its original value; returns the bronze rows by offset. */
async function assertLanded(catalog: Catalog, table: string, values: readonly HostileValue[]): Promise<void> {
  const bronze = await (await readTable(table, { catalog, session })).selectExpr('_kafka_partition AS p', '_kafka_offset AS o', '_raw AS v').toRows<{ p: number; o: bigint; v: string }>();
  const quarantine = await (await readTable(`${table}_quarantine`, { catalog, session }))
    .selectExpr('_kafka_partition AS p', '_kafka_offset AS o', '_corrupt_record AS v', '_corrupt_reason AS why')
    .toRows<{ p: number; o: bigint; v: string | null; why: string }>();
  const seen = new Map<string, { side: 'bronze' | 'quarantine'; v: string | null; why?: string }>();
  for (const [side, rows] of [['bronze', bronze], ['quarantine', quarantine]] as const) {
    for (const r of rows) {
      const key = `${r.p}/${r.o}`;
      assert.equal(seen.has(key), false, `offset ${key} is in bronze/quarantine twice`);
      seen.set(key, { side, v: r.v, ...('why' in r ? { why: r.why } : {}) });
    }
  }
  assert.equal(seen.size, values.length, 'every produced offset is in bronze or quarantine');
  values.forEach((value, i) => {
    const key = `${i % PARTITIONS}/${Math.floor(i / PARTITIONS)}`;
    const got = seen.get(key);
    assert.ok(got, `offset ${key} (${value.name}) is lost`);
    assert.equal(got.side, value.toBronze ? 'bronze' : 'quarantine', `${value.name} at ${key}`);
    if (value.toBronze) assert.equal(got.v, value.value!.toString('utf8'), `${value.name}: _raw gives the document back byte for byte`);
    else {
      assert.equal(got.v, expectedRecord(value.value), `${value.name}: the quarantine keeps the value`);
      assert.ok(got.why && got.why.length > 3, `${value.name}: a reason`);
    }
  });
}

/** The hostile rows' bronze columns are what the envelope promises. */
async function assertEnvelope(catalog: Catalog, table: string): Promise<void> {
  const rows = await session.rows<{ raw: string; channel: string | null; st: string | null; d: unknown; rescued: string | null; eid: string | null; ts: unknown }>(
    `SELECT _raw raw, winlog.channel channel, _sourcetype st, _event_date d, _rescued_data rescued, winlog.event_id eid, "@timestamp" ts FROM (${await (await readTable(table, { catalog, session })).toSql()})`,
  );
  for (const r of rows) assert.notEqual(r.d, null, 'every bronze row has a dated partition');
  const long = rows.find((r) => r.channel?.length === 300);
  assert.ok(long, 'the 300-character channel is kept in the row');
  assert.ok(long.st !== null && Buffer.byteLength(long.st) <= 80 && long.st.includes('~'), `shortened partition value: ${long.st}`);
  const clash = rows.find((r) => r.raw.includes('"Foo":"upper"'));
  assert.deepEqual(JSON.parse(clash!.rescued!), { Foo: 'upper', foo: 'lower' }, 'both spellings rescued');
  const bad = rows.find((r) => r.raw.includes('yesterday at noon'));
  assert.equal(bad!.ts, null);
  assert.equal(JSON.parse(bad!.rescued!)['@timestamp'], 'yesterday at noon', 'the unparseable time is rescued');
  const epoch = rows.find((r) => r.raw.includes('"@timestamp":1714564800123'));
  assert.equal(String((epoch!.ts as Date).toISOString()), '2024-05-01T12:00:00.123Z');
  const v7 = rows.find((r) => /"event_id":\d/.test(r.raw) && r.rescued === null);
  const v8 = rows.find((r) => /"event_id":"\d/.test(r.raw) && r.rescued === null);
  assert.ok(v7 && v8 && typeof v7.eid === 'string' && v7.eid === JSON.parse(v7.raw).winlog.event_id.toString(), 'winlogbeat 7 and 8 event_ids are one VARCHAR column');
  const oops = rows.find((r) => r.raw.includes('"winlog":"oops"'));
  assert.equal(JSON.parse(oops!.rescued!).winlog, 'oops');
  // One odd document does not move the others: every well-formed row has its channel as partition.
  assert.equal(rows.filter((r) => r.rescued === null && r.st === null).length, 0);
}

async function assertSilver(catalog: Catalog, table: string): Promise<void> {
  const silver = await buildSilver(table, { catalog, session });
  assert.ok(silver.tables.reduce((n, t) => n + t.rows, 0) > 0, 'silver tables got rows');
}

describe('bronze under hostile input', () => {
  it('Kafka batch: every offset in bronze or quarantine once, values recoverable, silver builds', async () => {
    const values = mixedValues({ count: 1200, every: 20, seed: 3, only: KAFKA_CASES });
    const topic = await produceValues(values);
    const catalog = new Catalog(tempDir());
    const [df] = await readKafkaTopic(HOST, PORT, topic, { session });
    const bronze = await parseWinlogbeat(addIngestMeta(df), 'raw');
    await writeTableBatch(bronze, BRONZE_TABLE, 'bronze', BRONZE_PARTITIONS, { catalog, session });
    await assertLanded(catalog, BRONZE_TABLE, values);
    await assertEnvelope(catalog, BRONZE_TABLE);
    await assertSilver(catalog, BRONZE_TABLE);
  });

  it('Kafka stream, SIGKILLed and restarted: goes to the end, every offset once, silver builds', async () => {
    const values = mixedValues({ count: 1500, every: 25, seed: 4, only: KAFKA_CASES });
    const topic = await produceValues(values);
    const lakehouse = tempDir();
    const catalog = new Catalog(lakehouse);
    const runs = await streamWithKills({ bootstrap: HOST, port: Number(PORT), topic, lakehouse, table: BRONZE_TABLE, queryName: 'hostile', maxOffsetsPerTrigger: 150 }, [1, 2, 1]);
    const last = runs[runs.length - 1]!;
    assert.equal(last.killed, false, 'the last run was not killed');
    assert.equal(last.code, 0, `the stream stopped on data:\n${last.stderr}`);
    assert.ok(runs.filter((r) => r.killed).length >= 2, `killed ${runs.filter((r) => r.killed).length} times`);
    await assertLanded(catalog, BRONZE_TABLE, values);
    await assertEnvelope(catalog, BRONZE_TABLE);
    await assertSilver(catalog, BRONZE_TABLE);
  });

  it('winlake load: every document of the file in bronze or quarantine once, counts reconcile', async () => {
    // A file holds text lines only: no binary, empty or null values; invalid JSON and a bare number fail the whole file, named (load.test.ts).
    const values = mixedValues({ count: 600, every: 10, seed: 5, only: (n) => !['binary', 'empty', 'null value', 'invalid JSON', 'truncated', 'a number', 'NUL in a key'].includes(n) });
    const dir = tempDir();
    const file = path.join(dir, 'hostile.json');
    writeFileSync(file, values.map((v) => v.value!.toString('utf8')).join('\n') + '\n');
    const home = path.join(dir, 'lakehouse');
    const cli = path.join(import.meta.dirname, '..', 'kernel-lib', 'src', 'cli', 'main.ts');
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', cli, 'load', file, '--home', home], { maxBuffer: 64 * 1024 * 1024 });
    assert.doesNotMatch(stderr, /\n\s+at /, 'no raw stack');
    // An array line counts as one document per item (here two good ones, for bronze); a document in
    // no known layout (`winlog` a string) cannot be converted, so load quarantines it with the reason.
    const arrays = values.filter((v) => v.name === 'top-level array').length;
    const documents = values.length + arrays;
    const quarantined = values.filter((v) => (!v.toBronze && v.name !== 'top-level array') || v.name === 'winlog as a string').length;
    const m = /: (\d+) documents read: (\d+) in bronze, (\d+) quarantined/.exec(stdout);
    assert.ok(m, stdout);
    assert.deepEqual([Number(m[1]), Number(m[2]), Number(m[3])], [documents, documents - quarantined, quarantined], stdout);
    const catalog = new Catalog(home);
    const raws = new Set((await (await readTable(BRONZE_TABLE, { catalog, session })).select('_raw').toRows<{ _raw: string }>()).map((r) => JSON.parse(r._raw) as unknown).map((d) => JSON.stringify(d)));
    assert.ok(raws.size > 0);
    assert.match(stdout, /^silver /m, 'silver built');
  });
});
