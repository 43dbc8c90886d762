import type * as arrow from 'apache-arrow';
import { inspect } from 'node:util';
import { quoteIdent } from '../engine/quote.js';
import type { Session } from '../engine/session.js';
import { checkedExpression } from '../engine/sql-guard.js';
import { arrowTableFrom } from './arrow.js';
import { Expr, renderExpr, sqlTexts, type ExprNode } from './expr.js';
import { fieldFromDuckDBType, schemaTree, type SchemaField } from './schema.js';

/** What a scan reports about the files it reads and skips (see {@link Frame.explain}). */
export interface ScanReport {
  /** What is scanned, e.g. the table path and version. */
  source: string;
  filesTotal: number;
  bytesTotal: number;
  /** One entry per skipping stage, in the order applied (partitions, stats, bloom, ...). */
  stages: { stage: string; filesSkipped: number; bytesSkipped: number }[];
  filesScanned: number;
  bytesScanned: number;
  /** The predicates the scan could use for skipping, as SQL. */
  predicates: string[];
}

/**
 * A source of rows that can skip data by predicates before DuckDB reads it — a Delta table scan.
 * Frames push `filter(expr)` calls made directly on a scan into it.
 */
export interface ScanSource {
  readonly label: string;
  /** SQL that yields the source's rows, reading only what the predicates cannot exclude. */
  toSql(predicates: readonly ExprNode[]): Promise<string>;
  explain(predicates: readonly ExprNode[]): Promise<ScanReport>;
}

type Plan =
  | { kind: 'sql'; sql: string }
  | { kind: 'scan'; source: ScanSource; predicates: ExprNode[] }
  | { kind: 'op'; input: Plan; render: (from: string) => string | Promise<string> };

/** What {@link Frame}, its schema and scan reports look like to a person. */
export type Presentable = Frame | SchemaField[] | ScanReport;

/**
 * How people see Frames, schemas and scan reports: display/ (a folder above this one) plugs in
 * HTML tables for notebooks and text tables for terminals; without it, plain text.
 */
export interface FramePresenter {
  /** What `util.inspect` shows (`console.log(df)`, a notebook cell's last expression); `topLevel` false inside another value. */
  inspect(value: Presentable, topLevel: boolean): string;
  /** Shows the first `n` rows of a Frame. */
  show(frame: Frame, n: number): Promise<void>;
}

let presenter: FramePresenter | undefined;

/**
 * Sets how Frames, schemas and scan reports are shown (display/ does this when it loads).
 * @example setFramePresenter({ inspect: () => 'a frame', show: async () => {} });
 */
export function setFramePresenter(p: FramePresenter | undefined): void {
  presenter = p;
}

/** Gives a plain schema or scan report an invisible `util.inspect` hook, so it too shows itself. */
function presentable<T extends SchemaField[] | ScanReport>(value: T, fallback: (v: T) => string): T {
  Object.defineProperty(value, inspect.custom, {
    value: (depth: number, options: { depth?: number | null }) =>
      presenter ? presenter.inspect(value, depth === options.depth) : fallback(value),
    enumerable: false,
  });
  return value;
}

let tempCounter = 0;

/** A column to order by: a name (ascending) or a name with a direction. */
export type OrderKey = string | { column: string; descending?: boolean; nullsFirst?: boolean };

/**
 * The notebook's DataFrame: a lazy relation over DuckDB SQL. Verbs build SQL; nothing runs until
 * a result is asked for (`count`, `toRows`, `toArrow`, `show`, or a write).
 *
 * @example
 * const procs = df
 *   .filter(col('winlog:event_id').eq('1'))
 *   .select('dvc_hostname', 'winlog:event_data:Image')
 *   .orderBy({ column: 'dvc_hostname' })
 *   .limit(10);
 * await procs.show();
 */
export class Frame {
  private constructor(
    readonly session: Session,
    private readonly plan: Plan,
  ) {}

  /**
   * A Frame over any DuckDB query.
   * @example Frame.fromSql(session, "select * from read_parquet('x.parquet')")
   */
  static fromSql(session: Session, sql: string): Frame {
    return new Frame(session, { kind: 'sql', sql });
  }

  /** A Frame over a scan that can skip data by the filters applied to it. */
  static fromScan(session: Session, source: ScanSource): Frame {
    return new Frame(session, { kind: 'scan', source, predicates: [] });
  }

