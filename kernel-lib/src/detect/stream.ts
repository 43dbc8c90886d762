/**
 * Continuous detection: Sigma rules as one streaming query over the silver tables they search.
 * The source is every target table's Delta log (offsets `{ <table>: <next version> }`); each
 * micro-batch holds the rows that new silver commits added, is evaluated once by the whole pack,
 * and its alerts are appended to the gold table in one commit carrying the Delta `txn`
 * {appId: query id, version: batch id} — so a batch redone after a crash is never written twice,
 * and a restart resumes from the query's checkpoint.
 */
import path from 'node:path';
import { quoteIdent } from '../engine/quote.js';
import { getSession, type Session } from '../engine/session.js';
import { Frame } from '../frame/index.js';
import { Catalog } from '../lakehouse/catalog.js';
import { writeTableBatch } from '../lakehouse/tables.js';
import { DeltaStreamSource } from '../stream/delta-source.js';
import { offsetLag, type BatchData, type Offsets, type StreamSource } from '../stream/source.js';
import { StreamFrame, StreamingQuery, type StreamProgress, type Trigger } from '../stream/index.js';
import { alertSelect, SIGMA_ALERTS_TABLE } from './alerts.js';
import { compileRule, ruleTarget, type CompiledRule } from './compile.js';
import { CHANNEL_VIEW, sigmaFieldMap, type SigmaFieldMap } from './field-map.js';
import { ruleLabel, type SigmaRule } from './rule.js';
import { resolveRules, type SigmaRuleInput } from './run.js';

/** Options of {@link streamSigmaRules}. */
export interface SigmaStreamOptions {
  catalog?: Catalog;
  session?: Session;
  fieldMap?: SigmaFieldMap;
  /** The gold table; default `sigma_alerts`. */
  table?: string;
  /** Default `{ processingTime: 0 }` (as fast as silver commits come); `{ availableNow: true }` catches up and ends. */
  trigger?: Trigger;
  /** Default `sigma_<gold table>`. */
  queryName?: string;
  /** Default `<lakehouse>/_checkpoints/gold/<gold table>/<queryName>`. */
  checkpointLocation?: string;
  /** Silver commits per table per batch at most (whole commits). Default unlimited. */
  maxVersionsPerTrigger?: number;
  /** How long to wait when no silver commit is new. Default 250 ms. */
  pollIntervalMs?: number;
  /** Called after each micro-batch; `progress.sink` is a {@link SigmaBatchInfo}. */
  onProgress?: (progress: StreamProgress) => void;
}

/** What the alert sink reports per batch. */
export interface SigmaBatchInfo {
  [key: string]: unknown;
  /** Silver rows evaluated, per table. */
  rows: Record<string, number>;
  /** Alerts appended by this batch. */
  alerts: number;
  /** The gold table's version written; null when the batch had no alerts (or was already written). */
  version: number | null;
  /** Alerts per rule id. */
  perRule: Record<string, number>;
  /** When the alert commit finished (epoch ms), and event `_event_time` → that commit, over the batch's alerts. */
  committedAt: number | null;
  latencyMs: { min: number; median: number; max: number } | null;
}

/** A running detection stream: the query, and the rules it could not take. */
export interface SigmaStream {
  query: StreamingQuery;
  /** Rules whose logsource maps to no table (with the reason): they are not run. */
  refused: { rule: SigmaRule; reason: string }[];
  /** The silver tables followed. */
  tables: string[];
}

/**
 * Starts Sigma rules as a streaming query over the silver tables (see the module comment).
 * A table that does not exist yet is followed from its first commit. Rules are compiled against
 * each batch's columns (cached per schema), so a silver schema merge is picked up. The rules are
 * fixed for the query: a rule added later sees only events committed after it joins (start a new
 * `queryName` to run it over history, or use {@link writeAlerts}).
 *
 * @example
 * const { query } = await streamSigmaRules(`${SHARED_DATA}/sigma/rules/windows`, { catalog });
 * await query.processAllAvailable(); console.log(query.lastProgress?.sink);
 * await query.stop();
 */
