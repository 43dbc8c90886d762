import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import type { Session } from '../kernel-lib/src/engine/session.js';
import { brokerOptions } from '../kernel-lib/src/source/kafka/broker.js';
import { createKafkaClient, type KafkaClientKind } from '../kernel-lib/src/source/kafka/client.js';
import { ndjsonToFrame } from '../kernel-lib/src/source/kafka/ndjson-frame.js';
import { produce } from '../kernel-lib/src/source/kafka/produce.js';
import { kafkaReadInfo, readKafkaTopic } from '../kernel-lib/src/source/kafka/read-topic.js';
import { tempDir, testSession } from './helpers.js';
import { BOOTSTRAP, deleteTopics, ensureBroker, uniqueTopic, winlogbeatDoc } from './kafka-helpers.js';

/** The default broker's PLAINTEXT port (WINLAKE_KAFKA_PORT moves it). */
const PORT = brokerOptions().port;

const GOOD = 500;
/** Known corrupt values and the reason each must get. */
const CORRUPT: { value: string | null; reason: string }[] = [
  { value: '{"winlog": {"event_id": 1', reason: 'invalid JSON' },
  { value: '[{"a": 1}, {"b": 2}]', reason: 'not a JSON object (array)' },
  { value: '"just a string"', reason: 'not a JSON object (string)' },
  { value: '', reason: 'empty value' },
  { value: null, reason: 'null value' },
  { value: `{"message": "${'x'.repeat(1_000_100)}"}`, reason: 'exceeds 1000000 bytes' },
];

const session: Session = await testSession();
const topic = uniqueTopic('read');
const created = [topic];
after(() => deleteTopics(created));

before(async () => {
  await ensureBroker();
  const client = createKafkaClient(BOOTSTRAP);
  try {
    await client.createTopic(topic, { partitions: 3 });
    const docs = Array.from({ length: GOOD }, (_, i) => ({ key: `host-${i % 4}`, value: JSON.stringify(winlogbeatDoc(i)), partition: i % 3 }));
    await client.produce(topic, docs);
    // A pretty-printed (multi-line) document is still a document, as in the reference's multiLine read.
    await client.produce(topic, [{ value: JSON.stringify(winlogbeatDoc(GOOD), null, 2), partition: 1 }]);
    await client.produce(topic, CORRUPT.map((c, i) => ({ value: c.value, partition: i % 3 })));
  } finally {
    await client.close();
  }
});

const TOTAL = GOOD + 1 + CORRUPT.length;

