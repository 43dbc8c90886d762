import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import type { Offsets } from './source.js';

/** A planned micro-batch: written before the batch runs, so a restart can redo exactly this range. */
export interface PlannedBatch {
  batchId: number;
  start: Offsets;
  end: Offsets;
  plannedAt: number;
}

/**
 * A streaming query's checkpoint folder, in the spirit of Spark's:
 * `metadata.json` (the query id), `offsets/<batchId>.json` (planned ranges), `commits/<batchId>.json`
 * (batches whose sink commit finished). The sink's Delta `txn` is the final word on what was written;
 * these files say what to do next.
 *
 * @example
 * const cp = StreamCheckpoint.open('lakehouse/_checkpoints/bronze/q1');
 * cp.queryId // stable across restarts
 */
export class StreamCheckpoint {
  private constructor(
    readonly dir: string,
    readonly queryId: string,
  ) {}

  /** Opens (or creates) the checkpoint folder. */
  static open(dir: string, queryName?: string): StreamCheckpoint {
    const abs = path.resolve(dir);
    mkdirSync(path.join(abs, 'offsets'), { recursive: true });
    mkdirSync(path.join(abs, 'commits'), { recursive: true });
    const metaPath = path.join(abs, 'metadata.json');
    let id: string;
    if (existsSync(metaPath)) {
      const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as { id?: unknown };
      if (typeof meta.id !== 'string' || meta.id.length === 0) throw new Error(`corrupt checkpoint metadata: ${metaPath}`);
      id = meta.id;
    } else {
      id = randomUUID();
      writeAtomic(metaPath, JSON.stringify({ id, name: queryName ?? null, createdAt: new Date().toISOString() }));
    }
    return new StreamCheckpoint(abs, id);
  }

  /** The newest planned batch, if any. */
  lastPlanned(): PlannedBatch | undefined {
    const id = maxBatchId(path.join(this.dir, 'offsets'));
    if (id === undefined) return undefined;
    return JSON.parse(readFileSync(this.offsetsPath(id), 'utf8')) as PlannedBatch;
  }

  /** The newest batch recorded as committed, or -1. */
  lastCommitted(): number {
    return maxBatchId(path.join(this.dir, 'commits')) ?? -1;
  }

  /** Records the range of a batch before it runs. */
  plan(batch: PlannedBatch): void {
    writeAtomic(this.offsetsPath(batch.batchId), JSON.stringify(batch));
  }

  /** Records that a batch's sink commit finished. */
  commit(batchId: number, info: Record<string, unknown>): void {
    writeAtomic(path.join(this.dir, 'commits', `${batchId}.json`), JSON.stringify({ batchId, ...info }));
  }

  private offsetsPath(batchId: number): string {
    return path.join(this.dir, 'offsets', `${batchId}.json`);
  }
}

function maxBatchId(dir: string): number | undefined {
  let max: number | undefined;
  for (const f of readdirSync(dir)) {
    const m = /^(\d+)\.json$/.exec(f);
    if (m) max = Math.max(max ?? -1, Number(m[1]));
  }
  return max;
}

/** Writes a file so readers see the old content or the new, never a torn one. */
function writeAtomic(file: string, content: string): void {
  const tmp = `${file}.${process.pid}.${randomUUID()}.tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, file);
}
