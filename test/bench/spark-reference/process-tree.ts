/**
 * CPU and memory of a whole process tree (a child and all its descendants: Spark's Python driver,
 * the spark-submit shell and the JVM), sampled from /proc, since Node reports only its own usage.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const PAGE_BYTES = Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim()) || 4096;

interface ProcStat {
  pid: number;
  ppid: number;
  cpuTicks: number;
  rssBytes: number;
}

/** Proportional set size: shared pages (forked Python workers, mapped jars) divided among their sharers. */
function readPss(pid: number): number {
  try {
    return Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces: the fields start after the last ')'.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { pid, ppid: Number(f[1]), cpuTicks: Number(f[11]) + Number(f[12]), rssBytes: Number(f[21]) * PAGE_BYTES };
  } catch {
    return undefined; // gone between the listing and the read
  }
}

/** A snapshot of the tree: CPU seconds used so far by every process seen in it, and resident memory now. */
export interface TreeSample {
  cpuSeconds: number;
  rssMB: number;
  pssMB: number;
}

/**
 * Samples the tree under `root` every `intervalMs`: CPU time is the sum over every process seen in
 * the tree of its last sampled utime+stime (a process's final interval before it exits is lost);
 * memory is the sum of the tree's resident sets (RSS, which counts a page shared by forked
 * processes once per process) and of their proportional sets (PSS, which divides it: the tree's
 * real footprint); the peaks are kept (also per mark, see {@link mark}).
 *
 * @example
 * const tree = new ProcessTree(child.pid!); tree.start();
 * // ... on exit: tree.stop(); tree.peakRssMB
 */
export class ProcessTree {
  private readonly cpu = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  /** Peak of the tree's summed RSS since start, in MB. */
  peakRssMB = 0;
  /** Peak since the last {@link mark}. */
  peakSinceMarkMB = 0;
  /** Peak of the tree's summed PSS since start, in MB. */
  peakPssMB = 0;
  /** Peak PSS since the last {@link mark}. */
  peakPssSinceMarkMB = 0;

  constructor(
    readonly root: number,
    private readonly intervalMs = 100,
  ) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * Samples now, returns the sample with the peaks of the period since the previous mark (this
   * sample included), and starts a new period.
   */
  mark(): TreeSample & { periodPeakRssMB: number; periodPeakPssMB: number } {
    const s = this.sample();
    const period = { ...s, periodPeakRssMB: this.peakSinceMarkMB, periodPeakPssMB: this.peakPssSinceMarkMB };
    this.peakSinceMarkMB = s.rssMB;
    this.peakPssSinceMarkMB = s.pssMB;
    return period;
  }

  /** Reads /proc once and returns the tree's figures. */
  sample(): TreeSample {
    const all: ProcStat[] = [];
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const s = readStat(Number(name));
      if (s) all.push(s);
    }
    const children = new Map<number, ProcStat[]>();
    for (const s of all) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
    const rootStat = all.find((s) => s.pid === this.root);
    const tree = rootStat ? [rootStat] : [];
    for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]!.pid) ?? []));
    let rss = 0;
    let pss = 0;
    for (const s of tree) {
      this.cpu.set(s.pid, Math.max(this.cpu.get(s.pid) ?? 0, s.cpuTicks));
      rss += s.rssBytes;
      pss += readPss(s.pid);
    }
    const rssMB = rss / 2 ** 20;
    const pssMB = pss / 2 ** 20;
    this.peakRssMB = Math.max(this.peakRssMB, rssMB);
    this.peakSinceMarkMB = Math.max(this.peakSinceMarkMB, rssMB);
    this.peakPssMB = Math.max(this.peakPssMB, pssMB);
    this.peakPssSinceMarkMB = Math.max(this.peakPssSinceMarkMB, pssMB);
    let ticks = 0;
    for (const t of this.cpu.values()) ticks += t;
    return { cpuSeconds: ticks / CLOCK_TICKS, rssMB, pssMB };
  }
}