for (const kind of ['platformatic', 'kafkajs'] as const satisfies readonly KafkaClientKind[]) {
  describe(`readKafkaTopic with the ${kind} client`, () => {
    it('reads every record once, documents parsed and corrupt ones kept with their reason', async () => {
      const [df, schema] = await readKafkaTopic('127.0.0.1', PORT, topic, { session, client: kind });
      assert.equal(await df.count(), TOTAL);
      assert.equal(kafkaReadInfo(df)?.records, TOTAL);
      const reasons = await session.rows<{ r: string | null; n: number; raw_kept: boolean; docs_null: boolean }>(
        `SELECT _corrupt_reason r, count(*)::INTEGER n, bool_and(_corrupt_record IS NOT DISTINCT FROM CASE WHEN _corrupt_reason = 'null value' THEN NULL ELSE _corrupt_record END) raw_kept,
                bool_and(winlog IS NULL AND "@timestamp" IS NULL) docs_null
         FROM (${await df.toSql()}) GROUP BY ALL`,
      );
      const byReason = new Map(reasons.map((r) => [r.r, r]));
      assert.equal(byReason.get(null)?.n, GOOD + 1);
      for (const c of CORRUPT) {
        const row = byReason.get(c.reason);
        assert.equal(row?.n, 1, `one record with reason ${c.reason}`);
        assert.equal(row?.docs_null, true);
      }
      assert.equal(reasons.length, CORRUPT.length + 1);
      const raw = await session.rows<{ r: string; rec: string | null }>(`SELECT _corrupt_reason r, _corrupt_record rec FROM (${await df.toSql()}) WHERE _corrupt_reason IS NOT NULL`);
      for (const c of CORRUPT) assert.equal(raw.find((x) => x.r === c.reason)?.rec ?? null, c.value, `raw value kept for ${c.reason}`);

      const types = new Map(schema.map((f) => [f.name, f.type]));
      assert.equal(types.get('@timestamp'), 'TIMESTAMP WITH TIME ZONE');
      assert.equal(types.get('_kafka_topic'), 'VARCHAR');
      assert.equal(types.get('_kafka_partition'), 'INTEGER');
      assert.equal(types.get('_kafka_offset'), 'BIGINT');
      assert.equal(types.get('_kafka_timestamp'), 'TIMESTAMP WITH TIME ZONE');
      assert.equal(types.get('_kafka_key'), 'VARCHAR');
      assert.equal(types.get('_corrupt_record'), 'VARCHAR');
      assert.equal(types.get('_corrupt_reason'), 'VARCHAR');
      const winlog = schema.find((f) => f.name === 'winlog');
      assert.equal(winlog?.kind, 'struct');
      assert.equal(winlog?.children.find((c) => c.name === 'event_data')?.type, 'MAP(VARCHAR, VARCHAR)');
      for (const name of ['agent', 'event', 'log', 'host', 'ecs', 'message']) assert.ok(types.has(name), `column ${name}`);

      // Sysmon keys differ per event id, and the map keeps every one of them.
      const [probe] = await session.rows<{ img: string; ip: string; user: string; host: string; eid: bigint; key: string; ts: Date; multi: number }>(
        `SELECT max(winlog.event_data['Image']) FILTER (WHERE winlog.event_id = 1) img,
                max(winlog.event_data['DestinationIp']) FILTER (WHERE winlog.event_id = '3') ip,
                max(winlog.event_data['TargetUserName']) FILTER (WHERE winlog.event_id = '4624') "user",
                min(agent.hostname) host, min(winlog.event_id) eid, min(_kafka_key) "key", min("@timestamp") ts,
                count(*) FILTER (WHERE winlog.record_id = ${100000 + GOOD})::INTEGER multi
         FROM (${await df.toSql()})`,
      );
      assert.ok(probe);
      assert.match(probe.img, /\.exe$/);
      assert.equal(probe.ip, '172.18.39.5');
      assert.match(probe.user, /^user\d$/);
      assert.equal(probe.host, 'HR001');
      assert.equal(probe.eid, '1', 'event_id is VARCHAR in the bronze envelope, whatever the agent version sent');
      assert.equal(probe.key, 'host-0');
      assert.equal(probe.ts.toISOString(), '2024-05-01T12:00:00.000Z');
      assert.equal(probe.multi, 1, 'the pretty-printed document was parsed');
    });

    it('has unique and complete (partition, offset) pairs matching the end offsets', async () => {
      const [df] = await readKafkaTopic('127.0.0.1', PORT, topic, { session, client: kind });
      const rows = await session.rows<{ p: number; n: number; lo: bigint; hi: bigint; d: number; t: string; late: boolean }>(
        `SELECT _kafka_partition p, count(*)::INTEGER n, min(_kafka_offset) lo, max(_kafka_offset) hi, count(DISTINCT _kafka_offset)::INTEGER d,
                min(_kafka_topic) t, bool_and(_kafka_timestamp > now() - INTERVAL 1 HOUR) late
         FROM (${await df.toSql()}) GROUP BY ALL ORDER BY p`,
      );
      const client = createKafkaClient(BOOTSTRAP);
      const end = await client.endOffsets(topic);
      await client.close();
      assert.deepEqual(rows.map((r) => r.p), [0, 1, 2]);
      for (const r of rows) {
        assert.equal(r.lo, 0n);
        assert.equal(Number(r.hi) + 1, end.get(r.p));
        assert.equal(r.n, end.get(r.p));
        assert.equal(r.d, r.n);
        assert.equal(r.t, topic);
        assert.equal(r.late, true);
      }
    });

    it('fetchRanges reads ranges spanning many fetches exactly once', async () => {
      const client = createKafkaClient(BOOTSTRAP, { kind });
      const seen: string[] = [];
      try {
        // Small fetches (about 5 documents each) force many round trips.
        await client.fetchRanges(
          topic,
          [
            { partition: 0, from: 3, to: 150 },
            { partition: 2, from: 0, to: 100 },
          ],
          (records) => {
            for (const r of records) seen.push(`${r.partition}:${r.offset}`);
          },
          { maxBytesPerPartition: 10_000, maxBytes: 20_000 },
        );
      } finally {
        await client.close();
      }
      assert.equal(seen.length, 247);
      assert.equal(new Set(seen).size, 247);
      assert.ok(seen.includes('0:3') && seen.includes('0:149') && !seen.includes('0:150') && !seen.includes('0:2'));
    });

    it('honours per-partition startingOffsets and endingOffsets', async () => {
      const [df] = await readKafkaTopic('127.0.0.1', PORT, topic, {
        session,
        client: kind,
        startingOffsets: { 0: 10, 1: 5 },
        endingOffsets: { 0: 30, 2: 7 },
      });
      const client = createKafkaClient(BOOTSTRAP);
      const end = await client.endOffsets(topic);
      await client.close();
      const rows = await session.rows<{ p: number; n: number; lo: bigint; hi: bigint }>(
        `SELECT _kafka_partition p, count(*)::INTEGER n, min(_kafka_offset) lo, max(_kafka_offset) hi FROM (${await df.toSql()}) GROUP BY ALL ORDER BY p`,
      );
      assert.deepEqual(
        rows.map((r) => [r.p, r.n, Number(r.lo), Number(r.hi)]),
        [
          [0, 20, 10, 29],
          [1, end.get(1)! - 5, 5, end.get(1)! - 1],
          [2, 7, 0, 6],
        ],
      );
      assert.deepEqual(kafkaReadInfo(df)?.ranges, [
        { partition: 0, from: 10, to: 30 },
        { partition: 1, from: 5, to: end.get(1) },
        { partition: 2, from: 0, to: 7 },
      ]);
    });
  });
}

