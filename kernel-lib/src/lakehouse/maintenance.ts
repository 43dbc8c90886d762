import { getSession, type Session } from '../engine/session.js';
import { optimizeTable, type OptimizeMetrics, type OptimizeOptions } from '../delta/optimize.js';
import { createBloomFilter, type BloomFilterOptions, type BloomFilterResult } from '../delta/bloom.js';
import { vacuum, type VacuumOptions, type VacuumResult } from '../delta/vacuum.js';
import { Catalog } from './catalog.js';

/** Which lakehouse and session a maintenance verb works on. */
export interface MaintenanceOptions {
  catalog?: Catalog;
  session?: Session;
}

/**
 * The reference's `optimize_table`: Databricks `OPTIMIZE t ZORDER BY (cols)`. Without columns it
 * compacts small files; with columns it Z-orders each partition's rows and rewrites them.
 * @example await optimizeLakehouseTable('Process', ['process_name', 'event_id']);
 */
export async function optimizeLakehouseTable(
  tableName: string,
  columns: string[] = [],
  opts: MaintenanceOptions & Omit<OptimizeOptions, 'zOrderBy'> = {},
): Promise<OptimizeMetrics> {
  const { catalog, session, ...rest } = opts;
  const entry = (catalog ?? new Catalog()).locate(tableName);
  return optimizeTable(session ?? (await getSession()), entry.path, { ...rest, ...(columns.length ? { zOrderBy: columns } : {}) });
}

/**
 * The reference's `create_bloom_filter`: Databricks `CREATE BLOOMFILTER INDEX ... OPTIONS (fpp, numItems)`.
 * Files written after it (appends, optimize) carry filters; `backfill: true` also rewrites older files.
 * @example await createLakehouseBloomFilter('Process', ['user_name'], { fpp: 0.1 });
 */
export async function createLakehouseBloomFilter(
  tableName: string,
  columns: string[],
  opts: MaintenanceOptions & BloomFilterOptions = {},
): Promise<BloomFilterResult> {
  const { catalog, session, ...rest } = opts;
  const entry = (catalog ?? new Catalog()).locate(tableName);
  return createBloomFilter(entry.path, columns, { ...rest, session: session ?? (await getSession()) });
}

/**
 * Deletes data files no retained version needs (default retention 168 hours, like Delta).
 * @example await vacuumLakehouseTable('Process', { dryRun: true });
 */
export async function vacuumLakehouseTable(tableName: string, opts: MaintenanceOptions & VacuumOptions = {}): Promise<VacuumResult> {
  const { catalog, ...rest } = opts;
  const entry = (catalog ?? new Catalog()).locate(tableName);
  return vacuum(entry.path, rest);
}
