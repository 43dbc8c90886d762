import '../engine/allocator.js'; // before the engine loads
import { DuckDBTypeId, type DuckDBType } from '@duckdb/node-api';
import { escapeHtml } from './escape.js';

/** Limits for rendering one cell. */
export interface CellLimits {
  /** Strings longer than this are cut; the full value goes into a `title` tooltip. */
  maxChars: number;
  /** Lists and maps show at most this many entries, then "+N more". */
  maxItems: number;
}

export const DEFAULT_CELL_LIMITS: CellLimits = { maxChars: 80, maxItems: 10 };

/**
 * Renders one DuckDB value (as returned by `getRowsJS`) as HTML, guided by its column type.
 * A struct, map or list is one line (its text form, cut) that expands on click into one
 * `key: value` line per entry, nested values collapsed again: plain `<details>`, so it needs no
 * script and works in nbconvert HTML too. NULL is styled; every piece of data is escaped.
 *
 * @example cellToHtml({ a: 1 }, structType) // => '<details class="wl-nest"><summary>{a: 1}</summary>...'
 */
export function cellToHtml(value: unknown, type: DuckDBType, limits: CellLimits = DEFAULT_CELL_LIMITS): string {
  if (value === null || value === undefined) return '<span class="wl-null">NULL</span>';
  const entries = nestedEntries(value, type, limits);
  if (!entries) return cutHtml(scalarToText(value, type), limits.maxChars);
  const summary = escapeHtml(cutText(cellToText(value, type, limits), limits.maxChars));
  if (entries.items.length === 0) return summary;
  const lines = entries.items.map(([key, v, t]) => `<li><span class="wl-key">${key}</span>: ${cellToHtml(v, t, limits)}</li>`);
  if (entries.hidden > 0) lines.push(`<li class="wl-type">… +${entries.hidden} more</li>`);
  return `<details class="wl-nest"><summary>${summary}</summary><ul class="wl-kv">${lines.join('')}</ul></details>`;
}

/** The entries of a nested value as (escaped key HTML, value, type), or undefined for a scalar. */
function nestedEntries(value: unknown, type: DuckDBType, limits: CellLimits): { items: [string, unknown, DuckDBType][]; hidden: number } | undefined {
  switch (type.typeId) {
    case DuckDBTypeId.STRUCT: {
      const obj = value as Record<string, unknown>;
      return { items: type.entryNames.map((name, i) => [escapeHtml(name), obj[name], type.entryTypes[i]!]), hidden: 0 };
    }
    case DuckDBTypeId.MAP: {
      const all = value as { key: unknown; value: unknown }[];
      const items = all.slice(0, limits.maxItems).map((e): [string, unknown, DuckDBType] => [cellToHtml(e.key, type.keyType, limits), e.value, type.valueType]);
      return { items, hidden: Math.max(0, all.length - limits.maxItems) };
    }
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY: {
      const all = value as unknown[];
      const items = all.slice(0, limits.maxItems).map((v, i): [string, unknown, DuckDBType] => [String(i), v, type.valueType]);
      return { items, hidden: Math.max(0, all.length - limits.maxItems) };
    }
    default:
      return undefined;
  }
}

/**
 * The alignment class of a column: `wl-n` (numbers: right-aligned, no wrap), `wl-t` (dates and
 * times: no wrap), `wl-s` (text: left-aligned, wraps at spaces), '' otherwise.
 * @example cellClass(INTEGER) // => 'wl-n'
 */
export function cellClass(type: DuckDBType): 'wl-n' | 'wl-t' | 'wl-s' | '' {
  switch (type.typeId) {
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UTINYINT:
    case DuckDBTypeId.USMALLINT:
    case DuckDBTypeId.UINTEGER:
    case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.UHUGEINT:
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.DOUBLE:
    case DuckDBTypeId.DECIMAL:
      return 'wl-n';
    case DuckDBTypeId.DATE:
    case DuckDBTypeId.TIME:
    case DuckDBTypeId.TIME_TZ:
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_NS:
    case DuckDBTypeId.TIMESTAMP_TZ:
    case DuckDBTypeId.INTERVAL:
    case DuckDBTypeId.UUID:
      return 'wl-t';
    case DuckDBTypeId.VARCHAR:
    case DuckDBTypeId.ENUM:
      return 'wl-s';
    default:
      return '';
  }
}

