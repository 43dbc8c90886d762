/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * `npm run lab` in a real browser: Debian's headless Chromium, driven by playwright-core, against
 * the lab command's own server (the TypeScript kernel and the Lakehouse extension it installs) on a
 * temporary lakehouse of tables written by winlake. Opens the Lakehouse panel, checks what it lists,
 * inserts a table's ready cell, runs it, and checks the rendered tables in the light and the dark
 * theme: text/background contrast, text cells left-aligned, numbers right-aligned. Screenshots go to
 * .cache/screenshots.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Frame } from '../kernel-lib/src/frame/frame.js';
import { Catalog } from '../kernel-lib/src/lakehouse/catalog.js';
import { listTables, writeTableBatch, type TableSummary } from '../kernel-lib/src/lakehouse/tables.js';
import { tempDir, testSession } from './helpers.js';
import { freePorts } from './kafka-secure-helpers.js';

const REPO = path.resolve(import.meta.dirname, '..');
const CHROMIUM = process.env.WINLAKE_CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOTS = path.join(REPO, '.cache', 'screenshots');
const TOKEN = `winlake-browser-test-${process.pid}`;
const MINIMUM_CONTRAST = 4.5; // WCAG AA for body text

/** True when some kernel-lib/src .ts file is newer than the build the notebooks import. */
function distIsStale(dir = path.join(REPO, 'kernel-lib', 'src')): boolean {
  const builtAt = existsSync(path.join(REPO, 'kernel-lib', 'dist', 'index.js')) ? statSync(path.join(REPO, 'kernel-lib', 'dist', 'index.js')).mtimeMs : 0;
  return readdirSync(dir, { withFileTypes: true, recursive: true }).some(
    (e) => e.isFile() && e.name.endsWith('.ts') && statSync(path.join(e.parentPath, e.name)).mtimeMs > builtAt,
  );
}

/** What the page reports about one rendered table's cells in the current theme. */
interface CellLook {
  tag: string;
  className: string;
  text: string;
  align: string;
  contrast: number;
}

/** Runs in the page: alignment and WCAG contrast (text colour on the nearest opaque background) of elements. */
function looks(page: Page, selector: string, index: number): Promise<CellLook[]> {
  return page.evaluate(
    ([sel, i]) => {
      const rgba = (css: string): number[] => {
        const m = /rgba?\(([^)]+)\)/.exec(css);
        if (!m) throw new Error(`unexpected colour ${css}`);
        const parts = m[1]!.split(/[\s,/]+/).filter(Boolean).map(Number);
        return [parts[0]!, parts[1]!, parts[2]!, parts[3] ?? 1];
      };
      const background = (el: Element): number[] => {
        for (let e: Element | null = el; e; e = e.parentElement) {
          const c = rgba(getComputedStyle(e).backgroundColor);
          if (c[3]! > 0) return c;
        }
        return [255, 255, 255, 1];
      };
      const luminance = (c: number[]): number => {
        const lin = (v: number): number => (v / 255 <= 0.03928 ? v / 255 / 12.92 : ((v / 255 + 0.055) / 1.055) ** 2.4);
        return 0.2126 * lin(c[0]!) + 0.7152 * lin(c[1]!) + 0.0722 * lin(c[2]!);
      };
      const root = document.querySelectorAll(sel)[i];
      if (!root) throw new Error(`no element ${sel} #${i}`);
      return [...root.querySelectorAll('th, td')].map((cell) => {
        const style = getComputedStyle(cell);
        // Text drawn with an alpha (JupyterLab's secondary colours) blends into its background.
        const bg = background(cell);
        const fg = rgba(style.color);
        const shown = [0, 1, 2].map((k) => fg[3]! * fg[k]! + (1 - fg[3]!) * bg[k]!);
        const [a, b] = [luminance(shown), luminance(bg)].sort((x, y) => y - x);
        return { tag: cell.tagName, className: cell.className, text: cell.textContent ?? '', align: style.textAlign, contrast: (a! + 0.05) / (b! + 0.05) };
      });
    },
    [selector, index] as const,
  );
}

function assertReadable(cells: CellLook[], what: string): void {
  assert.ok(cells.length > 0, `${what}: no cells`);
  const worst = cells.reduce((w, c) => (c.contrast < w.contrast ? c : w));
  assert.ok(worst.contrast >= MINIMUM_CONTRAST, `${what}: ${worst.tag} "${worst.text}" has contrast ${worst.contrast.toFixed(2)} < ${MINIMUM_CONTRAST}`);
}

