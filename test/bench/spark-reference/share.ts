/**
 * The reference benchmark's checks that winlake and Spark share tables both ways, on the last
 * round's lakehouses: each engine describes (count, columns, an ordered sample as text) every table
 * of both, winlake appends to a copy of Spark's silver Process and Spark to a copy of winlake's,
 * the two silver Process tables are compared row for row (EXCEPT ALL both ways, in Spark), and
 * every shipped pack exported to Spark SQL runs on Spark over winlake's bronze against winlake's
 * silver table.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildSilver } from '../../../kernel-lib/src/cim/build-silver.js';
import { listPacks, loadPacks } from '../../../kernel-lib/src/cim/pack.js';
import { SPARK_FLAT_BRONZE, sparkPackSql } from '../../../kernel-lib/src/cim/spark-export.js';
import { quoteIdent } from '../../../kernel-lib/src/engine/quote.js';
import { Session } from '../../../kernel-lib/src/engine/session.js';
import { Catalog } from '../../../kernel-lib/src/lakehouse/catalog.js';
import { readDelta } from '../../../kernel-lib/src/delta/index.js';
import { writeTableBatch } from '../../../kernel-lib/src/lakehouse/tables.js';

const BRONZE = 'winlogbeat_kafka_bronze';
const APPENDED_ROWS = 10;

interface Described {
  count: number;
  schema: [string, string][];
  sample: (string | null)[][];
}

/** What to describe: the table's folder, and the columns its sample is ordered by and made of. */
interface DescribeSpec {
  path: string;
  orderBy: string[];
  sample: string[];
}

export interface ShareOptions {
  winlakeLake: string;
  sparkLake: string;
  work: string;
  sparkPython: string;
  script: string;
  jars: string;
  cores: number;
  /** Rows of Spark's silver Process. */
  silverRows: number;
}

/** The sample columns of a table: columns a reader can order by and print the same way (text). */
const BRONZE_SAMPLE = ['_sourcetype', 'dvc_hostname', 'message'];
const SILVER_SAMPLE = ['event_id', 'dvc_hostname', '_sourcetype', 'event_message'];

async function describeInWinlake(session: Session, spec: DescribeSpec): Promise<Described> {
  const frame = await readDelta(session, spec.path);
  const sql = await frame.toSql();
  const order = spec.orderBy.map((c) => `CAST(${quoteIdent(c)} AS VARCHAR) ASC NULLS FIRST`).join(', ');
  const sample = await session.rows<Record<string, string | null>>(
    `SELECT ${spec.sample.map((c) => `CAST(${quoteIdent(c)} AS VARCHAR) AS ${quoteIdent(c)}`).join(', ')} FROM (${sql}) ORDER BY ${order} LIMIT 5`,
  );
  return {
    count: await frame.count(),
    schema: (await frame.schema()).map((f) => [f.name, f.type]),
    sample: sample.map((r) => spec.sample.map((c) => r[c] ?? null)),
  };
}

function runSparkCheck(opts: ShareOptions, specFile: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(opts.sparkPython, [opts.script, 'check', '--jars', opts.jars, '--cores', String(opts.cores), '--spec', specFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-20_000)));
    child.once('error', reject);
    child.once('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('{"event": "check"'));
      if (code !== 0 || !line) return reject(new Error(`the Spark check exited with code ${code}:\n${err}`));
      resolve(JSON.parse(line) as Record<string, unknown>);
    });
  });
}

/** Same count, same column names, same sample: what one engine reads of a table is what the other reads. */
function agree(a: Described, b: Described): { count: boolean; columns: boolean; sample: boolean } {
  const names = (d: Described): string => JSON.stringify(d.schema.map(([n]) => n).sort());
  return { count: a.count === b.count, columns: names(a) === names(b), sample: JSON.stringify(a.sample) === JSON.stringify(b.sample) };
}

/**
 * Runs the checks; returns the details and a summary (counts of disagreements, which should all be 0).
 * @example const shared = await shareChecks({ winlakeLake, sparkLake, work, sparkPython, script, jars, cores: 2, silverRows });
 */
