import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync, constants as zlibConstants } from 'node:zlib';
import { describe, it } from 'node:test';
import { buildSilver, createSilverSink } from '../kernel-lib/src/cim/build-silver.js';
import { applyPack, loadPack, loadPacks, type MappingPack } from '../kernel-lib/src/cim/pack.js';
import { packInputProjection } from '../kernel-lib/src/cim/pack-inputs.js';
import { TransformError } from '../kernel-lib/src/cim/transform.js';
import { commitActions, loadSnapshot, readCommit } from '../kernel-lib/src/delta/index.js';
import { quoteIdent, quoteString } from '../kernel-lib/src/engine/quote.js';
import type { Session } from '../kernel-lib/src/engine/session.js';
import { Catalog } from '../kernel-lib/src/lakehouse/catalog.js';
import { readTable, writeTableBatch } from '../kernel-lib/src/lakehouse/tables.js';
import { ndjsonToFrame } from '../kernel-lib/src/source/kafka/ndjson-frame.js';
import { DeltaStreamSource, readDeltaStream } from '../kernel-lib/src/stream/delta-source.js';
import { StreamingQuery } from '../kernel-lib/src/stream/index.js';
import { readEventFiles } from '../kernel-lib/src/winlogbeat/convert.js';
import { parseWinlogbeat } from '../kernel-lib/src/winlogbeat/parse.js';
import { simulateNdjson } from '../kernel-lib/src/winlogbeat/simulate.js';
import { SHARED_DATA, tempDir, testSession } from './helpers.js';

const BRONZE = 'winlogbeat_kafka_bronze';
const BRONZE_PARTITIONS = ['_event_date', '_sourcetype'];
const session = await testSession();
const packs = loadPacks();

/** Appends winlogbeat JSON lines to bronze the way ingestion does: parse, raw stage, write_table. */
async function appendBronze(catalog: Catalog, lines: readonly string[]): Promise<number> {
  const parsed = await ndjsonToFrame(session, { lines, tempDir: tempDir() });
  const raw = await parseWinlogbeat(parsed, 'raw');
  const written = await writeTableBatch(raw, BRONZE, 'bronze', BRONZE_PARTITIONS, { catalog, session });
  return written.result.version!;
}

function simulated(seed: number, count: number): string[] {
  return [...simulateNdjson({ seed, count, version: 7, attackRate: 0.05, start: new Date(Date.UTC(2026, 0, 5 + seed)) })];
}

/** Rows each pack should get, counted on bronze with plain SQL (no flatten, no packs code). */
async function expectedFromBronze(s: Session, catalog: Catalog): Promise<Map<string, number>> {
  const bronzeSql = await (await readTable(BRONZE, { catalog, session: s })).toSql();
  const out = new Map<string, number>();
  for (const pack of packs) {
    const where = pack.sources
      .map((src) => `(_sourcetype = ${quoteString(src.sourcetype)} AND CAST(winlog.event_id AS VARCHAR) IN (${src.eventIds.map(quoteString).join(', ')}))`)
      .join(' OR ');
    out.set(pack.table, Number(await s.scalar(`SELECT count(*) FROM (${bronzeSql}) WHERE ${where}`)));
  }
  return out;
}

async function silverCounts(catalog: Catalog): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const pack of packs) {
    const found = catalog.find(pack.table);
    out.set(pack.table, found ? await (await readTable(pack.table, { catalog, session })).count() : 0);
  }
  return out;
}

async function assertSilverMatches(catalog: Catalog): Promise<Map<string, number>> {
  const expected = await expectedFromBronze(session, catalog);
  assert.deepEqual(Object.fromEntries(await silverCounts(catalog)), Object.fromEntries(expected));
  return expected;
}

