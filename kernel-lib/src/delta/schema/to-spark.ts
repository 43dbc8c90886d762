/**
 * DuckDB result types → Spark struct-type JSON (Delta `metaData.schemaString`), and the schema rules
 * of a write: enforcement (data must fit the table) and evolution (`mergeSchema`).
 */
import '../../engine/allocator.js'; // before the engine loads
import { DuckDBTypeId, type DuckDBType } from '@duckdb/node-api';
import type { ArrayType, DataType, MapType, StructField, StructType } from './from-spark.js';

/**
 * The Spark type of a DuckDB type. Types Delta has no equivalent for are mapped to the nearest
 * lossless one (unsigned → wider signed, HUGEINT → decimal(38,0), UUID/JSON/ENUM → string,
 * TIMESTAMP in any unit → timestamp, written as TIMESTAMPTZ); TIME, INTERVAL, UNION, BIT and
 * BIGNUM are refused with an Error naming the column.
 * @example sparkTypeFromDuckDB(result.columnTypes()[0], 'event_id') // => 'string'
 */
export function sparkTypeFromDuckDB(type: DuckDBType, where: string): DataType {
  switch (type.typeId) {
    case DuckDBTypeId.VARCHAR:
    case DuckDBTypeId.UUID:
    case DuckDBTypeId.ENUM:
      return 'string';
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UINTEGER:
      return 'long';
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.USMALLINT:
    case DuckDBTypeId.SQLNULL:
      return 'integer';
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.UTINYINT:
      return 'short';
    case DuckDBTypeId.TINYINT:
      return 'byte';
    case DuckDBTypeId.UBIGINT:
      return 'decimal(20,0)';
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UHUGEINT:
      return 'decimal(38,0)';
    case DuckDBTypeId.DOUBLE:
      return 'double';
    case DuckDBTypeId.FLOAT:
      return 'float';
    case DuckDBTypeId.BOOLEAN:
      return 'boolean';
    case DuckDBTypeId.DATE:
      return 'date';
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_TZ:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_NS:
      return 'timestamp';
    case DuckDBTypeId.DECIMAL:
      return `decimal(${type.width},${type.scale})`;
    case DuckDBTypeId.BLOB:
      return 'binary';
    case DuckDBTypeId.STRUCT: {
      const seen = new Set<string>();
      return {
        type: 'struct',
        fields: type.entryNames.map((name, i) => {
          assertUniqueName(seen, name, where);
          return field(name, sparkTypeFromDuckDB(type.entryTypes[i]!, `${where}.${name}`));
        }),
      };
    }
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY:
      return { type: 'array', elementType: sparkTypeFromDuckDB(type.valueType, `${where}[]`), containsNull: true };
    case DuckDBTypeId.MAP:
      return {
        type: 'map',
        keyType: sparkTypeFromDuckDB(type.keyType, `${where}.key`),
        valueType: sparkTypeFromDuckDB(type.valueType, `${where}.value`),
        valueContainsNull: true,
      };
    default:
      throw new Error(
        `column ${where} has DuckDB type ${type.toString()}, which Delta Lake cannot store: cast it (e.g. to VARCHAR or BIGINT) before writing`,
      );
  }
}

/**
 * The Spark schema of a DuckDB result (names and types as `columnNames()` / `columnTypes()` give them).
 * Column names must be unique ignoring case, as Delta requires.
 * @example const r = await session.run('select 1 as id'); sparkSchemaFromDuckDB(r.columnNames(), r.columnTypes())
 */
export function sparkSchemaFromDuckDB(names: readonly string[], types: readonly DuckDBType[]): StructType {
  const seen = new Set<string>();
  return {
    type: 'struct',
    fields: names.map((name, i) => {
      if (name === '') throw new Error('a column has an empty name: Delta needs every column named');
      assertUniqueName(seen, name, '');
      return field(name, sparkTypeFromDuckDB(types[i]!, name));
    }),
  };
}

function field(name: string, type: DataType): StructField {
  return { name, type, nullable: true, metadata: {} };
}

function assertUniqueName(seen: Set<string>, name: string, where: string): void {
  const key = name.toLowerCase();
  if (seen.has(key)) {
    throw new Error(`duplicate column ${JSON.stringify(name)}${where ? ` in ${where}` : ''}: Delta column names must be unique ignoring case`);
  }
  seen.add(key);
}

/**
 * The `schemaString` JSON of a schema, with Spark's key order.
 * @example schemaToString({ type: 'struct', fields: [] }) // => '{"type":"struct","fields":[]}'
 */
export function schemaToString(schema: StructType): string {
  return JSON.stringify(canonical(schema));
}

