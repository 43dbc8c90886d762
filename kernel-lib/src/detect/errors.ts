/** The error of everything Sigma: which rule, which construct, what is wrong. */

/**
 * A rule that cannot be read or compiled. `rule` is the rule's label (title and id, or file),
 * `construct` the part at fault (a search, a modifier, the condition).
 *
 * @example
 * try { compileRule(rule) } catch (e) { if (e instanceof SigmaError) console.log(e.construct) }
 */
export class SigmaError extends Error {
  constructor(
    readonly rule: string,
    readonly construct: string,
    readonly problem: string,
  ) {
    super(`Sigma rule ${rule}: ${construct}: ${problem}`);
    this.name = 'SigmaError';
  }
}