  /** A one-line description of the rows, e.g. `Frame over delta table process (2 filters)`. */
  describe(): string {
    const scan = findScan(this.plan);
    const source = scan ? scan.source.label : 'a SQL query';
    const steps = countSteps(this.plan) + (scan ? scan.predicates.length : 0);
    return `Frame over ${source}${steps ? ` (${steps} step${steps === 1 ? '' : 's'})` : ''}`;
  }

  [inspect.custom](depth: number, options: { depth?: number | null }): string {
    return presenter ? presenter.inspect(this, depth === options.depth) : `${this.describe()}: await df.show() to see rows`;
  }

  /** The SQL that produces this Frame's rows. */
  async toSql(): Promise<string> {
    return renderPlan(this.plan, this.session);
  }

  /**
   * Keeps the rows where the predicate holds. Built expressions on a table scan also skip files.
   * @example df.filter(col('event_id').isin(['1', '5'])); df.filter("event_id = '1'")
   */
  filter(predicate: string | Expr): Frame {
    const node: ExprNode = typeof predicate === 'string' ? { kind: 'sql', sql: predicate } : predicate.node;
    if (this.plan.kind === 'scan') {
      return new Frame(this.session, { ...this.plan, predicates: [...this.plan.predicates, node] });
    }
    return this.wrapAsync(async (from) => {
      await checkNodes(this.session, [node], 'filter');
      return `SELECT * FROM ${from} WHERE ${renderExpr(node)}`;
    });
  }

  /** Alias of {@link Frame.filter}. */
  where(predicate: string | Expr): Frame {
    return this.filter(predicate);
  }

  /**
   * Keeps the named columns (exact names) or expressions (named with `.as()`).
   * @example df.select('user_name', col('process_name').as('proc'))
   */
  select(...columns: (string | Expr)[]): Frame {
    if (columns.length === 0) throw new Error('select needs at least one column');
    const list = columns.map((c) => (typeof c === 'string' ? quoteIdent(c) : c.toSql())).join(', ');
    const nodes = columns.flatMap((c) => (typeof c === 'string' ? [] : [c.node]));
    return this.wrapAsync(async (from) => {
      await checkNodes(this.session, nodes, 'select');
      return `SELECT ${list} FROM ${from}`;
    });
  }

  /**
   * Selects SQL expressions as written.
   * @example df.selectExpr('count(*) AS n', 'max("@timestamp") AS last_seen')
   */
  selectExpr(...expressions: string[]): Frame {
    if (expressions.length === 0) throw new Error('selectExpr needs at least one expression');
    return this.wrapAsync(async (from) => {
      const list = await Promise.all(expressions.map((e, i) => checkedExpression(this.session, e, `selectExpr #${i}`, 'select-item')));
      return `SELECT ${list.join(', ')} FROM ${from}`;
    });
  }

  /**
   * Adds a column, or replaces the one of that name in place. A string is SQL.
   * @example df.withColumn('is_system', col('user_name').eq('NT AUTHORITY\\SYSTEM'))
   */
  withColumn(name: string, value: Expr | string): Frame {
    return this.wrapAsync(async (from, input) => {
      const what = `withColumn ${JSON.stringify(name)}`;
      let sql: string;
      if (typeof value === 'string') {
        sql = await checkedExpression(this.session, value, what);
      } else {
        await checkNodes(this.session, [value.node], what);
        sql = value.toSql();
      }
      const existing = await input.columns();
      if (existing.includes(name)) {
        return `SELECT * REPLACE (${sql} AS ${quoteIdent(name)}) FROM ${from}`;
      }
      return `SELECT *, ${sql} AS ${quoteIdent(name)} FROM ${from}`;
    });
  }

  /** Renames one column, keeping its position. */
  withColumnRenamed(existing: string, renamed: string): Frame {
    return this.wrapAsync(async (from, input) => {
      const cols = await input.columns();
      if (!cols.includes(existing)) throw new Error(`no column ${JSON.stringify(existing)}; columns are: ${cols.join(', ')}`);
      const list = cols.map((c) => (c === existing ? `${quoteIdent(c)} AS ${quoteIdent(renamed)}` : quoteIdent(c)));
      return `SELECT ${list.join(', ')} FROM ${from}`;
    });
  }

  /** Removes columns; names that are absent are ignored, as in Spark. */
  drop(...columns: string[]): Frame {
    return this.wrapAsync(async (from, input) => {
      const present = new Set(await input.columns());
      const gone = columns.filter((c) => present.has(c));
      if (gone.length === 0) return `SELECT * FROM ${from}`;
      if (gone.length === present.size) throw new Error('drop would remove every column');
      return `SELECT * EXCLUDE (${gone.map(quoteIdent).join(', ')}) FROM ${from}`;
    });
  }

