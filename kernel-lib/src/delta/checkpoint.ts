/**
 * Classic single-file checkpoints (`%020d.checkpoint.parquet` + `_last_checkpoint`), written by
 * DuckDB from the replayed snapshot, in the column layout Spark and delta-rs read: one action per
 * row in the struct columns txn, add, remove, metaData, protocol.
 */
import { randomUUID } from 'node:crypto';
import { readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { quoteString } from '../engine/quote.js';
import type { Session } from '../engine/session.js';
import { DELTA_LOG_DIR, checkpointFileName } from './actions.js';
import { faultPoint } from './fault-points.js';
import { loadSnapshot, type Snapshot } from './snapshot.js';

const STRING_MAP = 'MAP(VARCHAR, VARCHAR)';

/** The checkpoint's columns and their Parquet (DuckDB) types, per the Delta protocol's checkpoint schema. */
const CHECKPOINT_COLUMNS: Record<string, string> = {
  txn: 'STRUCT(appId VARCHAR, version BIGINT, lastUpdated BIGINT)',
  add: `STRUCT(path VARCHAR, partitionValues ${STRING_MAP}, size BIGINT, modificationTime BIGINT, dataChange BOOLEAN, stats VARCHAR, tags ${STRING_MAP})`,
  remove: `STRUCT(path VARCHAR, deletionTimestamp BIGINT, dataChange BOOLEAN, extendedFileMetadata BOOLEAN, partitionValues ${STRING_MAP}, size BIGINT)`,
  metaData: `STRUCT(id VARCHAR, name VARCHAR, description VARCHAR, format STRUCT(provider VARCHAR, options ${STRING_MAP}), schemaString VARCHAR, partitionColumns VARCHAR[], configuration ${STRING_MAP}, createdTime BIGINT)`,
  protocol: 'STRUCT(minReaderVersion INTEGER, minWriterVersion INTEGER, readerFeatures VARCHAR[], writerFeatures VARCHAR[])',
};

/** What {@link writeCheckpoint} wrote. */
export interface CheckpointInfo {
  version: number;
  /** Rows (actions) in the checkpoint. */
  size: number;
  sizeInBytes: number;
  numOfAddFiles: number;
  path: string;
}

/**
 * Writes a classic checkpoint of the table at `version` and points `_last_checkpoint` at it
 * (unless it already names a newer one). Safe to run twice or concurrently: both write the same state.
 * A writer that already holds the state at `version` passes it as `state` to spare a log replay.
 * @example await writeCheckpoint(session, '/lake/t', 20);
 */
export async function writeCheckpoint(session: Session, tablePath: string, version: number, state?: Snapshot): Promise<CheckpointInfo> {
  if (state && state.version !== version) throw new Error(`writeCheckpoint: the state given is version ${state.version}, not ${version}`);
  const snapshot = state ?? (await loadSnapshot(tablePath, { version, session, skipReadCheck: true }));
  if (snapshot.protocol.writerFeatures?.includes('v2Checkpoint')) {
    throw new Error(`${tablePath} uses v2 checkpoints; winlake writes classic checkpoints only`);
  }
  const logDir = path.join(tablePath, DELTA_LOG_DIR);
  const lines: string[] = [JSON.stringify({ protocol: snapshot.protocol }), JSON.stringify({ metaData: snapshot.metadata })];
  for (const [appId, v] of snapshot.appTxns) lines.push(JSON.stringify({ txn: { appId, version: v } }));
  for (const f of snapshot.files) {
    const add = {
      path: f.path,
      partitionValues: f.partitionValues,
      size: f.size,
      modificationTime: f.modificationTime,
      dataChange: false,
      stats: f.stats ?? null,
      tags: f.tags ?? null,
    };
    lines.push(JSON.stringify({ add }));
  }

  const id = randomUUID();
  const ndjson = path.join(logDir, `.checkpoint-${id}.ndjson.tmp`);
  const tempParquet = path.join(logDir, `.checkpoint-${id}.parquet.tmp`);
  const finalPath = path.join(logDir, checkpointFileName(version));
  try {
    await writeFile(ndjson, lines.join('\n') + '\n', 'utf8');
    faultPoint('checkpoint.ndjson-written');
    const columns = Object.entries(CHECKPOINT_COLUMNS)
      .map(([name, type]) => `${name}: ${quoteString(type)}`)
      .join(', ');
    const names = Object.keys(CHECKPOINT_COLUMNS).join(', ');
    await session.run(
      `COPY (SELECT ${names} FROM read_json(${quoteString(ndjson)}, format = 'newline_delimited', columns = {${columns}}, maximum_object_size = 268435456))
       TO ${quoteString(tempParquet)} (FORMAT parquet, COMPRESSION snappy)`,
    );
    faultPoint('checkpoint.parquet-written');
    // Same version ⇒ same content: replacing a concurrent writer's checkpoint is harmless.
    await rename(tempParquet, finalPath);
  } finally {
    await unlink(ndjson).catch(() => undefined);
    await unlink(tempParquet).catch(() => undefined);
  }
  faultPoint('checkpoint.renamed');
  const info: CheckpointInfo = {
    version,
    size: lines.length,
    sizeInBytes: (await stat(finalPath)).size,
    numOfAddFiles: snapshot.files.length,
    path: finalPath,
  };
  await updateLastCheckpoint(logDir, info);
  return info;
}

async function updateLastCheckpoint(logDir: string, info: CheckpointInfo): Promise<void> {
  const file = path.join(logDir, '_last_checkpoint');
  try {
    const current = JSON.parse(await readFile(file, 'utf8')) as { version?: number };
    if (typeof current.version === 'number' && current.version > info.version) return;
  } catch {
    // absent or unreadable: write it
  }
  const temp = path.join(logDir, `._last_checkpoint.${randomUUID()}.tmp`);
  const body = { version: info.version, size: info.size, sizeInBytes: info.sizeInBytes, numOfAddFiles: info.numOfAddFiles };
  try {
    await writeFile(temp, JSON.stringify(body), 'utf8');
    faultPoint('checkpoint.last-temp-written');
    await rename(temp, file);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}