describe('DeltaStreamSource', () => {
  it('plans whole commits within maxFilesPerTrigger / maxVersionsPerTrigger and reads exactly their added files', async () => {
    const catalog = new Catalog(tempDir());
    for (let i = 0; i < 4; i++) await appendBronze(catalog, simulated(10 + i, 40));
    const table = catalog.locate(BRONZE).path;
    const source = new DeltaStreamSource(table, { maxVersionsPerTrigger: 3 });
    assert.deepEqual(await source.initialOffsets(), { version: 0 });
    const latest = await source.latestOffsets();
    assert.deepEqual(latest, { version: 4 });
    assert.deepEqual(source.planBatch({ version: 0 }, latest), { version: 3 });
    assert.deepEqual(source.planBatch({ version: 3 }, latest), { version: 4 });
    const filesPerCommit = await Promise.all([0, 1, 2, 3].map(async (v) => (await readCommit(table, v)).filter((a) => 'add' in a).length));
    const byFiles = new DeltaStreamSource(table, { maxFilesPerTrigger: filesPerCommit[0]! + filesPerCommit[1]! });
    await byFiles.latestOffsets();
    assert.deepEqual(byFiles.planBatch({ version: 0 }, latest), { version: 2 });
    // A single commit larger than the limit still makes a batch.
    const tiny = new DeltaStreamSource(table, { maxFilesPerTrigger: 1 });
    await tiny.latestOffsets();
    assert.deepEqual(tiny.planBatch({ version: 1 }, latest), { version: 2 });

    // maxBytesPerTrigger: whole commits within the bytes of their added files, at least one.
    const bytesPerCommit = await Promise.all(
      [0, 1, 2, 3].map(async (v) => (await readCommit(table, v)).reduce((n, a) => n + ('add' in a ? (a.add as { size: number }).size : 0), 0)),
    );
    const byBytes = new DeltaStreamSource(table, { maxBytesPerTrigger: bytesPerCommit[0]! + bytesPerCommit[1]! + bytesPerCommit[2]! - 1 });
    await byBytes.latestOffsets();
    assert.deepEqual(byBytes.planBatch({ version: 0 }, latest), { version: 2 });
    const oneByte = new DeltaStreamSource(table, { maxBytesPerTrigger: 1 });
    await oneByte.latestOffsets();
    assert.deepEqual(oneByte.planBatch({ version: 2 }, latest), { version: 3 });

    const batch = await source.readBatch(session, { version: 1 }, { version: 3 });
    assert.equal(batch.numRows, 80);
    assert.equal(await batch.frame.count(), 80);
    await batch.release();
    assert.deepEqual(await new DeltaStreamSource(table, { startingVersion: 'latest' }).initialOffsets(), { version: 4 });
  });

  it('skips dataChange=false rewrites, refuses data removals unless told to ignore them', async () => {
    const catalog = new Catalog(tempDir());
    await appendBronze(catalog, simulated(20, 30));
    const table = catalog.locate(BRONZE).path;
    const snap = await loadSnapshot(table);
    const [first] = snap.files;
    // An OPTIMIZE-like commit: the same file removed and re-added without data change.
    await commitActions(
      table,
      [{ remove: { path: first!.path, dataChange: false, deletionTimestamp: Date.now() } }, { add: { ...first!, dataChange: false } }],
      { readVersion: 0, operation: 'OPTIMIZE', isBlindAppend: false },
    );
    const source = new DeltaStreamSource(table);
    const latest = await source.latestOffsets();
    const all = await source.readBatch(session, { version: 0 }, latest);
    assert.equal(all.numRows, 30);
    await all.release();
    // A DELETE: a dataChange=true remove.
    await commitActions(table, [{ remove: { path: first!.path, dataChange: true, deletionTimestamp: Date.now() } }], { readVersion: 1, operation: 'DELETE', isBlindAppend: false });
    const strict = new DeltaStreamSource(table);
    await assert.rejects(strict.readBatch(session, { version: 2 }, { version: 3 }), /version 2 \(DELETE\) deletes data .*ignoreDeletes: true/);
    const lenient = new DeltaStreamSource(table, { ignoreDeletes: true });
    const none = await lenient.readBatch(session, { version: 2 }, { version: 3 });
    assert.equal(none.numRows, 0);
    await none.release();
    assert.throws(() => new DeltaStreamSource(table, { maxFilesPerTrigger: 0 }), /maxFilesPerTrigger must be a positive integer/);
  });
});

