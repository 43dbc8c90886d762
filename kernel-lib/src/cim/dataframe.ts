/**
 * cim_dataframe: renames and derives a flattened Frame's columns into a CIM table, from a
 * transform list in the reference notebook's format. The whole list becomes one SQL query.
 */
import { quoteIdent, quoteString } from '../engine/quote.js';
import { SqlError, type Session } from '../engine/session.js';
import { checkedExpression, SqlExpressionError } from '../engine/sql-guard.js';
import { Frame } from '../frame/index.js';
import { parseTransforms, TransformError, type Transform, type TransformStep } from './transform.js';

/**
 * Applies a cim_dataframe transform list (the reference notebook's format, accepted verbatim) to a
 * Frame and returns the CIM Frame: only the named target columns, sorted by name.
 *
 * Order, as in the reference: rename sources missing from the frame are created first, then the
 * literals, the renames, and last the expressions (in list order, so an EXPR may use CIM names,
 * earlier EXPR targets, and raw columns that no rename consumed). One rename source may feed
 * several targets; rename sources are read from the input frame. Column names match without
 * case, as in DuckDB and Spark.
 *
 * Differences from the reference, on purpose: a missing source becomes SQL NULL (VARCHAR), not
 * the string 'null'; `EXPR =`/`LITERAL =` with spaces parse correctly; a `new` without
 * EXPR=/LITERAL=, an unknown verb, a malformed entry, a target named twice, or an EXPR that DuckDB
 * rejects throws a {@link TransformError} naming the entry (with DuckDB's message) instead of being
 * ignored. The query is checked (bound with LIMIT 0) before the Frame is returned.
 *
 * @example
 * const process = await cimDataframe(flat, [
 *   { new: ['event_message', "EXPR=CASE WHEN event_id = '1' THEN 'Process Started' END"] },
 *   { new: ['event_result', 'LITERAL=success'] },
 *   { rename: ['_sourcetype', '_sourcetype'] },
 *   { rename: ['winlog:event_id', 'event_id'] },
 *   { rename: ['winlog:event_data:CommandLine', 'process_command_line'] },
 * ]);
 * await process.show(); // _sourcetype | event_id | event_message | event_result | process_command_line
 */
export async function cimDataframe(df: Frame, transforms: readonly Transform[]): Promise<Frame> {
  const steps = parseTransforms(transforms);
  await checkExpressions(df.session, steps, transforms);
  const { sql, layers } = cimQuery(await df.toSql(), await df.columns(), steps);
  await checkQuery(df, sql, layers, transforms);
  return Frame.fromSql(df.session, sql);
}

/**
 * The SQL of {@link cimDataframe} over `base` (a query with the given columns), not yet checked
 * by DuckDB: for callers that apply many lists to one input and bind each query once, by running
 * it (on failure, {@link cimDataframe} on the same input names the bad entry).
 *
 * @example
 * const { sql } = cimQuery('SELECT * FROM flat', await flat.columns(), parseTransforms(pack.transforms));
 * await session.run(`CREATE TEMP TABLE process AS ${sql}`);
 */
export function cimQuery(base: string, columns: readonly string[], steps: readonly TransformStep[]): { sql: string; layers: Layer[] } {
  const present = new Map(columns.map((c) => [c.toLowerCase(), c]));
  const layers = buildLayers(base, steps, present);
  const targets = steps.map((s) => s.target).sort(byCodePoint);
  return { sql: `SELECT ${targets.map(quoteIdent).join(', ')} FROM (${layers.at(-1)!.sql}) AS cim_result`, layers };
}

/** One stage of the cim_dataframe query. */
export interface Layer {
  sql: string;
  /** The EXPR step this layer adds (undefined for the renames-and-literals layer). */
  step?: Extract<TransformStep, { verb: 'expr' }>;
}

function buildLayers(base: string, steps: readonly TransformStep[], present: ReadonlyMap<string, string>): Layer[] {
  // Raw columns replaced by a rename, or shadowed by a target of the same name, leave the frame.
  const leaving = new Set<string>();
  for (const step of steps) {
    if (step.verb === 'rename') leaving.add(step.source.toLowerCase());
    leaving.add(step.target.toLowerCase());
  }
  const kept = [...present.entries()].filter(([lower]) => !leaving.has(lower));
  const excluded = [...present.entries()].filter(([lower]) => leaving.has(lower)).map(([, name]) => name);

  const firstItems: string[] = [];
  if (kept.length > 0) firstItems.push(excluded.length > 0 ? `* EXCLUDE (${excluded.map(quoteIdent).join(', ')})` : '*');
  for (const step of steps) {
    if (step.verb === 'literal') firstItems.push(`${quoteString(step.text)} AS ${quoteIdent(step.target)}`);
  }
  for (const step of steps) {
    if (step.verb !== 'rename') continue;
    const source = present.get(step.source.toLowerCase());
    const value = source === undefined ? 'CAST(NULL AS VARCHAR)' : quoteIdent(source);
    firstItems.push(`${value} AS ${quoteIdent(step.target)}`);
  }

  const layers: Layer[] = [];
  let sql = firstItems.length > 0 ? `SELECT ${firstItems.join(', ')} FROM (${base}) AS cim_input` : `SELECT * FROM (${base}) AS cim_input`;
  layers.push({ sql });
  for (const step of steps) {
    if (step.verb !== 'expr') continue;
    // A newline before the closing parenthesis keeps a trailing `-- comment` in the EXPR harmless.
    sql = `SELECT *, (${step.sql}\n) AS ${quoteIdent(step.target)} FROM (${sql}) AS cim_stage_${step.index}`;
    layers.push({ sql, step });
  }
  return layers;
}

/**
 * Checks that every EXPR of a transform list is one SQL expression (DuckDB's parser decides), and
 * throws a {@link TransformError} naming the first entry that is not: a list, or a shared mapping
 * pack, is data and must not run statements of its own.
 * @example await checkExpressions(session, parseTransforms(pack.transforms), pack.transforms);
 */
export async function checkExpressions(session: Session, steps: readonly TransformStep[], transforms: readonly unknown[]): Promise<void> {
  for (const step of steps) {
    if (step.verb !== 'expr') continue;
    try {
      await checkedExpression(session, step.sql, `EXPR of ${step.target}`);
    } catch (err) {
      if (err instanceof SqlExpressionError) throw new TransformError(step.index, transforms[step.index], `DuckDB rejected the expression: it is not one SQL expression: ${err.problem}`);
      throw err;
    }
  }
}

/** Binds the query; on failure finds the first EXPR layer DuckDB rejects and names its entry. */
async function checkQuery(df: Frame, sql: string, layers: readonly Layer[], transforms: readonly unknown[]): Promise<void> {
  const bind = async (query: string): Promise<SqlError | undefined> => {
    try {
      await df.session.run(`SELECT * FROM (${query}) AS cim_check LIMIT 0`);
      return undefined;
    } catch (err) {
      if (err instanceof SqlError) return err;
      throw err;
    }
  };
  const failure = await bind(sql);
  if (!failure) return;
  for (const layer of layers) {
    const error = await bind(layer.sql);
    if (!error) continue;
    if (layer.step) {
      throw new TransformError(layer.step.index, transforms[layer.step.index], `DuckDB rejected the expression: ${error.engineMessage}`);
    }
    throw new Error(`cim_dataframe: the input frame or the renames could not be bound: ${error.engineMessage}`, { cause: error });
  }
  throw new Error(`cim_dataframe: the CIM query could not be bound: ${failure.engineMessage}`, { cause: failure });
}

/** Ordinal (not locale) order, as Python's sorted() orders the reference's column names. */
function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
