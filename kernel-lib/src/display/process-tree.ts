import { quoteIdent, quoteString } from '../engine/quote.js';
import type { Frame } from '../frame/index.js';
import { requireColumns } from './charts.js';
import { escapeHtml, formatCount } from './escape.js';
import { DISPLAY_CSS } from './css.js';

/** Options for {@link processTree}. */
export interface ProcessTreeOptions {
  /** The host whose processes are drawn. */
  host: string;
  /** Default `dvc_hostname`. */
  hostColumn?: string;
  /** Draw only the subtree under this process GUID. */
  rootGuid?: string;
  /** At most this many processes (earliest first). Default 500. */
  limit?: number;
  /** Characters of a command line shown before it is cut. Default 120. */
  maxChars?: number;
}

/** One process of a host, aggregated over its events (start, terminate, pipe...). */
export interface ProcessNode {
  guid: string;
  parentGuid: string | null;
  /** Image name (process_name, else the file name of process_file_path). */
  name: string;
  path: string | null;
  commandLine: string | null;
  firstSeen: Date | null;
  events: number;
  /** True for a parent that has no events of its own in the data (only known from its children). */
  inferred: boolean;
  children: ProcessNode[];
}

/**
 * Builds the process forest of one host from Process-table columns (process_guid,
 * process_parent_guid, process_file_path and/or process_name, process_command_line, _event_time).
 * One row per process comes from DuckDB (GROUP BY process_guid); parents missing from the data
 * become `inferred` roots named from process_parent_file_path when that column exists.
 *
 * @example const roots = await processForest(processTable, { host: 'WKS-01' });
 */
export async function processForest(df: Frame, options: ProcessTreeOptions): Promise<ProcessNode[]> {
  const hostColumn = options.hostColumn ?? 'dvc_hostname';
  const limit = options.limit ?? 500;
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`limit must be a positive integer, got ${limit}`);
  await requireColumns(df, [hostColumn, 'process_guid', 'process_parent_guid']);
  const present = new Set(await df.columns());
  const has = (c: string): boolean => present.has(c);
  if (!has('process_name') && !has('process_file_path')) {
    throw new Error('a process tree needs process_name or process_file_path');
  }
  const q = quoteIdent;
  const baseName = (c: string): string => `regexp_extract(${q(c)}, '[^\\\\/]+$')`;
  const name = has('process_name')
    ? has('process_file_path')
      ? `coalesce(${q('process_name')}, ${baseName('process_file_path')})`
      : q('process_name')
    : baseName('process_file_path');
  const orNull = (c: string, expr = q(c)): string => (has(c) ? expr : 'NULL');
  const sql = `SELECT CAST(${q('process_guid')} AS VARCHAR) AS guid,
      CAST(any_value(${q('process_parent_guid')}) FILTER (WHERE ${q('process_parent_guid')} IS NOT NULL) AS VARCHAR) AS parent,
      CAST(any_value(${name}) FILTER (WHERE ${name} IS NOT NULL) AS VARCHAR) AS name,
      CAST(any_value(${orNull('process_file_path')}) AS VARCHAR) AS path,
      CAST(any_value(${orNull('process_command_line')}) FILTER (WHERE ${orNull('process_command_line')} IS NOT NULL) AS VARCHAR) AS cmd,
      CAST(any_value(${orNull('process_parent_file_path')}) AS VARCHAR) AS parent_path,
      CAST(min(${orNull('_event_time')}) AS TIMESTAMPTZ) AS first_seen,
      count(*) AS events
    FROM (${await df.toSql()})
    WHERE ${q(hostColumn)} = ${quoteString(options.host)} AND ${q('process_guid')} IS NOT NULL
    GROUP BY 1 ORDER BY first_seen NULLS LAST, guid LIMIT ${limit}`;
  const rows = await df.session.rows<{
    guid: string;
    parent: string | null;
    name: string | null;
    path: string | null;
    cmd: string | null;
    parent_path: string | null;
    first_seen: Date | null;
    events: bigint | number;
  }>(sql);

  const nodes = new Map<string, ProcessNode>();
  for (const r of rows) {
    nodes.set(r.guid, {
      guid: r.guid,
      parentGuid: r.parent,
      name: r.name ?? '(unknown)',
      path: r.path,
      commandLine: r.cmd,
      firstSeen: r.first_seen,
      events: Number(r.events),
      inferred: false,
      children: [],
    });
  }
  for (const r of rows) {
    if (r.parent === null || r.parent === r.guid || nodes.has(r.parent)) continue;
    const parentName = r.parent_path ? (r.parent_path.split(/[\\/]/).pop() ?? r.parent_path) : '(not in data)';
    nodes.set(r.parent, {
      guid: r.parent,
      parentGuid: null,
      name: parentName,
      path: r.parent_path,
      commandLine: null,
      firstSeen: null,
      events: 0,
      inferred: true,
      children: [],
    });
  }
  const roots: ProcessNode[] = [];
  for (const node of nodes.values()) {
    const parent = node.parentGuid === null || node.parentGuid === node.guid ? undefined : nodes.get(node.parentGuid);
    if (parent && !isAncestor(node, parent, nodes)) parent.children.push(node);
    else roots.push(node);
  }
  if (options.rootGuid !== undefined) {
    const root = nodes.get(options.rootGuid);
    if (!root) throw new Error(`process ${JSON.stringify(options.rootGuid)} not found on host ${JSON.stringify(options.host)}`);
    return [root];
  }
  return roots;
}

