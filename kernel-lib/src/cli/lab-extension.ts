/**
 * Builds and installs the Lakehouse JupyterLab extension (kernel-lib/labextension) into the project
 * venv: the prebuilt (federated) front end under share/jupyter/labextensions, the Python server
 * extension on the venv's path and enabled in etc/jupyter/jupyter_server_config.d. The extension
 * has its own package.json (kept out of the root `npm ci`); its build is redone only when its
 * sources change (a hash stamp), so later starts are offline and instant. Each build is also kept
 * in a machine-wide cache by that hash (`WINLAKE_BUILD_CACHE`, default ~/.cache/winlake), so a new
 * clone of the same sources (CI checks out a fresh one every run) installs it without building.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The extension's npm name: also its folder under share/jupyter/labextensions. */
export const LAB_EXTENSION_NAME = 'winlake-lakehouse';
/** The server extension's Python module. */
export const SERVER_EXTENSION_MODULE = 'winlake_lakehouse';

/** Where things are, for one repository and one venv. */
export interface LabExtensionPaths {
  repoRoot: string;
  venv: string;
}

/** What {@link ensureLabExtension} did. */
export interface LabExtensionInstall {
  /** The installed prebuilt extension folder. */
  labextensionDir: string;
  /** True when this call ran npm or the builder (false: the stamp matched). */
  built: boolean;
}

function sourceDir(repoRoot: string): string {
  return path.join(repoRoot, 'kernel-lib', 'labextension');
}

/** Every file the build reads (sources, styles, manifests), in a stable order. */
function buildInputs(dir: string): string[] {
  const walk = (sub: string): string[] =>
    readdirSync(path.join(dir, sub), { withFileTypes: true })
      .sort((a, b) => a.name.localeCompare(b.name))
      .flatMap((e) => (e.isDirectory() ? walk(path.join(sub, e.name)) : [path.join(sub, e.name)]));
  return ['package.json', 'package-lock.json', 'tsconfig.json', ...walk('src'), ...walk('style')];
}

function hashOf(dir: string, files: readonly string[], extra: string): string {
  const hash = createHash('sha256').update(extra);
  for (const f of files) hash.update(`\0${f}\0`).update(readFileSync(path.join(dir, f)));
  return hash.digest('hex');
}

function run(command: string, args: string[], cwd: string, quiet: boolean): void {
  const result = spawnSync(command, args, { cwd, stdio: quiet ? 'pipe' : 'inherit', encoding: 'utf8' });
  if (result.status !== 0) {
    const output = quiet ? `\n${result.stdout ?? ''}${result.stderr ?? ''}` : '';
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd} (exit ${result.status ?? result.signal})${output}`);
  }
}

function venvPython(venv: string): string {
  return path.join(venv, 'bin', 'python');
}

/**
 * Builds the extension when its sources changed since the last build, and installs both halves
 * into the venv (JupyterLab must be installed there already).
 *
 * @example ensureLabExtension({ repoRoot: REPO_ROOT, venv: path.join(REPO_ROOT, '.venv') });
 */
export function ensureLabExtension(paths: LabExtensionPaths, options: { quiet?: boolean } = {}): LabExtensionInstall {
  const quiet = options.quiet ?? false;
  const dir = sourceDir(path.resolve(paths.repoRoot));
  const venv = path.resolve(paths.venv);
  const python = venvPython(venv);
  const purelib = spawnSync(python, ['-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'], { encoding: 'utf8' });
  if (purelib.status !== 0) throw new Error(`cannot ask ${python} for its site-packages: ${purelib.stderr}`);
  const sitePackages = purelib.stdout.trim();
  const corePackageFile = path.join(sitePackages, 'jupyterlab', 'staging', 'package.json');
  if (!existsSync(corePackageFile)) throw new Error(`JupyterLab is not installed in ${venv} (${corePackageFile} is missing)`);

  const output = path.join(dir, 'dist', LAB_EXTENSION_NAME);
  const stampFile = path.join(dir, 'dist', '.source.sha256');
  // The JupyterLab version is part of the stamp: its core package decides what the build shares.
  const want = hashOf(dir, buildInputs(dir), readFileSync(corePackageFile, 'utf8'));
  let built = false;
  const cached = path.join(buildCacheRoot(), 'labextension', want);
  const stale = (): boolean => !existsSync(path.join(output, 'package.json')) || !existsSync(stampFile) || readFileSync(stampFile, 'utf8') !== want;
  if (stale() && existsSync(path.join(cached, 'package.json'))) {
    rmSync(output, { recursive: true, force: true });
    cpSync(cached, output, { recursive: true });
    writeFileSync(stampFile, want);
  }
  if (stale()) {
    const lockStamp = path.join(dir, 'node_modules', '.winlake-lock.sha256');
    const lock = hashOf(dir, ['package-lock.json'], '');
    if (!existsSync(lockStamp) || readFileSync(lockStamp, 'utf8') !== lock) {
      if (!quiet) console.log('winlake lab: installing the Lakehouse extension\'s build tools (kernel-lib/labextension, first run only)...');
      run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], dir, quiet);
      writeFileSync(lockStamp, lock);
    }
    if (!quiet) console.log('winlake lab: building the Lakehouse extension...');
    rmSync(path.join(dir, 'lib'), { recursive: true, force: true });
    run(process.execPath, [path.join(path.resolve(paths.repoRoot), 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], dir, quiet);
    rmSync(output, { recursive: true, force: true });
    run(path.join(venv, 'bin', 'jupyter-builder'), ['build', '.', `--core-package-file=${corePackageFile}`], dir, quiet);
    writeFileSync(stampFile, want);
    built = true;
    // Copied aside, then renamed: another clone may be filling the same entry at the same time.
    const partial = `${cached}.${process.pid}.partial`;
    try {
      cpSync(output, partial, { recursive: true });
      if (!existsSync(cached)) renameSync(partial, cached);
    } catch {
      // A cache that cannot be written only means the next clone builds again.
    } finally {
      rmSync(partial, { recursive: true, force: true });
    }
  }

  const labextensionDir = path.join(venv, 'share', 'jupyter', 'labextensions', LAB_EXTENSION_NAME);
  const installedManifest = path.join(labextensionDir, 'package.json');
  if (built || !existsSync(installedManifest) || readFileSync(installedManifest, 'utf8') !== readFileSync(path.join(output, 'package.json'), 'utf8')) {
    rmSync(labextensionDir, { recursive: true, force: true });
    mkdirSync(path.dirname(labextensionDir), { recursive: true });
    cpSync(output, labextensionDir, { recursive: true });
  }

  // The server extension runs from the repository (a .pth line), so it always matches the CLI.
  writeIfChanged(path.join(sitePackages, `${SERVER_EXTENSION_MODULE}.pth`), `${path.join(dir, 'server')}\n`);
  writeIfChanged(
    path.join(venv, 'etc', 'jupyter', 'jupyter_server_config.d', `${SERVER_EXTENSION_MODULE}.json`),
    `${JSON.stringify({ ServerApp: { jpserver_extensions: { [SERVER_EXTENSION_MODULE]: true } } }, null, 2)}\n`,
  );
  return { labextensionDir, built };
}

/** The machine-wide build cache (outside any clone). */
function buildCacheRoot(): string {
  return process.env.WINLAKE_BUILD_CACHE ?? path.join(os.homedir(), '.cache', 'winlake');
}

function writeIfChanged(file: string, text: string): void {
  if (existsSync(file) && statSync(file).isFile() && readFileSync(file, 'utf8') === text) return;
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
}
