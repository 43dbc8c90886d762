/**
 * Sigma detection speed: every compilable SigmaHQ process_creation rule over a Process silver table
 * of 1M events (WINLAKE_BENCH_SCALE scales it), winlake's runSigmaRules in one pass and one query
 * per rule, against the same rules converted by pySigma's DuckDB backend and run in the same
 * DuckDB session over a flat Parquet table of the same events with Sigma's field names. The
 * events are the simulator's Process events (with its attack scenarios), repeated to the size;
 * WINLAKE_BENCH_SIGMA_UNIQUE=1 makes every command line unique (a ` #<copy>:<guid>` suffix), the
 * worst case for winlake's one pass, which tests each distinct combination of the columns read once.
 * Both sides count matches per rule, in one pass (one `sum(CASE WHEN rule ...)` per rule) and with
 * one query per rule; CPU seconds (all threads of the process) are reported beside wall seconds,
 * since the machine may be shared.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildSilver } from '../../kernel-lib/src/cim/build-silver.js';
import { compileRule, runSigmaRules, sigmaFieldMap, loadSigmaRules, type SigmaRunResult } from '../../kernel-lib/src/detect/index.js';
import { quoteIdent, quoteString } from '../../kernel-lib/src/engine/quote.js';
import { Session } from '../../kernel-lib/src/engine/session.js';
import { Catalog } from '../../kernel-lib/src/lakehouse/catalog.js';
import { readTable, writeTableBatch } from '../../kernel-lib/src/lakehouse/tables.js';
import { ndjsonToFrame } from '../../kernel-lib/src/source/kafka/ndjson-frame.js';
import { parseWinlogbeat } from '../../kernel-lib/src/winlogbeat/parse.js';
import { simulateNdjson } from '../../kernel-lib/src/winlogbeat/simulate.js';
import { Frame } from '../../kernel-lib/src/frame/index.js';
import { SHARED_DATA } from '../helpers.js';

const RULES = path.join(SHARED_DATA, 'sigma', 'rules', 'windows', 'process_creation');
const MEMORY_LIMIT = process.env.WINLAKE_BENCH_MEMORY ?? '4GB';
const here = import.meta.dirname;
const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;

export async function run(): Promise<Record<string, unknown>> {
  const scale = Number(process.env.WINLAKE_BENCH_SCALE ?? '1');
  const events = Math.max(1000, Math.round(1_000_000 * scale));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'winlake-bench-sigma-'));
  // Setup and detection get separate engines: the memory limit is for detection only (the NDJSON
  // reader of the setup reserves a 4 GiB line buffer), and detection starts with a cold engine.
  let session = await Session.create({ workDir: path.join(dir, 'duckdb-setup'), allowedDirectories: [dir] });
  const catalog = new Catalog(path.join(dir, 'lake'));
  try {
    // Seed: simulated events through bronze → silver (Process pack only), then repeated to size.
    const lines = [...simulateNdjson({ seed: 42, count: Math.min(events, 40_000), version: 7, hosts: 50, users: 100, ratePerSecond: 50 })];
    const raw = await parseWinlogbeat(await ndjsonToFrame(session, { lines, tempDir: dir }), 'raw');
    await writeTableBatch(raw, 'bronze', 'bronze', ['_event_date', '_sourcetype'], { catalog, session });
    await buildSilver('bronze', { catalog, session, packs: ['Process'] });
    const seedSql = await (await readTable('Process', { catalog, session })).toSql();
    await session.run(`CREATE TEMP TABLE seed AS SELECT * FROM (${seedSql}) WHERE event_id = '1'`);
    const seedRows = Number(await session.scalar('SELECT count(*) FROM seed'));
    const copies = Math.ceil(events / seedRows);
    const unique = process.env.WINLAKE_BENCH_SIGMA_UNIQUE === '1';
    const row = unique ? `s.* REPLACE (s.process_command_line || ' #' || CAST(r.range AS VARCHAR) || ':' || s.process_guid AS process_command_line)` : 's.*';
    const full = Frame.fromSql(session, `SELECT ${row} FROM seed s, range(${copies}) r LIMIT ${events}`);
    await session.set('preserve_insertion_order', false);
    const big = new Catalog(path.join(dir, 'big'));
    await writeTableBatch(full, 'Process', 'silver', ['_event_date'], { catalog: big, session });
    console.error(`[sigma] Process table: ${events} events (${seedRows} simulated process creations x ${copies})`);

    // The flat table pySigma's queries read: the same rows with Sigma's field names.
    const fields = sigmaFieldMap().categories.process_creation!.fields;
    const cols = (await (await readTable('Process', { catalog: big, session })).schema()).map((f) => f.name);
    const select = Object.entries(fields)
      .filter(([, c]) => cols.includes(c))
      .map(([f, c]) => `CAST(${quoteIdent(c)} AS VARCHAR) AS ${quoteIdent(f)}`);
    const flatFile = path.join(dir, 'flat.parquet');
    await session.run(`COPY (SELECT ${select.join(', ')} FROM (${await (await readTable('Process', { catalog: big, session })).toSql()})) TO ${quoteString(flatFile)} (FORMAT parquet)`);
    session.close();
    session = await Session.create({ workDir: path.join(dir, 'duckdb'), allowedDirectories: [dir], memoryLimit: MEMORY_LIMIT });
    await session.run(`CREATE VIEW logs AS SELECT * FROM read_parquet(${quoteString(flatFile)})`);

    // Rules: every process_creation rule both compile.
    const all = loadSigmaRules(RULES);
    const winlakeOk = all.filter((r) => {
      try {
        compileRule(r);
        return true;
      } catch {
        return false;
      }
    });
    const py = JSON.parse(
      execFileSync(path.resolve(here, '../../.venv/bin/python'), [path.join(here, 'pysigma_convert.py')], { input: JSON.stringify(winlakeOk.map((r) => r.source)), maxBuffer: 1 << 28 }).toString(),
    ) as Record<string, { where?: string; error?: string }>;
    // A pySigma query DuckDB cannot parse or bind (its SQL has a syntax error, or names a field the flat table lacks) counts as refused.
    for (const r of winlakeOk) {
      const q = py[r.source!];
      if (!q?.where) continue;
      try {
        await session.run(`SELECT count(*) FROM logs WHERE ${q.where} LIMIT 0`);
      } catch (err) {
        py[r.source!] = { error: `DuckDB: ${(err as Error).message.split('\n')[0]}` };
      }
    }
    const rules = winlakeOk.filter((r) => py[r.source!]?.where);
    const pyRefused = winlakeOk.filter((r) => !py[r.source!]?.where).map((r) => ({ rule: path.basename(r.source!), error: py[r.source!]?.error }));
    console.error(`[sigma] ${rules.length} rules (of ${all.length}; ${all.length - winlakeOk.length} refused by winlake, ${pyRefused.length} by pySigma)`);

    const rss = (): number => round(process.memoryUsage().rss / 2 ** 30, 2);
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, rss())), 200);
    const timed = async <T>(label: string, f: () => Promise<T>): Promise<{ s: number; cpuS: number; value: T; peakRssGB: number }> => {
      peak = rss();
      const t = performance.now();
      const cpu = process.cpuUsage();
      const value = await f();
      const s = (performance.now() - t) / 1000;
      const used = process.cpuUsage(cpu);
      const cpuS = (used.user + used.system) / 1e6;
      console.error(`[sigma] ${label}: ${round(s, 1)} s (CPU ${round(cpuS, 1)} s), peak RSS ${peak} GB`);
      return { s, cpuS, value, peakRssGB: peak };
    };
    const onePass = await timed('winlake one pass', () => runSigmaRules(rules, { catalog: big, session, sample: 0 }));
    const perRule = process.env.WINLAKE_BENCH_SIGMA_PER_RULE === '0' ? undefined : await timed('winlake per rule', () => runSigmaRules(rules, { catalog: big, session, sample: 0, strategy: 'rule' }));
    const wheres = rules.map((r) => py[r.source!]!.where!);
    const pyOnePass = await timed('pySigma one pass', async () => {
      const row = (await session.rows(`SELECT ${wheres.map((w, i) => `sum(CASE WHEN ${w} THEN 1 ELSE 0 END) AS ${quoteIdent(`r${i}`)}`).join(', ')} FROM logs`))[0]!;
      return wheres.map((_, i) => Number(row[`r${i}`] ?? 0));
    });
    const pyPerRule =
      process.env.WINLAKE_BENCH_SIGMA_PER_RULE === '0'
        ? undefined
        : await timed('pySigma per rule', async () => {
            const out: number[] = [];
            for (const w of wheres) out.push(Number(await session.scalar(`SELECT count(*) FROM logs WHERE ${w}`)));
            return out;
          });
    clearInterval(sampler);

    const errors = onePass.value.filter((r) => r.error).map((r) => ({ rule: path.basename(r.rule.source!), error: r.error }));
    const differ = onePass.value
      .map((r: SigmaRunResult, i) => ({ rule: path.basename(r.rule.source!), winlake: r.matches, pySigma: pyOnePass.value[i]! }))
      .filter((d) => d.winlake !== d.pySigma);
    const eps = (s: number): number => Math.round(events / s);
    const read = [...new Set(onePass.value.flatMap((r) => r.compiled?.columns ?? []))].sort();
    const distinctRead = Number(await session.scalar(`SELECT count(*) FROM (SELECT DISTINCT ${read.map(quoteIdent).join(', ')} FROM (${await (await readTable('Process', { catalog: big, session })).toSql()}))`));
    type Timed = { s: number; cpuS: number; peakRssGB: number };
    const side = (one: Timed, per: Timed | undefined): Record<string, number | undefined> => ({
      onePassS: round(one.s),
      onePassCpuS: round(one.cpuS),
      onePassEventsPerS: eps(one.s),
      onePassPeakRssGB: one.peakRssGB,
      perRuleS: per && round(per.s),
      perRuleCpuS: per && round(per.cpuS),
      perRulePeakRssGB: per?.peakRssGB,
    });
    return {
      events,
      uniqueCommandLines: unique,
      rules: rules.length,
      columnsRead: read,
      distinctCombinationsOfColumnsRead: distinctRead,
      memoryLimit: MEMORY_LIMIT,
      loadAverage: os.loadavg().map((x) => round(x)),
      method: {
        winlake:
          'runSigmaRules over the Process Delta table (read_parquet of its files): one pass = all rules in one query, each rule a sum(CASE WHEN detection THEN events ...) over the distinct combinations of the columns the rules read (with their event counts), case folding once per row; per rule = the same, one query per rule',
        pySigma:
          "pySigma's DuckDB backend queries (no processing pipeline) over a flat Parquet file of the same events (VARCHAR columns named as Sigma's fields, written once before timing): one pass = sum(CASE WHEN query THEN 1 ELSE 0 END) per rule in one query; per rule = SELECT count(*) WHERE query, one query per rule",
      },
      refusedByPySigma: pyRefused,
      winlake: { ...side(onePass, perRule), errors },
      pySigma: side(pyOnePass, pyPerRule),
      ratios: {
        onePassPySigmaOverWinlake: round(pyOnePass.s / onePass.s),
        onePassCpuPySigmaOverWinlake: round(pyOnePass.cpuS / onePass.cpuS),
        perRulePySigmaOverWinlake: perRule && pyPerRule ? round(pyPerRule.s / perRule.s) : undefined,
        perRuleCpuPySigmaOverWinlake: perRule && pyPerRule ? round(pyPerRule.cpuS / perRule.cpuS) : undefined,
      },
      rulesMatching: { winlake: onePass.value.filter((r) => r.matches > 0).length, pySigma: pyOnePass.value.filter((n) => n > 0).length },
      matchCountsDiffer: differ,
    };
  } finally {
    session.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
