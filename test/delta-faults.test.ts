/**
 * The Delta log under faults: unreadable commit files, a writer SIGKILLed at each step of a commit
 * and of a checkpoint, and appends racing schema changes (a writer SIGSTOPped between writing its
 * data files and committing, while another commits). After each, the table is readable at the
 * right version by winlake and by delta-rs, and the next write succeeds.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { checkpointFileName, commitFileName } from '../kernel-lib/src/delta/actions.js';
import { writeCheckpoint } from '../kernel-lib/src/delta/checkpoint.js';
import { commitActions } from '../kernel-lib/src/delta/commit.js';
import type { FaultPoint } from '../kernel-lib/src/delta/fault-points.js';
import { readCommit } from '../kernel-lib/src/delta/log.js';
import { readDelta } from '../kernel-lib/src/delta/read.js';
import { loadSnapshot } from '../kernel-lib/src/delta/snapshot.js';
import { vacuum } from '../kernel-lib/src/delta/vacuum.js';
import { writeDelta } from '../kernel-lib/src/delta/write.js';
import { deltaRsRead } from './delta-rs.js';
import { tempDir, testSession } from './helpers.js';

const WORKER = path.join(import.meta.dirname, 'delta-fault-worker.ts');
const DAY = 86_400_000;
const session = await testSession();
const root = tempDir('winlake-faults-');

/** Five rows of batch `k` (ids 5k..5k+4). */
const batch = (k: number): string => `SELECT (${5 * k} + i)::BIGINT AS id, ${k}::BIGINT AS batch FROM range(5) t(i)`;
const idsUpTo = (k: number): string[] => Array.from({ length: 5 * (k + 1) }, (_, i) => String(i)).sort();

/** A table of 20 commits (versions 0..19, checkpoint at 10), copied for each case. */
const template = path.join(root, 'template');
for (let k = 0; k < 20; k++) await writeDelta(session, batch(k), template);
assert.ok(existsSync(path.join(template, '_delta_log', checkpointFileName(10))));

let cases = 0;
function copyOfTemplate(): string {
  const t = path.join(root, `case-${++cases}`);
  cpSync(template, t, { recursive: true });
  return t;
}

interface Child {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs one write in a child process under `fault`; `onStop` runs while the child is SIGSTOPped. */
function runWriter(table: string, sql: string, options: object, fault: string, onStop?: () => Promise<void>): Promise<Child> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, table, sql, JSON.stringify(options)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, WINLAKE_FAULT: fault },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    let exited = false;
    child.on('exit', (code, signal) => {
      exited = true;
      resolve({ code, signal, stdout, stderr });
    });
    if (onStop) {
      void (async () => {
        try {
          await waitStopped(child.pid!, () => exited);
          await onStop();
        } catch (err) {
          child.kill('SIGKILL');
          reject(err as Error);
          return;
        }
        child.kill('SIGCONT');
      })();
    }
  });
}

/** Waits until the process is in the stopped state (Linux /proc/<pid>/stat, state T). */
async function waitStopped(pid: number, exited: () => boolean): Promise<void> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (exited()) throw new Error(`process ${pid} exited before its stop point`);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('T')) return;
    if (Date.now() > deadline) throw new Error(`process ${pid} did not reach its stop point within 180 s`);
    await sleep(20);
  }
}

const logNames = (t: string): string[] => readdirSync(path.join(t, '_delta_log'));
const tempNames = (t: string): string[] => logNames(t).filter((n) => n.endsWith('.tmp'));

/** winlake and delta-rs both read `version` with exactly the rows of batches 0..lastBatch. */
async function assertReadable(t: string, version: number, lastBatch: number, extraIds: string[] = []): Promise<void> {
  const expected = [...idsUpTo(lastBatch), ...extraIds].sort();
  const snap = await loadSnapshot(t, { session });
  assert.equal(snap.version, version, 'winlake reads the expected version');
  const ids = (await (await readDelta(session, t)).toRows<{ id: bigint }>()).map((r) => String(r.id)).sort();
  assert.deepEqual(ids, expected, 'winlake reads every committed row once');
  const rs = deltaRsRead(t, 'id');
  assert.equal(rs.version, version, 'delta-rs reads the expected version');
  assert.deepEqual(rs.values, expected, 'delta-rs reads the same rows');
}

