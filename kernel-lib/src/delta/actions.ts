/**
 * Delta Lake log actions (delta-io/delta PROTOCOL.md), as they appear one per line in
 * `_delta_log/%020d.json` and as rows of a checkpoint.
 */

export interface ProtocolAction {
  minReaderVersion: number;
  minWriterVersion: number;
  readerFeatures?: string[];
  writerFeatures?: string[];
}

export interface MetadataAction {
  id: string;
  name?: string | null;
  description?: string | null;
  format: { provider: string; options: Record<string, string> };
  /** Spark's struct-type JSON. */
  schemaString: string;
  partitionColumns: string[];
  configuration: Record<string, string>;
  createdTime?: number | null;
}

/** Per-file statistics, stored as a JSON string in `add.stats`. */
export interface FileStats {
  numRecords: number;
  minValues?: Record<string, unknown>;
  maxValues?: Record<string, unknown>;
  nullCount?: Record<string, unknown>;
  tightBounds?: boolean;
}

export interface DeletionVectorDescriptor {
  storageType: string;
  pathOrInlineDv: string;
  offset?: number;
  sizeInBytes: number;
  cardinality: number;
}

export interface AddAction {
  /** URI-escaped path relative to the table root (or an absolute URI). */
  path: string;
  partitionValues: Record<string, string | null>;
  size: number;
  modificationTime: number;
  dataChange: boolean;
  stats?: string | null;
  tags?: Record<string, string> | null;
  deletionVector?: DeletionVectorDescriptor | null;
  baseRowId?: number | null;
  defaultRowCommitVersion?: number | null;
  clusteringProvider?: string | null;
}

export interface RemoveAction {
  path: string;
  deletionTimestamp?: number | null;
  dataChange: boolean;
  extendedFileMetadata?: boolean;
  partitionValues?: Record<string, string | null> | null;
  size?: number | null;
  stats?: string | null;
  tags?: Record<string, string> | null;
  deletionVector?: DeletionVectorDescriptor | null;
}

/** Application transaction id: how streaming writers make a micro-batch commit exactly once. */
export interface TxnAction {
  appId: string;
  version: number;
  lastUpdated?: number | null;
}

export interface CommitInfoAction {
  timestamp?: number;
  operation?: string;
  operationParameters?: Record<string, unknown>;
  operationMetrics?: Record<string, unknown>;
  engineInfo?: string;
  isBlindAppend?: boolean;
  readVersion?: number;
  [key: string]: unknown;
}

/** One line of a commit file. Unknown action kinds (cdc, domainMetadata, ...) are kept as-is. */
export type Action =
  | { protocol: ProtocolAction }
  | { metaData: MetadataAction }
  | { add: AddAction }
  | { remove: RemoveAction }
  | { txn: TxnAction }
  | { commitInfo: CommitInfoAction }
  | { [other: string]: unknown };

/** The folder of the log, and the file names of commits and checkpoints. */
export const DELTA_LOG_DIR = '_delta_log';

/**
 * `00000000000000000042.json` for version 42.
 * @example commitFileName(42) // => '00000000000000000042.json'
 */
export function commitFileName(version: number): string {
  return `${String(version).padStart(20, '0')}.json`;
}

/**
 * `00000000000000000040.checkpoint.parquet` for version 40 (classic single-file checkpoint).
 * @example checkpointFileName(40) // => '00000000000000000040.checkpoint.parquet'
 */
export function checkpointFileName(version: number): string {
  return `${String(version).padStart(20, '0')}.checkpoint.parquet`;
}

/** The partition folder name Delta and Hive use for a null partition value. */
export const HIVE_DEFAULT_PARTITION = '__HIVE_DEFAULT_PARTITION__';
