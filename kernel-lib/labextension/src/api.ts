/**
 * The panel's two requests to the server extension (winlake_lakehouse), which answers with the
 * `winlake table list --json` and `winlake table describe` output of the lakehouse the kernel uses.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** One table of `winlake table list --json` (TableSummary in kernel-lib/src/lakehouse/tables.ts). */
export interface TableSummary {
  name: string;
  tier: 'bronze' | 'silver' | 'gold';
  path: string;
  version: number;
  files: number;
  rows: number | null;
  bytes: number;
  partitionColumns: string[];
}

/** `winlake table list --json`. */
export interface TableList {
  root: string;
  tables: TableSummary[];
}

/** A column of the schema (SchemaField in kernel-lib/src/frame/schema.ts). */
export interface SchemaField {
  name: string;
  type: string;
  kind: 'scalar' | 'struct' | 'list' | 'map';
  children: SchemaField[];
}

/** `winlake table describe <name>` (TableDescribeJson in kernel-lib/src/cli/table-json.ts). */
export interface TableDetails extends TableSummary {
  schema: SchemaField[];
  partitions: { values: Record<string, string | null>; files: number; rows: number | null; bytes: number }[];
  partitionsTruncated: boolean;
  history: { version: number; timestamp: string; operation: string | null; parameters: Record<string, unknown> }[];
  quarantine: { name: string; rows: number | null } | null;
}

async function getJson<T>(...parts: string[]): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'winlake', ...parts.map(encodeURIComponent));
  const response = await ServerConnection.makeRequest(url, {}, settings);
  const text = await response.text();
  if (!response.ok) {
    let message = text;
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? text;
    } catch {
      // Not JSON (a proxy's error page): show it as it came.
    }
    throw new Error(message || `${response.status} ${response.statusText}`);
  }
  return JSON.parse(text) as T;
}

/** The lakehouse's tables. */
export function fetchTables(): Promise<TableList> {
  return getJson<TableList>('tables');
}

/** One table's schema, partitions, history and quarantine rows. */
export function fetchTable(name: string): Promise<TableDetails> {
  return getJson<TableDetails>('tables', name);
}
