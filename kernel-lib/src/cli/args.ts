/** A tiny argument parser: `--name value`, `--flag`, and positionals. */
export interface ParsedArgs {
  positionals: string[];
  options: Map<string, string | true>;
}

/**
 * Parses CLI arguments; `flags` lists the options that take no value.
 * @example parseArgs(['read', 'process', '--limit', '5'], []) // positionals ['read','process'], limit '5'
 */
export function parseArgs(argv: string[], flags: readonly string[] = []): ParsedArgs {
  const positionals: string[] = [];
  const options = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      if (eq > 0) {
        options.set(arg.slice(2, eq), arg.slice(eq + 1));
      } else if (flags.includes(arg.slice(2))) {
        options.set(arg.slice(2), true);
      } else {
        const value = argv[i + 1];
        if (value === undefined) throw new Error(`option ${arg} needs a value`);
        options.set(arg.slice(2), value);
        i++;
      }
    } else {
      positionals.push(arg);
    }
  }
  return { positionals, options };
}

/**
 * An option as a string, or undefined.
 * @example stringOption(parseArgs(['ingest', '--topic', 'winlogbeat']), 'topic') // => 'winlogbeat'
 */
export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const v = args.options.get(name);
  if (v === true) throw new Error(`option --${name} needs a value`);
  return v;
}

/**
 * An option as a non-negative integer, or undefined; a clear error otherwise.
 * @example intOption(parseArgs(['ingest', '--max-batches', '10']), 'max-batches') // => 10
 */
export function intOption(args: ParsedArgs, name: string): number | undefined {
  const v = stringOption(args, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`option --${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
}
