/**
 * File skipping for Delta scans: partition pruning, then min/max/nullCount statistics, then any
 * later stage (bloom filters) through the {@link SkipStage} hook. A file is skipped only when it
 * provably holds no row the predicates accept; anything not understood keeps the file.
 */
import type { SqlScalar } from '../engine/quote.js';
import type { ComparisonOp, ExprNode } from '../frame/expr.js';
import type { AddAction, FileStats } from './actions.js';
import { compareValues, partitionComparable, timestampMicros, type Comparable } from './partition-values.js';
import { physicalName, type DataType, type StructField } from './schema/from-spark.js';

/** One active file as the skipping stages see it. */
export interface ScanFile {
  add: AddAction;
  /** Absolute path of the data file. */
  absolutePath: string;
  /** The parsed `add.stats`, parsed on first use; undefined when the file has none. */
  stats(): FileStats | undefined;
}

/** What a stage may need besides the file: the table's columns. */
export interface SkipContext {
  /** Top-level table columns. */
  columns: readonly StructField[];
  partitionColumns: ReadonlySet<string>;
}

/**
 * One skipping stage. `keep` returns false only when the file cannot hold a matching row.
 * @example const bloom: SkipStage = { name: 'bloom', keep: (file, preds) => true };
 */
export interface SkipStage {
  name: string;
  /**
   * Called on each selection (explain, toSql) before the `keep` calls, with the files the earlier
   * stages kept: a stage that looks files up in one batch (bloom filters) does it here, for these only.
   */
  prepare?(candidates: readonly ScanFile[], predicates: readonly ExprNode[], context: SkipContext): void | Promise<void>;
  keep(file: ScanFile, predicates: readonly ExprNode[], context: SkipContext): boolean | Promise<boolean>;
}

/** What is known about one column within one file. */
interface Domain {
  min?: Comparable;
  max?: Comparable;
  nullCount?: number;
  numRecords?: number;
  /** Whether comparisons `>`/`>=` may use `max` (not for floats: NaN sorts above every number in DuckDB). */
  maxForGreater: boolean;
}

type DomainOf = (column: string) => { domain: Domain; type: DataType } | undefined;

/**
 * Finds a top-level column as DuckDB binds names: exact first, else the one case-insensitive match.
 * @example resolveColumn(snapshot.schema.fields, 'eventid')?.name // => 'EventID' (the only case-insensitive match)
 */
export function resolveColumn(columns: readonly StructField[], name: string): StructField | undefined {
  const exact = columns.find((c) => c.name === name);
  if (exact) return exact;
  const folded = columns.filter((c) => c.name.toLowerCase() === name.toLowerCase());
  return folded.length === 1 ? folded[0] : undefined;
}

/**
 * The comparable form of a literal for a column type, mirroring how DuckDB would cast it;
 * undefined when the pairing is not understood (then nothing is skipped).
 * @example literalComparable('2024-05-01', 'date') // => 1714521600000000; literalComparable('x', 'long') // => undefined
 */
export function literalComparable(value: SqlScalar, type: DataType): Comparable | undefined {
  if (value === null || typeof type !== 'string') return undefined;
  switch (type) {
    case 'byte':
    case 'short':
    case 'integer':
    case 'long':
    case 'float':
    case 'double':
      if (typeof value === 'bigint') return value;
      if (typeof value === 'number' && !Number.isNaN(value)) return value;
      return undefined;
    case 'string':
      return typeof value === 'string' ? value : undefined;
    case 'boolean':
      return typeof value === 'boolean' ? (value ? 1 : 0) : undefined;
    case 'date':
      if (value instanceof Date) return value.getTime() * 1000;
      if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value.trim())) return timestampMicros(value);
      return undefined;
    case 'timestamp':
    case 'timestamp_ntz':
      if (value instanceof Date) return value.getTime() * 1000;
      if (typeof value === 'string') return timestampMicros(value);
      return undefined;
    default:
      if (/^decimal/.test(type) && typeof value === 'number' && decimalPrecision(type) <= 15) return value;
      return undefined;
  }
}

