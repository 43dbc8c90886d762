import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { Session } from '../kernel-lib/src/engine/session.js';

/** Where the read-only shared data lives (../shared/data from the repo root). */
export const SHARED_DATA = path.resolve(import.meta.dirname, '..', '..', 'shared', 'data');

/**
 * The folders the tests' engines may open besides their lakehouse: the machine's temp folder (test
 * tables live there), the fixtures and the shared data. Also for the default session and the CLI
 * processes the tests start, through the environment a user would set.
 */
export const TEST_ALLOWED_DIRS = [os.tmpdir(), path.join(import.meta.dirname, 'fixtures'), SHARED_DATA];
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
