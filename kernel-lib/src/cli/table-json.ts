/**
 * The JSON forms of `winlake table list --json` and `winlake table describe`: what tools beside
 * the CLI (the JupyterLab Lakehouse panel's server extension) read instead of the Delta log itself.
 */
import { history, loadSnapshot, readDelta } from '../delta/index.js';
import type { Session } from '../engine/session.js';
import type { SchemaField } from '../frame/index.js';
import type { Catalog, TableEntry } from '../lakehouse/catalog.js';
import { listTables, quarantineName, type TableSummary } from '../lakehouse/tables.js';

/** `table list --json`: the lakehouse root and its tables, by tier then name. */
export interface TableListJson {
  root: string;
  tables: TableSummary[];
}

/** One partition of a table's current version: its values, files, rows (null without stats) and bytes. */
export interface PartitionJson {
  values: Record<string, string | null>;
  files: number;
  rows: number | null;
  bytes: number;
}

/** One commit of `table describe`'s history, newest first. */
export interface CommitJson {
  version: number;
  timestamp: string;
  operation: string | null;
  parameters: Record<string, unknown>;
  metrics: Record<string, unknown>;
}

/** `table describe`: a table's summary, schema, partitions, recent history and quarantine rows. */
export interface TableDescribeJson extends TableSummary {
  schema: SchemaField[];
  partitions: PartitionJson[];
  /** True when the table has more partitions than `partitions` lists. */
  partitionsTruncated: boolean;
  history: CommitJson[];
  /** The `<name>_quarantine` table's name and rows, or null when the table has none. */
  quarantine: { name: string; rows: number | null } | null;
}

/**
 * The lakehouse's tables as JSON data.
 * @example JSON.stringify(await tableListJson(new Catalog(home)))
 */
export async function tableListJson(catalog: Catalog): Promise<TableListJson> {
  return { root: catalog.root, tables: await listTables({ catalog }) };
}

/**
 * One table as JSON data: schema from a DuckDB scan of the current version (as `table schema`),
 * partitions and sizes from the snapshot, the newest `historyLimit` commits.
 * @example await tableDescribeJson(session, catalog, catalog.locate('process'), { historyLimit: 20 })
 */
export async function tableDescribeJson(
  session: Session,
  catalog: Catalog,
  entry: TableEntry,
  opts: { historyLimit?: number; partitionLimit?: number } = {},
): Promise<TableDescribeJson> {
  const tables = await listTables({ catalog });
  const summary = tables.find((t) => t.tier === entry.tier && t.name === entry.name);
  if (!summary) throw new Error(`table ${entry.name} has no Delta log under ${entry.path}`);
  const qName = quarantineName(entry.name);
  const quarantine = tables.find((t) => t.name === qName);
  const snapshot = await loadSnapshot(entry.path);
  const byValues = new Map<string, PartitionJson>();
  for (const file of snapshot.files) {
    const key = JSON.stringify(snapshot.metadata.partitionColumns.map((c) => file.partitionValues[c] ?? null));
    const part = byValues.get(key) ?? { values: file.partitionValues, files: 0, rows: 0, bytes: 0 };
    const n = file.stats ? (JSON.parse(file.stats) as { numRecords?: number }).numRecords : undefined;
    part.files += 1;
    part.bytes += file.size;
    part.rows = n === undefined || part.rows === null ? null : part.rows + n;
    byValues.set(key, part);
  }
  const partitionLimit = opts.partitionLimit ?? 100;
  const partitions = snapshot.metadata.partitionColumns.length === 0 ? [] : [...byValues.values()];
  partitions.sort((a, b) => JSON.stringify(a.values).localeCompare(JSON.stringify(b.values)));
  const commits = await history(entry.path, { limit: opts.historyLimit ?? 20 });
  const frame = await readDelta(session, entry.path);
  return {
    ...summary,
    schema: await frame.schema(),
    partitions: partitions.slice(0, partitionLimit),
    partitionsTruncated: partitions.length > partitionLimit,
    history: commits.map((c) => ({
      version: c.version,
      timestamp: new Date(c.timestamp).toISOString(),
      operation: c.operation,
      parameters: c.operationParameters,
      metrics: c.operationMetrics,
    })),
    quarantine: quarantine ? { name: quarantine.name, rows: quarantine.rows } : null,
  };
}
