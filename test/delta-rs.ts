/**
 * Reads a Delta table with delta-rs (python `deltalake` in .venv, installed by .ci/setup-python.sh):
 * the independent reader the fault tests check a table against after each injected fault.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from './helpers.js';

const PYTHON = path.resolve(import.meta.dirname, '..', '.venv', 'bin', 'python');

const READER = `
import sys, json, os
from deltalake import DeltaTable
dt = DeltaTable(sys.argv[1])
t = dt.to_pyarrow_table()
col = sys.argv[2] if len(sys.argv) > 2 else ''
print(json.dumps({"version": dt.version(), "rows": t.num_rows, "columns": t.column_names,
                  "values": sorted(str(v) for v in t.column(col).to_pylist()) if col else []}))
sys.stdout.flush()
# Skip interpreter teardown: under load it sometimes aborts in native code ("terminate called
# without an active exception") after the answer is printed.
os._exit(0)
`;

const readerFile = path.join(tempDir('winlake-delta-rs-'), 'read_delta.py');
writeFileSync(readerFile, READER);

/** What delta-rs sees of a table: version, row count, columns, and the sorted values of one column. */
export interface DeltaRsView {
  version: number;
  rows: number;
  columns: string[];
  values: string[];
}

/**
 * Reads `table` with delta-rs; `column` asks for that column's values (sorted, as strings).
 * @example assert.equal(deltaRsRead('/tmp/t').version, 3);
 */
export function deltaRsRead(table: string, column?: string): DeltaRsView {
  const r = spawnSync(PYTHON, [readerFile, table, ...(column ? [column] : [])], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`delta-rs could not read ${table}:\n${r.stderr || r.error?.message}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as DeltaRsView;
}
