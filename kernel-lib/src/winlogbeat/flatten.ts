import '../engine/allocator.js'; // before the engine loads
import { DuckDBTypeId, type DuckDBType } from '@duckdb/node-api';
import { quoteIdent, quoteString } from '../engine/quote.js';
import type { Frame } from '../frame/index.js';
import { RESCUED_DATA } from './envelope.js';
import { messageFieldsSql, messageKeysSql, messageLinesSql } from './message.js';

/** The separator between the parts of a flattened column's path. */
export const PATH_SEPARATOR = ':';

const LINES = '__wl_msg_lines';
const KEYS = '__wl_msg_keys';

/** One output column of the flatten: SQL over the input row, and its name. */
interface Output {
  name: string;
  sql: string;
}

/** A MAP or JSON object found in the schema, to be expanded per key. */
interface Expandable {
  index: number;
  kind: 'map' | 'json';
  sql: string;
  path: string[];
  /** `_rescued_data`: its keys are already ':' paths, and a key clashing with a column is left in it. */
  rescued?: boolean;
}

/**
 * Flattens a (raw-stage) winlogbeat Frame: every non-struct leaf becomes a top-level column named
 * by its path joined with ':' (`winlog:event_id`, `winlog:event_data:CommandLine`). MAP columns and
 * JSON objects expand to one column per key present in the data (found with one DuckDB query);
 * keys that differ only in case (`ProcessId`/`ProcessID`) merge into one column named by the more
 * frequent spelling, since DuckDB, Spark and Delta treat column names case-insensitively. The keys
 * of `_rescued_data` (fields bronze's envelope does not declare, already named by their ':' path)
 * become columns too, after the others and only under names no other column has. Lists are
 * kept whole. Top-level scalars keep their names. A VARCHAR `message` becomes the list of its lines,
 * and `message_fields` the MAP of its "Key: Value" lines (see messageFieldsSql).
 *
 * @example
 * const flat = await flattenWinlogbeat(raw);
 * await flat.select('winlog:event_id', 'winlog:event_data:Image', 'message_fields').show();
 */
export async function flattenWinlogbeat(df: Frame): Promise<Frame> {
  const schema = await typedSchema(df);
  const outputs: (Output | Expandable)[] = [];
  const expandables: Expandable[] = [];
  let splitMessage = false;

  const walk = (field: Field, sql: string, path: string[]): void => {
    if (field.kind === 'struct') {
      for (const child of field.children) walk(child, `struct_extract(${sql}, ${quoteString(child.name)})`, [...path, child.name]);
      return;
    }
    if ((field.kind === 'map' && path.length > 0) || (field.kind === 'scalar' && field.type === 'JSON' && path.length > 1)) {
      const e: Expandable = { index: expandables.length, kind: field.kind === 'map' ? 'map' : 'json', sql, path };
      expandables.push(e);
      outputs.push(e);
      return;
    }
    outputs.push({ name: path.join(PATH_SEPARATOR), sql });
  };

  for (const field of schema) {
    if (field.name === RESCUED_DATA && field.kind === 'scalar') {
      // Kept whole too: it is where a value that did not fit, or a clashing name, can still be read.
      outputs.push({ name: field.name, sql: quoteIdent(field.name) });
      const e: Expandable = { index: expandables.length, kind: 'json', sql: quoteIdent(field.name), path: [], rescued: true };
      expandables.push(e);
      outputs.push(e);
      continue;
    }
    if (field.name === 'message' && field.kind === 'scalar' && field.type === 'VARCHAR') {
      splitMessage = true;
      outputs.push({ name: 'message', sql: quoteIdent(LINES) });
      outputs.push({ name: 'message_fields', sql: messageFieldsSql(quoteIdent(LINES), quoteIdent(KEYS)) });
      continue;
    }
    // A top-level MAP is expanded too: it has no parent struct, but it is nested data all the same.
    if (field.kind === 'map') {
      const e: Expandable = { index: expandables.length, kind: 'map', sql: quoteIdent(field.name), path: [field.name] };
      expandables.push(e);
      outputs.push(e);
      continue;
    }
    walk(field, quoteIdent(field.name), [field.name]);
  }

  const keys = await distinctKeys(df, expandables);
  const columns: Output[] = [];
  const rescuedColumns: Output[] = [];
  for (const o of outputs) {
    if ('name' in o) {
      columns.push(o);
      continue;
    }
    for (const variants of keys.get(o.index) ?? []) {
      // An empty key or one with control characters makes no usable column: it stays in its MAP or JSON.
      if (variants[0] === '' || /[\u0000-\u001f]/.test(variants[0]!)) continue;
      const name = [...o.path, variants[0]!].join(PATH_SEPARATOR);
      const parts = variants.map((k) => keyAccessSql(o, k));
      (o.rescued ? rescuedColumns : columns).push({ name, sql: parts.length === 1 ? parts[0]! : `coalesce(${parts.join(', ')})` });
    }
  }
  // Rescued fields come last and only under names still free (`agent:Name` beside `agent:name` stays in _rescued_data).
  const taken = new Set(columns.map((c) => c.name.toLowerCase()));
  columns.push(...rescuedColumns.filter((c) => !taken.has(c.name.toLowerCase())));
  assertUniqueNames(columns);

  const list = columns.map((c) => `${c.sql} AS ${quoteIdent(c.name)}`);
  if (!splitMessage) return df.selectExpr(...list);
  return df
    .selectExpr('*', `${messageLinesSql(quoteIdent('message'))} AS ${quoteIdent(LINES)}`)
    .selectExpr('*', `${messageKeysSql(quoteIdent(LINES))} AS ${quoteIdent(KEYS)}`)
    .selectExpr(...list);
}

