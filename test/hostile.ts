/**
 * Hostile and odd Kafka values for the bronze fault suite (test/bronze-hostile.test.ts) and the
 * reliability benchmark, generated here (no checked-in blobs): mixed winlogbeat 7 / 8 documents
 * with a sprinkling of type drift, case clashes, odd keys, deep nesting, reserved names, long
 * channels, odd timestamps, and values that are not documents at all. Plus a runner for the
 * streaming child (test/fixtures/stream-child.ts) that SIGKILLs it after some batches.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { simulateNdjson } from '../kernel-lib/src/winlogbeat/simulate.js';

/** One value to produce, and whether bronze (true) or quarantine (false) must get it. */
export interface HostileValue {
  name: string;
  value: Buffer | null;
  toBronze: boolean;
}

const deep = (n: number): string => `${'['.repeat(n)}${']'.repeat(n)}`;
const deepObject = (n: number): string => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;

/** A well-formed winlogbeat document as winlogbeat `version` (7: event_id and event.code numbers) sends it. */
function agentDoc(base: Record<string, unknown>, version: 7 | 8): Record<string, unknown> {
  const doc = structuredClone(base) as { winlog: Record<string, unknown>; event?: Record<string, unknown> };
  if (version === 7) {
    doc.winlog.event_id = Number(doc.winlog.event_id);
    if (doc.event) doc.event.code = Number(doc.event.code);
  } else {
    doc.winlog.record_id = String(doc.winlog.record_id);
  }
  return doc;
}

/**
 * The hostile cases, each a function of a good document (so each still looks like a real event).
 * `toBronze` says where the value must land.
 */
export const HOSTILE_CASES: readonly { name: string; toBronze: boolean; make: (good: Record<string, unknown>) => Buffer | string | null }[] = [
  { name: 'record_id as a numeric string', toBronze: true, make: (g) => json(set(g, ['winlog', 'record_id'], '123')) },
  { name: 'record_id beyond int64', toBronze: true, make: (g) => JSON.stringify(g).replace(/"record_id":\d+/, '"record_id":18446744073709551615') },
  { name: 'float version', toBronze: true, make: (g) => json(set(g, ['winlog', 'version'], 1.5)) },
  { name: 'winlog as a string', toBronze: true, make: (g) => json({ ...g, winlog: 'oops' }) },
  { name: 'agent.Name beside agent.name', toBronze: true, make: (g) => json(set(g, ['agent', 'Name'], 'UPPER')) },
  { name: 'Foo and foo', toBronze: true, make: (g) => json({ ...g, Foo: 'upper', foo: 'lower' }) },
  { name: 'empty key', toBronze: true, make: (g) => json({ ...g, '': 'empty' }) },
  { name: 'NUL in a key', toBronze: true, make: (g) => json({ ...g, 'a\u0000b': 'nul' }) },
  { name: 'empty and NUL event_data keys', toBronze: true, make: (g) => json(set(set(g, ['winlog', 'event_data', ''], 'e'), ['winlog', 'event_data', 'x\u0000'], 'n')) },
  { name: 'event_data values not strings', toBronze: true, make: (g) => json(set(set(g, ['winlog', 'event_data', 'Num'], 42), ['winlog', 'event_data', 'Obj'], { a: [1, 2] })) },
  { name: '300 deep', toBronze: true, make: (g) => `${JSON.stringify(g).slice(0, -1)},"deep":${deep(300)}}` },
  { name: '2000 deep', toBronze: true, make: (g) => `${JSON.stringify(g).slice(0, -1)},"deep":${deepObject(2000)}}` },
  { name: '2000 deep in event_data', toBronze: true, make: (g) => JSON.stringify(g).replace('"event_data":{', `"event_data":{"Deep":${deep(2000)},`) },
  { name: 'reserved names', toBronze: true, make: (g) => json({ ...g, _kafka_offset: -1, _corrupt_record: 'x', _corrupt_reason: 'y', _rescued_data: 'z', _raw: 'r', _sourcetype: 's' }) },
  { name: '300-character channel', toBronze: true, make: (g) => json(set(g, ['winlog', 'channel'], `Chan/${'x'.repeat(295)}`)) },
  { name: 'unparseable @timestamp', toBronze: true, make: (g) => json({ ...g, '@timestamp': 'yesterday at noon' }) },
  { name: 'epoch millis @timestamp', toBronze: true, make: (g) => json({ ...g, '@timestamp': 1714564800123 }) },
  { name: 'epoch millis string @timestamp', toBronze: true, make: (g) => json({ ...g, '@timestamp': '1714564800123' }) },
  { name: 'no zone, nanoseconds', toBronze: true, make: (g) => json({ ...g, '@timestamp': '2024-05-01T12:00:00.123456789' }) },
  { name: 'year 1601', toBronze: true, make: (g) => json({ ...g, '@timestamp': '1601-01-01T00:00:00Z' }) },
  { name: 'year 9999', toBronze: true, make: (g) => json({ ...g, '@timestamp': '9999-12-31T23:59:59.999Z' }) },
  { name: 'no @timestamp, no event_id', toBronze: true, make: (g) => json(without(without(g, ['@timestamp']), ['winlog', 'event_id'])) },
  { name: '5,000 event_data keys', toBronze: true, make: (g) => json(set(g, ['winlog', 'event_data'], Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`K${i}`, `v${i}`])))) },
  { name: 'invalid JSON', toBronze: false, make: () => '{"winlog": {"channel": "Security",' },
  { name: 'truncated', toBronze: false, make: (g) => JSON.stringify(g).slice(0, 200) },
  { name: 'binary', toBronze: false, make: () => Buffer.from([0xff, 0xfe, 0x00, 0x81, 0x7b, 0x22]) },
  { name: 'empty', toBronze: false, make: () => '' },
  { name: 'null value', toBronze: false, make: () => null },
  { name: 'top-level array', toBronze: false, make: (g) => `[${JSON.stringify(g)},${JSON.stringify(g)}]` },
  { name: 'a number', toBronze: false, make: () => '42' },
  { name: 'over max_message_bytes', toBronze: false, make: (g) => json(set(g, ['message'], 'x'.repeat(1_010_000))) },
  // Beyond a broker's default message.max.bytes: only through `winlake load`.
  { name: '2 MB value', toBronze: false, make: (g) => json(set(g, ['message'], 'x'.repeat(2 * 1024 * 1024))) },
];

