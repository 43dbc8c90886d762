/**
 * Benchmark harness: `npm run bench -- <name...>` runs each module test/bench/<name>.ts (which exports
 * `run(): Promise<Record<string, unknown>>`) and prints one JSON object
 * `{ machine: {cpus, model, memGB, node, duckdb}, results: {name: ...} }` to stdout. Progress goes to stderr.
 */
import { readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Session } from '../../kernel-lib/src/engine/session.js';

interface BenchModule {
  run: () => Promise<Record<string, unknown>>;
}

const here = import.meta.dirname;
const available = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .map((f) => f.slice(0, -3));
const names = process.argv.slice(2).filter((a) => a !== '--');
if (names.length === 0) {
  console.error(`usage: npm run bench -- <name...>; available: ${available.join(', ')}`);
  process.exit(2);
}
for (const n of names) {
  if (!available.includes(n)) {
    console.error(`no benchmark ${JSON.stringify(n)}; available: ${available.join(', ')}`);
    process.exit(2);
  }
}

const probe = await Session.create({ workDir: path.join(os.tmpdir(), 'winlake-bench-probe') });
const duckdb = String(await probe.scalar('SELECT version()'));
probe.close();
const cpus = os.cpus();
const machine = {
  cpus: cpus.length,
  model: cpus[0]?.model ?? 'unknown',
  memGB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
  node: process.version,
  duckdb,
};

const results: Record<string, unknown> = {};
for (const n of names) {
  console.error(`[bench] ${n} ...`);
  const started = performance.now();
  const mod = (await import(path.join(here, `${n}.ts`))) as BenchModule;
  results[n] = await mod.run();
  console.error(`[bench] ${n} done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
console.log(JSON.stringify({ machine, results }, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v), 2));
