/**
 * SQL text written by users (Frame filters and expressions, cim_dataframe `EXPR=`, mapping packs)
 * is spliced into winlake's queries. Each such string must be exactly one SQL expression: DuckDB's
 * own parser decides (`json_serialize_sql`), so no statement can ride along, and no subquery may
 * read a file through a table function or a replacement scan (`FROM 'x.csv'`).
 */
import { quoteString } from './quote.js';
import type { Session } from './session.js';

/** Where a string goes: a plain expression, or a select-list entry that may carry `AS name`. */
export type ExpressionKind = 'expression' | 'select-item';

/** A user SQL string that is not one plain expression; `what` names the entry it came from. */
export class SqlExpressionError extends Error {
  constructor(
    readonly what: string,
    readonly sql: string,
    readonly problem: string,
  ) {
    super(`${what}: ${JSON.stringify(sql.length > 300 ? `${sql.slice(0, 299)}…` : sql)} is not one SQL expression: ${problem}`);
    this.name = 'SqlExpressionError';
  }
}

/** Table functions a subquery in an expression may use: they compute rows and read no file. */
const SAFE_TABLE_FUNCTIONS = new Set(['unnest', 'range', 'generate_series', 'generate_subscripts']);

// Parsing is pure, so the verdict for a string holds in every session: one parse per distinct string.
const verdicts = new Map<string, string | undefined>();
const MAX_VERDICTS = 10_000;

/**
 * Checks that `sql` is one SQL expression and returns the form to splice: `(sql\n)` for an
 * expression (the newline keeps a trailing `-- comment` from swallowing what follows), `sql\n` for a
 * select-list entry. Throws a {@link SqlExpressionError} naming `what` otherwise, before anything runs.
 *
 * @example
 * await checkedExpression(session, "lower(process_name) LIKE '%powershell%'", 'filter')
 * // => "(lower(process_name) LIKE '%powershell%'\n)"
 * await checkedExpression(session, "1); COPY (SELECT 1) TO 'x.csv'; SELECT (1", 'filter') // throws
 */
export async function checkedExpression(session: Session, sql: string, what: string, kind: ExpressionKind = 'expression'): Promise<string> {
  const spliced = kind === 'expression' ? `(${sql}\n)` : `${sql}\n`;
  const key = `${kind}\u0000${sql}`;
  let problem: string | undefined;
  if (verdicts.has(key)) {
    problem = verdicts.get(key);
  } else {
    problem = typeof sql !== 'string' || sql.trim() === '' ? 'it is empty' : await parseProblem(session, `SELECT ${spliced}`, kind);
    if (verdicts.size >= MAX_VERDICTS) verdicts.clear();
    verdicts.set(key, problem);
  }
  if (problem !== undefined) throw new SqlExpressionError(what, sql, problem);
  return spliced;
}

interface Serialized {
  error: boolean;
  error_message?: string;
  statements?: { node: Record<string, unknown> }[];
}

async function parseProblem(session: Session, select: string, kind: ExpressionKind): Promise<string | undefined> {
  const json = await session.scalar<string>(`SELECT json_serialize_sql(${quoteString(select)})`);
  const parsed = JSON.parse(json) as Serialized;
  if (parsed.error) return `DuckDB cannot parse it as one (${parsed.error_message ?? 'not a SELECT'})`;
  const statements = parsed.statements ?? [];
  if (statements.length !== 1) return `it holds ${statements.length} statements`;
  const node = statements[0]!.node;
  if (node.type !== 'SELECT_NODE') return `it reads as a ${String(node.type)}`;
  const list = node.select_list as Record<string, unknown>[];
  if (list.length !== 1) return `it holds ${list.length} expressions`;
  if (kind === 'expression' && list[0]!.alias) return 'it carries an alias';
  const from = node.from_table as { type?: string } | null;
  if (from?.type !== 'EMPTY') return 'it adds a FROM clause';
  const clauses = ['where_clause', 'having', 'qualify', 'sample'].filter((c) => node[c] !== null && node[c] !== undefined);
  if (clauses.length > 0) return `it adds a ${clauses[0]!.replace('_clause', '').toUpperCase()} clause`;
  if ((node.group_expressions as unknown[]).length > 0) return 'it adds a GROUP BY clause';
  if ((node.modifiers as unknown[]).length > 0) return 'it adds ORDER BY, LIMIT or DISTINCT';
  if (((node.cte_map as { map: unknown[] }).map ?? []).length > 0) return 'it adds a WITH clause';
  return fileReader(list[0]);
}

/** The first table function or replacement scan anywhere in the tree that could read a file. */
function fileReader(tree: unknown): string | undefined {
  if (Array.isArray(tree)) {
    for (const item of tree) {
      const found = fileReader(item);
      if (found) return found;
    }
    return undefined;
  }
  if (tree === null || typeof tree !== 'object') return undefined;
  const node = tree as Record<string, unknown>;
  if (node.type === 'TABLE_FUNCTION') {
    const name = String((node.function as { function_name?: unknown } | undefined)?.function_name ?? '').toLowerCase();
    if (!SAFE_TABLE_FUNCTIONS.has(name)) return `its subquery reads the table function ${name}()`;
  }
  if (node.type === 'BASE_TABLE') {
    const name = String(node.table_name ?? '');
    // DuckDB reads `FROM 'a.csv'` (a replacement scan) as the file: a table name with a path in it.
    if (/[./\\:*?]/.test(name)) return `its subquery reads ${JSON.stringify(name)}, which names a file`;
  }
  for (const value of Object.values(node)) {
    const found = fileReader(value);
    if (found) return found;
  }
  return undefined;
}
