/**
 * Reading a Delta table into a Frame.
 */
import type { Session } from '../engine/session.js';
import { Frame } from '../frame/frame.js';
import { DeltaScan, type DeltaScanOptions } from './scan.js';

/**
 * A lazy Frame over a Delta table (latest version, or by version/timestamp). Filters built with
 * `col()/lit()` applied directly to it prune partitions and skip files by statistics.
 * @example
 * const df = await readDelta(session, '/lake/silver/Process', { version: 2 });
 * await df.filter(col('event_id').eq('1')).show();
 */
export async function readDelta(session: Session, tablePath: string, opts: DeltaScanOptions = {}): Promise<Frame> {
  return Frame.fromScan(session, await DeltaScan.create(session, tablePath, opts));
}