export async function streamSigmaRules(input: SigmaRuleInput, opts: SigmaStreamOptions = {}): Promise<SigmaStream> {
  const catalog = opts.catalog ?? new Catalog();
  const session = opts.session ?? (await getSession());
  const fieldMap = opts.fieldMap ?? sigmaFieldMap();
  const gold = catalog.resolveForWrite(opts.table ?? SIGMA_ALERTS_TABLE, 'gold');
  const queryName = opts.queryName ?? `sigma_${gold.name}`;
  const checkpointLocation = opts.checkpointLocation ?? path.join(catalog.root, '_checkpoints', 'gold', gold.name, queryName);

  const byTable = new Map<string, SigmaRule[]>();
  const refused: SigmaStream['refused'] = [];
  for (const rule of resolveRules(input)) {
    try {
      const table = ruleTarget(rule, fieldMap).table;
      if (table === CHANNEL_VIEW) {
        // The channel view is flattened bronze: not yet a streaming source here (runSigmaRules reads it in batch).
        refused.push({ rule, reason: `${ruleLabel(rule)}: its logsource reads the channel view (flattened bronze), which streaming detection does not follow yet; run it with runSigmaRules` });
        continue;
      }
      byTable.set(table, [...(byTable.get(table) ?? []), rule]);
    } catch (err) {
      refused.push({ rule, reason: (err as Error).message });
    }
  }
  if (byTable.size === 0) throw new Error(`streamSigmaRules: no rule maps to a silver table${refused[0] ? ` (first refusal: ${refused[0].reason})` : ''}`);
  const tables = [...byTable.keys()].sort();
  const source = new SilverTablesSource(
    new Map(tables.map((t) => [t, new DeltaStreamSource(catalog.find(t)?.path ?? catalog.pathFor(t, 'silver'), { materialize: true, ...(opts.maxVersionsPerTrigger ? { maxVersionsPerTrigger: opts.maxVersionsPerTrigger } : {}) })])),
  );
  const compiled = new RuleCache(fieldMap);

  const query = StreamingQuery.start(
    new StreamFrame(session, source),
    async (_frame, batchId, queryId): Promise<SigmaBatchInfo> => {
      const parts = source.current;
      const info: SigmaBatchInfo = { rows: {}, alerts: 0, version: null, perRule: {}, committedAt: null, latencyMs: null };
      const selects: string[] = [];
      const detectedAt = new Date();
      for (const [table, data] of parts) {
        info.rows[table] = data.numRows;
        if (data.numRows === 0) continue;
        const from = `(${await data.frame.toSql()}) AS t`;
        const schema = await data.frame.schema();
        // Counted first, many rules per scan: only the rules that match get an alert query.
        for (const c of await matchingRules(session, from, compiled.forTable(table, byTable.get(table)!, schema))) {
          selects.push(alertSelect(c, from, schema.map((f) => f.name), detectedAt, undefined));
        }
      }
      if (selects.length === 0) return info;
      const temp = `winlake_sigma_stream_${process.pid}_${batchId}_${++tempCounter}`;
      await session.run(
        `CREATE TEMP TABLE ${quoteIdent(temp)} AS SELECT * FROM (${selects.join('\nUNION ALL\n')}) QUALIFY row_number() OVER (PARTITION BY alert_id ORDER BY alert_id) = 1`,
      );
      try {
        const counts = await session.rows<{ rule_id: string; n: bigint | number }>(`SELECT rule_id, count(*) AS n FROM ${quoteIdent(temp)} GROUP BY rule_id`);
        info.alerts = counts.reduce((s, c) => s + Number(c.n), 0);
        info.perRule = Object.fromEntries(counts.map((c) => [c.rule_id, Number(c.n)]));
        if (info.alerts === 0) return info;
        const write = await writeTableBatch(Frame.fromSql(session, `SELECT * FROM ${quoteIdent(temp)}`), gold.name, 'gold', ['_event_date'], {
          catalog,
          session,
          txn: { appId: queryId, version: batchId },
        });
        info.committedAt = Date.now();
        info.version = write.result.skipped ? null : write.result.version;
        const lat = await session.rows<{ lo: number | null; mid: number | null; hi: number | null }>(
          `SELECT min(d) AS lo, median(d) AS mid, max(d) AS hi FROM (SELECT ${info.committedAt}::DOUBLE - epoch_ms(_event_time)::DOUBLE AS d FROM ${quoteIdent(temp)} WHERE _event_time IS NOT NULL)`,
        );
        const l = lat[0];
        if (l && l.lo !== null && l.mid !== null && l.hi !== null) info.latencyMs = { min: Number(l.lo), median: Number(l.mid), max: Number(l.hi) };
        return info;
      } finally {
        await session.run(`DROP TABLE IF EXISTS ${quoteIdent(temp)}`);
      }
    },
    {
      checkpointLocation,
      queryName,
      trigger: opts.trigger ?? { processingTime: 0 },
      ...(opts.pollIntervalMs !== undefined ? { pollIntervalMs: opts.pollIntervalMs } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    },
  );
  return { query, refused, tables };
}

let tempCounter = 0;

/** Rules counted per query (one scan of the batch each). */
const RULES_PER_SCAN = 100;

/** The rules with at least one match in `from`, counted {@link RULES_PER_SCAN} at a time. */
async function matchingRules(session: Session, from: string, rules: readonly CompiledRule[]): Promise<CompiledRule[]> {
  const out: CompiledRule[] = [];
  for (let i = 0; i < rules.length; i += RULES_PER_SCAN) {
    const chunk = rules.slice(i, i + RULES_PER_SCAN);
    const any = async (cs: readonly CompiledRule[]): Promise<boolean[]> => {
      const row = (await session.rows<Record<string, unknown>>(`SELECT ${cs.map((c, j) => `bool_or(${c.sql}) AS ${quoteIdent(`r${j}`)}`).join(', ')} FROM ${from}`))[0] ?? {};
      return cs.map((_, j) => row[`r${j}`] === true);
    };
    let hits: boolean[];
    try {
      hits = await any(chunk);
    } catch {
      // One rule's SQL fails at run time: find it, leave it out (said once), keep the others.
      hits = [];
      for (const c of chunk) {
        try {
          hits.push((await any([c]))[0]!);
        } catch (err) {
          hits.push(false);
          process.emitWarning(`streamSigmaRules: ${ruleLabel(c.rule)}: the compiled SQL failed: ${(err as Error).message.split('\n')[0]}`);
        }
      }
    }
    chunk.forEach((c, j) => {
      if (hits[j]) out.push(c);
    });
  }
  return out;
}

/**
 * Several Delta tables read as one stream: offsets `{ <table>: <next version> }`, a batch takes
 * every table's next commits at once. The query's frame is empty; the sink reads each table's
 * rows from {@link current}, set by {@link readBatch} for the batch in flight (the query reads,
 * transforms and writes one batch at a time).
 */
class SilverTablesSource implements StreamSource {
  readonly description: string;
  /** The batch in flight: each table's rows (tables without new commits are absent). */
  current = new Map<string, BatchData>();

  constructor(private readonly sources: Map<string, DeltaStreamSource>) {
    this.description = `silver ${[...sources.keys()].join(', ')}`;
  }

  async initialOffsets(): Promise<Offsets> {
    return this.each(async (s) => (await s.initialOffsets()).version!);
  }

  async latestOffsets(): Promise<Offsets> {
    return this.each(async (s) => (await s.latestOffsets()).version!);
  }

  planBatch(start: Offsets, latest: Offsets): Offsets {
    const end: Offsets = {};
    for (const [t, s] of this.sources) {
      const from = start[t] ?? 0;
      const to = latest[t] ?? from;
      end[t] = to > from ? s.planBatch({ version: from }, { version: to }).version! : from;
    }
    return end;
  }

  async readBatch(session: Session, start: Offsets, end: Offsets): Promise<BatchData> {
    const parts = new Map<string, BatchData>();
    try {
      for (const [t, s] of this.sources) {
        const from = start[t] ?? 0;
        const to = end[t] ?? from;
        if (to > from) parts.set(t, await s.readBatch(session, { version: from }, { version: to }));
      }
    } catch (err) {
      for (const p of parts.values()) await p.release();
      throw err;
    }
    this.current = parts;
    const numRows = [...parts.values()].reduce((n, p) => n + p.numRows, 0);
    return {
      frame: Frame.fromSql(session, 'SELECT 1 AS none WHERE FALSE'),
      numRows,
      release: async () => {
        for (const p of parts.values()) await p.release();
        if (this.current === parts) this.current = new Map();
      },
    };
  }

  lag(position: Offsets, latest: Offsets): Record<string, number> {
    return offsetLag(position, latest);
  }

  async close(): Promise<void> {
    for (const s of this.sources.values()) await s.close();
  }

  private async each(fn: (s: DeltaStreamSource) => Promise<number>): Promise<Offsets> {
    const out: Offsets = {};
    for (const [t, s] of this.sources) out[t] = await fn(s);
    return out;
  }
}

/** Compiled rules per table and column set: compiling the whole pack per batch would cost more than most batches. */
class RuleCache {
  private readonly cache = new Map<string, CompiledRule[]>();
  private readonly warned = new Set<string>();

  constructor(private readonly fieldMap: SigmaFieldMap) {}

  forTable(table: string, rules: readonly SigmaRule[], schema: readonly { name: string; type: string }[]): CompiledRule[] {
    const key = `${table}\0${schema.map((f) => `${f.name}:${f.type}`).join(',')}`;
    let hit = this.cache.get(key);
    if (!hit) {
      const columns = Object.fromEntries(schema.map((f) => [f.name, f.type]));
      hit = [];
      for (const rule of rules) {
        try {
          hit.push(compileRule(rule, this.fieldMap, { columns }));
        } catch (err) {
          // A rule that does not compile against this table is left out, said once per rule.
          if (!this.warned.has(rule.id)) process.emitWarning(`streamSigmaRules: ${ruleLabel(rule)} left out: ${(err as Error).message}`);
          this.warned.add(rule.id);
        }
      }
      this.cache.set(key, hit);
    }
    return hit;
  }
}
