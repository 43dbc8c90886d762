/**
 * `winlake lab`: JupyterLab with the TypeScript (tslab) kernel on notebooks/, and the pieces the
 * notebook tests share with it (project venv, kernelspec, the `winlake` self-link).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureLabExtension } from './lab-extension.js';

/** The repository root: three levels above this module in both src/cli and dist/cli. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const VENV = path.join(REPO_ROOT, '.venv');
/** The project venv's Python (made by .ci/setup-python.sh). */
export const VENV_PYTHON = path.join(VENV, 'bin', 'python');
/** Jupyter data folder of the venv; put first on JUPYTER_PATH so a user-wide tslab kernelspec cannot shadow ours. */
export const VENV_JUPYTER_DATA = path.join(VENV, 'share', 'jupyter');
/** The pinned JupyterLab (.ci/setup-python.sh installs it with the other requirements files). */
const JUPYTERLAB_REQUIREMENTS = path.join(REPO_ROOT, 'kernel-lib', 'python', 'requirements-lab.txt');
/**
 * The one lakehouse the demo (run from the repository root), the CLI, the tutorial notebooks and a
 * new notebook share: `WINLAKE_HOME`, else `<repo>/lakehouse`.
 */
export const LAKEHOUSE_HOME = path.resolve(process.env.WINLAKE_HOME ?? path.join(REPO_ROOT, 'lakehouse'));
/** The TypeScript logo on the launcher tile (the kernelspec's `logo-svg.svg`). */
const KERNEL_LOGO = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="6" fill="#3178c6"/><text x="58" y="56" text-anchor="end" font-family="Arial,Helvetica,sans-serif" font-weight="bold" font-size="30" fill="#fff">TS</text></svg>\n`;

/** What {@link ensureTslabKernel} set up. */
export interface TslabKernel {
  python: string;
  kernelName: 'tslab';
  kernelSpecFile: string;
  /** Environment for Jupyter processes: finds this kernelspec first. */
  env: NodeJS.ProcessEnv;
}

/**
 * Makes the project venv (`bash .ci/setup-python.sh`, a no-op when up to date), registers the tslab
 * kernel in it as `tslab` (kernelspec written directly: tslab's own installer needs IPython), and
 * links `node_modules/winlake` to the repository so notebooks import the built package by name.
 *
 * @example const { python, env } = await ensureTslabKernel();
 */
export async function ensureTslabKernel(options: { quiet?: boolean } = {}): Promise<TslabKernel> {
  run('bash', [path.join(REPO_ROOT, '.ci', 'setup-python.sh')], options.quiet ?? false);
  const binary = path.join(REPO_ROOT, 'node_modules', '.bin', 'tslab');
  if (!existsSync(binary)) throw new Error(`tslab is not installed (${binary} is missing): run npm install`);
  const kernelDir = path.join(VENV_JUPYTER_DATA, 'kernels', 'tslab');
  const kernelSpecFile = path.join(kernelDir, 'kernel.json');
  const spec = `${JSON.stringify(
    {
      // `{connection_file}` must be its own argument (tslab issue #36).
      argv: [binary, 'kernel', '--config-path', '{connection_file}'],
      display_name: 'TypeScript (tslab)',
      language: 'typescript',
    },
    null,
    1,
  )}\n`;
  if (!existsSync(kernelSpecFile) || readFileSync(kernelSpecFile, 'utf8') !== spec) {
    mkdirSync(kernelDir, { recursive: true });
    writeFileSync(kernelSpecFile, spec);
  }
  const logo = path.join(kernelDir, 'logo-svg.svg');
  if (!existsSync(logo) || readFileSync(logo, 'utf8') !== KERNEL_LOGO) writeFileSync(logo, KERNEL_LOGO);
  linkSelf();
  return {
    python: VENV_PYTHON,
    kernelName: 'tslab',
    kernelSpecFile,
    env: { ...process.env, JUPYTER_PATH: [VENV_JUPYTER_DATA, process.env.JUPYTER_PATH].filter(Boolean).join(path.delimiter) },
  };
}

/**
 * tslab type-checks with TypeScript's Node10 resolution, which ignores a package's self-reference
 * through "exports"; a `node_modules/winlake` link to the repository lets `import ... from 'winlake'`
 * resolve (types from package.json "types", code from "exports") as it will for an installed package.
 */
function linkSelf(): void {
  const link = path.join(REPO_ROOT, 'node_modules', 'winlake');
  let present = false;
  try {
    lstatSync(link);
    present = true;
  } catch {
    present = false;
  }
  if (!present) symlinkSync('..', link, 'dir');
}

function run(command: string, args: string[], quiet: boolean): void {
  const result = spawnSync(command, args, { cwd: REPO_ROOT, stdio: quiet ? 'pipe' : 'inherit', encoding: 'utf8' });
  if (result.status !== 0) {
    const output = quiet ? `\n${result.stdout ?? ''}${result.stderr ?? ''}` : '';
    throw new Error(`${command} ${args.join(' ')} failed (exit ${result.status ?? result.signal})${output}`);
  }
}

/**
 * Installs JupyterLab into the project venv when it is missing (a venv made before it was a
 * requirement), then builds and installs the Lakehouse extension (both a no-op when up to date).
 * @example ensureJupyterLab();
 */
export function ensureJupyterLab(options: { quiet?: boolean } = {}): void {
  // Their entry points, not an import: importing jupyterlab costs seconds of CPU.
  if (!['jupyter-lab', 'jupyter-builder'].every((bin) => existsSync(path.join(VENV, 'bin', bin)))) {
    console.log('winlake lab: installing JupyterLab into .venv (first run only)...');
    run(VENV_PYTHON, ['-m', 'pip', 'install', '-q', '-r', JUPYTERLAB_REQUIREMENTS], options.quiet ?? false);
  }
  ensureLabExtension({ repoRoot: REPO_ROOT, venv: VENV }, options);
}

/**
 * Removes outputs and execution counts from notebooks, so that git holds only their sources.
 * Returns the files that changed.
 * @example stripNotebookOutputs(['notebooks/00-smoke.ipynb'])
 */
export function stripNotebookOutputs(files: readonly string[]): string[] {
  const changed: string[] = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const nb = JSON.parse(text) as { cells?: { cell_type: string; outputs?: unknown[]; execution_count?: unknown; metadata?: Record<string, unknown> }[] };
    if (!Array.isArray(nb.cells)) throw new Error(`${file} is not a Jupyter notebook (no cells)`);
    for (const cell of nb.cells) {
      if (cell.cell_type !== 'code') continue;
      cell.outputs = [];
      cell.execution_count = null;
      if (cell.metadata) delete cell.metadata.execution;
    }
    const stripped = `${JSON.stringify(nb, null, 1)}\n`;
    if (stripped !== text) {
      writeFileSync(file, stripped);
      changed.push(file);
    }
  }
  return changed;
}

/**
 * Code cells of a notebook that carry outputs or execution counts (should be none in git).
 * @example notebookCellsWithOutputs('notebooks/00-smoke.ipynb') // => []
 */
export function notebookCellsWithOutputs(file: string): number[] {
  const nb = JSON.parse(readFileSync(file, 'utf8')) as { cells: { cell_type: string; outputs?: unknown[]; execution_count?: unknown }[] };
  return nb.cells.flatMap((cell, i) =>
    cell.cell_type === 'code' && ((cell.outputs?.length ?? 0) > 0 || cell.execution_count != null) ? [i] : [],
  );
}

const USAGE = `usage: winlake lab [--port N] [--no-build] [-- <jupyter lab options>]
       winlake lab strip [notebook.ipynb ...]   remove outputs (default: notebooks/*.ipynb)

Starts JupyterLab (installed into .venv on first use) on notebooks/ with the TypeScript kernel
(tslab) and the Lakehouse side panel (kernel-lib/labextension, built on first use and when its
sources change). Notebooks import the built package ('winlake' → kernel-lib/dist), so it is built first.
`;

/**
 * The `winlake lab` command.
 * @example await labCommand(['--port', '8899'])
 */
export async function labCommand(args: string[]): Promise<number> {
  if (args.includes('-h') || args.includes('--help')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const notebooksDir = path.join(REPO_ROOT, 'notebooks');
  if (args[0] === 'strip') {
    const files = args.length > 1 ? args.slice(1) : readdirSync(notebooksDir).filter((f) => f.endsWith('.ipynb')).map((f) => path.join(notebooksDir, f));
    const changed = stripNotebookOutputs(files);
    console.log(changed.length ? `stripped: ${changed.join(', ')}` : 'no outputs to strip');
    return 0;
  }
  const split = args.indexOf('--');
  const own = split < 0 ? args : args.slice(0, split);
  const passThrough = split < 0 ? [] : args.slice(split + 1);
  const portAt = own.indexOf('--port');
  const port = portAt >= 0 ? Number(own[portAt + 1]) : 8888;
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    process.stderr.write(`winlake lab: --port needs a port number\n${USAGE}`);
    return 2;
  }
  const kernel = await ensureTslabKernel();
  ensureJupyterLab();
  if (!own.includes('--no-build')) {
    // The project's TypeScript, not node_modules/.bin/tsc: that is tslab's bundled, older compiler.
    const build = spawnSync(process.execPath, [path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'kernel-lib/tsconfig.json'], {
      cwd: REPO_ROOT,
      stdio: 'inherit',
    });
    if (build.status !== 0) console.warn('winlake lab: the build reported errors; notebooks use what it emitted');
  }
  const jupyterArgs = [
    '-m',
    'jupyter',
    'lab',
    '--no-browser',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    // The launcher's default kernel (and a new notebook's) is TypeScript, not Python.
    '--MappingKernelManager.default_kernel_name=tslab',
  ];
  // Jupyter refuses a second root_dir: one given after `--` replaces notebooks/.
  if (!passThrough.some((a) => a.startsWith('--ServerApp.root_dir') || a.startsWith('--notebook-dir'))) jupyterArgs.push(`--ServerApp.root_dir=${notebooksDir}`);
  // Containers and CI machines often run as root, which Jupyter refuses without this flag.
  if (process.getuid?.() === 0) jupyterArgs.push('--allow-root');
  jupyterArgs.push(...passThrough);
  // Kernels inherit this environment: a new notebook reads the same lakehouse as the demo and the CLI.
  // The Lakehouse panel's server extension runs the winlake CLI with this same Node.
  const env = { ...kernel.env, WINLAKE_HOME: LAKEHOUSE_HOME, WINLAKE_NODE: process.execPath };
  const child = spawn(kernel.python, jupyterArgs, { cwd: notebooksDir, env, stdio: ['inherit', 'inherit', 'pipe'] });
  let announced = false;
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    process.stderr.write(chunk);
    // A token given on the command line is printed as `token=...`: the URL is announced all the same.
    const url = /http:\/\/127\.0\.0\.1:\d+\/lab(\?token=[\w.]+)?/.exec(chunk)?.[0];
    if (url && !announced) {
      announced = true;
      console.log(`\nwinlake lab: JupyterLab is running — open ${url}\nlakehouse: ${LAKEHOUSE_HOME} (WINLAKE_HOME)\n(kernel "TypeScript (tslab)"; Ctrl-C stops it)\n`);
    }
  });
  // Ctrl-C reaches Jupyter directly too (same process group); a forwarded second SIGINT confirms its
  // shutdown prompt, so one Ctrl-C stops it. SIGTERM is passed on as is.
  const onInt = (): void => void child.kill('SIGINT');
  const onTerm = (): void => void child.kill('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return new Promise<number>((resolve) => {
    child.on('exit', (code, signal) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(code ?? (signal ? 130 : 1));
    });
  });
}
