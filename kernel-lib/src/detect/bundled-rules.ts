/**
 * SigmaHQ's Windows rules as shipped with winlake (`kernel-lib/data/sigma/rules-windows.tar.xz`,
 * Detection Rule License 1.1), unpacked on first use into the ignored `.cache/sigma-rules/<hash>/`
 * of the repository, so a clone needs nothing beside it.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The archive of SigmaHQ's `rules/windows` (entries under `sigma/rules/windows/`). */
export const BUNDLED_SIGMA_RULES_ARCHIVE = path.join(REPO_ROOT, 'kernel-lib', 'data', 'sigma', 'rules-windows.tar.xz');

/**
 * Unpacks `.tar.xz` archives into `<cacheRoot>/<hash of their contents>/` once and returns that
 * folder. Concurrent processes each unpack into their own folder and rename it into place: the
 * first rename wins and the others drop their copy. `prepare` may add to the folder before it is
 * marked complete.
 *
 * @example const root = unpackOnce([BUNDLED_SIGMA_RULES_ARCHIVE], '/repo/.cache/sigma-rules');
 */
export function unpackOnce(archives: readonly string[], cacheRoot: string, prepare?: (dir: string) => void): string {
  const hash = createHash('sha256');
  for (const a of archives) hash.update(readFileSync(a));
  const root = path.join(cacheRoot, hash.digest('hex').slice(0, 16));
  if (existsSync(path.join(root, '.complete'))) return root;
  mkdirSync(cacheRoot, { recursive: true });
  const work = mkdtempSync(`${root}.tmp-`);
  try {
    for (const a of archives) execFileSync('tar', ['-xJf', a, '-C', work], { stdio: ['ignore', 'ignore', 'pipe'] });
    prepare?.(work);
    writeFileSync(path.join(work, '.complete'), '');
    renameSync(work, root);
  } catch (err) {
    rmSync(work, { recursive: true, force: true });
    if (!existsSync(path.join(root, '.complete'))) throw err;
  }
  return root;
}

/**
 * The folder of SigmaHQ's Windows rules: `WINLAKE_SIGMA_RULES` when set, else the rules shipped
 * with winlake.
 *
 * @example const alerts = await runSigmaRules(bundledSigmaRules());
 */
export function bundledSigmaRules(): string {
  const override = process.env.WINLAKE_SIGMA_RULES;
  if (override) {
    if (!existsSync(override)) throw new Error(`WINLAKE_SIGMA_RULES=${override} does not exist: point it at a folder of Sigma rules`);
    return override;
  }
  return path.join(unpackOnce([BUNDLED_SIGMA_RULES_ARCHIVE], path.join(REPO_ROOT, '.cache', 'sigma-rules')), 'sigma', 'rules', 'windows');
}