describe('buildSilver on simulated events', () => {
  it('batch: every silver table gets exactly its bronze events, values mapped; a re-run adds nothing', async () => {
    const catalog = new Catalog(tempDir());
    await appendBronze(catalog, simulated(1, 2500));
    const result = await buildSilver(BRONZE, { catalog, session });
    assert.equal(result.batches, 1);
    assert.equal(result.bronzeRows, 2500);
    assert.deepEqual(result.bronzeVersions, { from: 0, to: 1 });
    const expected = await assertSilverMatches(catalog);
    for (const t of result.tables) assert.equal(t.rows, expected.get(t.table), t.table);
    assert.ok((expected.get('Process') ?? 0) > 100 && (expected.get('Network') ?? 0) > 50 && (expected.get('Logon') ?? 0) > 10);

    // Spot values: one Sysmon 1 event, read from bronze with SQL, against its Process row.
    const bronzeSql = await (await readTable(BRONZE, { catalog, session })).toSql();
    const [raw] = await session.rows<Record<string, string>>(
      `SELECT winlog.event_data['ProcessGuid'] AS guid, winlog.event_data['CommandLine'] AS cmd, winlog.event_data['Image'] AS image,
              winlog.event_data['User'] AS usr, dvc_hostname AS host
       FROM (${bronzeSql}) WHERE _sourcetype = 'Microsoft-Windows-Sysmon/Operational' AND winlog.event_id = '1' ORDER BY _event_time LIMIT 1`,
    );
    const process = await readTable('Process', { catalog, session });
    const [row] = await process.filter(`process_guid = ${quoteString(raw!.guid!)} AND event_id = '1'`).toRows();
    assert.equal(row!.process_command_line, raw!.cmd);
    assert.equal(row!.process_file_path, raw!.image);
    assert.equal(row!.user_name, raw!.usr);
    assert.equal(row!.dvc_hostname, raw!.host);
    assert.equal(row!.event_message, 'Process Started');
    assert.equal(row!.process_name, raw!.image!.split('\\').at(-1));
    // The z-order key is filled for every process event that names an image.
    assert.equal(await process.filter('process_name IS NULL AND process_file_path IS NOT NULL').count(), 0);
    assert.deepEqual((await loadSnapshot(catalog.locate('Process').path)).metadata.partitionColumns, ['_event_date']);

    const again = await buildSilver(BRONZE, { catalog, session });
    assert.equal(again.batches, 0);
    assert.deepEqual(again.bronzeVersions, { from: 1, to: 1 });
    await assertSilverMatches(catalog);
    await assert.rejects(buildSilver(BRONZE, { catalog, session, packs: ['Process'] }), /builds .* this run asks for Process .*own queryName/);
  });

  it('streaming: only new bronze versions are processed; a crash mid-batch is redone without duplicates', async () => {
    const catalog = new Catalog(tempDir());
    await appendBronze(catalog, simulated(2, 800));
    const first = await buildSilver(BRONZE, { catalog, session, mode: 'streaming', trigger: { availableNow: true } });
    await first.awaitTermination();
    assert.equal(first.recentProgress.length, 1);
    await assertSilverMatches(catalog);

    // Two more bronze commits, then a run that reads only them.
    await appendBronze(catalog, simulated(3, 500));
    await appendBronze(catalog, simulated(4, 300));
    const second = await buildSilver(BRONZE, { catalog, session, maxVersionsPerTrigger: 1 });
    assert.equal(second.batches, 2);
    assert.equal(second.bronzeRows, 800);
    assert.deepEqual(second.bronzeVersions, { from: 1, to: 3 });
    await assertSilverMatches(catalog);

    // A crash: the next batch is planned, Process is written (with its txn), then the run dies before the checkpoint commit.
    await appendBronze(catalog, simulated(5, 600));
    const checkpointLocation = second.checkpointLocation;
    const processOnly = createSilverSink([loadPack('Process')], { catalog, session });
    const crashing = StreamingQuery.start(
      readDeltaStream(session, catalog.locate(BRONZE).path),
      async (batch, batchId, queryId) => {
        await processOnly(batch, batchId, queryId);
        throw new Error('simulated crash after writing Process');
      },
      { checkpointLocation, trigger: { availableNow: true } },
    );
    await assert.rejects(crashing.awaitTermination(), /simulated crash/);
    const processVersion = (await loadSnapshot(catalog.locate('Process').path)).version;
    const recovered = await buildSilver(BRONZE, { catalog, session });
    assert.equal(recovered.batches, 1);
    assert.deepEqual(recovered.bronzeVersions, { from: 3, to: 4 });
    assert.equal(recovered.tables.find((t) => t.table === 'Process')!.rows, 0, 'Process already held the batch');
    assert.equal((await loadSnapshot(catalog.locate('Process').path)).version, processVersion);
    await assertSilverMatches(catalog);

    // Continuous mode follows new bronze commits as they come.
    const live = await buildSilver(BRONZE, { catalog, session, mode: 'streaming', trigger: { processingTime: 0 } });
    await appendBronze(catalog, simulated(6, 200));
    await live.processAllAvailable();
    await live.stop();
    await assertSilverMatches(catalog);
  });
});

