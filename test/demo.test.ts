/**
 * `winlake demo` end to end, as a user runs it: a child process against the real local broker, at a
 * reduced size. Every count in its summary is checked against numbers computed here independently:
 * the simulator's ground truth and the Mordor recording read as plain NDJSON.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { demoSimulation } from '../kernel-lib/src/cli/demo.js';
import { closeSession } from '../kernel-lib/src/engine/session.js';
import { Catalog } from '../kernel-lib/src/lakehouse/catalog.js';
import { BRONZE_TABLE } from '../kernel-lib/src/lakehouse/load-files.js';
import { readTable } from '../kernel-lib/src/lakehouse/tables.js';
import { SCENARIOS, simulateWithTruth, type ScenarioName } from '../kernel-lib/src/winlogbeat/simulate.js';
import { SHARED_DATA, tempDir } from './helpers.js';
import { ensureBroker, uniqueTopic } from './kafka-helpers.js';

const execFileAsync = promisify(execFile);
const REPO = path.resolve(import.meta.dirname, '..');
const EVENTS = 3000;
const SYSMON = 'Microsoft-Windows-Sysmon/Operational';

/** What the demo printed, parsed. */
interface DemoSummary {
  /** Rows per table, from the summary's table list. */
  tables: Map<string, number>;
  /** Events per hunt, keyed by the hunt's ATT&CK technique. */
  hunts: Map<string, number>;
  /** Rows the Kafka → bronze stream wrote in this run (sum of its batch lines). */
  streamed: number;
  output: string;
}

async function runDemo(env: Record<string, string>): Promise<DemoSummary> {
  const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', 'kernel-lib/src/cli/main.ts', 'demo'], {
    cwd: REPO,
    // The live detection step (its own lakehouse under <home>/live) only where a test asks for it.
    env: { ...process.env, WINLAKE_DEMO_EVENTS: String(EVENTS), WINLAKE_DEMO_LIVE_WAVES: '0', ...env },
    maxBuffer: 16 * 1024 * 1024,
    timeout: 400_000,
  });
  const tables = new Map<string, number>();
  const hunts = new Map<string, number>();
  let streamed = 0;
  for (const line of stdout.split('\n')) {
    const table = /^(?:bronze|silver)\s+(\S+)\s+rows\s+(\d+)\s/.exec(line);
    if (table) tables.set(table[1]!, Number(table[2]));
    const hunt = /^- (T[\d.]+) .*?: (\d+) events?\b/.exec(line);
    if (hunt) hunts.set(hunt[1]!, Number(hunt[2]));
    const batch = /^batch \d+: ([\d,]+) rows/.exec(line);
    if (batch) streamed += Number(batch[1]!.replaceAll(',', ''));
  }
  assert.ok(tables.has(BRONZE_TABLE) && hunts.size === 6, `unexpected demo output:\n${stdout}`);
  return { tables, hunts, streamed, output: stdout };
}

/** Ground truth, computed without the pipeline: the simulator's own record and the raw recording. */
interface Expected {
  bronze: number;
  process: number;
  hunts: Map<string, number>;
  scenarioRuns: Map<ScenarioName, number>;
}

