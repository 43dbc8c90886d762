/**
 * Side by side with the reference's own stack: the reference pipeline on winlake and on PySpark +
 * delta-spark (local[2], test/bench/spark-reference/reference.py), on the same Kafka topic, in
 * alternating rounds. `npm run bench -- reference`; WINLAKE_BENCH_SCALE (default 1 = 1,000,000
 * simulated winlogbeat documents, 0.2 = 200,000) sizes the topic; WINLAKE_BENCH_ROUNDS (default 2)
 * the rounds. The first run installs Spark (test/bench/spark-reference/setup.sh: PyPI and Maven
 * Central, cached under .cache/).
 *
 * Per engine, round and stage (startup, schema inference, Kafka → bronze, silver Process, OPTIMIZE
 * ZORDER BY) and end to end: seconds, events/s (topic events over the stage's seconds), CPU seconds
 * and peak RSS of the job's whole process tree (sampled from /proc), the load average; and the
 * ratios winlake / Spark of the best round. Then the tables shared both ways (Spark reads and
 * appends to winlake's tables, winlake reads and appends to Spark's), the two silver Process tables
 * row for row (EXCEPT ALL both ways), and every shipped pack exported to Spark SQL
 * (`winlake pack export <pack> --spark`) run by Spark over winlake's bronze against winlake's silver.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Admin } from '@platformatic/kafka';
import { createKafkaClient } from '../../kernel-lib/src/source/kafka/client.js';
import { produceTopic as produceToTopic } from './ingest.js';
import { brokerOptions, startBroker } from '../../kernel-lib/src/source/kafka/broker.js';
import { simulateNdjson } from '../../kernel-lib/src/winlogbeat/simulate.js';
import { ProcessTree } from './spark-reference/process-tree.js';
import { shareChecks } from './spark-reference/share.js';

const REPO = path.resolve(import.meta.dirname, '..', '..');
const SPARK_DIR = path.join(import.meta.dirname, 'spark-reference');
const SPARK_PYTHON = path.join(REPO, '.cache', 'spark-venv', 'bin', 'python');
/** Distinct documents generated; production cycles through them so the generator is not measured. */
const POOL = 20_000;
const PARTITIONS = 3;
const CORES = 2;
const STAGES = ['startup', 'schema', 'bronze', 'silver', 'optimize'] as const;
type Engine = 'winlake' | 'spark';

const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;
const log = (m: string): void => {
  console.error(`[reference] ${m}`);
};
const loadAverage = (): number[] => os.loadavg().map((l) => round(l, 2));

interface StageFigures {
  seconds: number;
  eventsPerSecond: number;
  cpuSeconds: number;
  peakRssMB: number;
  peakPssMB: number;
}

interface RunFigures {
  engine: Engine;
  round: number;
  loadAverageBefore: number[];
  loadAverageAfter: number[];
  stages: Partial<Record<(typeof STAGES)[number], StageFigures>>;
  endToEnd: StageFigures;
  /** From spawn to exit: end to end plus the row counts that check the result and the engine's shutdown. */
  processSeconds: number;
  bronzeRows: number;
  silverRows: number;
}