/**
 * Renders one DuckDB value as plain text (for terminals): nested values compact, NULL as `NULL`.
 * @example cellToText([1n, 2n], listType) // => '[1, 2]'
 */
export function cellToText(value: unknown, type: DuckDBType, limits: CellLimits = DEFAULT_CELL_LIMITS): string {
  if (value === null || value === undefined) return 'NULL';
  switch (type.typeId) {
    case DuckDBTypeId.STRUCT: {
      const obj = value as Record<string, unknown>;
      return `{${type.entryNames.map((n, i) => `${n}: ${cellToText(obj[n], type.entryTypes[i]!, limits)}`).join(', ')}}`;
    }
    case DuckDBTypeId.MAP: {
      const entries = value as { key: unknown; value: unknown }[];
      const parts = entries
        .slice(0, limits.maxItems)
        .map((e) => `${cellToText(e.key, type.keyType, limits)}: ${cellToText(e.value, type.valueType, limits)}`);
      return `{${parts.join(', ')}${more(entries.length, limits.maxItems)}}`;
    }
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY: {
      const items = value as unknown[];
      const parts = items.slice(0, limits.maxItems).map((v) => cellToText(v, type.valueType, limits));
      return `[${parts.join(', ')}${more(items.length, limits.maxItems)}]`;
    }
    default:
      return cutText(scalarToText(value, type), limits.maxChars);
  }
}

/** A scalar as the text a reader expects: ISO timestamps, dates without time, hex for blobs. */
function scalarToText(value: unknown, type: DuckDBType): string {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) return String(value);
    return type.typeId === DuckDBTypeId.DATE ? value.toISOString().slice(0, 10) : value.toISOString();
  }
  if (value instanceof Uint8Array) {
    return Array.from(value.subarray(0, 64), (b) => `\\x${b.toString(16).padStart(2, '0')}`).join('') + (value.length > 64 ? '…' : '');
  }
  if (typeof value === 'object' && value !== null) {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  }
  return String(value);
}

function more(total: number, shown: number): string {
  return total > shown ? `, … +${total - shown} more` : '';
}

/** Cuts long text; the HTML keeps the whole value in a tooltip. Line breaks are shown as ⏎. */
function cutHtml(text: string, maxChars: number): string {
  const oneLine = text.replaceAll(/\r?\n/g, '⏎');
  if (oneLine.length <= maxChars) return escapeHtml(oneLine);
  return `<span class="wl-cut" title="${escapeHtml(text)}">${escapeHtml(oneLine.slice(0, maxChars - 1))}…</span>`;
}

function cutText(text: string, maxChars: number): string {
  const oneLine = text.replaceAll(/\r?\n/g, '⏎');
  return oneLine.length <= maxChars ? oneLine : `${oneLine.slice(0, maxChars - 1)}…`;
}

/**
 * A short form of a DuckDB type for a column header: `struct(3)`, `list<varchar>`, `map<varchar, varchar>`.
 * @example shortTypeName(varcharListType) // => 'VARCHAR[]'
 */
export function shortTypeName(type: DuckDBType): string {
  switch (type.typeId) {
    case DuckDBTypeId.STRUCT:
      return `STRUCT(${type.entryNames.length})`;
    case DuckDBTypeId.MAP:
      return `MAP(${shortTypeName(type.keyType)}, ${shortTypeName(type.valueType)})`;
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY:
      return `${shortTypeName(type.valueType)}[]`;
    case DuckDBTypeId.TIMESTAMP_TZ:
      return 'TIMESTAMPTZ';
    default:
      return type.toString();
  }
}
