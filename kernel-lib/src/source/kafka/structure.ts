/**
 * The one structure that JSON documents are parsed with, and a cache of it that lets a stream of
 * batches skip inference.
 *
 * Inference (DuckDB's JSON reader over every document) cost more than the parse itself. A
 * {@link StructureCache} instead keeps one representative document per *shape* seen so far and the
 * structure inferred over those representatives. A document's shape is a hash, computed by DuckDB,
 * of everything about it that the cached structure could not hold losslessly:
 * - the key set of every object the structure has as a STRUCT (a new key anywhere shows);
 * - the JSON type of every field the structure gives a type that not every value fits (numbers,
 *   booleans, structs, lists, MAP fields, and fields seen only as null);
 * - the full structure of lists whose elements are not text.
 * Fields typed text (VARCHAR/JSON) are not part of the shape: any JSON value converts to them
 * without loss (an object arriving where text was seen is kept as its JSON text).
 * A batch whose documents only have known shapes is parsed with the cached structure; otherwise
 * the new shapes' representatives join the cache and the structure is inferred again over the
 * representatives alone (a few dozen documents), which sees every key the batch has.
 */
import { DuckDBTypeId, type DuckDBType } from '@duckdb/node-api';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { quoteString } from '../../engine/quote.js';
import { SqlError, type Session } from '../../engine/session.js';

/** A `json_group_structure` result: a type name, a one-element list, or an object. */
export type Structure = string | Structure[] | { [key: string]: Structure };

/** The nested fields always parsed as MAP(VARCHAR, VARCHAR), as paths. */
export const MAP_FIELDS: readonly (readonly string[])[] = [
  ['winlog', 'event_data'],
  ['winlog', 'user_data'],
];

/** How a structure is inferred from documents: DuckDB's JSON reader, or the SQL aggregate. */
export type InferenceMethod = 'read_json' | 'json_group_structure';

/** A 4-byte delimiter that text never holds, so that read_csv reads each line as one column. */
export const LINE_DELIMITER = "E'\\x1f\\x1e\\x1d\\x01'";

/** Safety net: a shape hash that keeps finding new shapes after this many rounds is a bug. */
const MAX_ROUNDS = 64;

/**
 * The structure documents are parsed with, learnt from representative documents and reused
 * batch after batch. Give one cache to every batch of one source (a stream); a fresh one makes
 * the parse infer from the batch alone.
 *
 * @example
 * const cache = new StructureCache();
 * const a = await recordFilesToFrame(session, [fileA], { structureCache: cache });
 * const b = await recordFilesToFrame(session, [fileB], { structureCache: cache }); // no inference unless new shapes
 */
export class StructureCache {
  /** One compact (single-line) document per shape seen. */
  private representatives: string[] = [];
  /** Shape hashes (decimal) of the representatives, under the current structure's paths. */
  private shapes = new Set<string>();
  private raw: Structure | undefined;
  private paths: ShapePaths = shapePathsOf(undefined);
  /** Times the structure was inferred again (a test and benchmark figure). */
  inferences = 0;

  constructor(readonly inference: InferenceMethod = 'read_json') {}

  /** The structure inferred so far (before {@link stableStructure}), or undefined when none. */
  get structure(): Structure | undefined {
    return this.raw;
  }

  /** How many distinct shapes the cache knows. */
  get shapeCount(): number {
    return this.representatives.length;
  }

  /** The SQL expression (over a VARCHAR column `value` holding a JSON object) of a document's shape hash. */
  shapeSql(value = 'value'): string {
    const list = (paths: readonly string[]): string => `[${paths.map(quoteString).join(', ')}]`;
    const parts = [`json_type(${value}, ${list(this.paths.types)})`, `json_keys(${value}, ${list(this.paths.keys)})`];
    if (this.paths.lists.length > 0) parts.push(`list_transform(json_extract(${value}, ${list(this.paths.lists)}), x -> json_structure(x))`);
    return `hash(${parts.join(', ')})`;
  }

  /** True when the cache knows this shape hash. */
  knows(shape: string): boolean {
    return this.shapes.has(shape);
  }