function decimalPrecision(type: string): number {
  const m = /^decimal\((\d+)/.exec(type);
  return m ? Number(m[1]) : 38;
}

/** The comparable form of a min/max statistic, widened where Delta truncates. */
function statComparable(raw: unknown, type: DataType, bound: 'min' | 'max'): Comparable | undefined {
  if (raw === null || raw === undefined || typeof type !== 'string') return undefined;
  switch (type) {
    case 'byte':
    case 'short':
    case 'integer':
    case 'long':
      // Longs beyond 2^53 lost precision in JSON.parse: not a safe bound.
      return typeof raw === 'number' && Number.isSafeInteger(raw) ? BigInt(raw) : undefined;
    case 'float':
    case 'double':
      return typeof raw === 'number' && !Number.isNaN(raw) ? raw : undefined;
    case 'string':
      if (typeof raw !== 'string') return undefined;
      // Writers cut long strings to a prefix: a cut max is below the real max, so distrust long ones.
      if (bound === 'max' && [...raw].length >= 32) return undefined;
      return raw;
    case 'boolean':
      return typeof raw === 'boolean' ? (raw ? 1 : 0) : undefined;
    case 'date':
      return typeof raw === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(raw) ? timestampMicros(raw) : undefined;
    case 'timestamp':
    case 'timestamp_ntz': {
      if (typeof raw !== 'string') return undefined;
      const us = timestampMicros(raw);
      if (us === undefined) return undefined;
      // Stats are truncated to milliseconds: widen by 1 ms on both sides.
      return bound === 'max' ? us + 1000 : us - 1000;
    }
    default:
      if (/^decimal/.test(type) && typeof raw === 'number' && decimalPrecision(type) <= 15) return raw;
      return undefined;
  }
}

const FLIP: Record<ComparisonOp, ComparisonOp> = { '=': '=', '!=': '!=', '<': '>', '<=': '>=', '>': '<', '>=': '<=' };

/** True when the predicate certainly rejects every row of the file. */
function provablyEmpty(node: ExprNode, domainOf: DomainOf): boolean {
  switch (node.kind) {
    case 'and':
      return node.args.some((a) => provablyEmpty(a, domainOf));
    case 'or':
      return node.args.length > 0 && node.args.every((a) => provablyEmpty(a, domainOf));
    case 'cmp': {
      let { op, left, right } = node;
      if (left.kind === 'lit' && right.kind === 'col') {
        [left, right] = [right, left];
        op = FLIP[op];
      }
      if (left.kind !== 'col' || right.kind !== 'lit' || op === '!=') return false;
      const info = domainOf(left.name);
      if (!info) return false;
      if (allNull(info.domain)) return true; // a comparison with NULL is never true
      const lit = literalComparable(right.value, info.type);
      return lit !== undefined && outside(info.domain, op, lit);
    }
    case 'in': {
      if (node.negated || node.arg.kind !== 'col') return false;
      const info = domainOf(node.arg.name);
      if (!info) return false;
      if (allNull(info.domain)) return true;
      const lits = node.values.filter((v) => v !== null).map((v) => literalComparable(v, info.type));
      if (lits.some((l) => l === undefined)) return false;
      return lits.every((l) => outside(info.domain, '=', l!));
    }
    case 'isNull': {
      if (node.arg.kind !== 'col') return false;
      const info = domainOf(node.arg.name);
      if (!info || info.domain.nullCount === undefined) return false;
      return node.negated ? allNull(info.domain) : info.domain.nullCount === 0;
    }
    default:
      return false;
  }
}

function allNull(d: Domain): boolean {
  return d.nullCount !== undefined && d.numRecords !== undefined && d.nullCount >= d.numRecords && d.min === undefined && d.max === undefined;
}

/** Whether no value in [min, max] can satisfy `value op lit`. */
function outside(d: Domain, op: ComparisonOp, lit: Comparable): boolean {
  const { min, max } = d;
  const maxOk = max !== undefined && d.maxForGreater;
  switch (op) {
    case '=':
      return (min !== undefined && compareValues(lit, min) < 0) || (max !== undefined && compareValues(lit, max) > 0);
    case '<':
      return min !== undefined && compareValues(min, lit) >= 0;
    case '<=':
      return min !== undefined && compareValues(min, lit) > 0;
    case '>':
      return maxOk && compareValues(max!, lit) <= 0;
    case '>=':
      return maxOk && compareValues(max!, lit) < 0;
    default:
      return false;
  }
}

/**
 * Partition pruning: evaluates the predicates against a file's partition values exactly.
 * @example new DeltaScan(...).stages[0] // { name: 'partitions', ... }
 */
export const partitionStage: SkipStage = {
  name: 'partitions',
  keep(file, predicates, context) {
    if (context.partitionColumns.size === 0) return true;
    const domainOf: DomainOf = (name) => {
      const field = resolveColumn(context.columns, name);
      if (!field || !context.partitionColumns.has(field.name)) return undefined;
      const raw = partitionValueOf(file.add, field);
      const value = partitionComparable(raw, field.type);
      if (value === undefined) return undefined;
      const domain: Domain =
        value === null
          ? { nullCount: 1, numRecords: 1, maxForGreater: true }
          : { min: value, max: value, nullCount: 0, numRecords: 1, maxForGreater: true };
      return { domain, type: field.type };
    };
    return !predicates.some((p) => provablyEmpty(p, domainOf));
  },
};

/**
 * A partition value by logical name, or by physical name under column mapping.
 * @example partitionValueOf(add, { name: 'event_date', type: 'date', nullable: true, metadata: {} }) // => '2024-05-01'
 */
export function partitionValueOf(add: AddAction, field: StructField): string | null | undefined {
  const pv = add.partitionValues ?? {};
  const phys = physicalName(field);
  return phys in pv ? pv[phys] : pv[field.name];
}

/**
 * Min/max/nullCount skipping from `add.stats` (top-level columns; keyed by physical names).
 * Files without stats are never skipped.
 */
export const statsStage: SkipStage = {
  name: 'stats',
  keep(file, predicates, context) {
    const stats = file.stats();
    if (!stats) return true;
    const numRecords = typeof stats.numRecords === 'number' ? stats.numRecords : undefined;
    const domainOf: DomainOf = (name) => {
      const field = resolveColumn(context.columns, name);
      if (!field || context.partitionColumns.has(field.name) || typeof field.type !== 'string') return undefined;
      const key = physicalName(field);
      const nc = stats.nullCount?.[key];
      const floaty = field.type === 'float' || field.type === 'double';
      const domain: Domain = {
        min: statComparable(stats.minValues?.[key], field.type, 'min'),
        max: statComparable(stats.maxValues?.[key], field.type, 'max'),
        nullCount: typeof nc === 'number' ? nc : undefined,
        numRecords,
        maxForGreater: !floaty,
      };
      return { domain, type: field.type };
    };
    return !predicates.some((p) => provablyEmpty(p, domainOf));
  },
};

/**
 * Parses `add.stats` JSON; undefined when absent or malformed (the file is then never skipped).
 * @example parseStats('{"numRecords":3,"minValues":{"a":1},"maxValues":{"a":9},"nullCount":{"a":0}}')
 */
export function parseStats(text: string | null | undefined): FileStats | undefined {
  if (!text) return undefined;
  try {
    const parsed = JSON.parse(text) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as FileStats) : undefined;
  } catch {
    return undefined;
  }
}
