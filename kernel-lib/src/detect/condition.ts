/**
 * Sigma's `condition`: `and`/`or`/`not`, parentheses, `1 of x*`, `all of x*`, `1 of them`,
 * `all of them`. Precedence (high to low): not, and, or. Quantifiers expand to the named searches
 * they select, so the tree names searches only.
 */
import { SigmaError } from './errors.js';

/** A condition tree over search names. */
export type ConditionNode =
  | { kind: 'ref'; name: string }
  | { kind: 'not'; item: ConditionNode }
  | { kind: 'and' | 'or'; items: ConditionNode[] };

/**
 * Parses a condition against the rule's search names. Throws a {@link SigmaError} for an unknown
 * search, a quantifier that selects nothing, `N of` other than 1/all, aggregations (`| count()`),
 * `near`, and syntax errors, naming the token.
 *
 * @example
 * parseCondition('selection and not 1 of filter_*', ['selection', 'filter_a', 'filter_b'], 'My rule')
 * // => { kind: 'and', items: [ref selection, not(or(ref filter_a, ref filter_b))] }
 */
export function parseCondition(text: string, searchNames: readonly string[], rule: string): ConditionNode {
  const where = `condition ${JSON.stringify(text)}`;
  if (text.includes('|')) throw new SigmaError(rule, where, 'aggregations (`| count() ...`) are not supported');
  const tokens = text.match(/\(|\)|[^\s()]+/g) ?? [];
  let pos = 0;
  const peek = (): string | undefined => tokens[pos];
  const fail = (problem: string): never => {
    throw new SigmaError(rule, where, problem);
  };

  const parseOr = (): ConditionNode => {
    const items = [parseAnd()];
    while (peek()?.toLowerCase() === 'or') {
      pos++;
      items.push(parseAnd());
    }
    return items.length === 1 ? items[0]! : { kind: 'or', items };
  };
  const parseAnd = (): ConditionNode => {
    const items = [parseNot()];
    while (peek()?.toLowerCase() === 'and') {
      pos++;
      items.push(parseNot());
    }
    return items.length === 1 ? items[0]! : { kind: 'and', items };
  };
  const parseNot = (): ConditionNode => {
    const token = peek();
    if (token === undefined) return fail('ends where a search name, `not`, `(` or a quantifier was expected');
    const lower = token.toLowerCase();
    if (lower === 'not') {
      pos++;
      return { kind: 'not', item: parseNot() };
    }
    if (token === '(') {
      pos++;
      const inner = parseOr();
      if (peek() !== ')') fail(`missing ) (found ${peek() === undefined ? 'the end' : JSON.stringify(peek())})`);
      pos++;
      return inner;
    }
    if (tokens[pos + 1]?.toLowerCase() === 'of') {
      pos += 2;
      const target = peek();
      if (target === undefined || target === '(' || target === ')') return fail(`\`${token} of\` needs a search name pattern or \`them\``);
      pos++;
      return quantifier(lower, target);
    }
    if (['and', 'or', ')', 'of', 'near'].includes(lower)) fail(`unexpected ${JSON.stringify(token)}`);
    pos++;
    if (!searchNames.includes(token)) fail(`unknown search ${JSON.stringify(token)} (searches: ${searchNames.join(', ')})`);
    return { kind: 'ref', name: token };
  };
  const quantifier = (count: string, target: string): ConditionNode => {
    if (count !== '1' && count !== 'all' && count !== 'any') fail(`\`${count} of\` is not supported (only \`1 of\` and \`all of\`)`);
    let names: string[];
    if (target.toLowerCase() === 'them') {
      // Searches whose name starts with _ are helpers, left out of `them` (sigma-specification).
      names = searchNames.filter((n) => !n.startsWith('_'));
    } else {
      const re = new RegExp(`^${target.split('*').map(escapeRegExp).join('.*')}$`);
      names = searchNames.filter((n) => re.test(n));
    }
    if (names.length === 0) fail(`\`${count} of ${target}\` selects no search (searches: ${searchNames.join(', ')})`);
    const refs: ConditionNode[] = names.map((name) => ({ kind: 'ref', name }));
    if (refs.length === 1) return refs[0]!;
    return { kind: count === 'all' ? 'and' : 'or', items: refs };
  };

  if (tokens.length === 0) fail('is empty');
  const tree = parseOr();
  if (pos < tokens.length) fail(`unexpected ${JSON.stringify(tokens[pos])} after a complete condition`);
  return tree;
}

/**
 * The search names a condition tree uses.
 * @example conditionRefs(parseCondition('selection and not filter', ['selection', 'filter'], 'My rule')) // => Set { 'selection', 'filter' }
 */
export function conditionRefs(node: ConditionNode, out = new Set<string>()): Set<string> {
  if (node.kind === 'ref') out.add(node.name);
  else if (node.kind === 'not') conditionRefs(node.item, out);
  else for (const item of node.items) conditionRefs(item, out);
  return out;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
