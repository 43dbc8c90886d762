/**
 * The Lakehouse side panel: tables by tier (rows, version, size), and for the selected table its
 * schema, partitions, history and quarantine rows, with a button that inserts a ready cell.
 * Plain DOM on a Lumino Widget: every value is set as text, never as HTML.
 */
import { Widget } from '@lumino/widgets';
import { fetchTable, fetchTables, type SchemaField, type TableDetails, type TableList, type TableSummary } from './api';
import { snippetFor } from './snippet';

const TIERS = ['bronze', 'silver', 'gold'] as const;

/** What the panel needs from the notebook side: put a cell into the active notebook. */
export interface CellInserter {
  /** Inserts `source` below the active cell; false when no notebook is open. */
  insert(source: string, table: TableSummary): boolean;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * A byte count in binary steps, as file browsers show sizes.
 * @example formatBytes(1536) // => '1.5 KB'
 */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** Puts `text` into `node` with a line-break opportunity after each underscore (long snake_case names). */
function breakable<T extends HTMLElement>(node: T, text: string): T {
  text.split(/(?<=_)/).forEach((part, i) => {
    if (i > 0) node.append(document.createElement('wbr'));
    node.append(part);
  });
  return node;
}

function formatRows(rows: number | null): string {
  return rows === null ? '?' : rows.toLocaleString('en-US');
}

function schemaList(fields: readonly SchemaField[]): HTMLUListElement {
  const list = el('ul', 'wl-lh-schema');
  for (const field of fields) {
    const item = el('li');
    item.append(el('span', 'wl-lh-col', field.name), el('span', 'wl-lh-type', field.kind === 'scalar' ? field.type.toLowerCase() : field.kind));
    if (field.children.length) item.append(schemaList(field.children));
    list.append(item);
  }
  return list;
}

function grid(headers: string[], rows: string[][], numeric: boolean[]): HTMLTableElement {
  const table = el('table', 'wl-lh-grid');
  const head = el('tr');
  headers.forEach((h, i) => head.append(el('th', numeric[i] ? 'wl-lh-num' : '', h)));
  table.createTHead().append(head);
  const body = table.createTBody();
  for (const row of rows) {
    const tr = el('tr');
    row.forEach((cell, i) => tr.append(el('td', numeric[i] ? 'wl-lh-num' : '', cell)));
    body.append(tr);
  }
  return table;
}

/** The side panel widget (id `winlake-lakehouse`). */
export class LakehousePanel extends Widget {
  private readonly listArea = el('div', 'wl-lh-list');
  private readonly detailArea = el('div', 'wl-lh-detail');
  private readonly status = el('div', 'wl-lh-status');
  private readonly rootLine = el('div', 'wl-lh-root');
  private selected: string | null = null;
  private tables: TableSummary[] = [];
  private loaded = false;

  constructor(private readonly inserter: CellInserter) {
    super();
    this.id = 'winlake-lakehouse';
    this.addClass('wl-lh-panel');
    const header = el('div', 'wl-lh-header');
    const refresh = el('button', 'wl-lh-button', 'Refresh');
    refresh.title = 'Read the lakehouse again';
    refresh.addEventListener('click', () => void this.refresh());
    header.append(el('h2', 'wl-lh-title', 'Lakehouse'), refresh);
    this.node.append(header, this.rootLine, this.status, this.listArea, this.detailArea);
  }

  /** Reads the lakehouse when the panel is first shown, not at start-up (each read runs the CLI). */
  protected override onAfterShow(): void {
    if (this.loaded) return;
    this.loaded = true;
    void this.refresh();
  }

  /** Reads the table list again (and the selected table's details, if it still exists). */
  async refresh(): Promise<void> {
    this.status.textContent = 'Loading…';
    let list: TableList;
    try {
      list = await fetchTables();
    } catch (error) {
      this.status.textContent = `Cannot list tables: ${(error as Error).message}`;
      return;
    }
    this.tables = list.tables;
    this.rootLine.textContent = list.root;
    this.rootLine.title = 'WINLAKE_HOME: the lakehouse the notebook kernels read';
    this.status.textContent = list.tables.length ? '' : 'No tables yet: run `npm run demo` or notebook 01, then Refresh.';
    this.renderList();
    if (this.selected && this.tables.some((t) => t.name === this.selected)) await this.select(this.selected);
    else this.detailArea.replaceChildren();
  }