/** Installs (once) and returns the Spark side: the comma-separated jar list for spark.jars. */
function setupSpark(): string {
  const setup = spawnSync('bash', [path.join(SPARK_DIR, 'setup.sh')], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (setup.status !== 0) throw new Error(`test/bench/spark-reference/setup.sh failed (exit ${setup.status})`);
  log(setup.stdout.trim());
  return readFileSync(path.join(REPO, '.cache', 'spark-jars', 'jars.txt'), 'utf8').trim().split('\n').map((j) => path.resolve(REPO, j)).join(',');
}

/** Produces `events` documents (cycling through the pool) to a new topic of 3 partitions, as the ingest benchmark does. */
async function produceTopic(bootstrap: string, topic: string, events: number): Promise<{ figures: Record<string, number>; ends: Map<number, number> }> {
  const pool = [...simulateNdjson({ seed: 1, count: Math.min(POOL, events), version: 7 })].map((d) => Buffer.from(d));
  const producer = createKafkaClient(bootstrap, { kind: 'platformatic', clientId: 'winlake-bench-reference' });
  try {
    const { figures } = await produceToTopic(producer, topic, pool, events);
    return { figures, ends: await producer.endOffsets(topic) };
  } finally {
    await producer.close();
  }
}

/** Runs one job as a child, samples its process tree, and turns its stage lines into figures. */
function runJob(engine: Engine, command: string, args: string[], events: number, roundNo: number): Promise<RunFigures> {
  return new Promise<RunFigures>((resolve, reject) => {
    const loadAverageBefore = loadAverage();
    const t0 = performance.now();
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: REPO });
    const tree = new ProcessTree(child.pid!);
    tree.start();
    const stages: RunFigures['stages'] = {};
    const open = new Map<string, { t: number; cpu: number }>();
    let done: { bronzeRows: number; silverRows: number } | undefined;
    let endToEnd: StageFigures | undefined;
    let stderr = '';
    let buffer = '';
    // The job's log (Spark's is long) goes to a file; the tail is shown if it fails.
    const logFile = path.join(os.tmpdir(), `winlake-bench-reference-${engine}-${roundNo}.log`);
    const logStream = createWriteStream(logFile);
    child.stderr.on('data', (d: Buffer) => {
      logStream.write(d);
      stderr = (stderr + d.toString()).slice(-20_000);
    });
    child.stdout.on('data', (d: Buffer) => {
      buffer += d.toString();
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        const msg = JSON.parse(line) as { event: string; stage?: (typeof STAGES)[number]; phase?: string; bronzeRows?: number; silverRows?: number };
        if (msg.event === 'stage' && msg.stage) {
          const s = tree.mark();
          if (msg.phase === 'start') open.set(msg.stage, { t: performance.now(), cpu: s.cpuSeconds });
          else {
            const began = open.get(msg.stage)!;
            const seconds = (performance.now() - began.t) / 1000;
            stages[msg.stage] = {
              seconds: round(seconds, 2),
              eventsPerSecond: Math.round(events / seconds),
              cpuSeconds: round(s.cpuSeconds - began.cpu, 2),
              peakRssMB: Math.round(s.periodPeakRssMB),
              peakPssMB: Math.round(s.periodPeakPssMB),
            };
            // End to end: from the spawn to the end of the last stage (the counts after it check, not work).
            if (msg.stage === STAGES.at(-1)) {
              const total = (performance.now() - t0) / 1000;
              endToEnd = { seconds: round(total, 2), eventsPerSecond: Math.round(events / total), cpuSeconds: round(s.cpuSeconds, 2), peakRssMB: Math.round(tree.peakRssMB), peakPssMB: Math.round(tree.peakPssMB) };
            }
          }
        }
        if (msg.event === 'done') done = { bronzeRows: Number(msg.bronzeRows), silverRows: Number(msg.silverRows) };
      }
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      tree.stop();
      logStream.end();
      if (code !== 0 || !done || !endToEnd) return reject(new Error(`the ${engine} job exited with code ${code} (log: ${logFile}):\n${stderr}`));
      resolve({
        engine,
        round: roundNo,
        loadAverageBefore,
        loadAverageAfter: loadAverage(),
        stages,
        endToEnd,
        processSeconds: round((performance.now() - t0) / 1000, 2),
        ...done,
      });
    });
  });
}

/** Per stage and end to end, the best (least seconds) round of an engine. */
function best(runs: readonly RunFigures[]): Record<string, StageFigures> {
  const out: Record<string, StageFigures> = {};
  for (const key of [...STAGES, 'endToEnd'] as const) {
    const figures = runs.map((r) => (key === 'endToEnd' ? r.endToEnd : r.stages[key])).filter((f): f is StageFigures => f !== undefined);
    if (figures.length) out[key] = figures.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  }
  return out;
}

/** winlake / Spark per stage both have, and end to end: seconds, CPU seconds, peak RSS (below 1 = winlake less). */
function ratios(w: Record<string, StageFigures>, s: Record<string, StageFigures>): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const key of Object.keys(w)) {
    const a = w[key]!;
    const b = s[key];
    if (!b) continue;
    out[key] = {
      seconds: round(a.seconds / b.seconds, 3),
      cpuSeconds: round(a.cpuSeconds / b.cpuSeconds, 3),
      peakRssMB: round(a.peakRssMB / b.peakRssMB, 3),
      peakPssMB: round(a.peakPssMB / b.peakPssMB, 3),
    };
  }
  return out;
}

