/**
 * The bloom filter index as readers and writers see it: the per-column settings recorded in the
 * table schema, the COPY options writers add for them, and the scan stage that skips files with the
 * Parquet-native filters. Kept apart from bloom.ts (CREATE BLOOMFILTER INDEX, which rewrites files
 * through optimize.ts) so that scan.ts, write.ts and optimize.ts can use it without an import cycle.
 */
import { quoteString, sqlLiteral, type SqlScalar } from '../engine/quote.js';
import type { Session } from '../engine/session.js';
import type { ExprNode } from '../frame/expr.js';
import { dataFilePath } from './log.js';
import { duckdbType, physicalName, type StructField, type StructType } from './schema/from-spark.js';
import { resolveColumn, type ScanFile, type SkipStage } from './skipping.js';
import type { Snapshot } from './snapshot.js';

/** Field-metadata keys Databricks uses for a bloom filter index on a column. */
export const BLOOM_ENABLED_KEY = 'delta.bloomFilter.enabled';
export const BLOOM_FPP_KEY = 'delta.bloomFilter.fpp';
export const BLOOM_NUM_ITEMS_KEY = 'delta.bloomFilter.numItems';

/** Databricks' defaults for `CREATE BLOOMFILTER INDEX ... OPTIONS (fpp, numItems)`. */
export const DEFAULT_BLOOM_FPP = 0.1;
export const DEFAULT_BLOOM_NUM_ITEMS = 1_000_000;

/** A column's bloom filter settings, as recorded in the table schema. */
export interface BloomColumn {
  column: string;
  fpp: number;
  numItems: number;
}

/**
 * The bloom filter settings recorded in a table schema (top-level columns with
 * `delta.bloomFilter.enabled` = true).
 * @example bloomColumns(snapshot.schema) // => [{ column: 'user_name', fpp: 0.1, numItems: 1000000 }]
 */
export function bloomColumns(schema: StructType): BloomColumn[] {
  const out: BloomColumn[] = [];
  for (const f of schema.fields) {
    const md = f.metadata ?? {};
    const enabled = md[BLOOM_ENABLED_KEY];
    if (enabled !== true && enabled !== 'true') continue;
    out.push({
      column: f.name,
      fpp: toNumber(md[BLOOM_FPP_KEY], DEFAULT_BLOOM_FPP),
      numItems: toNumber(md[BLOOM_NUM_ITEMS_KEY], DEFAULT_BLOOM_NUM_ITEMS),
    });
  }
  return out;
}

function toNumber(value: unknown, fallback: number): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  return Number.isFinite(n) ? n : fallback;
}

/**
 * DuckDB `COPY ... (FORMAT parquet, ...)` options a writer adds so new files carry bloom filters as
 * the table asks: the smallest fpp among the indexed columns (DuckDB's option is per file, and its
 * default, 0.01, is kept when it is already tighter). Empty when the table has no bloom index.
 * @example copyOptions.push(...bloomCopyOptions(snapshot.schema)); // ['BLOOM_FILTER_FALSE_POSITIVE_RATIO 0.01']
 */
export function bloomCopyOptions(schema: StructType): string[] {
  const cols = bloomColumns(schema);
  if (cols.length === 0) return [];
  const fpp = Math.min(0.01, ...cols.map((c) => c.fpp));
  return [`BLOOM_FILTER_FALSE_POSITIVE_RATIO ${fpp}`];
}

/** An equality test the bloom stage can use: a column and the values it may equal. */
interface BloomTest {
  column: StructField;
  values: SqlScalar[];
}

/** The `col = lit` and `col IN (...)` conjuncts on bloom columns (ORs of them on one column too). */
function bloomTests(node: ExprNode, columns: readonly StructField[], indexed: ReadonlySet<string>): BloomTest[] {
  if (node.kind === 'and') return node.args.flatMap((a) => bloomTests(a, columns, indexed));
  const single = equalityOn(node, columns, indexed);
  return single ? [single] : [];
}

function equalityOn(node: ExprNode, columns: readonly StructField[], indexed: ReadonlySet<string>): BloomTest | undefined {
  const field = (name: string): StructField | undefined => {
    const f = resolveColumn(columns, name);
    return f && indexed.has(f.name) ? f : undefined;
  };
  switch (node.kind) {
    case 'cmp': {
      if (node.op !== '=') return undefined;
      const [c, l] = node.left.kind === 'col' ? [node.left, node.right] : [node.right, node.left];
      if (c.kind !== 'col' || l.kind !== 'lit') return undefined;
      const f = field(c.name);
      return f ? { column: f, values: [l.value] } : undefined;
    }
    case 'in': {
      if (node.negated || node.arg.kind !== 'col') return undefined;
      const f = field(node.arg.name);
      return f ? { column: f, values: [...node.values] } : undefined;
    }
    case 'or': {
      // a = 1 OR a = 2 is a = ANY(1, 2); anything else in the OR defeats the filter.
      const parts = node.args.map((a) => equalityOn(a, columns, indexed));
      if (parts.length === 0 || parts.some((p) => !p)) return undefined;
      const first = parts[0]!.column.name;
      if (parts.some((p) => p!.column.name !== first)) return undefined;
      return { column: parts[0]!.column, values: parts.flatMap((p) => p!.values) };
    }
    default:
      return undefined;
  }
}

