/**
 * A separate OS process for test/delta-faults.test.ts: one `writeDelta` of `<sql>` to `<table>`
 * with `<options json>`, under whatever fault `WINLAKE_FAULT` injects (a SIGKILL or SIGSTOP at a
 * named step). Prints the write result as JSON; on an error prints its message and exits with 2.
 * Usage: node --import tsx test/delta-fault-worker.ts <table> <sql> <options json>
 */
import { randomUUID } from 'node:crypto';
import { writeDelta, type WriteOptions } from '../kernel-lib/src/delta/write.js';
import { Session } from '../kernel-lib/src/engine/session.js';

const [table, sql, options = '{}'] = process.argv.slice(2);
if (!table || !sql) throw new Error('usage: delta-fault-worker.ts <table> <sql> [options json]');
const session = await Session.create({ threads: 1, workDir: `${table}-duck-${randomUUID()}` });
try {
  const r = await writeDelta(session, sql, table, JSON.parse(options) as WriteOptions);
  console.log(JSON.stringify({ version: r.version, attempts: r.attempts, checkpointVersion: r.checkpointVersion ?? null }));
} catch (err) {
  console.error((err as Error).message);
  process.exitCode = 2;
} finally {
  session.close();
}
