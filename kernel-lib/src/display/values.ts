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
 * Renders one DuckDB value (as returned by `getRowsJS`) as HTML, guided by its column type:
 * structs and maps as compact `key: value` lists in braces, lists as `[a, b]`, NULL styled.
 * Every piece of data is escaped.
 *
 * @example cellToHtml({ a: 1 }, structType) // => '<span class="wl-nest">{<b>a</b>: 1}</span>'
 */
export function cellToHtml(value: unknown, type: DuckDBType, limits: CellLimits = DEFAULT_CELL_LIMITS): string {
  if (value === null || value === undefined) return '<span class="wl-null">NULL</span>';
  switch (type.typeId) {
    case DuckDBTypeId.STRUCT: {
      const obj = value as Record<string, unknown>;
      const parts = type.entryNames.map(
        (name, i) => `<b>${escapeHtml(name)}</b>: ${cellToHtml(obj[name], type.entryTypes[i]!, limits)}`,
      );
      return `<span class="wl-nest">{${parts.join(', ')}}</span>`;
    }
    case DuckDBTypeId.MAP: {
      const entries = value as { key: unknown; value: unknown }[];
      const parts = entries
        .slice(0, limits.maxItems)
        .map((e) => `<b>${cellToHtml(e.key, type.keyType, limits)}</b>: ${cellToHtml(e.value, type.valueType, limits)}`);
      return `<span class="wl-nest">{${parts.join(', ')}${more(entries.length, limits.maxItems)}}</span>`;
    }
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY: {
      const items = value as unknown[];
      const parts = items.slice(0, limits.maxItems).map((v) => cellToHtml(v, type.valueType, limits));
      return `<span class="wl-nest">[${parts.join(', ')}${more(items.length, limits.maxItems)}]</span>`;
    }
    default:
      return cutHtml(scalarToText(value, type), limits.maxChars);
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