function json(v: unknown): string {
  return JSON.stringify(v);
}

function set(doc: Record<string, unknown>, at: readonly string[], value: unknown): Record<string, unknown> {
  const out = structuredClone(doc);
  let o = out;
  for (const k of at.slice(0, -1)) o = (o[k] ??= {}) as Record<string, unknown>;
  o[at[at.length - 1]!] = value;
  return out;
}

function without(doc: Record<string, unknown>, at: readonly string[]): Record<string, unknown> {
  const out = structuredClone(doc);
  let o = out;
  for (const k of at.slice(0, -1)) o = o[k] as Record<string, unknown>;
  delete o[at[at.length - 1]!];
  return out;
}

/**
 * `count` values: winlogbeat 7 and 8 documents alternating, and every `every`-th one a hostile
 * case (cycling through {@link HOSTILE_CASES}); deterministic for a seed.
 *
 * @example const values = mixedValues({ count: 1000, every: 100, seed: 1 }); // 10 hostile values
 */
export function mixedValues(opts: { count: number; every: number; seed: number; only?: (name: string) => boolean }): HostileValue[] {
  const cases = HOSTILE_CASES.filter((c) => opts.only?.(c.name) ?? true);
  const goods = [...simulateNdjson({ seed: opts.seed, count: Math.min(opts.count, 2000), version: 7 })].map((l) => JSON.parse(l) as Record<string, unknown>);
  const out: HostileValue[] = [];
  let hostile = 0;
  for (let i = 0; i < opts.count; i++) {
    const good = goods[i % goods.length]!;
    if (i % opts.every === opts.every - 1) {
      const c = cases[hostile++ % cases.length]!;
      const v = c.make(good);
      out.push({ name: c.name, value: v === null ? null : typeof v === 'string' ? Buffer.from(v, 'utf8') : v, toBronze: c.toBronze });
    } else {
      out.push({ name: i % 2 ? 'winlogbeat 8' : 'winlogbeat 7', value: Buffer.from(JSON.stringify(agentDoc(good, i % 2 ? 8 : 7))), toBronze: true });
    }
  }
  return out;
}

/** What one streaming run did. */
export interface ChildRun {
  killed: boolean;
  code: number | null;
  stderr: string;
  batches: number;
}

/**
 * Runs the streaming child to the end of the topic, SIGKILLing it after `killAfter[i]` committed
 * batches in run i (runs past the list are not killed).
 *
 * @example const runs = await streamWithKills({ bootstrap: '127.0.0.1', port, topic, lakehouse, table: 'b', queryName: 'q', maxOffsetsPerTrigger: 500 }, [1, 2]);
 */
export async function streamWithKills(args: Record<string, unknown>, killAfter: readonly number[], maxRuns = 10): Promise<ChildRun[]> {
  const fixture = path.join(import.meta.dirname, 'fixtures', 'stream-child.ts');
  const runs: ChildRun[] = [];
  for (let run = 0; run < maxRuns; run++) {
    const limit = killAfter[run];
    const result = await new Promise<ChildRun>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', fixture, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let killed = false;
      let batches = 0;
      let stderr = '';
      let buffer = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdout.on('data', (d: Buffer) => {
        buffer += d.toString();
        let nl;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const msg = JSON.parse(buffer.slice(0, nl)) as { event: string };
          buffer = buffer.slice(nl + 1);
          if (msg.event === 'progress' && ++batches === limit && child.exitCode === null) killed = child.kill('SIGKILL');
        }
      });
      child.once('error', reject);
      child.once('exit', (code) => resolve({ killed, code, stderr, batches }));
    });
    runs.push(result);
    if (!result.killed) return runs;
  }
  return runs;
}
