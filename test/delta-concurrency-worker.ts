/**
 * A separate OS process for test/delta-concurrency.test.ts: appends `count` one-row commits
 * (row ids `<worker>-<i>`) to a Delta table, racing the other workers. In mode `addcols` each
 * append also adds a column `c<worker>_<i>` holding the row id (mergeSchema).
 * It signals `<table>-ready-<worker>` and starts when `<table>-go` exists.
 * Usage: node --import tsx test/delta-concurrency-worker.ts <table> <worker> <count> [plain|addcols]
 */
import { existsSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeDelta } from '../kernel-lib/src/delta/write.js';
import { Session } from '../kernel-lib/src/engine/session.js';

const [table, worker, count, mode = 'plain'] = process.argv.slice(2);
if (!table || !worker || !count) throw new Error('usage: delta-concurrency-worker.ts <table> <worker> <count>');
const session = await Session.create({ threads: 1, workDir: `${table}-duck-${worker}` });
// A start barrier: module loading and DuckDB start-up take different times in each process, and
// the race is only real if both start appending together.
writeFileSync(`${table}-ready-${worker}`, '');
while (!existsSync(`${table}-go`)) await sleep(5);
const versions: number[] = [];
let attempts = 0;
for (let i = 0; i < Number(count); i++) {
  const id = `'${worker}-${i}'`;
  const sql = mode === 'addcols' ? `SELECT ${id} AS row_id, ${Number(worker)} AS worker, ${id} AS c${Number(worker)}_${i}` : `SELECT ${id} AS row_id, ${Number(worker)} AS worker`;
  const r = await writeDelta(session, sql, table, { mergeSchema: mode === 'addcols' });
  versions.push(r.version!);
  attempts += r.attempts ?? 0;
}
session.close();
console.log(JSON.stringify({ worker, versions, attempts }));
