import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  chartEventsOverTime,
  chartTopValues,
  display,
  escapeHtml,
  frameToHtml,
  frameToText,
  htmlToText,
  processForest,
  processTree,
  processTreeText,
  progressDisplay,
  rowCountNotice,
  schemaToHtml,
} from '../kernel-lib/src/display/index.js';
import { Frame, type ScanReport } from '../kernel-lib/src/frame/index.js';
import { formatBytes, isScanReport, scanReportText, scanReportToHtml } from '../kernel-lib/src/display/scan-report.js';
import { testSession } from './helpers.js';

const session = await testSession();

const evil = Frame.fromSql(
  session,
  `SELECT * FROM (VALUES
     ('<script>alert(1)</script>', 1, NULL::VARCHAR, {'user': 'CORP\\alice', 'pid': 42}, ['a', 'b<i>'], MAP {'k': 'v&w'}, repeat('x', 200)),
     ('ok', 2, 'plain', NULL, [], MAP {}, 'short')
   ) AS t("a""b", n, maybe, s, l, m, long_text)`,
);

test('frameToHtml escapes values and column names', async () => {
  const html = await frameToHtml(evil);
  assert.ok(!html.includes('<script>alert'), 'a value must not become a script element');
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  assert.ok(html.includes('a&quot;b'), 'the column name a"b is escaped');
  assert.ok(!html.includes('<i>'), 'list items are escaped');
  assert.ok(html.includes('b&lt;i&gt;'));
  assert.ok(html.includes('v&amp;w'));
});

test('frameToHtml shows types in the header, NULLs styled and nested values readable', async () => {
  const html = await frameToHtml(evil);
  assert.match(html, /<th class="wl-s wl-sticky" title="VARCHAR">a&quot;b<br><span class="wl-type">VARCHAR<\/span>/);
  assert.match(html, /n<br><span class="wl-type">INTEGER<\/span>/);
  assert.match(html, /<span class="wl-type">STRUCT\(2\)<\/span>/);
  assert.match(html, /<span class="wl-type">VARCHAR\[\]<\/span>/);
  assert.match(html, /<span class="wl-type">MAP\(VARCHAR, VARCHAR\)<\/span>/);
  assert.ok(html.includes('<span class="wl-null">NULL</span>'));
  assert.ok(
    html.includes('<details class="wl-nest"><summary>{user: CORP\\alice, pid: 42}</summary><ul class="wl-kv"><li><span class="wl-key">user</span>: CORP\\alice</li><li><span class="wl-key">pid</span>: 42</li></ul></details>'),
    'a struct is one line that expands into key: value lines',
  );
  assert.ok(html.includes('<summary>[a, b&lt;i&gt;]</summary>'), 'list in brackets');
  assert.ok(html.includes('<summary>{k: v&amp;w}</summary><ul class="wl-kv"><li><span class="wl-key">k</span>: v&amp;w</li>'), 'map as key: value list');
  assert.ok(html.includes('<td>[]</td>'), 'an empty list has nothing to expand');
  assert.ok(html.includes(`title="${'x'.repeat(200)}"`), 'the full long value is in the tooltip');
  assert.ok(html.includes(`>${'x'.repeat(79)}…</span>`), 'the long value is cut to 80 characters');
  assert.ok(html.includes('2 rows'));
});

