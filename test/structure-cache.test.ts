import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Session } from '../kernel-lib/src/engine/session.js';
import type { Frame } from '../kernel-lib/src/frame/index.js';
import { StructureCache, ndjsonToFrame } from '../kernel-lib/src/source/kafka/ndjson-frame.js';
import { tempDir, testSession } from './helpers.js';

const session: Session = await testSession();
after(() => session.close());

const doc = (i: number): Record<string, unknown> => ({
  '@timestamp': '2026-01-05T08:00:00.000Z',
  event: { code: '1' },
  winlog: { event_id: 1, process: { pid: i }, event_data: { Image: `C:\\p${i}.exe` } },
});

async function parse(lines: readonly string[], cache?: StructureCache): Promise<Frame> {
  return ndjsonToFrame(session, { lines, tempDir: tempDir() }, cache ? { structureCache: cache } : {});
}

/** The frame's rows as JSON text (structs, maps and big integers included), in input order. */
async function rowsOf(frame: Frame, columns = '*'): Promise<string[]> {
  const rows = await session.rows<{ j: string }>(`SELECT to_json(t)::VARCHAR j FROM (SELECT ${columns} FROM (${await frame.toSql()})) t`);
  return rows.map((r) => r.j);
}

async function typeOf(frame: Frame, expr: string): Promise<string> {
  return String(await session.scalar(`SELECT typeof(${expr}) FROM (${await frame.toSql()}) LIMIT 1`));
}

describe('StructureCache', () => {
  it('finds a nested key that only the 50,001st document has', async () => {
    const lines = Array.from({ length: 50_000 }, (_, i) => JSON.stringify(doc(i)));
    const odd = doc(50_000);
    (odd.winlog as { process: Record<string, unknown> }).process.thread = { id: 7, name: 'new' };
    lines.push(JSON.stringify(odd));
    const frame = await parse(lines);
    assert.equal(await frame.count(), 50_001);
    const last = await session.rows<{ id: bigint; nm: string }>(
      `SELECT winlog.process.thread.id id, winlog.process.thread.name AS nm FROM (${await frame.toSql()}) WHERE winlog.process.pid = 50000`,
    );
    assert.deepEqual(last, [{ id: 7n, nm: 'new' }]);
  });

  it('reuses the structure across batches and learns new keys, types and shapes only when they come', async () => {
    const cache = new StructureCache();
    const first = await parse([JSON.stringify(doc(1)), JSON.stringify(doc(2)), '{"note": null}'], cache);
    assert.equal(cache.inferences > 0, true);
    const learnt = cache.inferences;
    // Same shapes again: no inference, same columns.
    const second = await parse([JSON.stringify(doc(3)), JSON.stringify({ note: null })], cache);
    assert.equal(cache.inferences, learnt);
    assert.deepEqual(await second.columns(), await first.columns());
    // A new deep key, a number where text was seen, text where a number was seen, an object where
    // only null was seen, and a pretty-printed document: every value must survive.
    const changed = doc(4);
    (changed.winlog as Record<string, unknown>).process = { pid: 'not a number', parent: { pid: 9 } };
    const lines = [
      JSON.stringify(doc(5)),
      JSON.stringify(changed),
      JSON.stringify({ event: { code: 4688 }, note: { text: 'hi' } }),
      JSON.stringify(doc(6), null, 2),
    ];
    const third = await parse(lines, cache);
    assert.ok(cache.inferences > learnt);
    assert.equal(await third.filter('_corrupt_reason IS NOT NULL').count(), 0);
    const got = await session.rows<{ pid: string | null; parent: bigint | null; code: string | null; note: string | null }>(
      `SELECT winlog.process.pid::VARCHAR pid, winlog.process.parent.pid parent, event.code code, note.text note FROM (${await third.toSql()})`,
    );
    assert.deepEqual(got, [
      { pid: '5', parent: null, code: '1', note: null },
      { pid: 'not a number', parent: 9n, code: '1', note: null },
      { pid: null, parent: null, code: '4688', note: 'hi' },
      { pid: '6', parent: null, code: '1', note: null },
    ]);
    // The cached parse equals a parse that infers from this batch alone, apart from the columns
    // the cache keeps from earlier batches.
    const fresh = await parse(lines);
    const cols = (await fresh.columns()).map((c) => `"${c}"`).join(', ');
    const [a, b] = await Promise.all([rowsOf(third, cols), rowsOf(fresh)]);
    assert.deepEqual(a, b);
  });

  it('keeps MAP fields as maps whatever their keys, and handles keys JSON paths find awkward', async () => {
    const cache = new StructureCache();
    await parse([JSON.stringify({ 'a/b': { 'c~d': 1, 'q"x': true }, winlog: { event_data: { A: '1' } } })], cache);
    const learnt = cache.inferences;
    // New keys inside event_data are not new shapes; a new key beside awkward ones is.
    await parse([JSON.stringify({ 'a/b': { 'c~d': 2, 'q"x': false }, winlog: { event_data: { B: '2', b: '3' } } })], cache);
    assert.equal(cache.inferences, learnt);
    const frame = await parse([JSON.stringify({ 'a/b': { 'c~d': 3, 'q"x': true, 'e.f': 'new' }, winlog: { event_data: { C: 4 } } })], cache);
    assert.ok(cache.inferences > learnt);
    assert.equal(await typeOf(frame, 'winlog.event_data'), 'MAP(VARCHAR, VARCHAR)');
    const [row] = await session.rows<{ e: string; c: string }>(`SELECT "a/b"."e.f" e, winlog.event_data['C'] c FROM (${await frame.toSql()})`);
    assert.deepEqual(row, { e: 'new', c: '4' });
  });

  it('falls back from read_json when keys differ only in case, and keeps both', async () => {
    const cache = new StructureCache();
    const frame = await parse([JSON.stringify({ x: { ProcessId: 1 } }), JSON.stringify({ x: { ProcessID: '2' } })], cache);
    assert.equal(await typeOf(frame, 'x'), 'JSON');
    const xs = await session.rows<{ x: string }>(`SELECT x::VARCHAR x FROM (${await frame.toSql()})`);
    assert.deepEqual(xs, [{ x: '{"ProcessId":1}' }, { x: '{"ProcessID":"2"}' }]);
  });
});