/** The rendered Frame tables: text cells left, numbers right, readable; returns body rows' text. */
async function checkFrameTable(page: Page, index: number, theme: string): Promise<string[][]> {
  const cells = await looks(page, '.jp-OutputArea-output .wl-frame', index);
  assertReadable(cells, `${theme} table ${index}`);
  const text = cells.filter((c) => c.tag === 'TD' && /\bwl-s\b/.test(c.className));
  const numbers = cells.filter((c) => c.tag === 'TD' && /\bwl-n\b/.test(c.className));
  assert.ok(text.length > 0 && numbers.length > 0, `${theme}: the table has text and number cells`);
  for (const c of text) assert.ok(['left', 'start'].includes(c.align), `${theme}: text cell "${c.text}" is aligned ${c.align}`);
  for (const c of numbers) assert.ok(['right', 'end'].includes(c.align), `${theme}: number cell "${c.text}" is aligned ${c.align}`);
  return page.evaluate((i) => {
    const table = document.querySelectorAll('.jp-OutputArea-output .wl-frame')[i]!;
    return [...table.querySelectorAll('tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? ''));
  }, index);
}

/** Seconds since the test began at each step: where a slow CI run spends its time. */
const phases: string[] = [];
const testStart = Date.now();
const mark = (step: string): void => void phases.push(`${step} ${((Date.now() - testStart) / 1000).toFixed(1)}s`);

let lab: ChildProcess | undefined;
let browser: Browser | undefined;
let labOutput = '';

after(async () => {
  await browser?.close();
  if (lab && lab.exitCode === null && lab.signalCode === null) {
    const exited = new Promise((resolve) => lab!.once('exit', resolve));
    lab.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 15_000))]);
    if (lab.exitCode === null && lab.signalCode === null) lab.kill('SIGKILL');
  }
});