function canonical(type: DataType): unknown {
  if (typeof type === 'string') return type;
  switch (type.type) {
    case 'struct':
      return {
        type: 'struct',
        fields: type.fields.map((f) => ({ name: f.name, type: canonical(f.type), nullable: f.nullable, metadata: f.metadata })),
      };
    case 'array':
      return { type: 'array', elementType: canonical(type.elementType), containsNull: type.containsNull };
    case 'map':
      return { type: 'map', keyType: canonical(type.keyType), valueType: canonical(type.valueType), valueContainsNull: type.valueContainsNull };
  }
}

/** Integer and floating types each data type may be written into without loss (data → table). */
const SAFE_UPCASTS: Record<string, readonly string[]> = {
  byte: ['short', 'integer', 'long'],
  short: ['integer', 'long'],
  integer: ['long'],
  float: ['double'],
};

/** How data's schema relates to a table's: what it adds, and whether it is otherwise compatible. */
export interface SchemaDiff {
  /** Column paths (`a`, `s.b`) in the data but not in the table. */
  added: string[];
  /** The table schema with the data's additions appended (table names and types win). */
  merged: StructType;
}

/**
 * Compares data's schema with a table's. Names match ignoring case; the table's spelling wins.
 * Data may lack columns (they read as null) and may be narrower (int into long: written as long).
 * A type that cannot be written into the table's type is an Error naming the column and both types.
 * @example const { added, merged } = diffSchemas(snapshot.schema, dataSchema);
 */
export function diffSchemas(table: StructType, data: StructType): SchemaDiff {
  const added: string[] = [];
  const merged = mergeStruct(table, data, '', added);
  return { added, merged };
}

/**
 * The table schema after a `mergeSchema` write: new top-level columns and new nested struct
 * fields are appended. Same errors as {@link diffSchemas}.
 * @example const next = mergeSchemas(snapshot.schema, dataSchema);
 */
export function mergeSchemas(table: StructType, data: StructType): StructType {
  return diffSchemas(table, data).merged;
}

function mergeStruct(table: StructType, data: StructType, prefix: string, added: string[]): StructType {
  const byName = new Map(table.fields.map((f, i) => [f.name.toLowerCase(), i]));
  const fields = table.fields.map((f) => ({ ...f }));
  for (const d of data.fields) {
    const path = prefix ? `${prefix}.${d.name}` : d.name;
    const i = byName.get(d.name.toLowerCase());
    if (i === undefined) {
      added.push(path);
      fields.push({ ...d });
      continue;
    }
    const t = fields[i]!;
    t.type = mergeType(t.type, d.type, path, added);
  }
  return { type: 'struct', fields };
}

function mergeType(table: DataType, data: DataType, path: string, added: string[]): DataType {
  if (typeof table === 'string' || typeof data === 'string') {
    if (typeof table === 'string' && typeof data === 'string') {
      if (table === data || SAFE_UPCASTS[data]?.includes(table)) return table;
      if (table === 'decimal(38,0)' && ['decimal(20,0)'].includes(data)) return table;
    }
    throw incompatible(path, table, data);
  }
  if (table.type === 'struct' && data.type === 'struct') return mergeStruct(table, data, path, added);
  if (table.type === 'array' && data.type === 'array') {
    const elementType = mergeType(table.elementType, data.elementType, `${path}[]`, added);
    return { ...(table as ArrayType), elementType };
  }
  if (table.type === 'map' && data.type === 'map') {
    const keyType = mergeType(table.keyType, data.keyType, `${path}.key`, added);
    const valueType = mergeType(table.valueType, data.valueType, `${path}.value`, added);
    return { ...(table as MapType), keyType, valueType };
  }
  throw incompatible(path, table, data);
}

function incompatible(path: string, table: DataType, data: DataType): Error {
  return new Error(
    `column ${path}: the data has type ${typeName(data)} but the table has ${typeName(table)}; Delta cannot change a column's type on write (cast the data)`,
  );
}

/**
 * A short Spark-style name of a type: `long`, `struct<a:string>`, `array<long>`.
 * @example typeName({ type: 'array', elementType: 'long', containsNull: true }) // => 'array<long>'
 */
export function typeName(type: DataType): string {
  if (typeof type === 'string') return type;
  switch (type.type) {
    case 'struct':
      return `struct<${type.fields.map((f) => `${f.name}:${typeName(f.type)}`).join(',')}>`;
    case 'array':
      return `array<${typeName(type.elementType)}>`;
    case 'map':
      return `map<${typeName(type.keyType)},${typeName(type.valueType)}>`;
  }
}