/** Options of {@link bloomSkipStage}. */
export interface BloomStageOptions {
  /** Columns to probe (default: the columns the table schema marks with a bloom filter index). */
  columns?: string[];
}

/**
 * A skip stage for {@link DeltaScan}: for `col = v`, `col IN (...)` (and ORs of equalities on one
 * column) on bloom-indexed columns, drops files whose native Parquet bloom filters exclude every
 * value in every row group. {@link DeltaScan.create} adds it by itself when the table has a bloom
 * filter index. The scan hands it the files the partition and stats stages kept (`prepare`), and one
 * `parquet_bloom_probe` query per tested column covers just those; a caller that only calls `keep`
 * gets one probe of the whole snapshot. Results are cached per predicate list. Files without a filter
 * on the column are kept.
 *
 * @example
 * const scan = DeltaScan.fromSnapshot(session, snapshot, [bloomSkipStage(session, snapshot, { columns: ['user_name'] })]);
 * const report = await Frame.fromScan(session, scan).filter(col('user_name').eq('CORP\\bob')).explain();
 */
export function bloomSkipStage(session: Session, snapshot: Snapshot, opts: BloomStageOptions = {}): SkipStage {
  const indexed = new Set(
    (opts.columns ?? bloomColumns(snapshot.schema).map((c) => c.column)).map((c) => resolveColumn(snapshot.schema.fields, c)?.name ?? c),
  );
  // Per predicate list (a Frame reuses its list for explain and toSql): the files probed and the verdict.
  const probes = new WeakMap<readonly ExprNode[], { probed: ReadonlySet<string>; excluded: Promise<Set<string>> }>();
  const probe = (predicates: readonly ExprNode[], files: readonly string[]): { probed: ReadonlySet<string>; excluded: Promise<Set<string>> } => {
    const previous = probes.get(predicates);
    if (previous && files.every((f) => previous.probed.has(f))) return previous;
    const tests = predicates.flatMap((p) => bloomTests(p, snapshot.schema.fields, indexed));
    const entry = { probed: new Set(files), excluded: probeExcluded(session, files, tests) };
    probes.set(predicates, entry);
    return entry;
  };
  return {
    name: 'bloom',
    async prepare(candidates: readonly ScanFile[], predicates: readonly ExprNode[]): Promise<void> {
      if (indexed.size === 0) return;
      await probe(predicates, candidates.map((f) => f.absolutePath)).excluded;
    },
    async keep(file: ScanFile, predicates: readonly ExprNode[]): Promise<boolean> {
      if (indexed.size === 0) return true;
      let entry = probes.get(predicates);
      if (!entry?.probed.has(file.absolutePath)) {
        entry = probe(predicates, snapshot.files.map((f) => dataFilePath(snapshot.tablePath, f.path)));
      }
      return !(await entry.excluded).has(file.absolutePath);
    },
  };
}

/** Absolute paths of the files that some test proves hold none of its values. */
async function probeExcluded(session: Session, files: readonly string[], tests: readonly BloomTest[]): Promise<Set<string>> {
  const excluded = new Set<string>();
  for (const test of tests) {
    // Files an earlier test already excluded need no second probe.
    const open = files.filter((f) => !excluded.has(f));
    const values = test.values.filter((v) => v !== null);
    // Only NULLs (or nothing): `= NULL` matches no row, but leave that to the stats stage.
    if (open.length === 0 || values.length === 0) continue;
    const list = `[${open.map(quoteString).join(', ')}]`;
    const probes = values.map(
      (v) =>
        `SELECT file_name, bool_and(bloom_filter_excludes) AS excludes FROM parquet_bloom_probe(${list}, ${quoteString(physicalName(test.column))}, ${probeLiteral(v, test.column)}) GROUP BY file_name`,
    );
    const rows = await session.rows<{ file_name: string }>(
      `SELECT file_name FROM (${probes.join(' UNION ALL ')}) GROUP BY file_name HAVING bool_and(excludes)`,
    );
    for (const r of rows) excluded.add(r.file_name);
  }
  return excluded;
}

/** The probe value as a literal of the column's type (the filter hashes the typed value). */
function probeLiteral(value: SqlScalar, field: StructField): string {
  return `CAST(${sqlLiteral(value)} AS ${duckdbType(field.type)})`;
}