  private renderList(): void {
    this.listArea.replaceChildren();
    for (const tier of TIERS) {
      const tables = this.tables.filter((t) => t.tier === tier);
      if (!tables.length) continue;
      const section = el('section', 'wl-lh-tier');
      section.dataset.tier = tier;
      section.append(el('h3', 'wl-lh-tier-name', tier));
      const table = el('table', 'wl-lh-grid wl-lh-tables');
      const head = el('tr');
      for (const [label, cls] of [['table', ''], ['rows', 'wl-lh-num'], ['v', 'wl-lh-num'], ['size', 'wl-lh-num']] as const) {
        const th = el('th', cls, label);
        if (label === 'v') th.title = 'current version';
        head.append(th);
      }
      table.createTHead().append(head);
      const body = table.createTBody();
      for (const t of tables) {
        const tr = el('tr', t.name === this.selected ? 'wl-lh-row wl-lh-selected' : 'wl-lh-row');
        tr.dataset.table = t.name;
        tr.tabIndex = 0;
        tr.title = t.path;
        tr.append(breakable(el('td', 'wl-lh-name'), t.name), el('td', 'wl-lh-num', formatRows(t.rows)), el('td', 'wl-lh-num', String(t.version)), el('td', 'wl-lh-num', formatBytes(t.bytes)));
        tr.addEventListener('click', () => void this.select(t.name));
        tr.addEventListener('keydown', (event) => {
          if (event.key === 'Enter') void this.select(t.name);
        });
        body.append(tr);
      }
      section.append(table);
      this.listArea.append(section);
    }
  }

  /** Shows one table's details. */
  async select(name: string): Promise<void> {
    this.selected = name;
    for (const row of this.listArea.querySelectorAll<HTMLElement>('.wl-lh-row')) {
      row.classList.toggle('wl-lh-selected', row.dataset.table === name);
    }
    this.detailArea.replaceChildren(el('div', 'wl-lh-status', `Reading ${name}…`));
    let details: TableDetails;
    try {
      details = await fetchTable(name);
    } catch (error) {
      this.detailArea.replaceChildren(el('div', 'wl-lh-status wl-lh-error', (error as Error).message));
      return;
    }
    if (this.selected !== name) return;
    this.detailArea.replaceChildren(this.renderDetails(details));
  }

  private renderDetails(d: TableDetails): HTMLElement {
    const box = el('div', 'wl-lh-details');
    box.dataset.table = d.name;
    const insert = el('button', 'wl-lh-button wl-lh-insert', 'Insert cell');
    insert.title = 'Insert a cell that reads this table into the active notebook';
    insert.addEventListener('click', () => {
      const done = this.inserter.insert(snippetFor(d), d);
      this.status.textContent = done ? '' : 'Open a notebook first: the cell goes into the active notebook.';
    });
    const title = el('div', 'wl-lh-detail-head');
    title.append(breakable(el('h3', 'wl-lh-detail-name'), `${d.tier}.${d.name}`), insert);
    box.append(title);
    const facts = el('dl', 'wl-lh-facts');
    const fact = (label: string, value: string, key: string): void => {
      const dd = el('dd', '', value);
      dd.dataset.fact = key;
      facts.append(el('dt', '', label), dd);
    };
    fact('rows', formatRows(d.rows), 'rows');
    fact('version', String(d.version), 'version');
    fact('files', `${d.files} (${formatBytes(d.bytes)})`, 'files');
    fact('partitioned by', d.partitionColumns.join(', ') || '—', 'partitionColumns');
    fact('quarantine', d.quarantine ? `${formatRows(d.quarantine.rows)} ${d.quarantine.rows === 1 ? 'row' : 'rows'} in ${d.quarantine.name}` : 'none', 'quarantine');
    box.append(facts);

    const section = (label: string, body: HTMLElement, open: boolean): void => {
      const details = el('details', 'wl-lh-section');
      details.open = open;
      details.dataset.section = label;
      details.append(el('summary', '', label), body);
      box.append(details);
    };
    section('schema', schemaList(d.schema), true);
    if (d.partitionColumns.length) {
      const rows = d.partitions.map((p) => [
        d.partitionColumns.map((c) => `${c}=${p.values[c] ?? 'null'}`).join(' / '),
        String(p.files),
        formatRows(p.rows),
        formatBytes(p.bytes),
      ]);
      const body = el('div');
      body.append(grid(['partition', 'files', 'rows', 'size'], rows, [false, true, true, true]));
      if (d.partitionsTruncated) body.append(el('div', 'wl-lh-status', `first ${d.partitions.length} partitions`));
      section(`partitions (${d.partitions.length}${d.partitionsTruncated ? '+' : ''})`, body, false);
    }
    const history = d.history.map((c) => [String(c.version), c.timestamp.replace('T', ' ').replace(/\.\d+Z$/, 'Z'), c.operation ?? '']);
    section('history', grid(['v', 'timestamp', 'operation'], history, [true, false, false]), false);
    return box;
  }
}
