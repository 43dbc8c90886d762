import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { ensureTslabKernel, notebookCellsWithOutputs, REPO_ROOT } from '../kernel-lib/src/cli/lab.js';
import { tempDir } from './helpers.js';
import { executeNotebook, NotebookCellError, outputText, type ExecutedNotebook } from './notebook-runner.js';

const NOTEBOOKS = path.join(REPO_ROOT, 'notebooks');
const notebooks = readdirSync(NOTEBOOKS)
  .filter((f) => f.endsWith('.ipynb'))
  .sort();

before(async () => {
  // A fresh machine has neither the venv's Jupyter packages, the kernelspec nor the build.
  await ensureTslabKernel({ quiet: true });
  const tsc = path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const needed = ['display/index.js', 'frame/index.js', 'engine/session.js'].map((f) => path.join(REPO_ROOT, 'kernel-lib', 'dist', f));
  // `npm test` has just built; rebuild only when a source file is newer than the build.
  if (needed.some((f) => !existsSync(f) || statSync(f).mtimeMs < newestMtime(path.join(REPO_ROOT, 'kernel-lib', 'src')))) {
    const build = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT, encoding: 'utf8' });
    // tsc emits despite type errors elsewhere; what matters here is that the notebooks' imports exist.
    for (const built of needed) assert.ok(existsSync(built), `build did not emit ${built}:\n${build.stdout}${build.stderr}`);
  }
});

test('committed notebooks carry no outputs (strip them with `npm run lab -- strip`)', () => {
  assert.ok(notebooks.includes('00-smoke.ipynb'));
  for (const nb of notebooks) {
    assert.deepEqual(notebookCellsWithOutputs(path.join(NOTEBOOKS, nb)), [], `${nb} has outputs in these code cells`);
  }
});

function newestMtime(dir: string): number {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .reduce((newest, e) => Math.max(newest, statSync(path.join(e.parentPath, e.name)).mtimeMs), 0);
}

const executed = new Map<string, ExecutedNotebook>();

for (const nb of notebooks) {
  test(`notebook ${nb} runs without errors on the tslab kernel`, async () => {
    const result = await executeNotebook(path.join(NOTEBOOKS, nb), { timeoutSec: 300 });
    executed.set(nb, result);
    console.log(`# ${nb}: ${result.cells.length} code cells in ${result.durationMs} ms`);
  });
}

test('the smoke notebook shows an escaped table, a schema tree, SVG charts and a process tree', () => {
  const nb = executed.get('00-smoke.ipynb');
  assert.ok(nb, 'the smoke notebook ran');
  const html = nb.cells.flatMap((c) =>
    c.outputs.flatMap((o) => {
      const h = o.data?.['text/html'];
      return h === undefined ? [] : [Array.isArray(h) ? h.join('') : h];
    }),
  );
  const table = html.find((h) => h.includes('class="wl-frame"'));
  assert.ok(table, 'an HTML table');
  assert.ok(table.includes('&lt;script&gt;alert(1)&lt;/script&gt;') && !table.includes('<script>alert'));
  assert.ok(table.includes('5 rows'));
  assert.ok(html.some((h) => h.includes('<details') && h.includes('<code>winlog</code>')), 'a schema tree');
  assert.equal(html.filter((h) => h.startsWith('<svg')).length, 2, 'two SVG charts');
  assert.ok(html.some((h) => h.includes('class="wl-ptree"') && h.includes('whoami.exe')), 'a process tree');
  const progress = html.filter((h) => h.includes('class="wl-progress"'));
  assert.equal(progress.length, 1, 'progress redraws one block in place');
  assert.ok(progress[0]!.includes('3 batches, 6,000 rows'));
  assert.ok(nb.cells.some((c) => c.outputs.some((o) => outputText(o).includes('smoke ok: 5 events'))));
});

test('a failing cell is reported with its source and error output', async () => {
  const dir = tempDir('winlake-nb-fail-');
  const notebook = (cells: string[]): string =>
    JSON.stringify({
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { kernelspec: { name: 'tslab', display_name: 'TypeScript (tslab)', language: 'typescript' } },
      cells: cells.map((source, i) => ({ cell_type: 'code', id: `c${i}`, metadata: {}, execution_count: null, outputs: [], source })),
    });
  const typeError = path.join(dir, 'type-error.ipynb');
  writeFileSync(typeError, notebook(['console.log("fine")', 'const n: number = "not a number";', 'console.log("never")']));
  const thrown = path.join(dir, 'throws.ipynb');
  writeFileSync(thrown, notebook(['throw new Error("boom <b>")']));
  // Two kernels at once: each notebook stops at its first failing cell.
  await Promise.all([
    assert.rejects(executeNotebook(typeError, { timeoutSec: 60 }), (err: unknown) => {
      assert.ok(err instanceof NotebookCellError);
      assert.equal(err.cellIndex, 1);
      assert.equal(err.source, 'const n: number = "not a number";');
      assert.match(err.output, /not assignable to type 'number'/);
      rmSync(path.dirname(err.executedPath), { recursive: true, force: true });
      return true;
    }),
    assert.rejects(executeNotebook(thrown, { timeoutSec: 60 }), (err: unknown) => {
      assert.ok(err instanceof NotebookCellError);
      assert.match(err.message, /cell 0 failed\n--- source ---\nthrow new Error\("boom <b>"\)\n--- error ---\n[\s\S]*boom <b>/);
      rmSync(path.dirname(err.executedPath), { recursive: true, force: true });
      return true;
    }),
  ]);
});