test('frameToHtml aligns by type, keeps timestamps on one line and follows the JupyterLab theme', async () => {
  const df = Frame.fromSql(
    session,
    `SELECT 'svchost.exe' AS name, 42::BIGINT AS n, 1.5::DOUBLE AS x, TIMESTAMPTZ '2026-01-05 08:00:03.987+00' AS ts,
       {'outer': {'inner': [1, 2, 3]}} AS deep`,
  );
  const html = await frameToHtml(df);
  assert.match(html, /<td class="wl-s wl-sticky">svchost.exe<\/td><td class="wl-n">42<\/td><td class="wl-n">1.5<\/td><td class="wl-t">2026-01-05T08:00:03.987Z<\/td>/);
  const css = html.slice(0, html.indexOf('</style>'));
  assert.match(css, /\.wl-frame th,\.wl-frame td\{[^}]*text-align:left!important/, 'text is left-aligned against JupyterLab table rules');
  assert.match(css, /td\.wl-n,[^{]*\{text-align:right!important;white-space:nowrap!important/, 'numbers right-aligned');
  assert.match(css, /td\.wl-t\{white-space:nowrap!important\}/, 'timestamps never wrap');
  assert.match(css, /\.wl-frame \.wl-sticky\{position:sticky;left:0/, 'first column stays in view');
  assert.match(css, /\.wl-table\{max-width:100%;overflow-x:auto/, 'wide tables scroll');
  assert.ok(!/#f6f8fa/.test(css), 'no hard-coded light header');
  for (const rule of css.split('\n').filter((l) => /(^|[;{])(color|background):/.test(l))) {
    for (const decl of rule.match(/(?:^|[;{])(?:color|background):[^;}]*/g) ?? []) {
      assert.match(decl, /var\(--jp-/, `colour from a JupyterLab variable: ${decl}`);
    }
  }
  assert.equal(html.match(/<details class="wl-nest">/g)?.length, 3, 'struct, inner struct and list each collapse');
  assert.ok(html.includes('<summary>{outer: {inner: [1, 2, 3]}}</summary>'));
});

test('frameToHtml says how many rows it shows of how many', async () => {
  const big = Frame.fromSql(session, 'SELECT range AS i, range % 7 AS k FROM range(12345)');
  const html = await frameToHtml(big);
  assert.ok(html.includes('showing 20 of 12,345 rows'));
  assert.equal(html.match(/<tr>/g)?.length, 21, 'header row + 20 rows');
  assert.ok((await frameToHtml(big, { limit: 3 })).includes('showing 3 of 12,345 rows'));
  assert.equal(rowCountNotice(1, 1), '1 row');
  const text = await frameToText(big, { limit: 2 });
  assert.match(text, /i \(BIGINT\)/);
  assert.match(text, /showing 2 of 12,345 rows$/);
});

test('schemaToHtml renders a collapsible, escaped tree', async () => {
  const html = schemaToHtml(await evil.schema());
  assert.ok(html.includes('<details open title="STRUCT'));
  assert.ok(html.includes('<summary><code>s</code>: <span class="wl-type">struct (2)</span></summary>'));
  assert.ok(html.includes('<li><code>user</code>: <span class="wl-type">VARCHAR</span></li>'));
  assert.ok(html.includes('<code>a&quot;b</code>'));
  assert.ok(!html.includes('a"b'));
});

const events = Frame.fromSql(
  session,
  `SELECT TIMESTAMPTZ '2024-03-01 10:00:00+00' + INTERVAL (i % 3) HOUR AS _event_time,
     CASE WHEN i % 4 = 0 THEN 'Security' ELSE 'Microsoft-Windows-Sysmon/Operational' END AS _sourcetype,
     CASE WHEN i % 5 = 0 THEN '<script>evil.exe</script>' ELSE 'svchost.exe' END AS process_name
   FROM range(40) t(i)`,
);

test('chartEventsOverTime renders an SVG with its title, axis and groups', async () => {
  const svg = await chartEventsOverTime(events);
  assert.ok(svg.startsWith('<svg'));
  assert.ok(svg.includes('Events per hour by _sourcetype'));
  assert.ok(svg.includes('_event_time (hour, UTC)'));
  assert.ok(svg.includes('Microsoft-Windows-Sysmon/Operational'));
  assert.ok(svg.includes('Security'));
  assert.ok(svg.includes('03-01 11:00'), 'bucket labels in UTC');
  const single = await chartEventsOverTime(events, { groupColumn: null, bucket: 'day' });
  assert.ok(single.includes('Events per day'));
  await assert.rejects(chartEventsOverTime(events, { timeColumn: 'nope' }), /missing column\(s\) "nope"/);
  await assert.rejects(chartEventsOverTime(events, { bucket: 'fortnight' as never }), /unknown time bucket/);
});

test('chartTopValues renders escaped value labels', async () => {
  const svg = await chartTopValues(events, 'process_name', { n: 5 });
  assert.ok(svg.startsWith('<svg'));
  assert.ok(svg.includes('Top 2 values of process_name'));
  assert.ok(svg.includes('svchost.exe'));
  assert.ok(svg.includes('&lt;script&gt;evil.exe&lt;/script&gt;'));
  assert.ok(!svg.includes('<script>'));
});

const processes = Frame.fromSql(
  session,
  `SELECT * FROM (VALUES
    ('WKS-01', '{A}', '{P}', 'C:\\Windows\\explorer.exe', NULL, 'explorer.exe', 'C:\\Windows\\userinit.exe', TIMESTAMPTZ '2024-03-01 08:00:00+00', '1'),
    ('WKS-01', '{B}', '{A}', 'C:\\Windows\\System32\\cmd.exe', 'cmd.exe', 'cmd.exe /c "whoami <x>"', 'C:\\Windows\\explorer.exe', TIMESTAMPTZ '2024-03-01 08:01:00+00', '1'),
    ('WKS-01', '{B}', '{A}', 'C:\\Windows\\System32\\cmd.exe', 'cmd.exe', NULL, NULL, TIMESTAMPTZ '2024-03-01 08:02:00+00', '5'),
    ('WKS-01', '{C}', '{B}', 'C:\\Windows\\System32\\whoami.exe', NULL, 'whoami', 'C:\\Windows\\System32\\cmd.exe', TIMESTAMPTZ '2024-03-01 08:01:30+00', '1'),
    ('WKS-02', '{D}', '{Q}', 'C:\\other.exe', NULL, 'other', NULL, TIMESTAMPTZ '2024-03-01 08:00:00+00', '1')
  ) AS t(dvc_hostname, process_guid, process_parent_guid, process_file_path, process_name, process_command_line,
         process_parent_file_path, _event_time, event_id)`,
);

test('processForest nests processes by parent GUID for one host', async () => {
  const roots = await processForest(processes, { host: 'WKS-01' });
  assert.equal(roots.length, 1);
  const parent = roots[0]!;
  assert.equal(parent.name, 'userinit.exe');
  assert.equal(parent.inferred, true);
  const explorer = parent.children[0]!;
  assert.equal(explorer.name, 'explorer.exe');
  const cmd = explorer.children[0]!;
  assert.equal(cmd.name, 'cmd.exe');
  assert.equal(cmd.events, 2, 'start and terminate aggregate into one process');
  assert.equal(cmd.commandLine, 'cmd.exe /c "whoami <x>"');
  assert.equal(cmd.children[0]?.name, 'whoami.exe');
  assert.equal(processTreeText(roots), 'userinit.exe (parent, no events)\n  └─ explorer.exe  explorer.exe\n    └─ cmd.exe  cmd.exe /c "whoami <x>"\n      └─ whoami.exe  whoami');
  const sub = await processForest(processes, { host: 'WKS-01', rootGuid: '{B}' });
  assert.equal(sub[0]?.name, 'cmd.exe');
  await assert.rejects(processForest(processes, { host: 'WKS-01', rootGuid: '{Z}' }), /not found on host "WKS-01"/);
});

test('processTree renders nested, escaped HTML', async () => {
  const html = await processTree(processes, { host: 'WKS-01' });
  assert.ok(html.includes('4 processes on WKS-01'));
  assert.ok(html.includes('cmd.exe /c &quot;whoami &lt;x&gt;&quot;'));
  assert.ok(!html.includes('<x>'));
  assert.ok(!html.includes('other.exe'), 'only the chosen host');
  assert.equal(html.match(/<ul>/g)?.length, 3, 'three levels below the root');
  assert.equal(htmlToText(html).split('\n')[2], '  explorer.exe explorer.exe 2024-03-01T08:00:00.000Z');
});

test('display prints text outside a notebook', async () => {
  const lines: string[] = [];
  const original = console.log;
  console.log = (...args: unknown[]) => void lines.push(args.join(' '));
  try {
    await display(evil);
    await display(await evil.schema());
    await display(await chartTopValues(events, 'process_name'));
    await display('<b>bold</b> &amp; plain');
    await display({ n: 1n });
  } finally {
    console.log = original;
  }
  assert.match(lines[0]!, /a"b \(VARCHAR\)/);
  assert.match(lines[0]!, /<script>alert\(1\)<\/script>/, 'terminal text is not escaped');
  assert.match(lines[1]!, /^root\n \|-- a"b: varchar/);
  assert.match(lines[2]!, /^\[chart: Top 2 values of process_name — [\d,]+ bytes of SVG/);
  assert.equal(lines[3], 'bold & plain');
  assert.equal(lines[4], '{\n  "n": "1"\n}');
});

test('progressDisplay prints one line per batch in a terminal', () => {
  const lines: string[] = [];
  const progress = progressDisplay({ log: (l) => lines.push(l) });
  progress({ batchId: 0, numInputRows: 5000, inputRowsPerSecond: 1234.5, processedRowsPerSecond: 6100, durationMs: 810, lag: 12 });
  progress({ batchId: 1n, numInputRows: 0n });
  progress.done();
  assert.deepEqual(lines, [
    'batch 0: 5,000 rows in 810 ms, 1,235 rows/s in, 6,100 rows/s processed, lag 12',
    'batch 1: 0 rows',
  ]);
});

test("progressDisplay takes a streaming query's progress as it is (phase durations, lag per partition)", () => {
  const lines: string[] = [];
  const progress = progressDisplay({ log: (l) => lines.push(l) });
  progress({ batchId: 2, numInputRows: 300, durationMs: { read: 40, write: 60, total: 100 }, lag: { '0': 5, '1': 7, '2': 0 } });
  assert.deepEqual(lines, ['batch 2: 300 rows in 100 ms, lag 12']);
});

test('escapeHtml covers quotes for attributes', () => {
  assert.equal(escapeHtml(`<a href="x" onclick='y'>&</a>`), '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
});

test('a scan report reads as files and bytes skipped per stage, escaped', () => {
  const report: ScanReport = {
    source: 'delta:/lake/silver/process@v3',
    filesTotal: 14,
    bytesTotal: 215_450,
    stages: [
      { stage: 'partitions', filesSkipped: 10, bytesSkipped: 150_000 },
      { stage: 'stats', filesSkipped: 2, bytesSkipped: 33_700 },
      { stage: 'bloom', filesSkipped: 0, bytesSkipped: 0 },
    ],
    filesScanned: 2,
    bytesScanned: 31_750,
    predicates: [`("user_name" = 'CORP\\<b>eve</b>')`],
  };
  assert.ok(isScanReport(report));
  assert.ok(!isScanReport({ source: 'x' }) && !isScanReport('plan text') && !isScanReport(null));
  assert.equal(scanReportText(report), 'reads 2 of 14 files (31.0 KB of 210.4 KB); skipped by partitions 10, stats 2, bloom 0');
  assert.equal(formatBytes(999), '999 B');
  assert.equal(formatBytes(5 * 1024 * 1024), '5.0 MB');
  const html = scanReportToHtml(report, { title: 'after <optimize>' });
  assert.ok(html.includes('&lt;b&gt;eve&lt;/b&gt;') && !html.includes('<b>eve'));
  assert.ok(html.includes('after &lt;optimize&gt;'));
  assert.match(html, /<td>skipped by stats<\/td><td>2<\/td><td>32\.9 KB<\/td>/);
  assert.match(html, /<tr class="wl-total"><td>read<\/td><td>2<\/td>/);
});

test('outside a notebook a Frame, its schema and show() print readable text, never internals', async () => {
  const { inspect } = await import('node:util');
  const df = Frame.fromSql(session, `SELECT 'a' AS name, 1 AS n`).filter('n = 1');
  const printed = inspect(df);
  assert.equal(printed, 'Frame over a SQL query (1 step): await df.show() or display(df) to see rows');
  assert.doesNotMatch(inspect({ df }), /Session|DuckDBInstance|plan/, 'nested, too');
  const schema = await df.schema();
  assert.equal(inspect(schema), 'root\n |-- name: varchar\n |-- n: integer');
  assert.deepEqual(schema.map((f) => f.name), ['name', 'n'], 'the schema is still a plain array');
  const lines: string[] = [];
  const log = console.log;
  console.log = (line: string) => void lines.push(line);
  try {
    await df.show(5);
  } finally {
    console.log = log;
  }
  assert.match(lines.join('\n'), /\| name \(VARCHAR\) \| n \(INTEGER\) \|\n[+-]+\n\| a +\| 1 +\|[\s\S]*1 row$/);
});

test('a SQL error is one short message: DuckDB text and hint, the generated SQL only with WINLAKE_DEBUG', async () => {
  const { inspect } = await import('node:util');
  const { SqlError } = await import('../kernel-lib/src/engine/session.js');
  const df = Frame.fromSql(session, 'SELECT 1 AS process_name').select('proces_name');
  const err = await df.count().then(
    () => assert.fail('a typo must fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof SqlError);
  assert.match(err.message, /Referenced column "proces_name" not found[\s\S]*Candidate bindings: "process_name"/);
  assert.doesNotMatch(err.message, /LINE 1|in SQL|SELECT count/, 'no generated SQL in the message');
  assert.match(err.sql, /SELECT count\(\*\)/, 'the statement is kept for debugging');
  const printed = inspect(err);
  assert.equal(printed.split('\n').filter((l) => /^\s+at /.test(l)).length, 0, 'no stack trace');
  assert.equal(printed.match(/Candidate bindings/g)?.length, 1, 'the message once');
  const saved = process.env.WINLAKE_DEBUG;
  process.env.WINLAKE_DEBUG = '1';
  try {
    const debug = (await df.count().catch((e: unknown) => e)) as Error;
    assert.match(debug.message, /in SQL: SELECT count\(\*\)/);
  } finally {
    if (saved === undefined) delete process.env.WINLAKE_DEBUG;
    else process.env.WINLAKE_DEBUG = saved;
  }
});

test('display() shows a list of records as an aligned, escaped table, strings as written', async () => {
  const { recordsToHtml, recordsToText, isRecords } = await import('../kernel-lib/src/display/index.js');
  const rows = [
    { name: 'process', path: 'C:\\Windows\\System32\\svchost.exe', rows: 12345, version: 3n },
    { name: '<b>x</b>', path: null, rows: 7, version: 0n },
  ];
  assert.ok(isRecords(rows));
  assert.ok(!isRecords([[1]]) && !isRecords([]));
  const html = recordsToHtml(rows);
  assert.ok(html.includes('<td class="wl-s">C:\\Windows\\System32\\svchost.exe</td>'), 'no quotes, no doubled backslashes');
  assert.ok(html.includes('<td class="wl-n">12345</td><td class="wl-n">3</td>'));
  assert.ok(html.includes('&lt;b&gt;x&lt;/b&gt;') && !html.includes('<b>x'));
  assert.ok(html.includes('2 rows'));
  assert.match(recordsToText(rows), /\| process +\| C:\\Windows\\System32\\svchost\.exe \| 12345 \| 3 +\|/);
});
