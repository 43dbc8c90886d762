/**
 * The ready cell the panel inserts for a table: read it, show it, and read an older version
 * (time travel) when the table has one.
 */
import type { TableSummary } from './api';

/**
 * TypeScript source of the cell for `table` (a name the catalog validated: letters, digits, _).
 * @example snippetFor({ name: 'process', version: 3 }) // reads 'process', displays it, then version 2
 */
export function snippetFor(table: Pick<TableSummary, 'name' | 'version'>): string {
  const name = JSON.stringify(table.name).replaceAll('"', "'");
  const lines = [
    "import { read_table, display } from 'winlake';",
    '',
    `const t = await read_table(${name});`,
    'await display(t);',
  ];
  if (table.version > 0) {
    lines.push(
      '',
      `// time travel: the table as it was at version ${table.version - 1} (read_table(..., { timestamp }) also works)`,
      `await display(await read_table(${name}, { version: ${table.version - 1} }));`,
    );
  } else {
    lines.push('', `// time travel: await read_table(${name}, { version: 0 }) or { timestamp: '2026-01-01T00:00:00Z' }`);
  }
  return lines.join('\n');
}
