import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { quoteIdent } from '../engine/quote.js';
import type { Frame } from '../frame/index.js';

/**
 * Renders a vega-lite spec to an SVG string on the server: no browser, canvas or network.
 * The spec's data must be inline (`data.values`).
 *
 * @example
 * const svg = await renderVegaLite({ data: { values: [{ x: 'a', n: 1 }] }, mark: 'bar',
 *   encoding: { x: { field: 'x', type: 'nominal' }, y: { field: 'n', type: 'quantitative' } } });
 */
export async function renderVegaLite(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Time buckets for {@link chartEventsOverTime}, as DuckDB `date_trunc` parts. */
export type TimeBucket = 'second' | 'minute' | 'hour' | 'day' | 'week' | 'month';
const BUCKETS: readonly TimeBucket[] = ['second', 'minute', 'hour', 'day', 'week', 'month'];

// A UTC time unit makes vega-lite format the axis in UTC (not the kernel's local zone) and give
// bars the width of one bucket; the counting itself is done by DuckDB's date_trunc.
const UTC_TIME_UNIT = {
  second: 'utcyearmonthdatehoursminutesseconds',
  minute: 'utcyearmonthdatehoursminutes',
  hour: 'utcyearmonthdatehours',
  day: 'utcyearmonthdate',
  week: 'utcyearweek',
  month: 'utcyearmonth',
} as const;

const AXIS_FORMAT: Record<TimeBucket, string> = {
  second: '%H:%M:%S',
  minute: '%m-%d %H:%M',
  hour: '%m-%d %H:%M',
  day: '%Y-%m-%d',
  week: '%Y-%m-%d',
  month: '%Y-%m',
};

/** Options for {@link chartEventsOverTime}. */
export interface EventsOverTimeOptions {
  /** Default `_event_time`; a timestamp, or text DuckDB can cast to one. */
  timeColumn?: string;
  /** Colours the bars; `null` for one series. Default `_sourcetype`. */
  groupColumn?: string | null;
  /** Default `hour`. */
  bucket?: TimeBucket;
  /** Groups beyond the most frequent `maxGroups` are drawn as "(other)". Default 10. */
  maxGroups?: number;
  title?: string;
  width?: number;
  height?: number;
}

/**
 * A stacked bar chart of event counts per time bucket, coloured by a group column, as SVG.
 * Counting happens in DuckDB; only the (bucket, group, count) rows come to JavaScript.
 *
 * @example
 * display(await chartEventsOverTime(bronze, { bucket: 'day', groupColumn: 'dvc_hostname' }));
 */
export async function chartEventsOverTime(df: Frame, options: EventsOverTimeOptions = {}): Promise<string> {
  const timeColumn = options.timeColumn ?? '_event_time';
  const groupColumn = options.groupColumn === undefined ? '_sourcetype' : options.groupColumn;
  const bucket = options.bucket ?? 'hour';
  const maxGroups = options.maxGroups ?? 10;
  if (!BUCKETS.includes(bucket)) throw new Error(`unknown time bucket ${JSON.stringify(bucket)}; use one of ${BUCKETS.join(', ')}`);
  if (!Number.isInteger(maxGroups) || maxGroups < 1) throw new Error(`maxGroups must be a positive integer, got ${maxGroups}`);
  await requireColumns(df, groupColumn === null ? [timeColumn] : [timeColumn, groupColumn]);

  const group = groupColumn === null ? "'events'" : `coalesce(CAST(${quoteIdent(groupColumn)} AS VARCHAR), '(null)')`;
  const sql = `WITH base AS (
      SELECT date_trunc('${bucket}', CAST(${quoteIdent(timeColumn)} AS TIMESTAMPTZ)) AS bucket, ${group} AS grp
      FROM (${await df.toSql()}) WHERE ${quoteIdent(timeColumn)} IS NOT NULL),
    top AS (SELECT grp FROM base GROUP BY grp ORDER BY count(*) DESC, grp LIMIT ${maxGroups})
    SELECT strftime(bucket, '%Y-%m-%dT%H:%M:%SZ') AS bucket,
      CASE WHEN grp IN (SELECT grp FROM top) THEN grp ELSE '(other)' END AS grp, count(*)::DOUBLE AS n
    FROM base GROUP BY ALL ORDER BY 1, 2`;
  const values = await df.session.rows<{ bucket: string; grp: string; n: number }>(sql);
  const title = options.title ?? `Events per ${bucket}${groupColumn === null ? '' : ` by ${groupColumn}`}`;
  return renderVegaLite({
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: options.width ?? 640,
    height: options.height ?? 220,
    background: 'white',
    data: { values },
    mark: { type: 'bar' },
    encoding: {
      x: { field: 'bucket', type: 'temporal', title: `${timeColumn} (${bucket}, UTC)`, timeUnit: UTC_TIME_UNIT[bucket], axis: { format: AXIS_FORMAT[bucket] } },
      y: { field: 'n', type: 'quantitative', title: 'events', stack: 'zero' },
      ...(groupColumn === null ? {} : { color: { field: 'grp', type: 'nominal', title: groupColumn, legend: { labelLimit: 260 } } }),
      tooltip: [{ field: 'bucket', type: 'temporal', timeUnit: UTC_TIME_UNIT[bucket] }, { field: 'grp', type: 'nominal' }, { field: 'n', type: 'quantitative' }],
    },
  });
}

/** Options for {@link chartTopValues}. */
export interface TopValuesOptions {
  /** How many values. Default 10. */
  n?: number;
  title?: string;
  width?: number;
  /** Characters of a value label shown before it is cut. Default 60. */
  labelChars?: number;
}

/**
 * A horizontal bar chart of a column's most frequent values (NULL shown as "(null)"), as SVG.
 * @example display(await chartTopValues(procs, 'process_name', { n: 15 }));
 */
export async function chartTopValues(df: Frame, column: string, options: TopValuesOptions = {}): Promise<string> {
  const n = options.n ?? 10;
  if (!Number.isInteger(n) || n < 1) throw new Error(`n must be a positive integer, got ${n}`);
  await requireColumns(df, [column]);
  const sql = `SELECT coalesce(CAST(${quoteIdent(column)} AS VARCHAR), '(null)') AS value, count(*)::DOUBLE AS n
    FROM (${await df.toSql()}) GROUP BY 1 ORDER BY n DESC, value LIMIT ${n}`;
  const values = await df.session.rows<{ value: string; n: number }>(sql);
  const labelChars = options.labelChars ?? 60;
  const labelled = values.map((v) => ({ ...v, label: v.value.length > labelChars ? `${v.value.slice(0, labelChars - 1)}…` : v.value }));
  return renderVegaLite({
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: options.title ?? `Top ${values.length} values of ${column}`,
    width: options.width ?? 480,
    height: { step: 18 },
    background: 'white',
    data: { values: labelled },
    mark: { type: 'bar' },
    encoding: {
      y: { field: 'label', type: 'nominal', sort: { field: 'n', order: 'descending' }, title: column, axis: { labelLimit: 0 } },
      x: { field: 'n', type: 'quantitative', title: 'count' },
      tooltip: [{ field: 'value', type: 'nominal' }, { field: 'n', type: 'quantitative' }],
    },
  });
}

/**
 * Throws an Error naming the columns a Frame lacks (and listing those it has).
 * @example await requireColumns(df, ['process_guid', 'process_parent_guid']);
 */
export async function requireColumns(df: Frame, wanted: readonly string[]): Promise<void> {
  const present = await df.columns();
  const missing = wanted.filter((c) => !present.includes(c));
  if (missing.length > 0) {
    throw new Error(`missing column(s) ${missing.map((c) => JSON.stringify(c)).join(', ')}; columns are: ${present.join(', ')}`);
  }
}
