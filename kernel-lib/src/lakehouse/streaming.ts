import path from 'node:path';
import { StreamingQuery, type StreamFrame, type StreamingQueryOptions } from '../stream/index.js';
import { Catalog, assertTier, type Tier } from './catalog.js';
import { writeTableBatch } from './tables.js';

/** Options of a streaming `write_table`. */
export interface StreamWriteOptions extends Partial<StreamingQueryOptions> {
  catalog?: Catalog;
}

/**
 * Starts a streaming append into a lakehouse table. Each micro-batch commits its files together
 * with a Delta `txn` {appId: query id, version: batch id}, so a restarted query never writes a
 * batch twice; offsets live in the query's checkpoint folder
 * (default `<lakehouse>/_checkpoints/<table>/<queryName or 'default'>`).
 *
 * @example
 * const q = writeTableStream(bronzeStream, 'winlogbeat_kafka_bronze', 'bronze', ['_event_date', '_sourcetype']);
 * await q.processAllAvailable(); await q.stop();
 */
export function writeTableStream(
  stream: StreamFrame,
  tableName: string,
  tier: Tier,
  partitions: string[] = [],
  opts: StreamWriteOptions = {},
): StreamingQuery {
  assertTier(tier);
  const catalog = opts.catalog ?? new Catalog();
  const entry = catalog.resolveForWrite(tableName, tier);
  const checkpointLocation =
    opts.checkpointLocation ?? path.join(catalog.root, '_checkpoints', entry.name, opts.queryName ?? 'default');
  return StreamingQuery.start(
    stream,
    async (batch, batchId, queryId) => {
      const written = await writeTableBatch(batch, entry.name, tier, partitions, {
        catalog,
        session: stream.session,
        txn: { appId: queryId, version: batchId },
      });
      return {
        table: entry.name,
        version: written.result.version,
        skipped: written.result.skipped,
        numOutputRows: written.result.numRows,
        numFiles: written.result.files.length,
        ...(written.quarantine ? { quarantinedRows: written.quarantine.result.numRows } : {}),
      };
    },
    { ...opts, checkpointLocation },
  );
}