  /**
   * Makes the cache cover every good document of `documents` (SQL with columns `value` and
   * `_corrupt_reason`, NULL for good documents): adds a representative of each unknown shape and
   * infers the structure again, until no document has an unknown shape. Returns whether the
   * structure changed.
   */
  async cover(session: Session, documents: string): Promise<boolean> {
    let changed = false;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      // One document per shape; multi-line (pretty-printed) ones compacted for the line-based reader.
      const rows = await session.rows<{ shape: bigint; doc: string }>(
        `SELECT ${this.shapeSql()} AS shape, any_value(CASE WHEN contains(value, E'\\n') OR contains(value, E'\\r') THEN json(value)::VARCHAR ELSE value END) AS doc ` +
          `FROM ${documents} WHERE _corrupt_reason IS NULL GROUP BY ALL`,
      );
      const unknown = rows.filter((r) => !this.shapes.has(String(r.shape)));
      if (unknown.length === 0) return changed;
      await this.learn(session, unknown.map((r) => r.doc));
      changed = true;
    }
    throw new Error(`the structure of the documents did not settle after ${MAX_ROUNDS} rounds of inference (a bug in winlake: please report it)`);
  }

  /** Adds representatives, infers the structure over all of them, and re-hashes them under it. */
  private async learn(session: Session, documents: readonly string[]): Promise<void> {
    this.inferences++;
    const dir = session.scratch('winlake-infer-');
    try {
      const file = path.join(dir, 'representatives.ndjson');
      writeFileSync(file, `${[...this.representatives, ...documents].join('\n')}\n`);
      const lines = `(SELECT v AS value FROM read_csv(${quoteString(file)}, columns={'v': 'VARCHAR'}, delim=${LINE_DELIMITER}, quote='', escape='', header=false, auto_detect=false, new_line='\\n', max_line_size=${256 * 1024 * 1024}))`;
      this.raw = await inferStructure(session, file, lines, this.inference);
      this.paths = shapePathsOf(this.raw);
      // Representatives that now hash alike are one shape: keep one of each.
      const rows = await session.rows<{ shape: bigint; doc: string }>(`SELECT ${this.shapeSql()} AS shape, any_value(value) AS doc FROM ${lines} GROUP BY ALL`);
      this.representatives = rows.map((r) => r.doc);
      this.shapes = new Set(rows.map((r) => String(r.shape)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

/**
 * One structure over the documents of an NDJSON file (`lines`: the same as SQL with a column
 * `value`). `read_json` infers over all of them (`sample_size=-1`); when it refuses keys that differ
 * only in case (Sysmon's ProcessId beside Security's ProcessID in event_data, as real recordings
 * have), `json_group_structure` (which keeps both) is used — the MAP fields that hold them absorb
 * the difference.
 */
async function inferStructure(session: Session, file: string, lines: string, how: InferenceMethod): Promise<Structure | undefined> {
  if (how === 'json_group_structure') {
    const text = await session.scalar<string | null>(`SELECT json_group_structure(value::JSON)::VARCHAR FROM ${lines}`);
    return text == null ? undefined : (JSON.parse(text) as Structure);
  }
  let result;
  try {
    result = await session.run(
      `SELECT * FROM read_json(${quoteString(file)}, format='newline_delimited', records=true, sample_size=-1, ` +
        `maximum_object_size=${64 * 1024 * 1024}, map_inference_threshold=-1, field_appearance_threshold=0) LIMIT 0`,
    );
  } catch (err) {
    if (err instanceof SqlError && /Duplicate name/i.test(err.engineMessage)) return inferStructure(session, file, lines, 'json_group_structure');
    throw err;
  }
  const types = result.columnTypes();
  return Object.fromEntries(result.columnNames().map((n, i) => [n, structureOfType(types[i]!)]));
}

/** The JSON paths a shape hash looks at (see the top of this file). */
interface ShapePaths {
  /** Paths whose JSON type counts. */
  types: string[];
  /** Paths of objects whose key set counts. */
  keys: string[];
  /** Paths of lists whose whole structure counts. */
  lists: string[];
}

function isMapField(at: readonly string[]): boolean {
  return MAP_FIELDS.some((p) => p.length === at.length && p.every((part, i) => part === at[i]));
}

/** A JSON pointer (RFC 6901): any key can be written in one, unlike `$.` paths. */
function pointer(at: readonly string[]): string {
  return at.map((k) => `/${k.replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

/** Text types: every JSON value converts to them without loss. */
const isText = (s: Structure | undefined): boolean => s === 'VARCHAR' || s === 'JSON';

function shapePathsOf(raw: Structure | undefined): ShapePaths {
  const paths: ShapePaths = { types: ['$'], keys: ['$'], lists: [] };
  const walk = (node: { [key: string]: Structure }, at: readonly string[]): void => {
    for (const [key, child] of Object.entries(node)) {
      const here = [...at, key];
      const p = pointer(here);
      if (isMapField(here)) {
        paths.types.push(p);
      } else if (typeof child === 'string') {
        if (!isText(child)) paths.types.push(p);
      } else if (Array.isArray(child)) {
        paths.types.push(p);
        if (!isText(child[0])) paths.lists.push(p);
      } else {
        paths.types.push(p);
        paths.keys.push(p);
        walk(child, here);
      }
    }
  };
  if (raw !== undefined && typeof raw === 'object' && !Array.isArray(raw)) walk(raw, []);
  return paths;
}

/** The json_transform structure for a type DuckDB's JSON reader inferred. */
function structureOfType(type: DuckDBType): Structure {
  switch (type.typeId) {
    case DuckDBTypeId.STRUCT:
      return Object.fromEntries(type.entryNames.map((n, i) => [n, structureOfType(type.entryTypes[i]!)]));
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY:
      return [structureOfType(type.valueType)];
    case DuckDBTypeId.BOOLEAN:
      return 'BOOLEAN';
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UTINYINT:
    case DuckDBTypeId.USMALLINT:
    case DuckDBTypeId.UINTEGER:
    case DuckDBTypeId.UBIGINT:
      return 'BIGINT';
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.DOUBLE:
    case DuckDBTypeId.DECIMAL:
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UHUGEINT:
      return 'DOUBLE';
    case DuckDBTypeId.SQLNULL:
      return 'NULL';
    case DuckDBTypeId.VARCHAR:
      return type.toString() === 'JSON' ? 'JSON' : 'VARCHAR';
    case DuckDBTypeId.MAP:
      return 'JSON';
    default:
      // Dates and times the reader recognised in strings stay text: detection varies from batch to
      // batch, which would change the bronze schema (only top-level @timestamp is a timestamp).
      return 'VARCHAR';
  }
}

/**
 * Rewrites an inferred structure into the stable types winlake parses with: MAP fields are
 * MAP(VARCHAR, VARCHAR), top-level `@timestamp` TIMESTAMPTZ, integers BIGINT, null-only fields
 * VARCHAR, empty objects and objects with keys differing only in case JSON.
 *
 * @example stableStructure({ '@timestamp': 'VARCHAR', n: 'UBIGINT' }, []) // → { '@timestamp': 'TIMESTAMPTZ', n: 'BIGINT' }
 */
export function stableStructure(s: Structure, at: readonly string[]): Structure {
  if (isMapField(at)) return 'MAP(VARCHAR, VARCHAR)';
  if (typeof s === 'string') {
    if (at.length === 1 && at[0] === '@timestamp' && s === 'VARCHAR') return 'TIMESTAMPTZ';
    if (s === 'NULL') return 'VARCHAR';
    if (s === 'UBIGINT' || s === 'UINTEGER' || s === 'INTEGER') return 'BIGINT';
    return s;
  }
  if (Array.isArray(s)) {
    const element = s[0];
    return element === undefined ? 'JSON' : [stableStructure(element, [...at, '[]'])];
  }
  const keys = Object.keys(s);
  if (keys.length === 0) return 'JSON';
  // DuckDB struct field names ignore case: keys differing only in case cannot be separate fields.
  const seen = new Set<string>();
  for (const k of keys) {
    const lower = k.toLowerCase();
    if (seen.has(lower)) return 'JSON';
    seen.add(lower);
  }
  return Object.fromEntries(keys.map((k) => [k, stableStructure(s[k]!, [...at, k])]));
}
