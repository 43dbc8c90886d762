import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { Session } from '../kernel-lib/src/engine/session.js';

/** A fresh temp folder, removed when the test file ends. */
export function tempDir(prefix = 'winlake-test-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A DuckDB session for one test file, closed when it ends. */
export async function testSession(): Promise<Session> {
  const session = await Session.create({ workDir: tempDir('winlake-duck-'), threads: 2 });
  after(() => session.close());
  return session;
}

const REPO = path.resolve(import.meta.dirname, '..');

/**
 * The test data root: `mordor/`, `ossem/`, `sigma/rules/`, `sigma/regression/`, `delta-golden/`.
 * By default the archives in test/data, unpacked once per archive content into the ignored
 * .cache/test-data/<hash>/ (beside links to kernel-lib/data's mordor and ossem), so a clone needs
 * nothing beside it; `WINLAKE_TEST_DATA` names another root with the same layout. Test files run in
 * parallel processes, so each unpacks into its own folder and renames it into place: the first
 * rename wins and the others drop their copy.
 */
function testDataRoot(): string {
  const override = process.env.WINLAKE_TEST_DATA;
  if (override) {
    if (!existsSync(path.join(override, 'sigma'))) throw new Error(`WINLAKE_TEST_DATA=${override} has no sigma/ folder: point it at a test data root (see test/data/README.md)`);
    return override;
  }
  const archives = ['delta-golden.tar.xz', 'sigma.tar.xz'].map((f) => path.join(REPO, 'test', 'data', f));
  const hash = createHash('sha256');
  for (const a of archives) hash.update(readFileSync(a));
  const root = path.join(REPO, '.cache', 'test-data', hash.digest('hex').slice(0, 16));
  if (existsSync(path.join(root, '.complete'))) return root;
  mkdirSync(path.dirname(root), { recursive: true });
  const work = mkdtempSync(`${root}.tmp-`);
  try {
    for (const a of archives) execFileSync('tar', ['-xJf', a, '-C', work], { stdio: ['ignore', 'ignore', 'pipe'] });
    for (const d of ['mordor', 'ossem']) symlinkSync(path.join(REPO, 'kernel-lib', 'data', d), path.join(work, d), 'dir');
    writeFileSync(path.join(work, '.complete'), '');
    renameSync(work, root);
  } catch (err) {
    rmSync(work, { recursive: true, force: true });
    if (!existsSync(path.join(root, '.complete'))) throw err;
  }
  return root;
}

/** The test data root (see {@link testDataRoot}); the name stays from when it was ../shared/data. */
export const SHARED_DATA = testDataRoot();