  /**
   * Sorts rows.
   * @example df.orderBy('dvc_hostname', { column: '_event_time', descending: true })
   */
  orderBy(...keys: OrderKey[]): Frame {
    if (keys.length === 0) return this;
    const list = keys
      .map((k) => {
        const key = typeof k === 'string' ? { column: k } : k;
        const nulls = key.nullsFirst === undefined ? '' : key.nullsFirst ? ' NULLS FIRST' : ' NULLS LAST';
        return `${quoteIdent(key.column)} ${key.descending ? 'DESC' : 'ASC'}${nulls}`;
      })
      .join(', ');
    return this.wrap((from) => `SELECT * FROM ${from} ORDER BY ${list}`);
  }

  /** Keeps at most `n` rows. */
  limit(n: number): Frame {
    if (!Number.isInteger(n) || n < 0) throw new Error(`limit must be a non-negative integer, got ${n}`);
    return this.wrap((from) => `SELECT * FROM ${from} LIMIT ${n}`);
  }

  /** Removes duplicate rows (optionally by a subset of columns, keeping any one row). */
  distinct(...columns: string[]): Frame {
    if (columns.length === 0) return this.wrap((from) => `SELECT DISTINCT * FROM ${from}`);
    const on = columns.map(quoteIdent).join(', ');
    return this.wrap((from) => `SELECT DISTINCT ON (${on}) * FROM ${from}`);
  }

  /** Rows of both frames, matched by column name; columns missing on one side are NULL. */
  unionByName(other: Frame): Frame {
    return this.wrapAsync(async (from) => `SELECT * FROM ${from} UNION ALL BY NAME SELECT * FROM (${await other.toSql()})`);
  }

  /**
   * Groups and aggregates with SQL aggregate expressions.
   * @example df.groupBy('process_name').agg('count(*) AS n')
   */
  groupBy(...columns: string[]): { agg: (...aggregates: string[]) => Frame; count: () => Frame } {
    const keys = columns.map(quoteIdent).join(', ');
    const agg = (...aggregates: string[]): Frame =>
      this.wrapAsync(async (from) => {
        const list = await Promise.all(aggregates.map((a, i) => checkedExpression(this.session, a, `agg #${i}`, 'select-item')));
        return `SELECT ${[keys, ...list].filter(Boolean).join(', ')} FROM ${from}${keys ? ` GROUP BY ${keys}` : ''}`;
      });
    return { agg, count: () => agg('count(*) AS "count"') };
  }

  /** The number of rows. */
  async count(): Promise<number> {
    const n = await this.session.scalar<bigint | number>(`SELECT count(*) FROM (${await this.toSql()})`);
    return Number(n);
  }

  /** Column names, in order. */
  async columns(): Promise<string[]> {
    const result = await this.session.run(`SELECT * FROM (${await this.toSql()}) LIMIT 0`);
    return result.columnNames();
  }

  /** The schema with nested types. */
  async schema(): Promise<SchemaField[]> {
    const result = await this.session.run(`SELECT * FROM (${await this.toSql()}) LIMIT 0`);
    const types = result.columnTypes();
    return presentable(
      result.columnNames().map((n, i) => fieldFromDuckDBType(n, types[i]!)),
      schemaTree,
    );
  }

  /** The schema as a text tree (Spark's printSchema). */
  async printSchema(): Promise<void> {
    console.log(schemaTree(await this.schema()));
  }

  /** All rows as JavaScript objects (BIGINT as bigint, timestamps as Date). */
  async toRows<T = Record<string, unknown>>(): Promise<T[]> {
    return this.session.rows<T>(await this.toSql());
  }

  /** All rows as an apache-arrow Table. */
  async toArrow(): Promise<arrow.Table> {
    const result = await this.session.run(await this.toSql());
    return arrowTableFrom(result.columnNames(), result.columnTypes(), result.getColumnsJS());
  }

  /**
   * All rows as a danfojs DataFrame. Loads the pure-JS `danfojs` package on first use.
   * @example const ddf = await df.limit(1000).toDanfo(); ddf.describe().print();
   */
  async toDanfo(): Promise<unknown> {
    let danfo: { DataFrame: new (data: unknown, opts?: unknown) => unknown };
    try {
      danfo = (await import('danfojs')) as unknown as typeof danfo;
    } catch (err) {
      throw new Error(
        `toDanfo needs the optional package 'danfojs' (pure JS): npm install danfojs. Loading it failed: ${(err as Error).message}`,
      );
    }
    const rows = await this.session.rows(await this.toSql());
    // danfo keeps scalars only: nested values become JSON text, bigints numbers.
    const plain = rows.map((r) =>
      Object.fromEntries(
        Object.entries(r).map(([k, v]) => [
          k,
          typeof v === 'bigint' ? Number(v) : v !== null && typeof v === 'object' && !(v instanceof Date) ? JSON.stringify(v, bigintSafe) : v,
        ]),
      ),
    );
    return new danfo.DataFrame(plain);
  }

