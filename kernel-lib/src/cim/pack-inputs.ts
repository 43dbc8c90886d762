/**
 * What a set of mapping packs reads of a bronze row, so that build_silver copies only that part of
 * each micro-batch: a bronze row is mostly `message` (the rendered event text) and envelope fields
 * no pack maps, and copying them costs more than all the packs' queries.
 */
import type { SchemaField } from '../frame/index.js';
import { quoteIdent, quoteString } from '../engine/quote.js';
import type { MappingPack } from './pack.js';
import { parseTransforms } from './transform.js';

/** Flattened columns derived from another bronze column (see flattenWinlogbeat): naming the first reads the second. */
const DERIVED_FROM: Readonly<Record<string, string>> = { message_fields: 'message' };

/** A tree of the (lower-case) bronze paths the packs read; `whole` means everything below is read. */
interface PathNode {
  whole: boolean;
  children: Map<string, PathNode>;
}

/**
 * The select list that keeps, of a bronze batch with the given schema, what the packs can read
 * after flattening: for each rename source its path (a struct keeps only the fields on such
 * paths; a map, list or scalar is kept whole), the pack filter's `_sourcetype` and
 * `winlog.event_id`, and every top-level column an EXPR names outside its string literals
 * (whole-word, without case: this can keep a column no EXPR reads, never drop one it does). An EXPR that can reach columns without
 * naming them (`*`, `COLUMNS(...)`) keeps every column whole. Flattening the projection gives the
 * same values, for the columns the packs read, as flattening the whole row.
 * Returns an empty list when nothing of the batch is read.
 *
 * @example
 * const project = packInputProjection(loadPacks(['Process']));
 * project(await batch.schema()); // => ['"_sourcetype"', ..., `{'level': struct_extract("log", 'level')} AS "log"`, ...]
 */
export function packInputProjection(packs: readonly MappingPack[]): (schema: readonly SchemaField[]) => string[] {
  const root: PathNode = { whole: false, children: new Map() };
  const add = (path: readonly string[]): void => {
    let node = root;
    for (const part of path) {
      if (node.whole) return;
      let child = node.children.get(part);
      if (!child) {
        child = { whole: false, children: new Map() };
        node.children.set(part, child);
      }
      node = child;
    }
    node.whole = true;
    node.children.clear();
  };
  const exprs: string[] = [];
  add(['_sourcetype']);
  add(['winlog', 'event_id']);
  for (const pack of packs) {
    for (const step of parseTransforms(pack.transforms)) {
      if (step.verb === 'rename') {
        const path = step.source.toLowerCase().split(':');
        const derivedFrom = DERIVED_FROM[path[0]!];
        add(derivedFrom === undefined ? path : [derivedFrom]);
      }
      // String literals name no column ('failed to log on' does not read `log`).
      if (step.verb === 'expr') exprs.push(step.sql.toLowerCase().replace(/'(?:[^']|'')*'/g, "''"));
    }
  }
  const everything = exprs.some((e) => e.includes('*') || /\bcolumns\s*\(/.test(e));
  const named = (column: string): boolean =>
    exprs.some((e) => mentions(e, column) || Object.entries(DERIVED_FROM).some(([derived, source]) => source === column && mentions(e, derived)));

  return (schema) => {
    const items: string[] = [];
    for (const field of schema) {
      const lower = field.name.toLowerCase();
      // A column flattened already (`winlog:event_id`) is read through its first part.
      const node = root.children.get(lower.split(':')[0]!);
      if (everything || named(lower) || (node && (node.whole || field.kind !== 'struct' || lower.includes(':')))) {
        items.push(quoteIdent(field.name));
        continue;
      }
      if (!node) continue;
      const narrowed = structSql(field, quoteIdent(field.name), node);
      if (narrowed !== undefined) items.push(`${narrowed} AS ${quoteIdent(field.name)}`);
    }
    return items;
  };
}

/** The struct with only the fields on the tree's paths; undefined when none of them exists. */
function structSql(field: SchemaField, sql: string, node: PathNode): string | undefined {
  const parts: string[] = [];
  for (const child of field.children) {
    const wanted = node.children.get(child.name.toLowerCase());
    if (!wanted) continue;
    const childSql = `struct_extract(${sql}, ${quoteString(child.name)})`;
    const value = wanted.whole || child.kind !== 'struct' ? childSql : structSql(child, childSql, wanted);
    if (value !== undefined) parts.push(`${quoteString(child.name)}: ${value}`);
  }
  return parts.length === 0 ? undefined : `{${parts.join(', ')}}`;
}

/** Whether lower-case SQL text holds `name` other than as part of a longer identifier. */
function mentions(text: string, name: string): boolean {
  const word = /[a-z0-9_$]/;
  for (let at = text.indexOf(name); at >= 0; at = text.indexOf(name, at + 1)) {
    const before = text[at - 1];
    const after = text[at + name.length];
    if ((before === undefined || !word.test(before)) && (after === undefined || !word.test(after))) return true;
  }
  return false;
}
