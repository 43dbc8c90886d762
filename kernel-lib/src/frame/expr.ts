import { quoteIdent, sqlLiteral, type SqlScalar } from '../engine/quote.js';

/** Comparison operators that the Delta scan can also use to skip files. */
export type ComparisonOp = '=' | '!=' | '<' | '<=' | '>' | '>=';

/**
 * The structure of an expression. Kept as data (not only SQL text) so that the Delta scan can read
 * simple predicates — `col = lit`, `col IN (...)`, `col < lit`, `AND` — and skip files with them.
 */
export type ExprNode =
  | { kind: 'col'; name: string }
  | { kind: 'lit'; value: SqlScalar }
  | { kind: 'cmp'; op: ComparisonOp; left: ExprNode; right: ExprNode }
  | { kind: 'in'; arg: ExprNode; values: SqlScalar[]; negated: boolean }
  | { kind: 'like'; arg: ExprNode; pattern: string; caseInsensitive: boolean }
  | { kind: 'isNull'; arg: ExprNode; negated: boolean }
  | { kind: 'and' | 'or'; args: ExprNode[] }
  | { kind: 'not'; arg: ExprNode }
  | { kind: 'sql'; sql: string }
  | { kind: 'alias'; arg: ExprNode; name: string };

type Operand = Expr | SqlScalar;

function operand(value: Operand): ExprNode {
  return value instanceof Expr ? value.node : { kind: 'lit', value };
}

/**
 * A column expression, built with {@link col} and {@link lit} and rendered to DuckDB SQL.
 *
 * @example
 * col('winlog:event_id').isin(['1', '5']).and(col('user_name').eq('CORP\\alice'))
 */
export class Expr {
  constructor(readonly node: ExprNode) {}

  eq(other: Operand): Expr {
    return this.compare('=', other);
  }
  ne(other: Operand): Expr {
    return this.compare('!=', other);
  }
  lt(other: Operand): Expr {
    return this.compare('<', other);
  }
  le(other: Operand): Expr {
    return this.compare('<=', other);
  }
  gt(other: Operand): Expr {
    return this.compare('>', other);
  }
  ge(other: Operand): Expr {
    return this.compare('>=', other);
  }
  /** `IN (values)`; an empty list matches nothing. */
  isin(values: readonly SqlScalar[]): Expr {
    return new Expr({ kind: 'in', arg: this.node, values: [...values], negated: false });
  }
  /** SQL LIKE with `%` and `_`; `ilike` ignores case. */
  like(pattern: string): Expr {
    return new Expr({ kind: 'like', arg: this.node, pattern, caseInsensitive: false });
  }
  ilike(pattern: string): Expr {
    return new Expr({ kind: 'like', arg: this.node, pattern, caseInsensitive: true });
  }
  isNull(): Expr {
    return new Expr({ kind: 'isNull', arg: this.node, negated: false });
  }
  isNotNull(): Expr {
    return new Expr({ kind: 'isNull', arg: this.node, negated: true });
  }
  and(...others: Expr[]): Expr {
    return new Expr({ kind: 'and', args: [this.node, ...others.map((o) => o.node)] });
  }
  or(...others: Expr[]): Expr {
    return new Expr({ kind: 'or', args: [this.node, ...others.map((o) => o.node)] });
  }
  not(): Expr {
    return new Expr({ kind: 'not', arg: this.node });
  }
  /** Names the expression's output column (for `select`). */
  as(name: string): Expr {
    return new Expr({ kind: 'alias', arg: this.node, name });
  }

  toSql(): string {
    return renderExpr(this.node);
  }

  toString(): string {
    return this.toSql();
  }

  private compare(op: ComparisonOp, other: Operand): Expr {
    return new Expr({ kind: 'cmp', op, left: this.node, right: operand(other) });
  }
}

/**
 * A column by its exact name — `:`, `@`, `.`, spaces and quotes are part of the name, not syntax.
 * @example col('winlog:event_data:CommandLine').like('%-enc%')
 */
export function col(name: string): Expr {
  return new Expr({ kind: 'col', name });
}

/**
 * A literal value.
 * @example col('event_id').eq(lit('1'))
 */
export function lit(value: SqlScalar): Expr {
  return new Expr({ kind: 'lit', value });
}

/**
 * Raw SQL as an expression, for what the builder does not cover.
 * @example sqlExpr("lower(process_name) LIKE '%powershell%'")
 */
export function sqlExpr(sql: string): Expr {
  return new Expr({ kind: 'sql', sql });
}

/**
 * Renders an expression tree to DuckDB SQL.
 * @example renderExpr(col('event_id').eq(lit(1)).node) // => '("event_id" = 1)'
 */
export function renderExpr(node: ExprNode): string {
  switch (node.kind) {
    case 'col':
      return quoteIdent(node.name);
    case 'lit':
      return sqlLiteral(node.value);
    case 'cmp':
      return `(${renderExpr(node.left)} ${node.op} ${renderExpr(node.right)})`;
    case 'in':
      if (node.values.length === 0) return node.negated ? 'TRUE' : 'FALSE';
      return `(${renderExpr(node.arg)} ${node.negated ? 'NOT IN' : 'IN'} (${node.values.map(sqlLiteral).join(', ')}))`;
    case 'like':
      return `(${renderExpr(node.arg)} ${node.caseInsensitive ? 'ILIKE' : 'LIKE'} ${sqlLiteral(node.pattern)})`;
    case 'isNull':
      return `(${renderExpr(node.arg)} IS ${node.negated ? 'NOT ' : ''}NULL)`;
    case 'and':
    case 'or':
      if (node.args.length === 0) return node.kind === 'and' ? 'TRUE' : 'FALSE';
      return `(${node.args.map(renderExpr).join(node.kind === 'and' ? ' AND ' : ' OR ')})`;
    case 'not':
      return `(NOT ${renderExpr(node.arg)})`;
    case 'sql':
      // The newline keeps a trailing `-- comment` in the text from swallowing the parenthesis.
      return `(${node.sql}\n)`;
    case 'alias':
      return `${renderExpr(node.arg)} AS ${quoteIdent(node.name)}`;
  }
}

/**
 * The raw SQL texts ({@link sqlExpr}, string filters) inside an expression tree: what must be
 * checked as user SQL before the tree is rendered into a query.
 * @example sqlTexts(col('a').eq(1).and(sqlExpr('b > 2')).node) // => ['b > 2']
 */
export function sqlTexts(node: ExprNode): string[] {
  switch (node.kind) {
    case 'sql':
      return [node.sql];
    case 'cmp':
      return [...sqlTexts(node.left), ...sqlTexts(node.right)];
    case 'in':
    case 'like':
    case 'isNull':
    case 'not':
    case 'alias':
      return sqlTexts(node.arg);
    case 'and':
    case 'or':
      return node.args.flatMap(sqlTexts);
    default:
      return [];
  }
}

/**
 * The conjuncts of an AND tree (a lone predicate is one conjunct).
 * @example conjuncts(col('event_id').eq(lit(1)).and(col('host').eq(lit('ws01'))).node).length // => 2
 */
export function conjuncts(node: ExprNode): ExprNode[] {
  return node.kind === 'and' ? node.args.flatMap(conjuncts) : [node];
}