test('npm run lab in Chromium: the Lakehouse panel lists the tables, inserts a cell that renders readably in light and dark', { timeout: 600_000 }, async () => {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: apt-get install chromium (or set WINLAKE_CHROMIUM)`);

  // A lakehouse of two tables by winlake: process (silver, two versions), and a partitioned bronze
  // table whose corrupt row went to its quarantine table.
  const home = tempDir('winlake-lab-home-');
  const session = await testSession();
  const catalog = new Catalog(home);
  const processRows = (sql: string): Frame => Frame.fromSql(session, sql);
  await writeTableBatch(
    processRows(`SELECT i::BIGINT AS id, 'WKS-' || i AS host, 'C:\\Windows\\System32\\svchost.exe' AS process_path, TIMESTAMPTZ '2026-01-05 08:00:03.987Z' + INTERVAL (i) MINUTE AS ts FROM range(3) t(i)`),
    'Process',
    'silver',
    [],
    { catalog, session },
  );
  await writeTableBatch(processRows(`SELECT 3::BIGINT AS id, 'SRV-1' AS host, 'C:\\Windows\\explorer.exe' AS process_path, TIMESTAMPTZ '2026-01-06 00:00:00Z' AS ts`), 'Process', 'silver', [], {
    catalog,
    session,
  });
  await writeTableBatch(
    Frame.fromSql(
      session,
      `SELECT 'raw ' || i AS message, (['sysmon', 'security'])[1 + i % 2] AS _sourcetype,
              CASE WHEN i = 4 THEN '{not json' END AS _corrupt_record, CASE WHEN i = 4 THEN 'malformed JSON' END AS _corrupt_reason
       FROM range(5) t(i)`,
    ),
    'winlogbeat_kafka_bronze',
    'bronze',
    ['_sourcetype'],
    { catalog, session },
  );
  const summaries = await listTables({ catalog });
  mark('lakehouse written');

  // The notebook folder sits inside the repository (an ignored folder), so the kernel resolves
  // 'winlake' from its node_modules as a notebook in notebooks/ does.
  const root = path.join(REPO, '.cache', `lab-browser-${process.pid}`);
  mkdirSync(root, { recursive: true });
  after(() => rmSync(root, { recursive: true, force: true }));
  const jupyterState = tempDir('winlake-lab-jupyter-');
  const [port] = (await freePorts(1)) as [number];
  const base = `http://127.0.0.1:${port}`;
  const args = ['--import', 'tsx', path.join(REPO, 'kernel-lib', 'src', 'cli', 'main.ts'), 'lab', '--port', String(port)];
  if (!distIsStale()) args.push('--no-build');
  args.push('--', `--ServerApp.root_dir=${root}`, `--IdentityProvider.token=${TOKEN}`, '--LabApp.expose_app_in_browser=True');
  const started = Date.now();
  lab = spawn(process.execPath, args, {
    cwd: REPO,
    env: {
      ...process.env,
      WINLAKE_HOME: home,
      // This run's settings (the theme it switches) and workspace stay out of the user's.
      JUPYTERLAB_SETTINGS_DIR: path.join(jupyterState, 'settings'),
      JUPYTERLAB_WORKSPACES_DIR: path.join(jupyterState, 'workspaces'),
      JUPYTER_RUNTIME_DIR: path.join(jupyterState, 'runtime'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  lab.stdout!.on('data', (chunk: Buffer) => (labOutput += chunk.toString()));
  lab.stderr!.on('data', (chunk: Buffer) => (labOutput += chunk.toString()));
  const api = async (route: string, init: RequestInit = {}): Promise<Response> =>
    fetch(`${base}${route}`, { ...init, headers: { Authorization: `token ${TOKEN}`, 'Content-Type': 'application/json', ...init.headers } });
  for (;;) {
    assert.equal(lab.exitCode, null, `winlake lab exited early:\n${labOutput}`);
    const up = await api('/api/status').then((r) => r.ok, () => false);
    if (up) break;
    assert.ok(Date.now() - started < 300_000, `JupyterLab did not answer on ${base} in 300 s:\n${labOutput}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  mark('server up');
  const escapedHome = home.replaceAll(/[.*+?^${}()|[\]\\]/g, '\\$&');
  assert.match(labOutput, new RegExp(`lakehouse: ${escapedHome} \\(WINLAKE_HOME\\)`));
  // The server extension passes the CLI's own message on: a missing table names the lakehouse searched.
  const missing = await api('/winlake/tables/nosuch');
  assert.equal(missing.status, 404);
  assert.match(((await missing.json()) as { message: string }).message, new RegExp(`no table named "nosuch" in the lakehouse at ${escapedHome}`));

  const notebook = {
    type: 'notebook',
    content: {
      cells: [{ cell_type: 'markdown', metadata: {}, source: '# Lakehouse panel test' }],
      metadata: { kernelspec: { name: 'tslab', display_name: 'TypeScript (tslab)', language: 'typescript' } },
      nbformat: 4,
      nbformat_minor: 5,
    },
  };
  const put = await api('/api/contents/panel.ipynb', { method: 'PUT', body: JSON.stringify(notebook) });
  assert.equal(put.status, 201, await put.text());

  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  // tsx (esbuild keepNames) wraps the named functions inside page.evaluate callbacks in `__name(...)`,
  // a helper the page lacks: an identity function stands in for it.
  await page.addInitScript('window.__name = (fn) => fn;');
  mkdirSync(SCREENSHOTS, { recursive: true });
  try {
    await checkInBrowser(page, base, summaries);
  } catch (error) {
    await page.screenshot({ path: path.join(SCREENSHOTS, 'lab-failure.png') }).catch(() => undefined);
    throw error;
  }

  // Stop the server the way Jupyter's own shutdown does (kernels first).
  const stop = await api('/api/shutdown', { method: 'POST' });
  assert.equal(stop.ok, true);
  await new Promise((resolve) => (lab!.exitCode !== null ? resolve(null) : lab!.once('exit', resolve)));
  mark('server stopped');
  console.log(`lab browser test: ${((Date.now() - started) / 1000).toFixed(1)} s from starting winlake lab to its shutdown (${phases.join(', ')})`);
});

/** The panel, the inserted cell and its output in both themes (screenshots in .cache/screenshots). */
async function checkInBrowser(page: Page, base: string, summaries: TableSummary[]): Promise<void> {
  await page.goto(`${base}/lab/tree/panel.ipynb?token=${TOKEN}`);
  await page.locator('.jp-Notebook .jp-Cell').first().waitFor({ timeout: 120_000 });
  mark('notebook shown');

  // The panel: its tab in the left side bar, then the tables by tier as the CLI lists them.
  await page.locator('.jp-SideBar [data-id="winlake-lakehouse"]').click();
  await page.locator('#winlake-lakehouse .wl-lh-row').first().waitFor({ timeout: 60_000 });
  mark('panel listed');
  const listed = await page.$$eval('#winlake-lakehouse section.wl-lh-tier', (sections) =>
    sections.map((s) => ({
      tier: (s as HTMLElement).dataset.tier,
      rows: [...s.querySelectorAll('tr.wl-lh-row')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)),
    })),
  );
  const bytes = (n: number): string => (n < 1024 ? `${n} B` : `${(n / 1024).toFixed(n / 1024 < 10 ? 1 : 0)} KB`);
  assert.deepEqual(
    listed,
    ['bronze', 'silver'].map((tier) => ({
      tier,
      rows: summaries.filter((t) => t.tier === tier).map((t) => [t.name, String(t.rows), String(t.version), bytes(t.bytes)]),
    })),
  );
  assert.deepEqual(
    summaries.map((t) => [t.name, t.rows, t.version]),
    [
      ['winlogbeat_kafka_bronze', 4, 0],
      ['winlogbeat_kafka_bronze_quarantine', 1, 0],
      ['process', 4, 1],
    ],
  );

  // A table's details: partitions and quarantine for bronze, schema and history for process.
  await page.locator('#winlake-lakehouse tr.wl-lh-row[data-table="winlogbeat_kafka_bronze"]').click();
  const bronze = page.locator('#winlake-lakehouse .wl-lh-details[data-table="winlogbeat_kafka_bronze"]');
  await bronze.waitFor({ timeout: 60_000 });
  assert.equal(await bronze.locator('dd[data-fact="quarantine"]').textContent(), '1 row in winlogbeat_kafka_bronze_quarantine');
  assert.equal(await bronze.locator('dd[data-fact="partitionColumns"]').textContent(), '_sourcetype');
  assert.deepEqual(await bronze.locator('details[data-section^="partitions"] tbody td:first-child').allTextContents(), ['_sourcetype=security', '_sourcetype=sysmon']);

  await page.locator('#winlake-lakehouse tr.wl-lh-row[data-table="process"]').click();
  const details = page.locator('#winlake-lakehouse .wl-lh-details[data-table="process"]');
  await details.waitFor({ timeout: 60_000 });
  assert.equal(await details.locator('dd[data-fact="quarantine"]').textContent(), 'none');
  assert.deepEqual(await details.locator('.wl-lh-schema .wl-lh-col').allTextContents(), ['id', 'host', 'process_path', 'ts']);
  assert.deepEqual(await details.locator('details[data-section="history"] tbody td:first-child').allTextContents(), ['1', '0']);

  // Insert the ready cell into the notebook and run it.
  await details.locator('button.wl-lh-insert').click();
  await page.locator('.jp-Notebook .jp-CodeCell .cm-content').filter({ hasText: "read_table('process')" }).waitFor({ timeout: 30_000 });
  // By index: running the last cell appends an empty one, which `.last()` would then name.
  const cell = page.locator('.jp-Notebook .jp-CodeCell').nth((await page.locator('.jp-Notebook .jp-CodeCell').count()) - 1);
  const source = await cell.locator('.cm-content').innerText();
  assert.match(source, /const t = await read_table\('process'\);/);
  assert.match(source, /await display\(await read_table\('process', \{ version: 0 \}\)\);/);
  await cell.locator('.cm-content').click();
  mark('details checked, cell inserted');
  await page.keyboard.press('Shift+Enter');
  const outputs = cell.locator('.jp-OutputArea-output .wl-frame');
  await outputs.nth(1).waitFor({ timeout: 180_000 });
  mark('cell rendered');
  assert.equal(await cell.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').count(), 0, await cell.locator('.jp-OutputArea').innerText());

  for (const theme of ['JupyterLab Light', 'JupyterLab Dark']) {
    await page.evaluate((name) => (window as unknown as { jupyterapp: { commands: { execute(id: string, args: object): Promise<unknown> } } }).jupyterapp.commands.execute('apputils:change-theme', { theme: name }), theme);
    await page.waitForFunction((name) => document.body.dataset.jpThemeName === name, theme, { timeout: 30_000 });
    // Theme CSS loads after the attribute flips; wait until the layout colour is the theme's.
    await page.waitForFunction(
      (dark) => {
        const bg = getComputedStyle(document.body).getPropertyValue('--jp-layout-color0').trim().toLowerCase();
        return dark ? bg !== '' && bg !== 'white' && bg !== '#fff' && bg !== '#ffffff' : bg === 'white' || bg === '#fff' || bg === '#ffffff';
      },
      theme.endsWith('Dark'),
      { timeout: 30_000 },
    );
    const latest = await checkFrameTable(page, 0, theme);
    const versionZero = await checkFrameTable(page, 1, theme);
    const hosts = (rows: string[][]): string[] => rows.map((r) => r.find((c) => /^(WKS|SRV)-\d$/.test(c)) ?? '?').sort();
    assert.deepEqual(hosts(latest), ['SRV-1', 'WKS-0', 'WKS-1', 'WKS-2']);
    assert.deepEqual(hosts(versionZero), ['WKS-0', 'WKS-1', 'WKS-2']);
    assert.ok(latest.flat().includes('C:\\Windows\\System32\\svchost.exe'), 'backslashes shown once, unquoted');
    assertReadable(await looks(page, '#winlake-lakehouse', 0), `${theme} Lakehouse panel`);
    await page.screenshot({ path: path.join(SCREENSHOTS, `lab-${theme.endsWith('Dark') ? 'dark' : 'light'}.png`) });
  }
}
