/**
 * Where in a rule's YAML an error is: the line of the construct a {@link SigmaError} names, so a
 * rule author is sent to `rule.yml:12`, not only to "field Image|foo".
 */
import { SigmaError } from './errors.js';

/**
 * The 1-based line of the YAML a Sigma error is about, or undefined when it cannot be told.
 * YAML syntax errors carry their line (`(12:5)`); a field, search, condition, logsource or
 * timeframe is found by its key in the text.
 *
 * @example
 * sigmaErrorLine(new SigmaError('r', 'field Image|foo', 'unknown modifier "foo"'), text) // => 9
 */
export function sigmaErrorLine(err: unknown, yamlText: string): number | undefined {
  if (!(err instanceof SigmaError)) return undefined;
  if (err.construct === 'YAML') {
    const m = /\((\d+):(\d+)\)/.exec(err.message);
    return m ? Number(m[1]) : undefined;
  }
  const lines = yamlText.split(/\r?\n/);
  const keyLine = (key: string): number | undefined => {
    const re = new RegExp(`^\\s*(?:-\\s+)?['"]?${escapeRegExp(key)}['"]?\\s*:`);
    const i = lines.findIndex((l) => re.test(l));
    return i < 0 ? undefined : i + 1;
  };
  const field = /(?:^|\s)field (\S+)$/.exec(err.construct);
  if (field) {
    const key = field[1]!;
    // `field Image|contains|foo`, or only the field's name when the message names a part of it.
    return keyLine(key) ?? keyLine(key.split('|')[0]!);
  }
  const search = /^search "([^"]+)"/.exec(err.construct);
  if (search) return keyLine(search[1]!);
  for (const key of ['condition', 'logsource', 'timeframe', 'detection', 'title', 'id']) {
    if (err.construct === key || err.construct.startsWith(`${key} `)) return keyLine(key);
  }
  return undefined;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