/** A column's type tree; unlike Frame.schema() it keeps the JSON alias, which decides expansion. */
interface Field {
  name: string;
  type: string;
  kind: 'scalar' | 'struct' | 'list' | 'map';
  children: Field[];
}

async function typedSchema(df: Frame): Promise<Field[]> {
  const result = await df.session.run(`SELECT * FROM (${await df.toSql()}) LIMIT 0`);
  const types = result.columnTypes();
  return result.columnNames().map((n, i) => fieldOf(n, types[i]!));
}

function fieldOf(name: string, type: DuckDBType): Field {
  switch (type.typeId) {
    case DuckDBTypeId.STRUCT:
      return { name, type: type.toString(), kind: 'struct', children: type.entryNames.map((n, i) => fieldOf(n, type.entryTypes[i]!)) };
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY:
      return { name, type: type.toString(), kind: 'list', children: [] };
    case DuckDBTypeId.MAP:
      return { name, type: type.toString(), kind: 'map', children: [] };
    default:
      return { name, type: type.alias ?? type.toString(), kind: 'scalar', children: [] };
  }
}

function keyAccessSql(e: Expandable, key: string): string {
  if (e.kind === 'map') return `map_extract_value(${e.sql}, ${quoteString(key)})`;
  // A JSON pointer names any key exactly: '~' and '/' are its only escapes.
  const pointer = `/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`;
  return `json_extract_string(${e.sql}, ${quoteString(pointer)})`;
}

/**
 * The keys of every MAP/JSON object in the data, one scan for all of them. Per expandable: groups
 * of case-variant spellings, the most frequent spelling first, groups sorted by name.
 */
async function distinctKeys(df: Frame, expandables: readonly Expandable[]): Promise<Map<number, string[][]>> {
  const out = new Map<number, string[][]>();
  if (expandables.length === 0) return out;
  const lists = expandables.map((e) => {
    const keys =
      e.kind === 'map'
        ? `coalesce(map_keys(${e.sql}), [])`
        : `CASE WHEN json_type(${e.sql}) = 'OBJECT' THEN json_keys(${e.sql}) ELSE []::VARCHAR[] END`;
    return `list_transform(${keys}, lambda __wl_k: {'i': ${e.index}, 'k': CAST(__wl_k AS VARCHAR)})`;
  });
  const src = await df.toSql();
  const sql =
    `SELECT i, k, count(*) AS n FROM (SELECT x.i AS i, x.k AS k FROM (SELECT unnest(${lists.join(' || ')}) AS x FROM (${src}) AS t)) ` +
    `WHERE k IS NOT NULL GROUP BY i, k ORDER BY i, lower(k), n DESC, k`;
  const rows = await df.session.rows<{ i: number; k: string; n: bigint }>(sql);
  const groups = new Map<string, { i: number; variants: { k: string; n: bigint }[] }>();
  for (const r of rows) {
    const id = `${r.i}\u0000${r.k.toLowerCase()}`;
    const g = groups.get(id) ?? { i: r.i, variants: [] };
    g.variants.push({ k: r.k, n: r.n });
    groups.set(id, g);
  }
  for (const g of groups.values()) {
    const ordered = [...g.variants].sort((a, b) => (a.n === b.n ? (a.k < b.k ? -1 : 1) : a.n > b.n ? -1 : 1)).map((v) => v.k);
    const list = out.get(g.i) ?? [];
    list.push(ordered);
    out.set(g.i, list);
  }
  return out;
}

function assertUniqueNames(columns: readonly Output[]): void {
  const seen = new Map<string, string>();
  for (const c of columns) {
    const folded = c.name.toLowerCase();
    const before = seen.get(folded);
    if (before !== undefined) {
      throw new Error(
        `flatten: two columns would be named ${JSON.stringify(before)} and ${JSON.stringify(c.name)} (names are case-insensitive); ` +
          `rename or drop one before flattening`,
      );
    }
    seen.set(folded, c.name);
  }
}
