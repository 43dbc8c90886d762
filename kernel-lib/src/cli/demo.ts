import { createWriteStream, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { closeSession, getSession } from '../engine/session.js';
import { col } from '../frame/index.js';
import { buildSilver } from '../cim/build-silver.js';
import { addIngestMeta, parseWinlogbeat } from '../winlogbeat/parse.js';
import { simulateNdjson, type SimulateOptions } from '../winlogbeat/simulate.js';
import { readEventFiles } from '../winlogbeat/convert.js';
import { startBroker, brokerOptions } from '../source/kafka/broker.js';
import { localKafka } from '../source/kafka/local.js';
import { produce } from '../source/kafka/produce.js';
import { readKafkaStream } from '../stream/kafka-source.js';
import { Catalog } from '../lakehouse/catalog.js';
import { BRONZE_PARTITIONS, BRONZE_TABLE, loadEventFiles } from '../lakehouse/load-files.js';
import { writeTableStream } from '../lakehouse/streaming.js';
import { listTables, readTable } from '../lakehouse/tables.js';
import { optimizeLakehouseTable, createLakehouseBloomFilter } from '../lakehouse/maintenance.js';
import type { ScanReport } from '../frame/index.js';
import { bundledSigmaRules } from '../detect/bundled-rules.js';
import { liveDetection } from './demo-live.js';

/** The real recording replayed by the demo (OTRF Security-Datasets, MIT): PsExec + LSA secrets dump. */
const MORDOR_FILE = 'cmd_psexec_lsa_secrets_dump.json';

/**
 * What the demo simulates: a week of 25 hosts and 60 users, 1% attack events. Seed 5 runs all five
 * attack scenarios within the first 2,500 events, so even a small demo has each of them to find.
 * @example const truth = [...simulateWithTruth(demoSimulation(3000, new Date()))];
 */
export function demoSimulation(events: number, start: Date): SimulateOptions {
  return { count: events, seed: 5, start, span: 7 * 86_400_000, hosts: 25, users: 60, attackRate: 0.01 };
}

/** The demo's knobs, from the environment so CI can shrink it. */
interface DemoConfig {
  events: number;
  topic: string;
  catalog: Catalog;
  mordor: string | undefined;
  useKafka: boolean;
  /** Waves of fresh events of the live detection step (0: skip it). */
  liveWaves: number;
}

function demoConfig(): DemoConfig {
  const events = Number(process.env.WINLAKE_DEMO_EVENTS ?? 200_000);
  if (!Number.isInteger(events) || events < 0) throw new Error(`WINLAKE_DEMO_EVENTS must be a whole number, got ${process.env.WINLAKE_DEMO_EVENTS}`);
  const repo = fileURLToPath(new URL('../../../', import.meta.url));
  // The recording ships in the repository; WINLAKE_MORDOR_DIR points at another copy.
  const mordor = [process.env.WINLAKE_MORDOR_DIR, path.join(repo, 'kernel-lib', 'data', 'mordor')]
    .filter((d): d is string => !!d)
    .map((d) => path.join(d, MORDOR_FILE))
    .find((f) => existsSync(f));
  return {
    events,
    topic: process.env.WINLAKE_DEMO_TOPIC ?? 'winlogbeat',
    catalog: new Catalog(),
    mordor,
    useKafka: process.env.WINLAKE_DEMO_NO_KAFKA !== '1',
    liveWaves: Number(process.env.WINLAKE_DEMO_LIVE_WAVES ?? 4),
  };
}

const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

/**
 * `winlake demo`: the whole pipeline end to end on this machine — local Kafka, simulated and real
 * replayed events, exactly-once streaming into bronze, every silver table, OPTIMIZE + bloom filter,
 * and a few hunts. Re-runnable: a second run ingests only what is new on the topic.
 * Without Java it says so and loads the same events from files instead of Kafka.
 * @example await demoCommand([])
 */
export async function demoCommand(_argv: string[]): Promise<number> {
  const cfg = demoConfig();
  const t0 = Date.now();
  const step = (name: string): void => say(`\n== ${name}  (+${((Date.now() - t0) / 1000).toFixed(1)}s)`);
  say(`winlake demo: ${cfg.events.toLocaleString('en-US')} simulated events${cfg.mordor ? ` + the Mordor recording ${MORDOR_FILE}` : ''}`);
  say(`lakehouse: ${cfg.catalog.root}`);
  try {
    let kafka = cfg.useKafka;
    if (kafka) {
      step('1. local Kafka broker (KRaft, no Docker)');
      try {
        const status = await startBroker(brokerOptions({ topics: { [cfg.topic]: 3 } }), say);
        say(`broker ${status.alreadyRunning ? 'already running' : 'started'} on ${status.bootstrap} (outside port ${status.ports.outside})`);
      } catch (err) {
        const message = (err as Error).message;
        if (!/java|Java/.test(message)) throw err;
        say(`Kafka cannot run here: ${message}\nRunning from the bundled files instead, without Kafka.`);
        kafka = false;
      }
    }
    if (kafka) await ingestThroughKafka(cfg, step);
    else await ingestFromFiles(cfg, step);

    step('4. silver: every OSSEM mapping pack');
    const silver = await buildSilver(BRONZE_TABLE, { catalog: cfg.catalog });
    const silverRows = silver.tables.reduce((sum, t) => sum + t.rows, 0);
    say(`${silver.bronzeRows.toLocaleString('en-US')} new bronze rows → +${silverRows.toLocaleString('en-US')} rows in ${silver.tables.length} silver tables`);

    step('5. optimise Process: Z-order by process_name, event_id; bloom filter on user_name');
    const session = await getSession();
    const probeUser = await pickUser(cfg.catalog);
    const before = probeUser ? await explainUserSearch(cfg.catalog, probeUser) : undefined;
    await createLakehouseBloomFilter('Process', ['user_name'], { catalog: cfg.catalog, session });
    const opt = await optimizeLakehouseTable('Process', ['process_name', 'event_id'], { catalog: cfg.catalog, session });
    say(`OPTIMIZE: ${opt.numFilesRemoved} files → ${opt.numFilesAdded} files (version ${opt.version ?? 'unchanged'})`);
    if (probeUser && before) {
      const after = await explainUserSearch(cfg.catalog, probeUser);
      say(`search user_name = '${probeUser}': before ${scanLine(before)}; after ${scanLine(after)}`);
    }

    step('6. summary');
    for (const t of await listTables({ catalog: cfg.catalog })) {
      say(`${t.tier.padEnd(7)} ${t.name.padEnd(34)} rows ${String(t.rows ?? '?').padStart(9)}  files ${String(t.files).padStart(4)}  version ${t.version}`);
    }
    await printHunts(cfg.catalog);

    if (cfg.liveWaves > 0) {
      const rules = bundledSigmaRules();
      step(`7. continuous detection: Kafka → bronze → silver → SigmaHQ rules → gold sigma_alerts, all streaming (${path.join(cfg.catalog.root, 'live')})`);
      await liveDetection({ root: cfg.catalog.root, topic: cfg.topic, rules, useKafka: kafka, waves: cfg.liveWaves, perWave: 500, say });
    }
    say(`\nlakehouse: ${cfg.catalog.root}   (try: npx winlake table list --home ${cfg.catalog.root})`);
    say(`done in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    if (kafka) say(brokerStillRunning());
    return 0;
  } finally {
    await closeSession();
  }
}

async function ingestThroughKafka(cfg: DemoConfig, step: (name: string) => void): Promise<void> {
  const brokers = localKafka().outsideBootstrap;
  step(`2. produce to topic '${cfg.topic}'`);
  const sim = await produce(simulateNdjson(demoSimulation(cfg.events, daysAgo(7))), {
    brokers,
    topic: cfg.topic,
    batchSize: 1000,
  });
  say(`simulated: ${sim.acknowledged.toLocaleString('en-US')} acknowledged (${Math.round(sim.rate).toLocaleString('en-US')}/s)`);
  if (cfg.mordor) {
    const replay = await produce(readEventFiles([cfg.mordor], { rebase: { start: daysAgo(1) } }), { brokers, topic: cfg.topic, batchSize: 1000 });
    say(`replayed ${MORDOR_FILE}: ${replay.acknowledged.toLocaleString('en-US')} acknowledged`);
  }
  step('3. stream Kafka → bronze, exactly once (available-now trigger)');
  const session = await getSession();
  const stream = (await readKafkaStream(localKafka().host, localKafka().outsidePort, cfg.topic, { session })).map(async (b) =>
    parseWinlogbeat(addIngestMeta(b), 'raw'),
  );
  const query = writeTableStream(stream, BRONZE_TABLE, 'bronze', BRONZE_PARTITIONS, {
    catalog: cfg.catalog,
    queryName: `demo_${cfg.topic}`,
    trigger: { availableNow: true },
    onProgress: (p) => {
      const lag = Object.values(p.lag).reduce((a, b) => a + b, 0);
      say(
        `batch ${p.batchId}: ${p.numInputRows.toLocaleString('en-US')} rows in ${seconds(p.durationMs.total)} ` +
          `(read ${seconds(p.durationMs.read)}, write ${seconds(p.durationMs.write)}; ${Math.round(p.processedRowsPerSecond).toLocaleString('en-US')}/s), ` +
          `${lag.toLocaleString('en-US')} left on the topic`,
      );
    },
  });
  await query.awaitTermination();
  await query.stop();
}

async function ingestFromFiles(cfg: DemoConfig, step: (name: string) => void): Promise<void> {
  step('2-3. load simulated and replayed events from files into bronze (no Kafka)');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'winlake-demo-'));
  try {
    const file = path.join(dir, 'simulated.ndjson');
    const out = createWriteStream(file);
    for (const line of simulateNdjson(demoSimulation(cfg.events, daysAgo(7)))) {
      if (!out.write(`${line}\n`)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'close');
    const loaded = await loadEventFiles([file], { catalog: cfg.catalog });
    say(`simulated: ${loaded.result.numRows.toLocaleString('en-US')} events`);
    if (cfg.mordor) {
      const replay = await loadEventFiles([cfg.mordor], { catalog: cfg.catalog, rebase: { start: daysAgo(1) } });
      say(`replayed ${MORDOR_FILE}: ${replay.result.numRows.toLocaleString('en-US')} events`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The demo leaves the broker up for the notebooks and a re-run; the last line says how to stop it. */
function brokerStillRunning(): string {
  const env = ['WINLAKE_KAFKA_PORT', 'WINLAKE_KAFKA_OUTSIDE_PORT', 'WINLAKE_KAFKA_CONTROLLER_PORT']
    .filter((k) => process.env[k])
    .map((k) => `${k}=${process.env[k]} `)
    .join('');
  const k = localKafka();
  return `the Kafka broker is still running on ${k.bootstrap} (outside ${k.outsideBootstrap}); stop it with: ${env}npm run kafka:stop`;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

function daysAgo(days: number): Date {
  const d = new Date(Date.now() - days * 86_400_000);
  d.setUTCMinutes(0, 0, 0);
  return d;
}

async function pickUser(catalog: Catalog): Promise<string | undefined> {
  const rows = await (await readTable('Process', { catalog }))
    .filter(col('user_name').isNotNull())
    .groupBy('user_name')
    .count()
    .orderBy({ column: 'count' }, 'user_name')
    .limit(1)
    .toRows<{ user_name: string }>();
  return rows[0]?.user_name;
}

async function explainUserSearch(catalog: Catalog, user: string): Promise<ScanReport> {
  const report = await (await readTable('Process', { catalog })).filter(col('user_name').eq(user)).explain();
  if (typeof report === 'string') throw new Error('expected a Delta scan report');
  return report;
}

function scanLine(r: ScanReport): string {
  return `${r.filesScanned}/${r.filesTotal} files, ${(r.bytesScanned / 1e6).toFixed(2)}/${(r.bytesTotal / 1e6).toFixed(2)} MB read`;
}

/** One hunt: the events of a silver table matching a SQL condition. */
interface Hunt {
  name: string;
  table: string;
  where: string;
}

/**
 * A few hunts over the silver tables, as a detection engineer would start: one per attack scenario
 * of the simulator, and the PsExec + `reg save` of the replayed Mordor recording.
 */
const HUNTS: readonly Hunt[] = [
  { name: 'T1059.001 encoded PowerShell command line', table: 'Process', where: `event_id = '1' AND process_command_line ILIKE '%powershell%' AND regexp_matches(process_command_line, '\\s-(e|en|enc|enco|encodedcommand)\\s', 'i')` },
  { name: 'T1003.001 lsass.exe opened with full access', table: 'ProcessAccess', where: `target_process_file_path ILIKE '%\\lsass.exe' AND upper(process_granted_access) IN ('0X1FFFFF', '0X1010', '0X1410', '0X143A', '0X1438')` },
  { name: 'T1569.002 PsExec service pipe (\\PSEXESVC)', table: 'Process', where: `event_id = '18' AND pipe_name ILIKE '\\PSEXESVC%'` },
  { name: 'T1003.004 registry hive saved (reg save HKLM)', table: 'Process', where: `event_id = '1' AND regexp_matches(process_command_line, 'reg(\\.exe)?"?\\s+save\\s+hklm\\\\(sam|security|system)', 'i')` },
  { name: 'T1053.005 scheduled task created (schtasks /create)', table: 'Process', where: `event_id = '1' AND process_command_line ILIKE '%schtasks%/create%'` },
  { name: 'T1105 certutil / bitsadmin download', table: 'Process', where: `event_id = '1' AND (process_command_line ILIKE '%certutil%urlcache%' OR process_command_line ILIKE '%bitsadmin%transfer%')` },
];

/** Runs {@link HUNTS}; one line each: `- <name>: <n> events on <h> hosts (a, b, …)`. */
async function printHunts(catalog: Catalog): Promise<void> {
  say('\nhunting results:');
  for (const hunt of HUNTS) {
    if (!catalog.find(hunt.table)) {
      say(`- ${hunt.name}: 0 events (no ${hunt.table} table)`);
      continue;
    }
    const hits = (await readTable(hunt.table, { catalog })).filter(hunt.where);
    const n = await hits.count();
    const hosts = n ? (await hits.select('dvc_hostname').distinct().orderBy('dvc_hostname').toRows<{ dvc_hostname: string }>()).map((r) => r.dvc_hostname) : [];
    const shown = hosts.length > 4 ? `${hosts.slice(0, 4).join(', ')}, …` : hosts.join(', ');
    say(`- ${hunt.name}: ${n} event${n === 1 ? '' : 's'}${n ? ` on ${hosts.length} host${hosts.length === 1 ? '' : 's'} (${shown})` : ''}`);
  }
}
