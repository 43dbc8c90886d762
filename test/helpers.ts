import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { Session } from '../kernel-lib/src/engine/session.js';
import { BUNDLED_SIGMA_RULES_ARCHIVE, unpackOnce } from '../kernel-lib/src/detect/bundled-rules.js';

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
  const archives = [...['delta-golden.tar.xz', 'sigma-regression.tar.xz'].map((f) => path.join(REPO, 'test', 'data', f)), BUNDLED_SIGMA_RULES_ARCHIVE];
  return unpackOnce(archives, path.join(REPO, '.cache', 'test-data'), (work) => {
    for (const d of ['mordor', 'ossem']) symlinkSync(path.join(REPO, 'kernel-lib', 'data', d), path.join(work, d), 'dir');
  });
}

/** The test data root (see {@link testDataRoot}); the name stays from when it was ../shared/data. */
export const SHARED_DATA = testDataRoot();

/**
 * The folders the tests' engines may open besides their lakehouse: the machine's temp folder (test
 * tables live there), the fixtures and the test data (with kernel-lib/data, where its mordor/ and ossem/ links lead). Also for the default session and the CLI
 * processes the tests start, through the environment a user would set.
 */
export const TEST_ALLOWED_DIRS = [os.tmpdir(), path.join(import.meta.dirname, 'fixtures'), SHARED_DATA, path.join(REPO, 'kernel-lib', 'data')];
process.env.WINLAKE_ALLOWED_DIRS = [...TEST_ALLOWED_DIRS, process.env.WINLAKE_ALLOWED_DIRS ?? ''].filter(Boolean).join(path.delimiter);

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
