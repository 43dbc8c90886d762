/**
 * `.evtx` straight in: SigmaHQ's regression `.evtx` files read through the `evtx` wheel
 * (pyevtx-rs) in the project venv, checked against the evtx_dump JSON published beside each one,
 * then `winlake load x.evtx` through bronze and silver.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { closeSession } from '../kernel-lib/src/engine/session.js';
import { Catalog } from '../kernel-lib/src/lakehouse/catalog.js';
import { readTable } from '../kernel-lib/src/lakehouse/tables.js';
import { readEventFiles } from '../kernel-lib/src/winlogbeat/convert.js';
import { readEvtxDocuments } from '../kernel-lib/src/winlogbeat/evtx.js';
import { readJsonDocuments } from '../kernel-lib/src/winlogbeat/files.js';
import type { WinlogbeatDoc } from '../kernel-lib/src/winlogbeat/types.js';
import { SHARED_DATA, tempDir } from './helpers.js';

const execFileAsync = promisify(execFile);
const REPO = path.resolve(import.meta.dirname, '..');
const REGRESSION = path.join(SHARED_DATA, 'sigma', 'regression');

function evtxFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...evtxFiles(full));
    else if (e.name.endsWith('.evtx')) out.push(full);
  }
  return out.sort();
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/**
 * Differences between two JSON values, as paths. SigmaHQ's published JSON has the surrounding
 * whitespace of string values trimmed (a `ParentCommandLine` ending in a space in the log ends
 * without it there), so those are returned apart: `trimmed` lists them, `other` everything else.
 */
function differences(fromEvtx: unknown, fromJson: unknown, at = ''): { trimmed: string[]; other: string[] } {
  const out = { trimmed: [] as string[], other: [] as string[] };
  const walk = (a: unknown, b: unknown, p: string): void => {
    if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
      const ka = Object.keys(a).sort();
      const kb = Object.keys(b).sort();
      if (ka.join('\0') !== kb.join('\0')) out.other.push(`${p}: keys ${ka.join(',')} vs ${kb.join(',')}`);
      for (const k of ka) if (k in b) walk((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${p}/${k}`);
      return;
    }
    if (typeof a === 'string' && typeof b === 'string' && a !== b && a.trim() === b) out.trimmed.push(p);
    else if (JSON.stringify(a) !== JSON.stringify(b)) out.other.push(`${p}: ${JSON.stringify(a)?.slice(0, 80)} vs ${JSON.stringify(b)?.slice(0, 80)}`);
  };
  walk(fromEvtx, fromJson, at);
  return out;
}

after(closeSession);

describe('EVTX files', () => {
  const files = evtxFiles(REGRESSION);

  it('finds SigmaHQ regression .evtx files with their JSON beside them', () => {
    assert.ok(files.length >= 100, `expected the SigmaHQ regression set under ${REGRESSION}, found ${files.length} .evtx files`);
    for (const f of files) assert.ok(statSync(f.replace(/\.evtx$/, '.json')).isFile(), `${f} has no .json beside it`);
  });

  it('every record of every .evtx equals the evtx_dump JSON published beside it (raw layout)', async () => {
    let records = 0;
    const trimmed: string[] = [];
    for (const f of files) {
      const evtx = (await collect(readEvtxDocuments(f))).map((d) => d.value);
      const json = (await collect(readJsonDocuments(f.replace(/\.evtx$/, '.json')))).map((d) => d.value);
      assert.equal(evtx.length, json.length, `${f}: ${evtx.length} records, the JSON has ${json.length}`);
      evtx.forEach((e, i) => {
        const d = differences(e, json[i], `${path.basename(f)}#${i + 1}`);
        assert.deepEqual(d.other, [], `${f} record ${i + 1} differs from the JSON`);
        trimmed.push(...d.trimmed);
      });
      records += evtx.length;
    }
    assert.ok(records >= files.length);
    // The only licence taken: values the publisher trimmed keep their whitespace here, as in the log.
    for (const p of trimmed) assert.match(p, /\/Event\/(EventData|UserData)\//, `${p}: only event data values may differ by whitespace`);
  });

  it('readEventFiles gives the same winlogbeat documents from the .evtx as from its JSON', async () => {
    // The publisher's trimming (see above) shows in event data values and the message built from them.
    const trimLines = (v: string): string => v.split('\n').map((l) => l.trim()).join('\n').trim();
    const trim = (d: WinlogbeatDoc): WinlogbeatDoc => JSON.parse(JSON.stringify(d, (_k, v: unknown) => (typeof v === 'string' ? trimLines(v) : v))) as WinlogbeatDoc;
    for (const f of files) {
      const fromEvtx = await collect(readEventFiles(f));
      const fromJson = await collect(readEventFiles(f.replace(/\.evtx$/, '.json')));
      assert.equal(fromEvtx.length, fromJson.length, f);
      assert.deepEqual(fromEvtx.map(trim), fromJson.map(trim), f);
      for (const d of fromEvtx) {
        assert.equal(d.winlog.channel.length > 0, true);
        assert.match(d['@timestamp'], /^\d{4}-\d\d-\d\dT/);
      }
    }
  });

  it('stops the parser when the reader stops early', async () => {
    const biggest = [...files].sort((a, b) => statSync(b).size - statSync(a).size)[0]!;
    for await (const d of readEvtxDocuments(biggest)) {
      assert.equal(d.index, 1);
      break;
    }
    // Reading it again in full still works (no stale state).
    assert.ok((await collect(readEvtxDocuments(biggest))).length >= 1);
  });

  it('names the file when it is not an EVTX file, or missing', async () => {
    const dir = tempDir();
    const bogus = path.join(dir, 'not-a-log.evtx');
    writeFileSync(bogus, 'this is not an event log');
    await assert.rejects(collect(readEvtxDocuments(bogus)), (err: Error) => err.message.includes(bogus) && /EVTX|evtx|header|signature/i.test(err.message));
    await assert.rejects(collect(readEventFiles(path.join(dir, 'missing.evtx'))), /missing\.evtx: no such file/);
  });

  it('`winlake load x.evtx y.evtx` puts every record in bronze and the process events in silver Process', async () => {
    const home = tempDir();
    const picked = files.filter((f) => f.includes(`${path.sep}process_creation${path.sep}`)).slice(0, 3);
    assert.equal(picked.length, 3);
    const expected = (await Promise.all(picked.map(async (f) => (await collect(readEvtxDocuments(f))).length))).reduce((a, b) => a + b, 0);
    const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', 'kernel-lib/src/cli/main.ts', 'load', ...picked], {
      cwd: REPO,
      env: { ...process.env, WINLAKE_HOME: home },
      timeout: 120_000,
    });
    assert.match(stdout, new RegExp(`bronze winlogbeat_kafka_bronze: ${expected} documents read: ${expected} in bronze, 0 quarantined`));
    const catalog = new Catalog(home);
    const bronze = await readTable('winlogbeat_kafka_bronze', { catalog });
    assert.equal(await bronze.count(), expected);
    const process1 = (await readTable('Process', { catalog })).filter(`event_id = '1'`);
    assert.ok((await process1.count()) >= 3, 'each process_creation case has a Sysmon 1 event');
  });
});