  /** Materialises the rows into a temporary DuckDB table; later verbs read that, not the source. */
  async cache(): Promise<Frame> {
    const name = `winlake_cache_${++tempCounter}`;
    await this.session.run(`CREATE TEMP TABLE ${quoteIdent(name)} AS ${await this.toSql()}`);
    return Frame.fromSql(this.session, `SELECT * FROM ${quoteIdent(name)}`);
  }

  /** Registers the Frame as a view, so plain SQL can use it. */
  async createOrReplaceTempView(name: string): Promise<void> {
    await this.session.run(`CREATE OR REPLACE TEMP VIEW ${quoteIdent(name)} AS ${await this.toSql()}`);
  }

  /** Shows the first `n` rows: an HTML table in a notebook, a text table in a terminal. */
  async show(n = 20): Promise<void> {
    if (presenter) return presenter.show(this, n);
    const rows = await this.limit(n + 1).toRows();
    console.log(textTable(rows.slice(0, n), rows.length > n));
  }

  /** For a table scan: the files it reads and skips, stage by stage. Otherwise, DuckDB's plan. */
  async explain(): Promise<ScanReport | string> {
    const scan = findScan(this.plan);
    if (scan) return presentable(await scan.source.explain(scan.predicates), (r) => JSON.stringify(r, null, 2));
    const rows = await this.session.rows<{ explain_value: string }>(`EXPLAIN ${await this.toSql()}`);
    return rows.map((r) => r.explain_value).join('\n');
  }

  private wrap(render: (from: string) => string): Frame {
    return new Frame(this.session, { kind: 'op', input: this.plan, render: (sql) => render(`(${sql}) AS t`) });
  }

  private wrapAsync(render: (from: string, input: Frame) => Promise<string>): Frame {
    return new Frame(this.session, { kind: 'op', input: this.plan, render: (sql) => render(`(${sql}) AS t`, this) });
  }
}

/**
 * Checks the raw SQL inside expression trees as user SQL (one expression each), naming `what`.
 * @example await checkNodes(session, [sqlExpr('a > 1').node], 'filter')
 */
async function checkNodes(session: Session, nodes: readonly ExprNode[], what: string): Promise<void> {
  for (const text of nodes.flatMap(sqlTexts)) await checkedExpression(session, text, what);
}

async function renderPlan(plan: Plan, session: Session): Promise<string> {
  switch (plan.kind) {
    case 'sql':
      return plan.sql;
    case 'scan': {
      await checkNodes(session, plan.predicates, 'filter');
      const base = await plan.source.toSql(plan.predicates);
      if (plan.predicates.length === 0) return base;
      return `SELECT * FROM (${base}) AS t WHERE ${plan.predicates.map(renderExpr).join(' AND ')}`;
    }
    case 'op':
      return plan.render(await renderPlan(plan.input, session));
  }
}

function countSteps(plan: Plan): number {
  return plan.kind === 'op' ? 1 + countSteps(plan.input) : 0;
}

function findScan(plan: Plan): Extract<Plan, { kind: 'scan' }> | undefined {
  if (plan.kind === 'scan') return plan;
  if (plan.kind === 'op') return findScan(plan.input);
  return undefined;
}

function bigintSafe(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/**
 * Formats a value for text output: nested values as compact JSON.
 * @example formatCell({ pid: 4n }) // => '{"pid":"4"}'; formatCell(null) // => 'NULL'
 */
export function formatCell(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') return JSON.stringify(value, bigintSafe);
  return String(value);
}

function textTable(rows: Record<string, unknown>[], truncated: boolean): string {
  if (rows.length === 0) return '(no rows)';
  const cols = Object.keys(rows[0]!);
  const cut = (s: string): string => (s.length > 40 ? `${s.slice(0, 39)}…` : s).replaceAll(/[\r\n]+/g, ' ');
  const cells = rows.map((r) => cols.map((c) => cut(formatCell(r[c]))));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (vals: string[]): string => `| ${vals.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`;
  const sep = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const out = [sep, line(cols.map(cut)), sep, ...cells.map(line), sep];
  if (truncated) out.push(`only showing top ${rows.length} rows`);
  return out.join('\n');
}
