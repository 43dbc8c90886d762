/**
 * The true UTC instant of NXLog (im_msvistalog) events, which do not carry one reliably.
 *
 * NXLog writes the record's time (`EventTime`, or `TimeCreated` after HELK's Logstash renamed it)
 * as the host's local wall clock without a zone. In the Mordor recordings that clock is 4 h behind
 * UTC (EDT), and some HELK pipelines re-stamped it with a false `Z` — on a 12-hour clock even
 * (cmd_discover_iexplorer_version_registry: `TimeCreated` 11:28 "Z" for 03:28 UTC the next day).
 * Two things in the same data are true UTC: Sysmon's `UtcTime`, and the `@timestamp` Logstash
 * stamps on receipt when `EventReceivedTime` (the same receipt, local) is beside it.
 *
 * So the wall clock is read as written (zone-less → as if UTC) and corrected by the host's clock
 * offset: `offset = wall clock − UtcTime` over the Sysmon events of that host in the same file,
 * rounded to 15 minutes (zones are multiples of it; the rest is logging latency), the most
 * frequent value winning. {@link HostClocks} learns those offsets.
 */

/** What one NXLog document says about its time; instants in epoch ms. */
export interface NxlogTimeFacts {
  /** `Hostname`, or '' when absent (documents without one share a clock). */
  host: string;
  /** The record's wall clock (`TimeCreated` ?? `EventTime`) read as written; zone-less as if UTC. */
  wallClock: number | undefined;
  /** Sysmon's `UtcTime` (Sysmon channel only). */
  sysmonUtc: number | undefined;
  /** The host's offset told by the receipt pair: `EventReceivedTime` (local) − `@timestamp` (UTC). */
  receiptOffset: number | undefined;
  /** `@timestamp` as written. */
  stamped: number | undefined;
}

const QUARTER_HOUR = 15 * 60_000;
const SYSMON_CHANNEL = 'Microsoft-Windows-Sysmon/Operational';
const ZONED = /(?:Z|[+-]\d{2}:?\d{2})$/i;
const NAIVE = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d+)?)$/;

/**
 * Reads the time fields of an NXLog document.
 * @example nxlogTimeFacts({ Channel: 'Security', Hostname: 'WKS5', TimeCreated: '2020-10-19 03:30:41.104' }).wallClock
 * // => 1603078241104 (2020-10-19T03:30:41.104 read as if UTC)
 */
export function nxlogTimeFacts(d: Readonly<Record<string, unknown>>): NxlogTimeFacts {
  const wallClock = instantOf(d.TimeCreated ?? d.EventTime);
  const stamped = instantOf(d['@timestamp']);
  const received = instantOf(d.EventReceivedTime);
  const zonedStamp = typeof d['@timestamp'] === 'string' && ZONED.test(d['@timestamp'].trim());
  return {
    host: typeof d.Hostname === 'string' ? d.Hostname : '',
    wallClock,
    sysmonUtc: d.Channel === SYSMON_CHANNEL ? instantOf(d.UtcTime) : undefined,
    receiptOffset: zonedStamp && stamped !== undefined && received !== undefined ? roundToQuarter(received - stamped) : undefined,
    stamped,
  };
}

/**
 * Per-host clock offsets (wall clock − UTC, ms) learned from Sysmon events; one instance per file.
 * @example
 * const clocks = new HostClocks();
 * clocks.learn(nxlogTimeFacts({ Channel: 'Microsoft-Windows-Sysmon/Operational', Hostname: 'WKS5',
 *   TimeCreated: '2020-10-19 03:30:42.058', UtcTime: '2020-10-19 07:30:42.056' }));
 * clocks.offsetOf('WKS5') // => -14400000 (4 h behind UTC)
 */
export class HostClocks {
  private readonly votes = new Map<string, Map<number, number>>();

  /** Counts the offset one Sysmon event shows; other events teach nothing. */
  learn(facts: NxlogTimeFacts): void {
    if (facts.sysmonUtc === undefined || facts.wallClock === undefined) return;
    const offset = roundToQuarter(facts.wallClock - facts.sysmonUtc);
    let host = this.votes.get(facts.host);
    if (!host) this.votes.set(facts.host, (host = new Map()));
    host.set(offset, (host.get(offset) ?? 0) + 1);
  }

  /** The host's most frequent offset (first seen on a tie), or undefined without Sysmon events. */
  offsetOf(host: string): number | undefined {
    let best: number | undefined;
    let bestVotes = 0;
    for (const [offset, n] of this.votes.get(host) ?? []) {
      if (n > bestVotes) [best, bestVotes] = [offset, n];
    }
    return best;
  }
}

/**
 * The UTC instant (epoch ms) of an NXLog event:
 * 1. a Sysmon event takes its `UtcTime` — unless it disagrees with the host's offset (Sysmon 3 can
 *    report a connection first seen days earlier), then it is treated like any other event;
 * 2. the wall clock minus the host's offset: learned from Sysmon ({@link HostClocks}), else the
 *    document's receipt pair (`@timestamp` − `EventReceivedTime`);
 * 3. without either, the wall clock as written (a zone-less one taken as UTC: nothing tells better);
 * 4. without a wall clock, `@timestamp`.
 *
 * @example nxlogInstant(nxlogTimeFacts({ Hostname: 'DC', EventTime: '2020-08-06 01:20:11',
 *   EventReceivedTime: '2020-08-06 01:20:14', '@timestamp': '2020-08-06T05:20:14.617Z' }))
 * // => Date.parse('2020-08-06T05:20:11Z')
 */
export function nxlogInstant(facts: NxlogTimeFacts, clocks?: HostClocks): number {
  const offset = clocks?.offsetOf(facts.host) ?? facts.receiptOffset;
  const { wallClock, sysmonUtc } = facts;
  if (sysmonUtc !== undefined && (offset === undefined || wallClock === undefined || roundToQuarter(wallClock - sysmonUtc) === offset)) return sysmonUtc;
  if (wallClock !== undefined) return offset === undefined ? wallClock : wallClock - offset;
  if (facts.stamped !== undefined) return facts.stamped;
  throw new Error('NXLog document without a usable TimeCreated, EventTime, UtcTime or @timestamp');
}

function roundToQuarter(ms: number): number {
  // `+ 0` turns -0 into 0, so offsets compare and print cleanly.
  return Math.round(ms / QUARTER_HOUR) * QUARTER_HOUR + 0;
}

/** A time string or epoch number → epoch ms; zone-less strings read as UTC; unreadable → undefined. */
function instantOf(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const naive = NAIVE.exec(v.trim());
  // Digits past milliseconds are dropped: Date.parse handles at most three.
  const ms = naive ? Date.parse(`${naive[1]}T${naive[2]!.slice(0, 12)}Z`) : Date.parse(v);
  return Number.isNaN(ms) ? undefined : ms;
}
