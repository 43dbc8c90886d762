/**
 * Protocol checks for reading: which reader versions and reader features this reader supports.
 * Anything else is refused by name, before a single row is read.
 */
import type { MetadataAction, ProtocolAction } from './actions.js';
import { primitiveTypesIn, type StructType } from './schema/from-spark.js';

/** The highest reader protocol version understood here (3 = table features). */
export const MAX_READER_VERSION = 3;

/**
 * Reader features this reader handles: columnMapping (physical names; `id` mode also reads by the
 * physical names Delta writers put in Parquet), timestampNtz, typeWidening (every column is cast
 * to the table type), v2Checkpoint (JSON/Parquet checkpoints with sidecars), vacuumProtocolCheck
 * (nothing to do for a reader). deletionVectors are NOT handled: such tables are refused by name
 * rather than returning deleted rows.
 */
export const SUPPORTED_READER_FEATURES: ReadonlySet<string> = new Set([
  'columnMapping',
  'timestampNtz',
  'vacuumProtocolCheck',
  'v2Checkpoint',
  'typeWidening',
  'typeWidening-preview',
]);

/** Column mapping mode of a table. */
export type ColumnMappingMode = 'none' | 'name' | 'id';

/**
 * The table's column mapping mode, from `delta.columnMapping.mode`.
 * @example columnMappingMode({ ...snapshot.metadata, configuration: { 'delta.columnMapping.mode': 'name' } }) // => 'name'
 */
export function columnMappingMode(metadata: MetadataAction): ColumnMappingMode {
  const mode = (metadata.configuration ?? {})['delta.columnMapping.mode'] ?? 'none';
  if (mode !== 'none' && mode !== 'name' && mode !== 'id') {
    throw new Error(`unsupported column mapping mode ${JSON.stringify(mode)} (supported: none, name, id)`);
  }
  return mode;
}

/**
 * Throws a clear error naming what is unsupported when the table cannot be read correctly here.
 * @example assertReadable(snapshot.protocol, snapshot.metadata, snapshot.schema, '/lake/t');
 */
export function assertReadable(
  protocol: ProtocolAction,
  metadata: MetadataAction,
  schema: StructType,
  tablePath: string,
  extraSupported: ReadonlySet<string> = new Set(),
): void {
  const reader = protocol.minReaderVersion;
  if (!Number.isInteger(reader) || reader < 1) {
    throw new Error(`invalid Delta protocol in ${tablePath}: minReaderVersion ${String(reader)}`);
  }
  if (reader > MAX_READER_VERSION) {
    throw new Error(
      `cannot read ${tablePath}: it requires Delta reader version ${reader}, this reader supports up to ${MAX_READER_VERSION}`,
    );
  }
  if (reader === 3) {
    const unsupported = (protocol.readerFeatures ?? []).filter((f) => !SUPPORTED_READER_FEATURES.has(f) && !extraSupported.has(f));
    if (unsupported.length > 0) {
      throw new Error(`cannot read ${tablePath}: unsupported Delta reader feature(s): ${unsupported.join(', ')}`);
    }
  }
  columnMappingMode(metadata); // validates the mode
  const types = primitiveTypesIn(schema);
  if (types.has('timestamp_ntz') && reader === 3 && !(protocol.readerFeatures ?? []).includes('timestampNtz')) {
    // Spark refuses such tables too: a writer that used timestamp_ntz must declare the feature.
    throw new Error(`invalid table ${tablePath}: the schema uses timestamp_ntz but the protocol lacks the timestampNtz feature`);
  }
}