describe('readKafkaTopic edge cases', () => {
  it("gives zero rows from 'latest', with the Kafka and corrupt columns", async () => {
    const [df, schema] = await readKafkaTopic('127.0.0.1', PORT, topic, { session, startingOffsets: 'latest' });
    assert.equal(await df.count(), 0);
    const names = schema.map((f) => f.name);
    for (const c of ['_kafka_topic', '_kafka_partition', '_kafka_offset', '_kafka_timestamp', '_kafka_key', '_corrupt_record', '_corrupt_reason']) {
      assert.ok(names.includes(c), c);
    }
  });

  it('rejects bad arguments with clear errors', async () => {
    await assert.rejects(readKafkaTopic('127.0.0.1', 'ninety', topic, { session }), /port must be a number/);
    await assert.rejects(readKafkaTopic('127.0.0.1', PORT, topic, { session, startingOffsets: { 7: 0 } }), /has no partition 7/);
    await assert.rejects(readKafkaTopic('127.0.0.1', PORT, topic, { session, endingOffsets: { 0: 1_000_000 } }), /partition ends at/);
    await assert.rejects(readKafkaTopic('127.0.0.1', PORT, 'no-such-topic', { session }), /has no topic "no-such-topic" \(topics: /);
  });

  it('reports data loss, or throws with failOnDataLoss', async () => {
    const lossy = uniqueTopic('loss');
    created.push(lossy);
    const client = createKafkaClient(BOOTSTRAP);
    await client.createTopic(lossy, { partitions: 1 });
    await client.produce(lossy, Array.from({ length: 20 }, (_, i) => ({ value: JSON.stringify({ i }) })));
    await client.close();
    // Deleting records moves the log start offset, exactly as retention does.
    const admin = new Kafka({ brokers: [BOOTSTRAP], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      await admin.fetchTopicMetadata({ topics: [lossy] });
      await admin.deleteTopicRecords({ topic: lossy, partitions: [{ partition: 0, offset: '8' }] });
    } finally {
      await admin.disconnect();
    }

    await assert.rejects(
      readKafkaTopic('127.0.0.1', PORT, lossy, { session, startingOffsets: { 0: 3 }, failOnDataLoss: true }),
      new RegExp(`data loss in Kafka topic ${lossy} partition 0: offsets 3\\.\\.7 were deleted`),
    );
    const [df] = await readKafkaTopic('127.0.0.1', PORT, lossy, { session, startingOffsets: { 0: 3 }, failOnDataLoss: false });
    assert.equal(await df.count(), 12);
    assert.deepEqual(kafkaReadInfo(df)?.dataLoss, [{ topic: lossy, partition: 0, requestedOffset: 3, earliestOffset: 8, lostRecords: 5 }]);
    const [rows] = await session.rows<{ lo: bigint }>(`SELECT min(CAST(json_extract(_rescued_data, '$.i') AS BIGINT)) lo FROM (${await df.toSql()})`);
    assert.equal(rows?.lo, 8n);
  });

  it('produce() sends objects and strings and reports acknowledged counts', async () => {
    const t = uniqueTopic('produce');
    created.push(t);
    const seen: number[] = [];
    const result = await produce(
      (function* () {
        for (let i = 0; i < 250; i++) yield i % 2 ? winlogbeatDoc(i) : JSON.stringify(winlogbeatDoc(i));
      })(),
      { brokers: BOOTSTRAP, topic: t, batchSize: 100, count: 230, onProgress: (p) => seen.push(p.acknowledged) },
    );
    assert.equal(result.acknowledged, 230);
    assert.deepEqual(seen, [100, 200, 230]);
    const [df] = await readKafkaTopic('127.0.0.1', PORT, t, { session });
    assert.equal(await df.filter('_corrupt_reason IS NULL').count(), 230);
  });
});

describe('ndjsonToFrame', () => {
  it('parses lines and files with the same rules, without Kafka columns', async () => {
    const lines = [JSON.stringify(winlogbeatDoc(0)), 'nope', '[]', JSON.stringify(winlogbeatDoc(1))];
    const dir = tempDir();
    const fromLines = await ndjsonToFrame(session, { lines, tempDir: dir });
    const file = path.join(dir, 'events.ndjson');
    writeFileSync(file, `${lines.join('\n')}\n\n`);
    const fromFile = await ndjsonToFrame(session, { files: [file] });
    for (const df of [fromLines, fromFile]) {
      const cols = await df.columns();
      assert.ok(!cols.some((c) => c.startsWith('_kafka_')));
      assert.ok(!cols.some((c) => c.startsWith('__')), `no working column of the parse is left: ${cols.join(', ')}`);
      const rows = await session.rows<{ r: string | null; n: number }>(`SELECT _corrupt_reason r, count(*)::INTEGER n FROM (${await df.toSql()}) GROUP BY ALL ORDER BY r NULLS FIRST`);
      assert.deepEqual(rows, [
        { r: null, n: 2 },
        { r: 'invalid JSON', n: 1 },
        { r: 'not a JSON object (array)', n: 1 },
      ]);
    }
  });

  it('tells an object level, list or map of another type from an absent, null or empty one', async () => {
    const cases: { doc: string; winlog?: 'null' | 'struct'; eventData?: 'null' | 'empty'; tags?: 'null' | 'empty'; os?: 'null'; rescued: Record<string, unknown> | null }[] = [
      { doc: '{"winlog": {}}', winlog: 'struct', rescued: null },
      { doc: '{"winlog": null}', winlog: 'null', rescued: null },
      { doc: '{"winlog": []}', winlog: 'null', rescued: { winlog: [] } },
      { doc: '{"winlog": "oops"}', winlog: 'null', rescued: { winlog: 'oops' } },
      { doc: '{"winlog": {"event_data": "str"}}', eventData: 'null', rescued: { 'winlog:event_data': 'str' } },
      { doc: '{"winlog": {"event_data": {}}, "tags": []}', eventData: 'empty', tags: 'empty', rescued: null },
      { doc: '{"winlog": {"event_data": null}, "tags": null}', eventData: 'null', tags: 'null', rescued: null },
      { doc: '{"tags": "x"}', tags: 'null', rescued: { tags: 'x' } },
      { doc: '{"tags": {"a": 1}}', tags: 'null', rescued: { tags: { a: 1 } } },
      { doc: '{"host": {"os": "win"}}', os: 'null', rescued: { 'host:os': 'win' } },
      { doc: ' \t{"extra": 1}', rescued: { extra: 1 } },
    ];
    const df = await ndjsonToFrame(session, { lines: cases.map((c) => c.doc), tempDir: tempDir() });
    const rows = await session.rows<{ w: boolean; wf: boolean; ed: bigint | null; tags: bigint | null; os: boolean; r: string | null; reason: string | null }>(
      `SELECT winlog IS NULL AS w, winlog IS NOT NULL AND winlog.channel IS NULL AS wf, cardinality(winlog.event_data) AS ed, len(tags) AS tags, ` +
        `host.os IS NULL AS os, _rescued_data AS r, _corrupt_reason AS reason FROM (${await df.toSql()})`,
    );
    assert.equal(rows.length, cases.length);
    for (const [i, c] of cases.entries()) {
      const r = rows[i]!;
      const what = c.doc;
      assert.equal(r.reason, null, what);
      if (c.winlog === 'null') assert.equal(r.w, true, `${what}: winlog is NULL`);
      if (c.winlog === 'struct') assert.equal(r.wf, true, `${what}: winlog is a struct`);
      if (c.eventData) assert.equal(r.ed === null ? 'null' : Number(r.ed) === 0 ? 'empty' : 'full', c.eventData, `${what}: event_data`);
      if (c.tags) assert.equal(r.tags === null ? 'null' : Number(r.tags) === 0 ? 'empty' : 'full', c.tags, `${what}: tags`);
      if (c.os) assert.equal(r.os, true, `${what}: host.os is NULL`);
      assert.deepEqual(r.r === null ? null : JSON.parse(r.r), c.rescued, `${what}: rescued`);
    }
  });

  it('parses documents as long as the reader allows, with its buffer sized to the longest line', async () => {
    // The CSV reader's buffer is twice the longest line (at least 4 MB), not DuckDB's 16 lines:
    // a line near or past 4 MB must still be read whole, and the lines around it too.
    const doc = (n: number): string => JSON.stringify({ ...winlogbeatDoc(n), message: 'm'.repeat(n) });
    const lines = [doc(10), doc(3_900_000), doc(20), doc(4_300_000), doc(30)];
    const df = await ndjsonToFrame(session, { lines, tempDir: tempDir() }, { maxMessageBytes: 5_000_000 });
    const rows = await session.rows<{ n: number; reason: string | null }>(`SELECT strlen(message)::INTEGER n, _corrupt_reason reason FROM (${await df.toSql()})`);
    assert.deepEqual(
      rows.map((r) => [r.n, r.reason]),
      [[10, null], [3_900_000, null], [20, null], [4_300_000, null], [30, null]],
    );
    const raws = await session.rows<{ raw: string }>(`SELECT _raw raw FROM (${await df.toSql()})`);
    assert.deepEqual(raws.map((r) => r.raw), lines);
  });
});