describe('buildSilver reads only what the packs read', () => {
  // A DNS pack that also reads raw columns no shipped pack maps: one an EXPR names (agent), one
  // below a struct the renames narrow (winlog:opcode, via an EXPR), and the map parsed from message.
  const dns = loadPack('DNS');
  const plus: MappingPack = {
    ...dns,
    table: 'DNSPlus',
    transforms: [
      ...dns.transforms,
      { new: ['agent_host', 'EXPR="agent:hostname"'] },
      { new: ['opcode_upper', 'EXPR=upper("winlog:opcode")'] },
      { rename: ['message_fields', 'message_map'] },
    ],
  };

  it('copies only the bronze columns and struct fields the packs read', async () => {
    const catalog = new Catalog(tempDir());
    await appendBronze(catalog, simulated(9, 50));
    const schema = await (await readTable(BRONZE, { catalog, session })).schema();
    const shipped = packInputProjection(packs)(schema);
    const kept = shipped.map((item) => /"([^"]+)"$/.exec(item)?.[1] ?? item);
    assert.deepEqual(kept, ['_sourcetype', '_event_time', '_event_date', 'dvc_hostname', 'log', 'event', 'winlog']);
    assert.ok(shipped.includes(`{'level': struct_extract("log", 'level')} AS "log"`), shipped.join('\n'));
    assert.ok(!shipped.some((item) => /'(channel|record_id|keywords)'/.test(item)), 'winlog fields no pack maps are left out');
    // An EXPR naming a column keeps it whole; renaming message_fields keeps message; `*` keeps everything.
    const withPlus = packInputProjection([...packs, plus])(schema);
    assert.ok(withPlus.includes('"agent"') && withPlus.includes('"message"') && withPlus.includes('"winlog"'));
    const star: MappingPack = { ...dns, table: 'DNSStar', transforms: [...dns.transforms, { new: ['n', 'EXPR=(SELECT count(*) FROM (SELECT 1))'] }] };
    assert.equal(packInputProjection([star])(schema).length, schema.length);
  });

  it('gives the same rows as applyPack over the fully flattened bronze', async () => {
    const catalog = new Catalog(tempDir());
    await appendBronze(catalog, simulated(7, 600));
    const result = await buildSilver(BRONZE, { catalog, session, packs: [plus, 'Process'] });
    const bronze = await readTable(BRONZE, { catalog, session });
    const flat = await parseWinlogbeat(bronze, 'flatten');
    for (const pack of [plus, loadPack('Process')]) {
      const expected = await (await applyPack(flat, pack)).toSql();
      const silver = await (await readTable(pack.table, { catalog, session })).toSql();
      const columns = (await session.run(`SELECT * FROM (${expected}) LIMIT 0`)).columnNames().map((c) => quoteIdent(c)).join(', ');
      const missing = await session.scalar(`SELECT count(*) FROM (SELECT ${columns} FROM (${expected}) EXCEPT ALL SELECT ${columns} FROM (${silver}))`);
      const extra = await session.scalar(`SELECT count(*) FROM (SELECT ${columns} FROM (${silver}) EXCEPT ALL SELECT ${columns} FROM (${expected}))`);
      assert.deepEqual([Number(missing), Number(extra)], [0, 0], pack.table);
      assert.equal(result.tables.find((t) => t.table === pack.table)!.rows, await readTable(pack.table, { catalog, session }).then((f) => f.count()));
    }
    const filled = await (await readTable('DNSPlus', { catalog, session })).filter('agent_host IS NOT NULL AND opcode_upper IS NOT NULL AND message_map IS NOT NULL').count();
    assert.ok(filled > 0 && filled === result.tables.find((t) => t.table === 'DNSPlus')!.rows, 'the raw columns the EXPRs and the message rename read are there');
  });

  it('names the transform DuckDB rejects', async () => {
    const catalog = new Catalog(tempDir());
    await appendBronze(catalog, simulated(8, 200));
    const bad: MappingPack = { ...dns, table: 'DNSBad', transforms: [...dns.transforms, { new: ['oops', 'EXPR=no_such_function(event_id)'] }] };
    await assert.rejects(buildSilver(BRONZE, { catalog, session, packs: [bad] }), (err: Error) => {
      assert.ok(err instanceof TransformError, String(err));
      assert.match(err.message, new RegExp(`transform #${dns.transforms.length} .*no_such_function`));
      return true;
    });
  });
});