/** The benchmark; returns its figures (the harness prints them as JSON). */
export async function run(): Promise<Record<string, unknown>> {
  const scale = Number(process.env.WINLAKE_BENCH_SCALE ?? '1');
  if (!(scale > 0)) throw new Error(`WINLAKE_BENCH_SCALE must be a positive number, got ${process.env.WINLAKE_BENCH_SCALE}`);
  const rounds = Number(process.env.WINLAKE_BENCH_ROUNDS ?? '2');
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`WINLAKE_BENCH_ROUNDS must be a positive integer, got ${process.env.WINLAKE_BENCH_ROUNDS}`);
  const events = Math.max(1000, Math.round(1_000_000 * scale));
  const jars = setupSpark();
  const options = brokerOptions();
  await startBroker(options);
  const bootstrap = `127.0.0.1:${options.port}`;
  const topic = `bench-reference-${Date.now()}`;
  const work = mkdtempSync(path.join(os.tmpdir(), 'winlake-bench-reference-'));
  try {
    log(`producing ${events} events to ${topic}`);
    const { figures: produce, ends } = await produceTopic(bootstrap, topic, events);
    log(`produce: ${JSON.stringify(produce)}`);
    // Spark infers the schema from the first records of each partition (the pool, spread over them);
    // an ending offset past a partition's end would make Spark's consumer wait for it until timeout.
    const perPartition = Math.ceil(Math.min(POOL, events) / PARTITIONS);
    const sampleOffsets = JSON.stringify(Object.fromEntries([...ends].map(([p, end]) => [String(p), Math.min(end, perPartition)])));
    const lake = (engine: Engine, r: number): string => path.join(work, `${engine}-${r}`);
    const runs: RunFigures[] = [];
    for (let r = 1; r <= rounds; r++) {
      // Alternating order, so neither engine always runs first on a cold page cache or a quieter machine.
      const order: Engine[] = r % 2 === 1 ? ['winlake', 'spark'] : ['spark', 'winlake'];
      for (const engine of order) {
        const dir = lake(engine, r);
        mkdirSync(dir, { recursive: true });
        log(`round ${r}: ${engine} ...`);
        const figures =
          engine === 'winlake'
            ? await runJob(engine, process.execPath, ['--import', 'tsx', path.join(SPARK_DIR, 'winlake-job.ts'), JSON.stringify({ host: '127.0.0.1', port: options.port, topic, lakehouse: dir })], events, r)
            : await runJob(
                engine,
                SPARK_PYTHON,
                [path.join(SPARK_DIR, 'reference.py'), 'pipeline', '--jars', jars, '--cores', String(CORES), '--port', String(options.port), '--topic', topic, '--sample-offsets', sampleOffsets, '--lake', dir, '--pack', path.join(REPO, 'kernel-lib', 'packs', 'Process.json')],
                events,
                r,
              );
        if (figures.bronzeRows !== events) throw new Error(`${engine} round ${r}: bronze holds ${figures.bronzeRows} rows of ${events}`);
        log(`round ${r}: ${engine}: ${JSON.stringify({ ...figures.stages, endToEnd: figures.endToEnd, loadAverage: figures.loadAverageAfter })}`);
        runs.push(figures);
        // Keep the last round's tables of each engine for the checks.
        if (r < rounds) rmSync(dir, { recursive: true, force: true });
      }
    }
    const winlakeBest = best(runs.filter((r) => r.engine === 'winlake'));
    const sparkBest = best(runs.filter((r) => r.engine === 'spark'));
    const ratio = ratios(winlakeBest, sparkBest);
    log(`winlake / Spark: ${JSON.stringify(ratio)}`);

    log('tables shared both ways, and the packs exported to Spark ...');
    const shared = await shareChecks({
      winlakeLake: lake('winlake', rounds),
      sparkLake: lake('spark', rounds),
      work,
      sparkPython: SPARK_PYTHON,
      script: path.join(SPARK_DIR, 'reference.py'),
      jars,
      cores: CORES,
      silverRows: runs.find((r) => r.engine === 'spark' && r.round === rounds)!.silverRows,
    });
    log(`shared: ${JSON.stringify(shared.summary)}`);
    writeFileSync(path.join(os.tmpdir(), 'winlake-bench-reference-last.json'), JSON.stringify(shared, null, 2));
    return {
      scale,
      events,
      partitions: PARTITIONS,
      sparkMaster: `local[${CORES}]`,
      versions: { spark: '3.5.3', deltaSpark: '3.2.1', scala: '2.12', java: javaVersion() },
      produce,
      rounds: runs,
      best: { winlake: winlakeBest, spark: sparkBest },
      ratiosWinlakeToSpark: ratio,
      speedupEndToEnd: round(sparkBest.endToEnd!.seconds / winlakeBest.endToEnd!.seconds, 2),
      shared,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
    const admin = new Admin({ clientId: 'winlake-bench-cleanup', bootstrapBrokers: [bootstrap] });
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.close();
  }
}

function javaVersion(): string {
  const out = spawnSync('java', ['-version'], { encoding: 'utf8' });
  return /version "([^"]+)"/.exec(out.stderr)?.[1] ?? 'unknown';
}
