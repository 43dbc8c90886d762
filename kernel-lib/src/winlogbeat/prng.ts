/**
 * A small seeded random source (mulberry32): same seed, same sequence, on every platform.
 * Not for cryptography — only for reproducible test data.
 *
 * @example
 * const r = new Random(42);
 * r.int(1, 6); r.pick(['a', 'b']); r.chance(0.1);
 */
export class Random {
  private state: number;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new Error(`seed must be a finite number, got ${seed}`);
    this.state = Math.trunc(seed) >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max] (both included). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('cannot pick from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** `n` hex digits, upper case. */
  hex(n: number): string {
    let s = '';
    while (s.length < n) s += ((this.next() * 0x10000) >>> 0).toString(16).padStart(4, '0');
    return s.slice(0, n).toUpperCase();
  }
}

/**
 * Picks among weighted choices in O(log n) per draw.
 * @example const w = new Weighted([['a', 3], ['b', 1]]); w.draw(random) // 'a' three times as often
 */
export class Weighted<T> {
  private readonly cumulative: number[] = [];
  private readonly items: T[] = [];
  private readonly total: number;

  constructor(choices: readonly (readonly [T, number])[]) {
    let sum = 0;
    for (const [item, weight] of choices) {
      if (!(weight > 0)) continue;
      sum += weight;
      this.cumulative.push(sum);
      this.items.push(item);
    }
    if (sum === 0) throw new Error('Weighted needs at least one positive weight');
    this.total = sum;
  }

  draw(random: Random): T {
    const x = random.next() * this.total;
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cumulative[mid]! > x) hi = mid;
      else lo = mid + 1;
    }
    return this.items[lo]!;
  }
}

/**
 * A deterministic hex digest of a string (FNV-1a rounds), for stable fake hashes.
 * @example fakeDigest('C:\\Windows\\System32\\cmd.exe', 8) // => 'F48EF0E9'
 */
export function fakeDigest(text: string, length: number): string {
  let out = '';
  let round = 0;
  while (out.length < length) {
    let h = 0x811c9dc5 ^ round++;
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    out += (h >>> 0).toString(16).padStart(8, '0');
  }
  return out.slice(0, length).toUpperCase();
}