/** Counts (channel, event id) in the raw Mordor files, reading each layout's own keys. */
function countRawMordor(files: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  const add = (channel: unknown, id: unknown): void => {
    const key = `${String(channel)}|${String(id)}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  };
  for (const file of files) {
    let text: string;
    if (file.endsWith('.tar.gz')) {
      // The archive's gzip stream ends early: flush what inflates, drop the tar header and padding.
      const tar = gunzipSync(readFileSync(file), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
      text = tar.subarray(512).toString('utf8').replace(/\0+/g, '\n');
    } else {
      text = readFileSync(file, 'utf8');
    }
    for (const line of text.split('\n')) {
      if (!line.trim().startsWith('{')) continue;
      const doc = JSON.parse(line) as Record<string, unknown>;
      if ('Channel' in doc) add(doc.Channel, doc.EventID);
      else add(doc.log_name, doc.event_id);
    }
  }
  return counts;
}

function expectedFromCounts(counts: ReadonlyMap<string, number>, pack: MappingPack): number {
  let n = 0;
  for (const src of pack.sources) for (const id of src.eventIds) n += counts.get(`${src.sourcetype}|${id}`) ?? 0;
  return n;
}

describe('buildSilver on real Mordor recordings', () => {
  it('converts NXLog and winlogbeat 6 files (.json, .tar.gz) to bronze; silver counts match the raw files', async () => {
    const dir = path.join(SHARED_DATA, 'mordor');
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.json') || f.endsWith('.tar.gz'))
      .sort()
      .map((f) => path.join(dir, f));
    assert.equal(files.length, 4);
    const catalog = new Catalog(tempDir());
    for (const file of files) {
      const lines: string[] = [];
      for await (const doc of readEventFiles(file)) lines.push(JSON.stringify(doc));
      await appendBronze(catalog, lines);
    }
    const result = await buildSilver(BRONZE, { catalog, session });
    assert.deepEqual(result.bronzeVersions, { from: 0, to: 4 });

    const raw = countRawMordor(files);
    const expected = Object.fromEntries(packs.map((p) => [p.table, expectedFromCounts(raw, p)]));
    assert.deepEqual(Object.fromEntries(await silverCounts(catalog)), expected);
    assert.ok(expected.Process! > 0 && expected.SecurityProcess! > 0 && expected.Network! > 0, JSON.stringify(expected));
    assert.equal(result.bronzeRows, [...raw.values()].reduce((a, b) => a + b, 0));

    const process = await readTable('Process', { catalog, session });
    const pipes = await process.filter("event_id = '18'").select('pipe_name', 'process_name').toRows();
    assert.ok(pipes.some((r) => r.pipe_name === '\\PSEXESVC'), JSON.stringify(pipes));
    const security = await readTable('SecurityProcess', { catalog, session });
    const paths = (await security.select('process_path').toRows()).map((r) => r.process_path);
    assert.ok(paths.length > 0 && paths.every((p) => typeof p === 'string' && /^[A-Za-z]:\\/.test(p)), JSON.stringify(paths.slice(0, 5)));
    const psexec = readFileSync(path.join(dir, 'cmd_psexec_lsa_secrets_dump.json'), 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((d) => d.EventID === 4688);
    assert.ok(paths.includes(psexec!.NewProcessName), `4688 NewProcessName ${String(psexec!.NewProcessName)} in SecurityProcess`);
  });
});
