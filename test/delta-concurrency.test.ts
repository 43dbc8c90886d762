/**
 * Two OS processes append to one table at the same time: put-if-absent commits must give a
 * contiguous log with every row exactly once.
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
import { writeDelta } from '../kernel-lib/src/delta/write.js';
import { tempDir, testSession } from './helpers.js';

const WORKER = path.join(import.meta.dirname, 'delta-concurrency-worker.ts');
const PER_WORKER = 50;

function runWorker(table: string, worker: number): Promise<{ worker: string; versions: number[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, table, String(worker), String(PER_WORKER)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`worker ${worker} exited with ${code}:\n${err}`));
      else resolve(JSON.parse(out.trim().split('\n').pop()!) as { worker: string; versions: number[] });
    });
  });
}

test('two processes appending 50 times each: contiguous log, every row exactly once', async () => {
  const session = await testSession();
  const root = tempDir('winlake-conc-');
  const table = path.join(root, 'table');
  await writeDelta(session, "SELECT 'seed' AS row_id, 0 AS worker", table);

  const running = Promise.all([runWorker(table, 1), runWorker(table, 2)]);
  let failed: unknown;
  running.catch((err: unknown) => (failed = err));
  const deadline = Date.now() + 120_000;
  while (![1, 2].every((w) => existsSync(`${table}-ready-${w}`))) {
    if (failed) throw failed;
    if (Date.now() > deadline) throw new Error('the workers did not start within 120 s');
    await sleep(10);
  }
  writeFileSync(`${table}-go`, '');
  const results = await running;

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
