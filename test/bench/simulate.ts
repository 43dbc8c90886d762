/** Simulator throughput: documents per second as objects and as NDJSON lines (aim: ≥ 50k/s). */
import { simulateEvents, simulateNdjson } from '../../kernel-lib/src/winlogbeat/simulate.js';

const scale = Number(process.env.WINLAKE_BENCH_SCALE ?? 1);

/** Runs the simulator benchmark. */
export async function run(): Promise<Record<string, unknown>> {
  const count = Math.max(1000, Math.round(200_000 * scale));
  const time = (f: () => number): { docs: number; seconds: number; docsPerSecond: number; bytes?: number } => {
    const t = performance.now();
    const docs = f();
    const seconds = (performance.now() - t) / 1000;
    return { docs, seconds, docsPerSecond: Math.round(docs / seconds) };
  };
  const objects = time(() => {
    let n = 0;
    for (const _ of simulateEvents({ seed: 1, count, attackRate: 0.01 })) n++;
    return n;
  });
  let bytes = 0;
  const ndjson = time(() => {
    let n = 0;
    for (const line of simulateNdjson({ seed: 1, count, attackRate: 0.01 })) {
      bytes += line.length;
      n++;
    }
    return n;
  });
  return { objects, ndjson: { ...ndjson, avgBytes: Math.round(bytes / ndjson.docs) } };
}