describe('an unreadable commit file is an error naming it, never an empty version', () => {
  const corruptions: [string, (file: string) => void][] = [
    ['0 bytes (truncate -s0)', (f) => writeFileSync(f, '')],
    ['only blank lines', (f) => writeFileSync(f, '\n\n  \n')],
    ['garbage bytes', (f) => writeFileSync(f, Buffer.from([0x00, 0x9f, 0xff, 0x13, 0x37, 0xfe, 0x0a, 0x80]))],
    ['invalid UTF-8 inside JSON', (f) => writeFileSync(f, Buffer.concat([Buffer.from('{"commitInfo":{"x":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}}\n')]))],
    ['a line that is not JSON', (f) => writeFileSync(f, readFileSync(f, 'utf8') + 'this is not json\n')],
    ['a JSON line that is not an action', (f) => writeFileSync(f, readFileSync(f, 'utf8') + '42\n')],
    ['an add without a path', (f) => writeFileSync(f, readFileSync(f, 'utf8').replace(/"add":\{"path":"[^"]+",/, '"add":{'))],
  ];
  for (const [name, corrupt] of corruptions) {
    test(name, async () => {
      const t = copyOfTemplate();
      const file = path.join(t, '_delta_log', commitFileName(19));
      corrupt(file);
      const before = logNames(t).sort();
      const named = new RegExp(`corrupt Delta log: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*Version 19 of`, 's');
      await assert.rejects(loadSnapshot(t, { session }), named, 'readers');
      await assert.rejects(readDelta(session, t).then((df) => df.count()), named, 'scans');
      await assert.rejects(writeDelta(session, batch(20), t), named, 'writers');
      await assert.rejects(writeCheckpoint(session, t, 19), named, 'checkpoints');
      await assert.rejects(vacuum(t, { now: Date.now() + 30 * DAY }), named, 'vacuum');
      assert.deepEqual(logNames(t).sort(), before, 'nothing was written to the log');
      // The versions before it are intact.
      assert.equal(await (await readDelta(session, t, { version: 18 })).count(), 95);
    });
  }

  test('a corrupt commit after the last checkpoint blocks the versions after it, not those before', async () => {
    const t = copyOfTemplate();
    writeFileSync(path.join(t, '_delta_log', commitFileName(12)), '');
    await assert.rejects(loadSnapshot(t, { session }), /00000000000000000012\.json holds no action \(the file is empty, 0 bytes\)/);
    await assert.rejects(writeDelta(session, batch(20), t), /00000000000000000012\.json/);
    assert.equal((await loadSnapshot(t, { session, version: 11 })).version, 11);
  });
});

/** Where a child is killed, and what the log must then say. */
interface KillCase {
  point: FaultPoint;
  /** The version readers see afterwards (19: the write never committed; 20: it did). */
  version: number;
  /** Leftover temporary files in `_delta_log` (patterns). */
  leftovers: RegExp[];
  /** After the kill: is there a checkpoint at 20, and where does `_last_checkpoint` point. */
  checkpoint20: boolean;
}

const COMMIT_TMP = /^\.00000000000000000020\.json\.[0-9a-f-]{36}\.tmp$/;
const KILLS: KillCase[] = [
  { point: 'write.files-written', version: 19, leftovers: [], checkpoint20: false },
  { point: 'commit.temp-written', version: 19, leftovers: [COMMIT_TMP], checkpoint20: false },
  { point: 'commit.linked', version: 20, leftovers: [COMMIT_TMP], checkpoint20: false },
  { point: 'checkpoint.ndjson-written', version: 20, leftovers: [/^\.checkpoint-[0-9a-f-]{36}\.ndjson\.tmp$/], checkpoint20: false },
  {
    point: 'checkpoint.parquet-written',
    version: 20,
    leftovers: [/^\.checkpoint-[0-9a-f-]{36}\.ndjson\.tmp$/, /^\.checkpoint-[0-9a-f-]{36}\.parquet\.tmp$/],
    checkpoint20: false,
  },
  { point: 'checkpoint.renamed', version: 20, leftovers: [], checkpoint20: true },
  { point: 'checkpoint.last-temp-written', version: 20, leftovers: [/^\._last_checkpoint\.[0-9a-f-]{36}\.tmp$/], checkpoint20: true },
];

describe('SIGKILL at each step of a commit and a checkpoint', () => {
  for (const k of KILLS) {
    test(`killed at ${k.point}: readable at version ${k.version}, next write and vacuum succeed`, async () => {
      const t = copyOfTemplate();
      const child = await runWriter(t, batch(20), {}, `${k.point}=kill`);
      assert.equal(child.signal, 'SIGKILL', `the writer reached ${k.point} and was killed (exit ${child.code}: ${child.stderr})`);

      const temps = tempNames(t);
      assert.equal(temps.length, k.leftovers.length, `leftovers: ${temps.join(', ')}`);
      for (const re of k.leftovers) assert.ok(temps.some((n) => re.test(n)), `a leftover matching ${re}`);
      assert.equal(existsSync(path.join(t, '_delta_log', checkpointFileName(20))), k.checkpoint20, 'checkpoint 20');
      // The hint still names checkpoint 10: readers must not trust it blindly, nor need it.
      assert.equal((JSON.parse(readFileSync(path.join(t, '_delta_log', '_last_checkpoint'), 'utf8')) as { version: number }).version, 10);
      await assertReadable(t, k.version, k.version === 20 ? 20 : 19);

      // The next write builds on what is committed (and writes the due checkpoint if it is version 20).
      const next = await writeDelta(session, batch(21), t);
      assert.equal(next.version, k.version + 1);
      if (next.version === 20) assert.equal(next.checkpointVersion, 20);
      const extra = k.version === 19 ? idsUpTo(21).filter((id) => Number(id) >= 105) : [];
      await assertReadable(t, k.version + 1, k.version === 20 ? 21 : 19, extra);

      // A week later vacuum sweeps the crash's leftovers: temporary files and orphan data files.
      const dataBefore = readdirSync(t).filter((n) => n.endsWith('.parquet'));
      const swept = await vacuum(t, { now: Date.now() + 8 * DAY });
      assert.deepEqual(tempNames(t), [], 'no temporary file is left in the log');
      for (const temp of temps) assert.ok(swept.files.includes(`_delta_log/${temp}`), `${temp} was swept`);
      const orphans = k.version === 19 ? 1 : 0; // the data file of the write that never committed
      assert.equal(swept.files.filter((f) => f.endsWith('.parquet') && !f.startsWith('_delta_log/')).length, orphans, 'orphan data files swept');
      assert.equal(readdirSync(t).filter((n) => n.endsWith('.parquet')).length, dataBefore.length - orphans);
      assert.ok(existsSync(path.join(t, '_delta_log', commitFileName(k.version + 1))), 'the commits stay');
      await assertReadable(t, swept.endVersion ?? k.version + 1, k.version === 20 ? 21 : 19, extra);
    });
  }
});

describe('an append racing a schema change (writer stopped before its commit)', () => {
  const stopped = 'write.files-written=stop';

  test('both add columns: the loser merges its column into the winner\u2019s schema and commits', async () => {
    const t = copyOfTemplate();
    const child = await runWriter(t, `SELECT 1000::BIGINT AS id, 98::BIGINT AS batch, 'child' AS child_col`, { mergeSchema: true }, stopped, async () => {
      const won = await writeDelta(session, `SELECT 2000::BIGINT AS id, 99::BIGINT AS batch, 'parent' AS parent_col`, t, { mergeSchema: true });
      assert.equal(won.version, 20);
    });
    assert.equal(child.code, 0, child.stderr);
    const result = JSON.parse(child.stdout) as { version: number; attempts: number; checkpointVersion: number | null };
    assert.deepEqual(result, { version: 21, attempts: 2, checkpointVersion: null });
    const snap = await loadSnapshot(t, { session });
    assert.deepEqual(snap.schema.fields.map((f) => f.name), ['id', 'batch', 'parent_col', 'child_col']);
    const rows = await (await readDelta(session, t)).filter('id >= 1000').orderBy('id').toRows();
    assert.deepEqual(rows, [
      { id: 1000n, batch: 98n, parent_col: null, child_col: 'child' },
      { id: 2000n, batch: 99n, parent_col: 'parent', child_col: null },
    ]);
    assert.deepEqual(deltaRsRead(t).columns, ['id', 'batch', 'parent_col', 'child_col']);
    await assertReadable(t, 21, 19, ['1000', '2000']);
  });

  test('a plain append while another adds a column: retried without a metadata change', async () => {
    const t = copyOfTemplate();
    const child = await runWriter(t, `SELECT 1000::BIGINT AS id, 98::BIGINT AS batch`, {}, stopped, async () => {
      await writeDelta(session, `SELECT 2000::BIGINT AS id, 99::BIGINT AS batch, 'parent' AS parent_col`, t, { mergeSchema: true });
    });
    assert.equal(child.code, 0, child.stderr);
    assert.equal((JSON.parse(child.stdout) as { version: number }).version, 21);
    assert.ok(!(await readCommit(t, 21)).some((a) => 'metaData' in a), 'the append changes no metadata');
    assert.deepEqual((await loadSnapshot(t, { session })).schema.fields.map((f) => f.name), ['id', 'batch', 'parent_col']);
    await assertReadable(t, 21, 19, ['1000', '2000']);
  });

  test('both add the same column with different types: the loser fails clearly, nothing of it is committed', async () => {
    const t = copyOfTemplate();
    const child = await runWriter(t, `SELECT 1000::BIGINT AS id, 98::BIGINT AS batch, 'text' AS x`, { mergeSchema: true }, stopped, async () => {
      await writeDelta(session, `SELECT 2000::BIGINT AS id, 99::BIGINT AS batch, 7::BIGINT AS x`, t, { mergeSchema: true });
    });
    assert.equal(child.code, 2);
    assert.match(child.stderr, /metadata was changed by a concurrent commit in a way this append cannot be merged with: .*\bx\b.*conflicting commit: version 20/s);
    await assertReadable(t, 20, 19, ['2000']);
  });

  test('a concurrent commit adds a CHECK constraint the writer cannot enforce: the append fails clearly', async () => {
    const t = copyOfTemplate();
    const child = await runWriter(t, `SELECT 1000::BIGINT AS id, 98::BIGINT AS batch`, {}, stopped, async () => {
      const snap = await loadSnapshot(t, { session });
      const metaData = { ...snap.metadata, configuration: { ...snap.metadata.configuration, 'delta.constraints.small_ids': 'id < 500' } };
      await commitActions(t, [{ metaData }], { readVersion: snap.version, isBlindAppend: false, operation: 'ADD CONSTRAINT' });
    });
    assert.equal(child.code, 2);
    assert.match(child.stderr, /cannot be merged with: .*CHECK constraints \(delta\.constraints\.small_ids\)/s);
    assert.equal((await loadSnapshot(t, { session })).version, 20);
  });
});
