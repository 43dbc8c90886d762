/**
 * Spark's struct-type JSON (Delta `metaData.schemaString`) → a parsed schema and DuckDB SQL types.
 * Delta `timestamp` is an instant (UTC) → TIMESTAMPTZ; `timestamp_ntz` is wall-clock → TIMESTAMP.
 */
import { quoteIdent } from '../../engine/quote.js';

/** A Spark data type: a primitive name (`long`, `decimal(10,2)`, ...) or a nested type. */
export type DataType = string | StructType | ArrayType | MapType;

export interface StructField {
  name: string;
  type: DataType;
  nullable: boolean;
  metadata: Record<string, unknown>;
}

export interface StructType {
  type: 'struct';
  fields: StructField[];
}

export interface ArrayType {
  type: 'array';
  elementType: DataType;
  containsNull: boolean;
}

export interface MapType {
  type: 'map';
  keyType: DataType;
  valueType: DataType;
  valueContainsNull: boolean;
}

const PRIMITIVE_SQL: Record<string, string> = {
  string: 'VARCHAR',
  long: 'BIGINT',
  integer: 'INTEGER',
  short: 'SMALLINT',
  byte: 'TINYINT',
  float: 'FLOAT',
  double: 'DOUBLE',
  boolean: 'BOOLEAN',
  binary: 'BLOB',
  date: 'DATE',
  timestamp: 'TIMESTAMPTZ',
  timestamp_ntz: 'TIMESTAMP',
};

const DECIMAL = /^decimal\(\s*(\d+)\s*,\s*(-?\d+)\s*\)$/;

/**
 * Parses a `schemaString`, validating every type, into a {@link StructType}.
 * @example parseSchemaString('{"type":"struct","fields":[{"name":"id","type":"long","nullable":true,"metadata":{}}]}')
 */
export function parseSchemaString(schemaString: string | undefined | null): StructType {
  if (typeof schemaString !== 'string') throw new Error('the table metadata has no schema (metaData.schemaString is missing)');
  let raw: unknown;
  try {
    raw = JSON.parse(schemaString);
  } catch (err) {
    throw new Error(`the table schema (metaData.schemaString) is not valid JSON: ${(err as Error).message}`);
  }
  const type = parseDataType(raw, 'schema');
  if (typeof type === 'string' || type.type !== 'struct') {
    throw new Error('the table schema (metaData.schemaString) is not a struct type');
  }
  return type;
}

function parseDataType(raw: unknown, where: string): DataType {
  if (typeof raw === 'string') {
    const name = raw.trim();
    if (name in PRIMITIVE_SQL || DECIMAL.test(name) || name === 'decimal') return name;
    // char(n)/varchar(n) are stored as strings in Delta.
    if (/^(var)?char\(\d+\)$/.test(name)) return 'string';
    throw new Error(`unsupported data type ${JSON.stringify(raw)} at ${where}`);
  }
  if (raw === null || typeof raw !== 'object') throw new Error(`malformed data type at ${where}`);
  const obj = raw as Record<string, unknown>;
  switch (obj.type) {
    case 'struct': {
      if (!Array.isArray(obj.fields)) throw new Error(`struct without fields at ${where}`);
      return {
        type: 'struct',
        fields: obj.fields.map((f: unknown, i: number) => {
          const field = (f ?? {}) as Record<string, unknown>;
          if (typeof field.name !== 'string') throw new Error(`field #${i} without a name at ${where}`);
          return {
            name: field.name,
            type: parseDataType(field.type, `${where}.${field.name}`),
            nullable: field.nullable !== false,
            metadata: (field.metadata ?? {}) as Record<string, unknown>,
          };
        }),
      };
    }
    case 'array':
      return {
        type: 'array',
        elementType: parseDataType(obj.elementType, `${where}[]`),
        containsNull: obj.containsNull !== false,
      };
    case 'map':
      return {
        type: 'map',
        keyType: parseDataType(obj.keyType, `${where}.key`),
        valueType: parseDataType(obj.valueType, `${where}.value`),
        valueContainsNull: obj.valueContainsNull !== false,
      };
    default:
      throw new Error(`unsupported data type ${JSON.stringify(obj.type)} at ${where}`);
  }
}

/**
 * The DuckDB SQL type of a Spark type. With `physical`, struct fields carry their column-mapping
 * physical names (the names inside Parquet files).
 * @example duckdbType('decimal(10,2)') // => 'DECIMAL(10,2)'
 */
export function duckdbType(type: DataType, physical = false): string {
  if (typeof type === 'string') {
    const prim = PRIMITIVE_SQL[type];
    if (prim) return prim;
    if (type === 'decimal') return 'DECIMAL(10,0)';
    const m = DECIMAL.exec(type);
    if (m) return `DECIMAL(${m[1]},${m[2]})`;
    throw new Error(`unsupported data type ${type}`);
  }
  switch (type.type) {
    case 'struct':
      return `STRUCT(${type.fields.map((f) => `${quoteIdent(physical ? physicalName(f) : f.name)} ${duckdbType(f.type, physical)}`).join(', ')})`;
    case 'array':
      return `${duckdbType(type.elementType, physical)}[]`;
    case 'map':
      return `MAP(${duckdbType(type.keyType, physical)}, ${duckdbType(type.valueType, physical)})`;
  }
}

/**
 * The Parquet name of a field: its column-mapping physical name, or its own name.
 * @example physicalName({ name: 'user_name', type: 'string', nullable: true, metadata: { 'delta.columnMapping.physicalName': 'col-5f1c' } }) // => 'col-5f1c'
 */
export function physicalName(field: StructField): string {
  const p = field.metadata['delta.columnMapping.physicalName'];
  return typeof p === 'string' && p !== '' ? p : field.name;
}

/**
 * The column-mapping id of a field, if any.
 * @example columnMappingId({ name: 'user_name', type: 'string', nullable: true, metadata: { 'delta.columnMapping.id': 3 } }) // => 3
 */
export function columnMappingId(field: StructField): number | undefined {
  const id = field.metadata['delta.columnMapping.id'];
  return typeof id === 'number' ? id : undefined;
}

/**
 * The names of every type used in a schema (for feature checks such as timestamp_ntz).
 * @example primitiveTypesIn(snapshot.schema).has('timestamp_ntz') // => true when any column, however nested, is timestamp_ntz
 */
export function primitiveTypesIn(type: DataType, out = new Set<string>()): Set<string> {
  if (typeof type === 'string') out.add(type);
  else if (type.type === 'struct') for (const f of type.fields) primitiveTypesIn(f.type, out);
  else if (type.type === 'array') primitiveTypesIn(type.elementType, out);
  else {
    primitiveTypesIn(type.keyType, out);
    primitiveTypesIn(type.valueType, out);
  }
  return out;
}