/** Guards against GUID cycles in bad data: would attaching `node` under `parent` loop? */
function isAncestor(node: ProcessNode, parent: ProcessNode, nodes: Map<string, ProcessNode>): boolean {
  const seen = new Set<string>();
  for (let p: ProcessNode | undefined = parent; p; p = p.parentGuid === null ? undefined : nodes.get(p.parentGuid)) {
    if (p === node) return true;
    if (seen.has(p.guid)) return true;
    seen.add(p.guid);
  }
  return false;
}

/**
 * A process tree of one host as a nested, collapsible HTML list: image name, command line
 * (cut, full text in the tooltip) and first-seen time per process. All data is escaped.
 *
 * @example display(await processTree(processTable, { host: 'WKS-01' }));
 */
export async function processTree(df: Frame, options: ProcessTreeOptions): Promise<string> {
  const roots = await processForest(df, options);
  const maxChars = options.maxChars ?? 120;
  const count = countNodes(roots);
  const item = (n: ProcessNode): string => {
    const cmd = n.commandLine ?? '';
    const shownCmd = cmd.length > maxChars ? `${cmd.slice(0, maxChars - 1)}…` : cmd;
    const label =
      `<b title="${escapeHtml(n.path ?? n.name)}">${escapeHtml(n.name)}</b>` +
      (n.inferred ? ' <span class="wl-null">(parent, no events)</span>' : '') +
      (cmd ? ` <span class="wl-cmd" title="${escapeHtml(cmd)}">${escapeHtml(shownCmd)}</span>` : '') +
      (n.firstSeen ? ` <span class="wl-time">${escapeHtml(n.firstSeen.toISOString())}</span>` : '');
    if (n.children.length === 0) return `<li>${label}</li>`;
    return `<li><details open><summary>${label}</summary><ul>${n.children.map(item).join('')}</ul></details></li>`;
  };
  const caption = `<div class="wl-caption">${escapeHtml(`${formatCount(count)} processes on ${options.host}`)}</div>`;
  return `${DISPLAY_CSS}${caption}<ul class="wl-ptree">${roots.map(item).join('')}</ul>`;
}

/**
 * The same tree as indented plain text, for terminals.
 * @example console.log(processTreeText(await processForest(df, { host: 'WKS-01' })));
 */
export function processTreeText(roots: readonly ProcessNode[], maxChars = 100): string {
  const lines: string[] = [];
  const walk = (n: ProcessNode, depth: number): void => {
    const cmd = n.commandLine ? `  ${n.commandLine.length > maxChars ? `${n.commandLine.slice(0, maxChars - 1)}…` : n.commandLine}` : '';
    lines.push(`${'  '.repeat(depth)}${depth > 0 ? '└─ ' : ''}${n.name}${n.inferred ? ' (parent, no events)' : ''}${cmd.replaceAll(/[\r\n]+/g, ' ')}`);
    for (const c of n.children) walk(c, depth + 1);
  };
  for (const r of roots) walk(r, 0);
  return lines.join('\n');
}

function countNodes(nodes: readonly ProcessNode[]): number {
  return nodes.reduce((sum, n) => sum + 1 + countNodes(n.children), 0);
}