export async function shareChecks(opts: ShareOptions): Promise<{ summary: Record<string, unknown>; details: Record<string, unknown> }> {
  const winlake = new Catalog(opts.winlakeLake);
  const spark = new Catalog(opts.sparkLake);
  const session = await Session.create({ workDir: path.join(opts.work, 'share-duckdb'), threads: 2, allowedDirectories: [opts.work] });
  try {
    // Every other shipped pack's silver table too (Process was built and timed by the round).
    const others = loadPacks(listPacks().filter((p) => p !== 'Process'));
    await buildSilver(BRONZE, { catalog: winlake, session, packs: others, queryName: 'reference_other_packs' });
    const packs = loadPacks();

    const tables: Record<string, DescribeSpec> = {
      winlake_bronze: { path: winlake.locate(BRONZE).path, orderBy: BRONZE_SAMPLE, sample: BRONZE_SAMPLE },
      spark_bronze: { path: spark.locate(BRONZE).path, orderBy: BRONZE_SAMPLE, sample: BRONZE_SAMPLE },
      spark_silver_Process: { path: spark.locate('Process').path, orderBy: SILVER_SAMPLE, sample: SILVER_SAMPLE },
    };
    for (const p of packs) {
      const cols = [...SILVER_SAMPLE, ...p.zorder.filter((c) => !SILVER_SAMPLE.includes(c))];
      tables[`winlake_silver_${p.table}`] = { path: winlake.locate(p.table).path, orderBy: cols, sample: cols };
    }

    // winlake appends to a copy of Spark's silver Process; Spark then reads it.
    const sparkCopy = spark.pathFor('process_winlake_appended', 'silver');
    cpSync(spark.locate('Process').path, sparkCopy, { recursive: true });
    const before = await (await readDelta(session, sparkCopy)).count();
    await writeTableBatch((await readDelta(session, sparkCopy)).limit(APPENDED_ROWS), 'process_winlake_appended', 'silver', ['_event_date'], { catalog: spark, session });
    const winlakeAppend = { before, appended: APPENDED_ROWS, after: await (await readDelta(session, sparkCopy)).count() };
    tables.spark_silver_Process_winlake_appended = { path: sparkCopy, orderBy: SILVER_SAMPLE, sample: SILVER_SAMPLE };

    // A copy of winlake's silver Process for Spark to append to.
    const winlakeCopy = winlake.pathFor('process_spark_appended', 'silver');
    cpSync(winlake.locate('Process').path, winlakeCopy, { recursive: true });

    const sqlDir = path.join(opts.work, 'spark-sql');
    mkdirSync(sqlDir, { recursive: true });
    const exported = packs.map((p) => {
      const { sql, columns } = sparkPackSql(p, SPARK_FLAT_BRONZE);
      const file = path.join(sqlDir, `${p.table}.sql`);
      writeFileSync(file, sql);
      return { table: p.table, sql: file, columns, silver: winlake.locate(p.table).path };
    });
    const spec = {
      describe: tables,
      compare: { winlake: winlake.locate('Process').path, spark: spark.locate('Process').path },
      packs: { bronze: winlake.locate(BRONZE).path, view: SPARK_FLAT_BRONZE, list: exported },
      append: { path: winlakeCopy, rows: APPENDED_ROWS },
    };
    const specFile = path.join(opts.work, 'share-spec.json');
    writeFileSync(specFile, JSON.stringify(spec, null, 2));
    const sparkSide = await runSparkCheck(opts, specFile);

    // winlake reads what Spark appended to its table, and describes every table as Spark did.
    const sparkAppend = { ...(sparkSide.append as { before: number; appended: number; after: number }), winlakeReadsAfter: await (await readDelta(session, winlakeCopy)).count() };
    const readBySpark = sparkSide.describe as Record<string, Described>;
    const readByWinlake: Record<string, Described> = {};
    const agreement: Record<string, ReturnType<typeof agree>> = {};
    for (const [name, t] of Object.entries(tables)) {
      const described = await describeInWinlake(session, t);
      readByWinlake[name] = described;
      agreement[name] = agree(described, readBySpark[name]!);
    }
    const compare = sparkSide.compare as Record<string, number | string[]>;
    const packResults = sparkSide.packs as Record<string, { exportRows: number; silverRows: number; sameColumns: boolean; exportExceptAllSilver: number | null; silverExceptAllExport: number | null }>;
    const summary = {
      tablesReadByBoth: Object.keys(tables).length,
      tablesWhereEnginesDisagree: Object.entries(agreement).filter(([, a]) => !a.count || !a.columns || !a.sample).map(([n]) => n),
      processRows: { winlake: compare.winlakeRows, spark: compare.sparkRows },
      processRowsOnlyInWinlake: compare.winlakeExceptAllSpark,
      processRowsOnlyInSpark: compare.sparkExceptAllWinlake,
      processColumnsOnlyInOne: [...(compare.onlyWinlakeColumns as string[]), ...(compare.onlySparkColumns as string[])],
      winlakeAppendedToSparkTable: winlakeAppend.after - winlakeAppend.before === APPENDED_ROWS && readBySpark.spark_silver_Process_winlake_appended?.count === winlakeAppend.after,
      sparkAppendedToWinlakeTable: sparkAppend.after - sparkAppend.before === APPENDED_ROWS && sparkAppend.winlakeReadsAfter === sparkAppend.after,
      packsExported: packs.length,
      packsDifferingOnSpark: Object.entries(packResults)
        .filter(([, r]) => !r.sameColumns || r.exportExceptAllSilver !== 0 || r.silverExceptAllExport !== 0)
        .map(([n]) => n),
      packRows: Object.fromEntries(Object.entries(packResults).map(([n, r]) => [n, r.silverRows])),
    };
    return { summary, details: { agreement, readByWinlake, readBySpark, compare, packs: packResults, winlakeAppend, sparkAppend } };
  } finally {
    session.close();
  }
}
