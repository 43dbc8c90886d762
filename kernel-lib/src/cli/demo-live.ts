/**
 * The demo's last step: continuous detection. Three streaming queries run at once — Kafka →
 * bronze, bronze → silver, and SigmaHQ's rules over silver → gold `sigma_alerts` — while fresh
 * events (timestamped now) are produced in waves; each alert batch prints its latency from the
 * event's `@timestamp` to the alert's commit. It runs in its own lakehouse (`<home>/live`) and
 * topic, so the batch steps' tables and counts stay those of the recorded data.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildSilver } from '../cim/build-silver.js';
import { streamSigmaRules, type SigmaBatchInfo } from '../detect/stream.js';
import { getSession } from '../engine/session.js';
import { Catalog } from '../lakehouse/catalog.js';
import { BRONZE_PARTITIONS, BRONZE_TABLE, loadEventFiles } from '../lakehouse/load-files.js';
import { writeTableStream } from '../lakehouse/streaming.js';
import { brokerOptions } from '../source/kafka/broker.js';
import { produce } from '../source/kafka/produce.js';
import type { StreamingQuery } from '../stream/index.js';
import { readKafkaStream } from '../stream/kafka-source.js';
import { addIngestMeta, parseWinlogbeat } from '../winlogbeat/parse.js';
import { simulateNdjson, type SimulateOptions } from '../winlogbeat/simulate.js';

/** What the live step measured. */
export interface LiveDetectionResult {
  events: number;
  alerts: number;
  /** Event time → alert commit, over every alert, in ms. */
  latencyMs: { min: number; median: number; max: number } | null;
}

/**
 * Runs the live step (see the module comment). `rules`: a SigmaHQ rules folder.
 * @example await liveDetection({ root: 'lakehouse', topic: 'winlogbeat', rules: bundledSigmaRules(), useKafka: true, say: console.log })
 */
export async function liveDetection(o: { root: string; topic: string; rules: string; useKafka: boolean; waves: number; perWave: number; say: (line: string) => void }): Promise<LiveDetectionResult> {
  const { say } = o;
  const catalog = new Catalog(path.join(o.root, 'live'));
  const session = await getSession();
  const topic = `${o.topic}_live`;
  const brokers = `127.0.0.1:${brokerOptions().outsidePort}`;
  const latencies: { n: number; median: number; min: number; max: number }[] = [];
  let alerts = 0;
  const queries: StreamingQuery[] = [];
  const wave = (i: number): SimulateOptions => ({ count: o.perWave, seed: 100 + i + (Date.now() % 1000), start: new Date(), span: 1000, hosts: 5, users: 10, attackRate: 0.05 });
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'winlake-live-'));
  try {
    // The first wave makes bronze and the silver tables exist, so the detection query has them from its start.
    let produced = 0;
    const send = async (i: number): Promise<void> => {
      if (o.useKafka) {
        produced += (await produce(simulateNdjson(wave(i)), { brokers, topic, batchSize: 500 })).acknowledged;
      } else {
        const file = path.join(tmp, `wave-${i}.ndjson`);
        writeFileSync(file, `${[...simulateNdjson(wave(i))].join('\n')}\n`);
        produced += (await loadEventFiles([file], { catalog, session })).result.numRows;
      }
    };
    await send(0);
    let bronzeQuery: StreamingQuery | undefined;
    if (o.useKafka) {
      const stream = (await readKafkaStream('127.0.0.1', brokerOptions().outsidePort, topic, { session })).map(async (b) => parseWinlogbeat(addIngestMeta(b), 'raw'));
      bronzeQuery = writeTableStream(stream, BRONZE_TABLE, 'bronze', BRONZE_PARTITIONS, { catalog, queryName: `live_${topic}`, pollIntervalMs: 100 });
      queries.push(bronzeQuery);
      await bronzeQuery.processAllAvailable();
    }
    const silverQuery = await buildSilver(BRONZE_TABLE, { catalog, session, mode: 'streaming', queryName: 'live_silver' });
    queries.push(silverQuery);
    await silverQuery.processAllAvailable();
    const detection = await streamSigmaRules(o.rules, {
      catalog,
      session,
      pollIntervalMs: 100,
      onProgress: (p) => {
        const info = p.sink as SigmaBatchInfo;
        const rows = Object.values(info.rows).reduce((a, b) => a + b, 0);
        if (rows === 0) return;
        alerts += info.alerts;
        if (info.latencyMs) latencies.push({ n: info.alerts, ...info.latencyMs });
        say(
          `  alerts batch ${p.batchId}: ${rows} new silver rows → ${info.alerts} alert(s)` +
            (info.latencyMs ? `, latency event → alert commit ${s(info.latencyMs.min)}–${s(info.latencyMs.max)} (median ${s(info.latencyMs.median)})` : ''),
        );
      },
    });
    queries.push(detection.query);
    say(`detection: ${detection.tables.length} silver tables followed by one query; ${detection.refused.length} rules need a table no pack builds`);
    for (let i = 1; i < o.waves; i++) {
      await sleep(1000);
      await send(i);
      say(`  wave ${i}: ${o.perWave} events produced at ${new Date().toISOString()}`);
    }
    // Wait until each stage has everything its source holds, upstream first.
    if (bronzeQuery) await bronzeQuery.processAllAvailable();
    await silverQuery.processAllAvailable();
    await detection.query.processAllAvailable();
    const all = latencies.length ? { min: Math.min(...latencies.map((l) => l.min)), median: weightedMedian(latencies), max: Math.max(...latencies.map((l) => l.max)) } : null;
    say(`live: ${produced} events → ${alerts} alerts${all ? `; latency event @timestamp → alert commit: min ${s(all.min)}, median ${s(all.median)}, max ${s(all.max)}` : ''}`);
    return { events: produced, alerts, latencyMs: all };
  } finally {
    for (const q of queries.reverse()) await q.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The median of batch medians weighted by alerts: close enough for a demo line. */
function weightedMedian(batches: readonly { n: number; median: number }[]): number {
  const sorted = [...batches].sort((a, b) => a.median - b.median);
  const half = sorted.reduce((t, b) => t + b.n, 0) / 2;
  let seen = 0;
  for (const b of sorted) {
    seen += b.n;
    if (seen >= half) return b.median;
  }
  return sorted.at(-1)?.median ?? 0;
}

const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

