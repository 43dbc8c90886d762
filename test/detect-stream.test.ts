/**
 * Continuous detection: Sigma rules as a streaming query over the silver tables, on SigmaHQ
 * regression events loaded from their .evtx. The alerts must be exactly those of the batch
 * `writeAlerts` over the same silver rows, once each, across restarts and a redone batch.
 */
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { buildSilver } from '../kernel-lib/src/cim/build-silver.js';
import { writeAlerts } from '../kernel-lib/src/detect/alerts.js';
import { loadSigmaRules, parseSigmaRule } from '../kernel-lib/src/detect/rule.js';
import { streamSigmaRules, type SigmaBatchInfo } from '../kernel-lib/src/detect/stream.js';
import { Catalog } from '../kernel-lib/src/lakehouse/catalog.js';
import { BRONZE_TABLE, loadEventFiles } from '../kernel-lib/src/lakehouse/load-files.js';
import { readTable } from '../kernel-lib/src/lakehouse/tables.js';
import { SHARED_DATA, tempDir, testSession } from './helpers.js';

const session = await testSession();
const RULES = path.join(SHARED_DATA, 'sigma', 'rules', 'windows');
const REGRESSION = path.join(SHARED_DATA, 'sigma', 'regression', 'rules', 'windows');

const CASES = [
  ['file/file_event', 'file_event_win_creation_system_file'],
  ['process_creation', 'proc_creation_win_renamed_curl'],
  ['process_creation', 'proc_creation_win_browsers_chromium_headless_file_download'],
  ['registry/registry_set', 'registry_set_bypass_uac_using_silentcleanup_task'],
].map(([category, name]) => {
  const dir = path.join(REGRESSION, category!, name!);
  return { rule: path.join(RULES, category!, `${name}.yml`), evtx: path.join(dir, readdirSync(dir).find((f) => f.endsWith('.evtx'))!) };
});
const rules = loadSigmaRules(CASES.map((c) => c.rule));

async function addEvents(catalog: Catalog, files: string[]): Promise<void> {
  await loadEventFiles(files, { catalog, session });
  await buildSilver(BRONZE_TABLE, { catalog, session });
}

async function alertIds(catalog: Catalog, table: string): Promise<string[]> {
  const rows = await (await readTable(table, { catalog, session })).select('alert_id').toRows<{ alert_id: string }>();
  return rows.map((r) => r.alert_id).sort();
}

/** What a batch run finds over the same silver rows, in its own gold table. */
async function batchIds(catalog: Catalog): Promise<string[]> {
  await writeAlerts(rules, { catalog, session, table: 'batch_alerts' });
  return alertIds(catalog, 'batch_alerts');
}

describe('streamSigmaRules', () => {
  it('alerts once per new silver commit, equal to the batch run, across restarts and a redone batch', async () => {
    const home = tempDir();
    const catalog = new Catalog(home);
    await addEvents(catalog, [CASES[0]!.evtx, CASES[1]!.evtx]);

    const first = await streamSigmaRules(rules, { catalog, session, trigger: { availableNow: true } });
    assert.deepEqual(first.refused, []);
    assert.ok(first.tables.includes('Process') && first.tables.includes('File'), first.tables.join());
    await first.query.awaitTermination();
    await first.query.stop();
    const afterFirst = await alertIds(catalog, 'sigma_alerts');
    assert.ok(afterFirst.length >= 2, `alerts: ${afterFirst.length}`);
    assert.deepEqual(afterFirst, await batchIds(catalog));
    const info = first.query.lastProgress!.sink as SigmaBatchInfo;
    assert.ok(info.latencyMs && info.latencyMs.min > 0, 'latency from event time to alert commit is measured');

    // New events: a restarted query reads only the new silver commits.
    await addEvents(catalog, [CASES[2]!.evtx, CASES[3]!.evtx]);
    const second = await streamSigmaRules(rules, { catalog, session, trigger: { availableNow: true } });
    await second.query.awaitTermination();
    await second.query.stop();
    const progress = second.query.recentProgress;
    assert.ok(progress.length >= 1);
    assert.equal(progress[0]!.recovered, false);
    const afterSecond = await alertIds(catalog, 'sigma_alerts');
    assert.ok(afterSecond.length > afterFirst.length, 'the new events raised alerts');
    assert.deepEqual(afterSecond, await batchIds(catalog));
    assert.equal(new Set(afterSecond).size, afterSecond.length, 'no alert twice');

    // A crash after the alert commit, before the checkpoint said so: the batch is redone and its txn skips it.
    const cp = path.join(home, '_checkpoints', 'gold', 'sigma_alerts', 'sigma_sigma_alerts');
    const last = progress.at(-1)!.batchId;
    rmSync(path.join(cp, 'commits', `${last}.json`));
    const goldRows = await (await readTable('sigma_alerts', { catalog, session })).count();
    const third = await streamSigmaRules(rules, { catalog, session, trigger: { availableNow: true } });
    await third.query.awaitTermination();
    await third.query.stop();
    assert.equal(third.query.recentProgress[0]?.recovered, true, 'the unfinished batch was redone');
    assert.equal((third.query.recentProgress[0]!.sink as SigmaBatchInfo).version, null, 'and its alerts were not written again');
    assert.deepEqual(await alertIds(catalog, 'sigma_alerts'), afterSecond);
    assert.equal(await (await readTable('sigma_alerts', { catalog, session })).count(), goldRows);
  });

  it('runs continuously: alerts arrive as silver grows', async () => {
    const catalog = new Catalog(tempDir());
    await addEvents(catalog, [CASES[0]!.evtx]);
    const live = await streamSigmaRules(rules, { catalog, session, pollIntervalMs: 50 });
    try {
      await live.query.processAllAvailable();
      const before = (await alertIds(catalog, 'sigma_alerts')).length;
      await addEvents(catalog, [CASES[1]!.evtx]);
      await live.query.processAllAvailable();
      const now = await alertIds(catalog, 'sigma_alerts');
      assert.ok(now.length > before, `${before} → ${now.length}`);
      assert.deepEqual(now, await batchIds(catalog));
    } finally {
      await live.query.stop();
    }
  });

  it('refuses rules no table serves, naming them, and fails when none is left', async () => {
    const catalog = new Catalog(tempDir());
    const nowhere = parseSigmaRule(
      'title: Nowhere\nid: 00000000-0000-0000-0000-00000000abcd\nlogsource:\n  product: windows\n  category: no_such_category\ndetection:\n  s:\n    Image: x\n  condition: s\n',
    );
    await assert.rejects(streamSigmaRules([nowhere], { catalog, session }), /no rule maps to a silver table.*category no_such_category/);
  });
});
