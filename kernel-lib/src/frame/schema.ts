import '../engine/allocator.js'; // before the engine loads
import { DuckDBTypeId, type DuckDBType } from '@duckdb/node-api';

/**
 * One column of a Frame's schema, nested types included.
 * `children` holds a struct's fields, a list's `element`, or a map's `key` and `value`.
 */
export interface SchemaField {
  name: string;
  /** The DuckDB SQL type, e.g. `VARCHAR`, `STRUCT("a" INTEGER)`, `VARCHAR[]`. */
  type: string;
  kind: 'scalar' | 'struct' | 'list' | 'map';
  children: SchemaField[];
}

/**
 * Converts a DuckDB result type into a {@link SchemaField} tree.
 * @example fieldFromDuckDBType('tags', LIST(VARCHAR)) // => { name: 'tags', type: 'VARCHAR[]', kind: 'list', children: [{ name: 'element', ... }] }
 */
export function fieldFromDuckDBType(name: string, type: DuckDBType): SchemaField {
  switch (type.typeId) {
    case DuckDBTypeId.STRUCT:
      return {
        name,
        type: type.toString(),
        kind: 'struct',
        children: type.entryNames.map((n, i) => fieldFromDuckDBType(n, type.entryTypes[i]!)),
      };
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY:
      return { name, type: type.toString(), kind: 'list', children: [fieldFromDuckDBType('element', type.valueType)] };
    case DuckDBTypeId.MAP:
      return {
        name,
        type: type.toString(),
        kind: 'map',
        children: [fieldFromDuckDBType('key', type.keyType), fieldFromDuckDBType('value', type.valueType)],
      };
    default:
      return { name, type: type.toString(), kind: 'scalar', children: [] };
  }
}

/**
 * Renders a schema as an indented text tree, like Spark's `printSchema()`.
 * @example console.log(schemaTree(await df.schema()))
 */
export function schemaTree(fields: readonly SchemaField[]): string {
  const lines = ['root'];
  const walk = (f: SchemaField, depth: number): void => {
    const shown = f.kind === 'scalar' ? f.type.toLowerCase() : f.kind;
    lines.push(`${' |   '.repeat(depth)} |-- ${f.name}: ${shown}`);
    for (const c of f.children) walk(c, depth + 1);
  };
  for (const f of fields) walk(f, 0);
  return lines.join('\n');
}
