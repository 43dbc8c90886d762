/**
 * DeltaScan: the rows of one snapshot as DuckDB SQL, reading only the files the predicates
 * cannot exclude. Data files are read with `read_parquet(..., union_by_name=true)`, every column is
 * converted to the table schema's type (columns or nested fields missing from older files become
 * NULL), partition columns come from the log as typed constants, and columns follow table order.
 */
import '../engine/allocator.js'; // before the engine loads
import { DuckDBTypeId, type DuckDBType } from '@duckdb/node-api';
import { quoteIdent, quoteString } from '../engine/quote.js';
import type { Session } from '../engine/session.js';
import { renderExpr, type ExprNode } from '../frame/expr.js';
import type { ScanReport, ScanSource } from '../frame/frame.js';
import { bloomColumns, bloomSkipStage } from './bloom-index.js';
import { columnMappingMode, type ColumnMappingMode } from './features.js';
import { dataFilePath } from './log.js';
import { partitionLiteralSql } from './partition-values.js';
import { partitionValueOf, parseStats, partitionStage, statsStage, type ScanFile, type SkipContext, type SkipStage } from './skipping.js';
import { loadSnapshot, type Snapshot, type SnapshotOptions } from './snapshot.js';
import { duckdbType, physicalName, type DataType, type StructField } from './schema/from-spark.js';

/** Options of {@link DeltaScan.create}: time travel, plus extra skipping stages (e.g. bloom filters). */
export interface DeltaScanOptions {
  version?: number;
  timestamp?: Date | string | number;
  /**
   * Stages run after partition pruning and statistics, in order. A table with a bloom filter index
   * gets a bloom stage first ({@link bloomSkipStage}); a stage named 'bloom' here replaces it.
   */
  stages?: SkipStage[];
}

const FILE_COLUMN = '__winlake_file';

