/**
 * The repository on its own, as a new user gets it: its files copied to a temp folder with no
 * `../shared` beside them, `npm ci`, then `npx winlake` straight away (no build step) and the demo,
 * whose summary must include the Mordor recording shipped in kernel-lib/data.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { tempDir } from './helpers.js';

const execFileAsync = promisify(execFile);
const REPO = path.resolve(import.meta.dirname, '..');
const RECORDING = 'cmd_psexec_lsa_secrets_dump.json';

/** The environment of a user's shell: none of the npm_* variables of the `npm test` running us. */
function userEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  for (const k of ['WINLAKE_MORDOR_DIR', 'WINLAKE_OSSEM_DIR', 'WINLAKE_TEST_DATA', 'WINLAKE_HOME']) delete env[k];
  return { ...env, ...extra };
}

test('a clone on its own: npm ci, npx winlake at once, and the demo replays the shipped recording', { timeout: 900_000 }, async () => {
  const clone = path.join(tempDir('winlake-clone-'), 'winlake');
  // The files git would check out (tracked, plus new ones not ignored), as they are in this tree.
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f !== '' && existsSync(path.join(REPO, f)));
  for (const f of files) {
    mkdirSync(path.dirname(path.join(clone, f)), { recursive: true });
    cpSync(path.join(REPO, f), path.join(clone, f));
  }
  assert.ok(!existsSync(path.join(clone, '..', 'shared')), 'the clone must have no ../shared beside it');
  const run = (cmd: string, args: string[], env: Record<string, string> = {}) =>
    execFileAsync(cmd, args, { cwd: clone, env: userEnv(env), maxBuffer: 1 << 26, timeout: 600_000 });

  await run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error']);
  assert.ok(!existsSync(path.join(clone, 'kernel-lib', 'dist')), 'nothing was built: the bin must work without a build');

  const help = await run('npx', ['--no-install', 'winlake', '--help']);
  assert.match(help.stdout, /^usage: winlake <command>/);

  const home = path.join(clone, 'lake');
  const demo = await run('npx', ['--no-install', 'winlake', 'demo'], { WINLAKE_DEMO_NO_KAFKA: '1', WINLAKE_DEMO_EVENTS: '300', WINLAKE_HOME: home });
  const recorded = readFileSync(path.join(REPO, 'kernel-lib', 'data', 'mordor', RECORDING), 'utf8').split('\n').filter((l) => l.trim() !== '').length;
  assert.match(demo.stdout, new RegExp(`^winlake demo: 300 simulated events \\+ the Mordor recording ${RECORDING}\\n`), demo.stdout);
  assert.match(demo.stdout, new RegExp(`\\nreplayed ${RECORDING}: ${recorded.toLocaleString('en-US')} events\\n`), demo.stdout);
  assert.match(demo.stdout, new RegExp(`\\nbronze\\s+winlogbeat_kafka_bronze\\s+rows\\s+${300 + recorded}\\s`), demo.stdout);

  const list = await run('npx', ['--no-install', 'winlake', 'table', 'list', '--home', home]);
  assert.match(list.stdout, /\nwinlogbeat_kafka_bronze\s+bronze\s/);
});
