import * as arrow from 'apache-arrow';
import '../engine/allocator.js'; // before the engine loads
import { DuckDBTypeId, type DuckDBType } from '@duckdb/node-api';

/**
 * The Arrow type that holds a DuckDB column's JavaScript values without loss (timestamps to ms).
 * @example arrowTypeFor(TIMESTAMPTZ).toString() // => 'Timestamp<MILLISECOND, UTC>'
 */
export function arrowTypeFor(type: DuckDBType): arrow.DataType {
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN:
      return new arrow.Bool();
    case DuckDBTypeId.TINYINT:
      return new arrow.Int8();
    case DuckDBTypeId.SMALLINT:
      return new arrow.Int16();
    case DuckDBTypeId.INTEGER:
      return new arrow.Int32();
    case DuckDBTypeId.BIGINT:
      return new arrow.Int64();
    case DuckDBTypeId.UTINYINT:
      return new arrow.Uint8();
    case DuckDBTypeId.USMALLINT:
      return new arrow.Uint16();
    case DuckDBTypeId.UINTEGER:
      return new arrow.Uint32();
    case DuckDBTypeId.UBIGINT:
      return new arrow.Uint64();
    case DuckDBTypeId.FLOAT:
      return new arrow.Float32();
    case DuckDBTypeId.DOUBLE:
    case DuckDBTypeId.DECIMAL:
      return new arrow.Float64();
    case DuckDBTypeId.DATE:
      return new arrow.DateDay();
    case DuckDBTypeId.TIMESTAMP_TZ:
      return new arrow.TimestampMillisecond('UTC');
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_NS:
      return new arrow.TimestampMillisecond();
    case DuckDBTypeId.BLOB:
      return new arrow.Binary();
    case DuckDBTypeId.STRUCT:
      return new arrow.Struct(
        type.entryNames.map((n, i) => new arrow.Field(n, arrowTypeFor(type.entryTypes[i]!), true)),
      );
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY:
      return new arrow.List(new arrow.Field('element', arrowTypeFor(type.valueType), true));
    case DuckDBTypeId.MAP:
      return new arrow.Map_(
        new arrow.Field(
          'entries',
          new arrow.Struct<{ key: arrow.DataType; value: arrow.DataType }>([
            new arrow.Field('key', arrowTypeFor(type.keyType), false),
            new arrow.Field('value', arrowTypeFor(type.valueType), true),
          ]) as never,
          false,
        ),
      );
    default:
      return new arrow.Utf8();
  }
}

/**
 * Adapts a DuckDB JavaScript value to what the Arrow builder of `type` expects.
 * @example toArrowValue(42, VARCHAR) // => '42'
 */
export function toArrowValue(value: unknown, type: DuckDBType): unknown {
  if (value === null || value === undefined) return null;
  switch (type.typeId) {
    case DuckDBTypeId.STRUCT: {
      const obj = value as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      type.entryNames.forEach((n, i) => (out[n] = toArrowValue(obj[n], type.entryTypes[i]!)));
      return out;
    }
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY:
      return (value as unknown[]).map((v) => toArrowValue(v, type.valueType));
    case DuckDBTypeId.MAP:
      return new Map(
        (value as { key: unknown; value: unknown }[]).map((e) => [
          toArrowValue(e.key, type.keyType),
          toArrowValue(e.value, type.valueType),
        ]),
      );
    case DuckDBTypeId.DECIMAL:
      return Number(value);
    case DuckDBTypeId.BLOB:
      return value instanceof Uint8Array ? value : new Uint8Array(value as ArrayBuffer);
    default:
      if (arrowTypeFor(type) instanceof arrow.Utf8 && typeof value !== 'string') return String(value);
      return value;
  }
}

/**
 * Builds an Arrow table from DuckDB column values.
 * @example arrowTableFrom(['event_id', 'host'], [INTEGER, VARCHAR], [[1, 3], ['ws01', 'ws02']]).numRows // => 2
 */
export function arrowTableFrom(names: readonly string[], types: readonly DuckDBType[], columns: unknown[][]): arrow.Table {
  const vectors: Record<string, arrow.Vector> = {};
  names.forEach((name, i) => {
    const type = types[i]!;
    const values = columns[i]!.map((v) => toArrowValue(v, type));
    vectors[name] = arrow.vectorFromArray(values, arrowTypeFor(type));
  });
  return new arrow.Table(vectors);
}