/** Escapes DuckDB glob characters so a path names exactly one file. */
function globEscape(p: string): string {
  return p.replace(/[[*?]/g, (c) => `[${c}]`);
}

/**
 * A scan of a Delta table snapshot, usable as a Frame source.
 *
 * @example
 * const scan = await DeltaScan.create(session, '/lake/silver/Process');
 * const df = Frame.fromScan(session, scan).filter(col('_event_date').eq('2024-05-01'));
 * console.log(await df.explain());
 */
export class DeltaScan implements ScanSource {
  readonly label: string;
  readonly stages: SkipStage[];
  private readonly files: ScanFile[];
  private readonly context: SkipContext;
  private readonly mapping: ColumnMappingMode;
  private typeCache: { key: string; types: Map<string, DuckDBType> } | undefined;

  private constructor(
    readonly session: Session,
    readonly snapshot: Snapshot,
    extraStages: SkipStage[],
  ) {
    this.label = `delta:${snapshot.tablePath}@v${snapshot.version}`;
    this.stages = [partitionStage, statsStage, ...extraStages];
    this.mapping = columnMappingMode(snapshot.metadata);
    this.files = snapshot.files.map((add) => {
      let parsed: { value: ReturnType<typeof parseStats> } | undefined;
      return {
        add,
        absolutePath: dataFilePath(snapshot.tablePath, add.path),
        stats: () => (parsed ??= { value: parseStats(add.stats) }).value,
      };
    });
    const partitionColumns = new Set(snapshot.metadata.partitionColumns ?? []);
    for (const p of partitionColumns) {
      if (!snapshot.schema.fields.some((f) => f.name === p)) {
        throw new Error(`invalid table ${snapshot.tablePath}: partition column ${JSON.stringify(p)} is not in the schema`);
      }
    }
    this.context = { columns: snapshot.schema.fields, partitionColumns };
  }

  /**
   * Loads the snapshot (latest, or by version/timestamp) and prepares the scan.
   * @example const scan = await DeltaScan.create(session, '/lake/t', { version: 3 });
   */
  static async create(session: Session, tablePath: string, opts: DeltaScanOptions = {}): Promise<DeltaScan> {
    const snapOpts: SnapshotOptions = { session };
    if (opts.version !== undefined) snapOpts.version = opts.version;
    if (opts.timestamp !== undefined) snapOpts.timestamp = opts.timestamp;
    const snapshot = await loadSnapshot(tablePath, snapOpts);
    const scan = new DeltaScan(session, snapshot, []);
    if (bloomColumns(snapshot.schema).length > 0) scan.addStage(bloomSkipStage(session, snapshot));
    for (const stage of opts.stages ?? []) scan.addStage(stage);
    return scan;
  }

  /** A scan over an already loaded snapshot. */
  static fromSnapshot(session: Session, snapshot: Snapshot, stages: SkipStage[] = []): DeltaScan {
    return new DeltaScan(session, snapshot, stages);
  }

  /** Adds a skipping stage after the existing ones; one with the same name as an existing stage replaces it. */
  addStage(stage: SkipStage): void {
    const same = this.stages.findIndex((s) => s.name === stage.name);
    if (same >= 0) this.stages[same] = stage;
    else this.stages.push(stage);
  }

  /** Runs the stages; returns the files kept and what each stage skipped. */
  async select(predicates: readonly ExprNode[]): Promise<{ kept: ScanFile[]; report: ScanReport }> {
    let kept = this.files;
    const stages: ScanReport['stages'] = [];
    for (const stage of this.stages) {
      if (predicates.length === 0) {
        stages.push({ stage: stage.name, filesSkipped: 0, bytesSkipped: 0 });
        continue;
      }
      await stage.prepare?.(kept, predicates, this.context);
      const next: ScanFile[] = [];
      let bytesSkipped = 0;
      for (const f of kept) {
        if (await stage.keep(f, predicates, this.context)) next.push(f);
        else bytesSkipped += f.add.size ?? 0;
      }
      stages.push({ stage: stage.name, filesSkipped: kept.length - next.length, bytesSkipped });
      kept = next;
    }
    const bytes = (files: readonly ScanFile[]): number => files.reduce((s, f) => s + (f.add.size ?? 0), 0);
    return {
      kept,
      report: {
        source: this.label,
        filesTotal: this.files.length,
        bytesTotal: bytes(this.files),
        stages,
        filesScanned: kept.length,
        bytesScanned: bytes(kept),
        predicates: predicates.map(renderExpr),
      },
    };
  }

  /** What the scan reads and skips for these predicates. */
  async explain(predicates: readonly ExprNode[]): Promise<ScanReport> {
    return (await this.select(predicates)).report;
  }

  /** SQL yielding the snapshot's rows in table-schema order, over the files not skipped. */
  async toSql(predicates: readonly ExprNode[]): Promise<string> {
    const { kept } = await this.select(predicates);
    const fields = this.snapshot.schema.fields;
    if (kept.length === 0) {
      const cols = fields.map((f) => `CAST(NULL AS ${duckdbType(f.type)}) AS ${quoteIdent(f.name)}`);
      return `SELECT ${cols.join(', ')} WHERE FALSE`;
    }
    const paths = kept.map((f) => f.absolutePath);
    const source = `read_parquet([${paths.map((p) => quoteString(globEscape(p))).join(', ')}], filename=${quoteString(FILE_COLUMN)}, union_by_name=true, hive_partitioning=false)`;
    const fileTypes = await this.fileColumnTypes(source, paths);
    const partitionFields = fields.filter((f) => this.context.partitionColumns.has(f.name));
    const partAlias = new Map(partitionFields.map((f, i) => [f.name, `p${i}`]));
    const projection = fields.map((f) => {
      const alias = partAlias.get(f.name);
      if (alias) return `p.${alias} AS ${quoteIdent(f.name)}`;
      const phys = physicalName(f);
      const srcType = lookup(fileTypes, phys);
      if (!srcType) return `CAST(NULL AS ${duckdbType(f.type)}) AS ${quoteIdent(f.name)}`;
      return `${convert(`d.${quoteIdent(srcType.name)}`, srcType.type, f.type, 0, f.name)} AS ${quoteIdent(f.name)}`;
    });
    let sql = `SELECT ${projection.join(', ')} FROM ${source} AS d`;
    if (partitionFields.length > 0) {
      const rows = kept.map((file) => {
        const values = partitionFields.map((f) => partitionLiteralSql(partitionValueOf(file.add, f), f.type));
        return `(${[quoteString(file.absolutePath), ...values].join(', ')})`;
      });
      const names = [quoteIdent(FILE_COLUMN), ...partitionFields.map((f) => partAlias.get(f.name)!)];
      sql += ` JOIN (VALUES ${rows.join(', ')}) AS p(${names.join(', ')}) ON d.${quoteIdent(FILE_COLUMN)} = p.${quoteIdent(FILE_COLUMN)}`;
    }
    return sql;
  }

  /** The unified DuckDB types of the physical columns of a set of files (footers only). */
  private async fileColumnTypes(source: string, paths: readonly string[]): Promise<Map<string, DuckDBType>> {
    const key = paths.join('\n');
    if (this.typeCache?.key === key) return this.typeCache.types;
    const result = await this.session.run(`SELECT * FROM ${source} LIMIT 0`);
    const names = result.columnNames();
    const types = result.columnTypes();
    const map = new Map<string, DuckDBType>();
    names.forEach((n, i) => {
      if (n !== FILE_COLUMN) map.set(n, types[i]!);
    });
    this.typeCache = { key, types: map };
    return map;
  }

  /** The column mapping mode the scan reads with ('id' reads by physical name; see README). */
  get columnMapping(): ColumnMappingMode {
    return this.mapping;
  }
}

/** Finds a name among file columns: exact, else the single case-insensitive match. */
function lookup(types: ReadonlyMap<string, DuckDBType>, name: string): { name: string; type: DuckDBType } | undefined {
  const exact = types.get(name);
  if (exact) return { name, type: exact };
  const matches = [...types.entries()].filter(([n]) => n.toLowerCase() === name.toLowerCase());
  return matches.length === 1 ? { name: matches[0]![0], type: matches[0]![1] } : undefined;
}

const PRIMITIVE_IDS: Record<string, DuckDBTypeId> = {
  string: DuckDBTypeId.VARCHAR,
  long: DuckDBTypeId.BIGINT,
  integer: DuckDBTypeId.INTEGER,
  short: DuckDBTypeId.SMALLINT,
  byte: DuckDBTypeId.TINYINT,
  float: DuckDBTypeId.FLOAT,
  double: DuckDBTypeId.DOUBLE,
  boolean: DuckDBTypeId.BOOLEAN,
  binary: DuckDBTypeId.BLOB,
  date: DuckDBTypeId.DATE,
  timestamp: DuckDBTypeId.TIMESTAMP_TZ,
  timestamp_ntz: DuckDBTypeId.TIMESTAMP,
};

const NAIVE_TIMESTAMPS = new Set([DuckDBTypeId.TIMESTAMP, DuckDBTypeId.TIMESTAMP_MS, DuckDBTypeId.TIMESTAMP_NS, DuckDBTypeId.TIMESTAMP_S]);

/**
 * SQL converting `expr` (of file type `src`) to the table type `target`: casts for primitives,
 * field-by-field rebuilds for structs (missing fields → NULL, physical → logical names), and
 * element-wise conversion of lists and maps.
 */
function convert(expr: string, src: DuckDBType, target: DataType, depth: number, where: string): string {
  const targetSql = duckdbType(target);
  if (typeof target === 'string') {
    if (src.typeId === PRIMITIVE_IDS[target]) return expr;
    if (src.typeId === DuckDBTypeId.DECIMAL && /^decimal/.test(target) && src.toString().replace(/\s/g, '') === targetSql) return expr;
    // Parquet timestamps without isAdjustedToUTC (INT96, legacy writers) hold UTC wall-clock.
    if (target === 'timestamp' && NAIVE_TIMESTAMPS.has(src.typeId)) return `timezone('UTC', CAST(${expr} AS TIMESTAMP))`;
    if (target === 'timestamp_ntz' && src.typeId === DuckDBTypeId.TIMESTAMP_TZ) return `timezone('UTC', ${expr})`;
    return `CAST(${expr} AS ${targetSql})`;
  }
  switch (target.type) {
    case 'struct': {
      if (src.typeId !== DuckDBTypeId.STRUCT) throw typeMismatch(where, src, 'struct');
      const entries = new Map(src.entryNames.map((n, i) => [n, src.entryTypes[i]!]));
      const parts = target.fields.map((f: StructField) => {
        const found = lookup(entries, physicalName(f));
        const value = found
          ? convert(`struct_extract(${expr}, ${quoteString(found.name)})`, found.type, f.type, depth + 1, `${where}.${f.name}`)
          : `CAST(NULL AS ${duckdbType(f.type)})`;
        return `${quoteIdent(f.name)} := ${value}`;
      });
      return `CASE WHEN ${expr} IS NULL THEN NULL ELSE struct_pack(${parts.join(', ')}) END`;
    }
    case 'array': {
      if (src.typeId !== DuckDBTypeId.LIST && src.typeId !== DuckDBTypeId.ARRAY) throw typeMismatch(where, src, 'array');
      const v = `__w${depth}`;
      const inner = convert(v, src.valueType, target.elementType, depth + 1, `${where}[]`);
      return inner === v ? expr : `list_transform(${expr}, lambda ${v}: ${inner})`;
    }
    case 'map': {
      if (src.typeId !== DuckDBTypeId.MAP) throw typeMismatch(where, src, 'map');
      const v = `__w${depth}`;
      const k = convert(`${v}.key`, src.keyType, target.keyType, depth + 1, `${where}.key`);
      const val = convert(`${v}.value`, src.valueType, target.valueType, depth + 1, `${where}.value`);
      if (k === `${v}.key` && val === `${v}.value`) return expr;
      return `map_from_entries(list_transform(map_entries(${expr}), lambda ${v}: struct_pack(key := ${k}, value := ${val})))`;
    }
  }
}

function typeMismatch(where: string, src: DuckDBType, expected: string): Error {
  return new Error(`column ${where} is ${src.toString()} in the data files but ${expected} in the table schema`);
}