function expected(): Expected {
  const runs = new Map<ScenarioName, Set<number>>();
  let simulatedProcess = 0;
  for (const e of simulateWithTruth(demoSimulation(EVENTS, new Date('2026-01-01T00:00:00Z')))) {
    if (e.doc.winlog.channel === SYSMON && ['1', '5', '17', '18'].includes(String(e.doc.winlog.event_id))) simulatedProcess++;
    if (e.scenario) runs.set(e.scenario, (runs.get(e.scenario) ?? new Set()).add(e.run));
  }
  const scenarioRuns = new Map(SCENARIOS.map((s) => [s, runs.get(s)?.size ?? 0]));
  // The Mordor recording: NXLog layout, one JSON object per line.
  const mordor = readFileSync(path.join(SHARED_DATA, 'mordor', 'cmd_psexec_lsa_secrets_dump.json'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const sysmon = (ids: number[]): Record<string, unknown>[] => mordor.filter((d) => d.Channel === SYSMON && ids.includes(Number(d.EventID)));
  const mordorPipes = sysmon([18]).filter((d) => String(d.PipeName).startsWith('\\PSEXESVC')).length;
  const mordorRegSave = sysmon([1]).filter((d) => /reg(\.exe)?"?\s+save\s+hklm\\(sam|security|system)/i.test(String(d.CommandLine))).length;
  return {
    bronze: EVENTS + mordor.length,
    process: simulatedProcess + sysmon([1, 5, 17, 18]).length,
    scenarioRuns,
    // One event per run of each scenario matches its hunt (the others are steps the hunt does not target).
    hunts: new Map([
      ['T1059.001', scenarioRuns.get('encoded_powershell')!],
      ['T1003.001', scenarioRuns.get('credential_dumping')!],
      ['T1569.002', scenarioRuns.get('psexec')! + mordorPipes],
      ['T1003.004', mordorRegSave],
      ['T1053.005', scenarioRuns.get('scheduled_task')!],
      ['T1105', scenarioRuns.get('lolbin_download')!],
    ]),
  };
}

const times = (m: ReadonlyMap<string, number>, k: number): Map<string, number> => new Map([...m].map(([key, v]) => [key, v * k]));

describe('winlake demo', () => {
  const want = expected();
  before(async () => {
    await ensureBroker();
  });
  after(async () => {
    await closeSession();
  });

  it('the simulated size still holds every attack scenario and the Mordor PsExec events', () => {
    for (const [scenario, runs] of want.scenarioRuns) assert.ok(runs > 0, `no ${scenario} run in the first ${EVENTS} simulated events`);
    assert.ok(want.hunts.get('T1003.004')! > 0 && want.hunts.get('T1569.002')! > want.scenarioRuns.get('psexec')!);
  });

  it('streams through Kafka into bronze and silver, hunts find every scenario, and a second run adds exactly the new events', async () => {
    const home = tempDir('winlake-demo-');
    const env = { WINLAKE_HOME: home, WINLAKE_DEMO_TOPIC: uniqueTopic('demo') };

    const first = await runDemo({ ...env, WINLAKE_DEMO_LIVE_WAVES: '2' });
    assert.equal(first.streamed, want.bronze, first.output);
    // Step 7: fresh events streamed through Kafka → bronze → silver → SigmaHQ rules → gold, with latency.
    const live = /^live: (\d+) events → (\d+) alerts; latency event @timestamp → alert commit: min ([\d.]+) s/m.exec(first.output);
    assert.ok(live, first.output);
    assert.equal(Number(live[1]), 1000);
    assert.ok(Number(live[2]) > 0, 'the attack steps among the fresh events raise alerts');
    const liveAlerts = await readTable('sigma_alerts', { catalog: new Catalog(path.join(home, 'live')) });
    assert.equal(await liveAlerts.count(), Number(live[2]));
    assert.equal(first.tables.get(BRONZE_TABLE), want.bronze, first.output);
    assert.equal(first.tables.get('process'), want.process, first.output);
    assert.deepEqual(first.hunts, want.hunts, first.output);
    for (const [technique, n] of first.hunts) assert.ok(n > 0, `hunt ${technique} found nothing:\n${first.output}`);
    assert.match(first.output, new RegExp(`lakehouse: ${home.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.match(first.output, /^winlake demo: 3,000 simulated events \+ the Mordor recording cmd_psexec_lsa_secrets_dump\.json\n/);
    // The broker outlives the demo, and the last line says so and how to stop it.
    const last = first.output.trimEnd().split('\n').pop()!;
    assert.match(last, /^the Kafka broker is still running on 127\.0\.0\.1:\d+ \(outside 127\.0\.0\.1:\d+\); stop it with: .*npm run kafka:stop$/);

    // A second run produces the same events again: the stream resumes from its committed offsets.
    const second = await runDemo(env);
    assert.equal(second.streamed, want.bronze, second.output);
    assert.equal(second.tables.get(BRONZE_TABLE), 2 * want.bronze, second.output);
    assert.equal(second.tables.get('process'), 2 * want.process, second.output);
    assert.deepEqual(second.hunts, times(want.hunts, 2), second.output);

    const bronze = await readTable(BRONZE_TABLE, { catalog: new Catalog(home) });
    const [counts] = await bronze
      .selectExpr('count(*) AS rows', 'count(DISTINCT (_kafka_partition, _kafka_offset)) AS distinct_offsets')
      .toRows<{ rows: bigint | number; distinct_offsets: bigint | number }>();
    assert.equal(Number(counts!.rows), 2 * want.bronze);
    assert.equal(Number(counts!.distinct_offsets), 2 * want.bronze, 'a Kafka record was written to bronze twice');
  });

  it('without Kafka (WINLAKE_DEMO_NO_KAFKA=1) loads the same events from files; the recording comes from the repository', async () => {
    // An override naming a folder that does not exist (no ../shared): the shipped copy is used.
    const nowhere = path.join(tempDir('winlake-demo-nowhere-'), 'shared', 'data', 'mordor');
    const run = await runDemo({ WINLAKE_HOME: tempDir('winlake-demo-files-'), WINLAKE_DEMO_NO_KAFKA: '1', WINLAKE_MORDOR_DIR: nowhere });
    assert.match(run.output, /^winlake demo: 3,000 simulated events \+ the Mordor recording cmd_psexec_lsa_secrets_dump\.json\n/);
    assert.doesNotMatch(run.output, /still running/);
    assert.equal(run.streamed, 0);
    assert.equal(run.tables.get(BRONZE_TABLE), want.bronze, run.output);
    assert.equal(run.tables.get('process'), want.process, run.output);
    assert.deepEqual(run.hunts, want.hunts, run.output);
  });
});
