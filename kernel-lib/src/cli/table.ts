import { existsSync } from 'node:fs';
import path from 'node:path';
import { getSession, closeSession } from '../engine/session.js';
import { formatCell, schemaTree, type Frame } from '../frame/index.js';
import { readDelta, history } from '../delta/index.js';
import { Catalog } from '../lakehouse/catalog.js';
import { listTables } from '../lakehouse/tables.js';
import { intOption, parseArgs, stringOption } from './args.js';
import { tableDescribeJson, tableListJson } from './table-json.js';
import { ndjsonLines, OUTPUT_FORMATS, textColumnsSql, writeRowsFile, type OutputFormat } from './table-output.js';
import type { Session } from '../engine/session.js';

const USAGE = `usage: winlake table <subcommand>
  list [--json]                              tables in the lakehouse (WINLAKE_HOME or ./lakehouse)
  read <name|path> [--version N] [--timestamp T] [--format table|ndjson|csv|parquet] [--output FILE] [--limit N]
       ndjson/csv: DATE as YYYY-MM-DD, TIMESTAMP as ISO-8601 UTC, BINARY as base64, MAP as a JSON object;
       parquet (needs --output) keeps the table's types
  history <name|path> [--limit N]
  schema <name|path> [--version N]
  describe <name> [--history N]              JSON: summary, schema, partitions, history, quarantine rows
options: --home DIR   the lakehouse root
`;

/** A table argument is a lakehouse name, or a path to any Delta table folder. */
function tablePath(ref: string, catalog: Catalog): string {
  if (ref.includes('/') || ref.includes(path.sep) || ref.startsWith('.')) {
    const p = path.resolve(ref);
    if (!existsSync(p)) throw new Error(`no such folder: ${p}`);
    return p;
  }
  return catalog.locate(ref).path;
}

/**
 * `winlake table ...`: list, read, history, schema.
 * @example await tableCommand(['read', 'process', '--limit', '5', '--format', 'ndjson'])
 */
export async function tableCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['help', 'json']);
  const [sub, ref] = args.positionals;
  if (args.options.has('help')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!sub) {
    process.stderr.write(USAGE);
    return 2;
  }
  const catalog = new Catalog(stringOption(args, 'home'));
  try {
    switch (sub) {
      case 'list': {
        if (args.options.has('json')) {
          process.stdout.write(`${JSON.stringify(await tableListJson(catalog))}\n`);
          return 0;
        }
        const tables = await listTables({ catalog });
        if (tables.length === 0) {
          process.stdout.write(`no tables in ${catalog.root}\n`);
          return 0;
        }
        printTable(
          tables.map((t) => ({
            name: t.name,
            tier: t.tier,
            version: t.version,
            files: t.files,
            rows: t.rows,
            bytes: t.bytes,
            partitions: t.partitionColumns.join(','),
          })),
        );
        return 0;
      }
      case 'read': {
        if (!ref) throw new Error('table read needs a table name or path');
        const format = (stringOption(args, 'format') ?? 'table') as OutputFormat;
        const output = stringOption(args, 'output');
        // Refuse bad options before reading any data.
        if (!OUTPUT_FORMATS.includes(format)) throw new Error(`unknown --format ${JSON.stringify(format)}: use ${OUTPUT_FORMATS.join(', ')}`);
        if (format === 'parquet' && output === undefined) throw new Error('--format parquet needs --output FILE');
        if (format === 'table' && output !== undefined) throw new Error('--output needs --format ndjson, csv or parquet');
        const version = intOption(args, 'version');
        const timestamp = stringOption(args, 'timestamp');
        const session = await getSession();
        let df: Frame = await readDelta(session, tablePath(ref, catalog), {
          ...(version !== undefined ? { version } : {}),
          ...(timestamp !== undefined ? { timestamp } : {}),
        });
        const limit = intOption(args, 'limit');
        if (limit !== undefined) df = df.limit(limit);
        if (output !== undefined && format !== 'table') {
          await writeRowsFile(session, await df.toSql(), format, path.resolve(output));
          process.stderr.write(`wrote ${path.resolve(output)} (${format})\n`);
        } else {
          await writeRows(session, await df.toSql(), format);
        }
        return 0;
      }
      case 'history': {
        if (!ref) throw new Error('table history needs a table name or path');
        const limit = intOption(args, 'limit');
        const entries = await history(tablePath(ref, catalog), limit !== undefined ? { limit } : {});
        printTable(
          entries.map((e) => ({
            version: e.version,
            timestamp: new Date(e.timestamp).toISOString(),
            operation: e.operation,
            parameters: JSON.stringify(e.operationParameters ?? {}),
            metrics: JSON.stringify(e.operationMetrics ?? {}),
          })),
        );
        return 0;
      }
      case 'schema': {
        if (!ref) throw new Error('table schema needs a table name or path');
        const version = intOption(args, 'version');
        const df = await readDelta(await getSession(), tablePath(ref, catalog), version !== undefined ? { version } : {});
        process.stdout.write(`${schemaTree(await df.schema())}\n`);
        return 0;
      }
      case 'describe': {
        if (!ref) throw new Error('table describe needs a table name');
        const historyLimit = intOption(args, 'history');
        const described = await tableDescribeJson(await getSession(), catalog, catalog.locate(ref), historyLimit !== undefined ? { historyLimit } : {});
        process.stdout.write(`${JSON.stringify(described)}\n`);
        return 0;
      }
      default:
        process.stderr.write(`winlake table: unknown subcommand '${sub}'\n${USAGE}`);
        return 2;
    }
  } finally {
    await closeSession();
  }
}

async function writeRows(session: Session, sql: string, format: OutputFormat): Promise<void> {
  switch (format) {
    case 'ndjson':
      for (const line of await ndjsonLines(session, sql)) process.stdout.write(`${line}\n`);
      return;
    case 'csv': {
      const rows = await session.rows(await textColumnsSql(session, sql, 'csv'));
      const cols = (await session.rows<{ column_name: string }>(`DESCRIBE (${sql})`)).map((c) => c.column_name);
      process.stdout.write(`${cols.map(csvCell).join(',')}\n`);
      for (const r of rows) process.stdout.write(`${cols.map((c) => csvCell(r[c] === null ? '' : formatCell(r[c]))).join(',')}\n`);
      return;
    }
    case 'table':
      printTable(await session.rows(await textColumnsSql(session, sql, 'table')));
      return;
    default:
      throw new Error(`--format ${format} writes to a file: add --output FILE`);
  }
}

function csvCell(value: unknown): string {
  const s = String(value);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

function printTable(rows: Record<string, unknown>[]): void {
  if (rows.length === 0) {
    process.stdout.write('(no rows)\n');
    return;
  }
  const cols = Object.keys(rows[0]!);
  const cells = rows.map((r) => cols.map((c) => formatCell(r[c]).replaceAll(/[\r\n]+/g, ' ')));
  const widths = cols.map((c, i) => Math.min(60, Math.max(c.length, ...cells.map((r) => r[i]!.length))));
  const fmt = (vals: string[]): string =>
    vals.map((v, i) => (v.length > widths[i]! ? `${v.slice(0, widths[i]! - 1)}…` : v.padEnd(widths[i]!))).join('  ').trimEnd();
  process.stdout.write(`${fmt(cols)}\n${fmt(widths.map((w) => '-'.repeat(w)))}\n`);
  for (const r of cells) process.stdout.write(`${fmt(r)}\n`);
}
