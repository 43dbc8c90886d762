import { mkdtempSync, rmSync } from 'node:fs';
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

/** Where the read-only shared data lives (../shared/data from the repo root). */
export const SHARED_DATA = path.resolve(import.meta.dirname, '..', '..', 'shared', 'data');
