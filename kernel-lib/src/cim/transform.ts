/**
 * The cim_dataframe transform list: its type, and the checks that turn a list (written in a
 * notebook or read from a JSON pack) into validated steps.
 */

/**
 * One entry of a cim_dataframe list, exactly as the reference notebook wrote them: a one-key
 * object whose value is `[column, value]`.
 * - `{ new: [target, 'EXPR=<sql>'] }` — a SQL expression, evaluated after the renames (it may use
 *   the CIM names, and raw columns that were not renamed).
 * - `{ new: [target, 'LITERAL=<text>'] }` — a constant string.
 * - `{ rename: [source, target] }` — a raw column under its CIM name (`[x, x]` keeps `x`).
 */
export type Transform = { readonly new: readonly [string, string] } | { readonly rename: readonly [string, string] };

/** A validated transform, with where it came from in the list. */
export type TransformStep =
  | { verb: 'expr'; target: string; sql: string; index: number }
  | { verb: 'literal'; target: string; text: string; index: number }
  | { verb: 'rename'; source: string; target: string; index: number };

/** A transform list entry that cannot be used; names the entry's index and shows it. */
export class TransformError extends Error {
  constructor(
    readonly index: number,
    readonly entry: unknown,
    problem: string,
  ) {
    super(`cim_dataframe transform #${index} ${describe(entry)}: ${problem}`);
    this.name = 'TransformError';
  }
}

const NEW_VALUE = /^(EXPR|LITERAL)\s*=\s*([\s\S]*)$/;

/**
 * Checks a transform list and returns its steps. Accepts anything (lists come from JSON and
 * notebooks) and throws a {@link TransformError} naming the first bad entry: not a one-key object,
 * an unknown verb, a value that is not two strings, a `new` without `EXPR=`/`LITERAL=`, an empty
 * expression, or a target named twice. Spaces around the `=` of `EXPR =`/`LITERAL =` are allowed;
 * a literal's surrounding spaces are dropped too (use `EXPR=' x '` for exact whitespace).
 *
 * @example
 * parseTransforms([{ rename: ['winlog:event_data:User', 'user_name'] }, { new: ['event_result', 'LITERAL=success'] }]);
 * // => [{ verb: 'rename', source: 'winlog:event_data:User', target: 'user_name', index: 0 },
 * //     { verb: 'literal', target: 'event_result', text: 'success', index: 1 }]
 */
export function parseTransforms(transforms: readonly unknown[]): TransformStep[] {
  if (!Array.isArray(transforms)) throw new Error(`cim_dataframe needs a list of transforms, got ${describe(transforms)}`);
  if (transforms.length === 0) throw new Error('cim_dataframe needs at least one transform');
  const firstUse = new Map<string, number>();
  return transforms.map((entry: unknown, index): TransformStep => {
    const step = parseEntry(entry, index);
    const key = step.target.toLowerCase(); // DuckDB (like Spark) matches column names without case
    const earlier = firstUse.get(key);
    if (earlier !== undefined) {
      throw new TransformError(index, entry, `target column ${JSON.stringify(step.target)} is already made by transform #${earlier}`);
    }
    firstUse.set(key, index);
    return step;
  });
}

function parseEntry(entry: unknown, index: number): TransformStep {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new TransformError(index, entry, 'expected a one-key object such as { rename: [source, target] }');
  }
  const keys = Object.keys(entry);
  if (keys.length !== 1) {
    throw new TransformError(index, entry, `expected exactly one key (new or rename), found ${keys.length}: ${keys.join(', ') || 'none'}`);
  }
  const verb = keys[0]!;
  if (verb !== 'new' && verb !== 'rename') {
    throw new TransformError(index, entry, `unknown verb ${JSON.stringify(verb)}: use new or rename`);
  }
  const value: unknown = (entry as Record<string, unknown>)[verb];
  if (!Array.isArray(value) || value.length !== 2 || !value.every((v) => typeof v === 'string')) {
    throw new TransformError(index, entry, `the value must be a list of two strings [${verb === 'new' ? 'target, EXPR=... or LITERAL=...' : 'source, target'}]`);
  }
  const [first, second] = value as [string, string];
  if (verb === 'rename') {
    if (first === '' || second === '') throw new TransformError(index, entry, 'rename needs a non-empty source and target');
    return { verb: 'rename', source: first, target: second, index };
  }
  if (first === '') throw new TransformError(index, entry, 'new needs a non-empty target column name');
  const match = NEW_VALUE.exec(second.trimStart());
  if (!match) throw new TransformError(index, entry, 'a new value must start with EXPR=<sql> or LITERAL=<text>');
  const body = match[2]!.trim();
  if (match[1] === 'LITERAL') return { verb: 'literal', target: first, text: body, index };
  if (body === '') throw new TransformError(index, entry, 'EXPR= is followed by no SQL expression');
  return { verb: 'expr', target: first, sql: body, index };
}

function describe(value: unknown): string {
  try {
    const text = JSON.stringify(value);
    if (text === undefined) return String(value);
    return text.length > 300 ? `${text.slice(0, 299)}…` : text;
  } catch {
    return String(value);
  }
}
