/**
 * OS processes append to one table at the same time: put-if-absent commits must give a
 * contiguous log with every row exactly once, also when some of them add columns as they go.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { test } from 'node:test';
import { commitFileName } from '../kernel-lib/src/delta/actions.js';
import { latestVersion, readCommit } from '../kernel-lib/src/delta/log.js';
import { readDelta } from '../kernel-lib/src/delta/read.js';
import { loadSnapshot } from '../kernel-lib/src/delta/snapshot.js';
import { writeDelta } from '../kernel-lib/src/delta/write.js';
import { quoteIdent } from '../kernel-lib/src/engine/quote.js';
import { deltaRsRead } from './delta-rs.js';
import { tempDir, testSession } from './helpers.js';

const WORKER = path.join(import.meta.dirname, 'delta-concurrency-worker.ts');
const PER_WORKER = 50;

interface WorkerResult {
  worker: string;
  versions: number[];
  attempts: number;
}

function runWorker(table: string, worker: number, count = PER_WORKER, mode: 'plain' | 'addcols' = 'plain'): Promise<WorkerResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, table, String(worker), String(count), mode], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`worker ${worker} exited with ${code}:\n${err}`));
      else resolve(JSON.parse(out.trim().split('\n').pop()!) as WorkerResult);
    });
  });
}

/** Starts the workers together (a file barrier) and waits for them all. */
async function race(table: string, workers: Promise<WorkerResult>[], ids: number[]): Promise<WorkerResult[]> {
  const running = Promise.all(workers);
  let failed: unknown;
  running.catch((err: unknown) => (failed = err));
  const deadline = Date.now() + 180_000;
  while (!ids.every((w) => existsSync(`${table}-ready-${w}`))) {
    if (failed) throw failed;
    if (Date.now() > deadline) throw new Error('the workers did not start within 180 s');
    await sleep(10);
  }
  writeFileSync(`${table}-go`, '');
  return running;
}

test('two processes appending 50 times each: contiguous log, every row exactly once', async () => {
  const session = await testSession();
  const root = tempDir('winlake-conc-');
  const table = path.join(root, 'table');
  await writeDelta(session, "SELECT 'seed' AS row_id, 0 AS worker", table);

  const results = await race(table, [runWorker(table, 1), runWorker(table, 2)], [1, 2]);

  const total = 2 * PER_WORKER;
  assert.equal(await latestVersion(table), total);
  for (let v = 0; v <= total; v++) assert.ok(existsSync(path.join(table, '_delta_log', commitFileName(v))), `commit ${v} exists`);
  const claimed = results.flatMap((r) => r.versions).sort((a, b) => a - b);
  assert.deepEqual(claimed, Array.from({ length: total }, (_, i) => i + 1), 'each commit version was won by exactly one append');
  // The workers really raced: their commits interleave.
  const [a, b] = results.map((r) => r.versions);
  assert.ok(Math.min(...a!) < Math.max(...b!) && Math.min(...b!) < Math.max(...a!), 'commits of the two processes interleave');
  for (let v = 1; v <= total; v++) {
    const actions = await readCommit(table, v);
    assert.equal(actions.filter((a) => 'add' in a).length, 1, `commit ${v} adds one file`);
  }
  const rows = await (await readDelta(session, table)).toRows<{ row_id: string }>();
  const ids = rows.map((r) => r.row_id).sort();
  const expected = ['seed', ...[1, 2].flatMap((w) => Array.from({ length: PER_WORKER }, (_, i) => `${w}-${i}`))].sort();
  assert.deepEqual(ids, expected);
});

test('four processes, two of them adding a column with every append: all appends land, the schema has every column', async () => {
  const session = await testSession();
  const root = tempDir('winlake-conc4-');
  const table = path.join(root, 'table');
  const count = 20;
  await writeDelta(session, "SELECT 'seed' AS row_id, 0 AS worker", table);
  const modes = { 1: 'plain', 2: 'plain', 3: 'addcols', 4: 'addcols' } as const;
  const results = await race(
    table,
    ([1, 2, 3, 4] as const).map((w) => runWorker(table, w, count, modes[w])),
    [1, 2, 3, 4],
  );

  const total = 4 * count;
  assert.equal(await latestVersion(table), total);
  const claimed = results.flatMap((r) => r.versions).sort((a, b) => a - b);
  assert.deepEqual(claimed, Array.from({ length: total }, (_, i) => i + 1), 'each commit version was won by exactly one append');
  // Races were lost (and so retried, most of them against a schema another writer had just changed).
  assert.ok(results.reduce((s, r) => s + r.attempts, 0) > total, 'some commits lost a race and were retried');

  const added = [3, 4].flatMap((w) => Array.from({ length: count }, (_, i) => `c${w}_${i}`));
  const snap = await loadSnapshot(table, { session });
  assert.deepEqual(snap.schema.fields.map((f) => f.name).sort(), ['row_id', 'worker', ...added].sort());
  const df = await readDelta(session, table);
  const ids = (await df.toRows<{ row_id: string }>()).map((r) => r.row_id).sort();
  const expected = ['seed', ...[1, 2, 3, 4].flatMap((w) => Array.from({ length: count }, (_, i) => `${w}-${i}`))].sort();
  assert.deepEqual(ids, expected, 'no lost or duplicated rows');
  // Every added column holds its own row's id, and only there.
  const sql = await df.toSql();
  for (const c of added) {
    const rows = await session.rows<{ row_id: string; v: string }>(`SELECT row_id, ${quoteIdent(c)} AS v FROM (${sql}) WHERE ${quoteIdent(c)} IS NOT NULL`);
    assert.deepEqual(rows, [{ row_id: c.slice(1).replace('_', '-'), v: c.slice(1).replace('_', '-') }], c);
  }
  const rs = deltaRsRead(table);
  assert.equal(rs.version, total);
  assert.equal(rs.rows, total + 1);
  assert.deepEqual(rs.columns.sort(), ['row_id', 'worker', ...added].sort());
});
