/**
 * SigmaHQ's regression data end to end: every case's evtx_dump events are converted, loaded into
 * bronze (one lakehouse for all cases), built into silver, and its rule (found by id among the
 * shared rules) must match exactly `match_count` of the case's events (at least one when info.yml
 * gives no count). Each case's events carry their own agent.hostname, so one run of all rules,
 * counted per dvc_hostname, tells each case's matches apart.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import yaml from 'js-yaml';
import { buildSilver } from '../kernel-lib/src/cim/build-silver.js';
import { runSigmaRules, ruleTarget, loadSigmaRules, type SigmaRule, type SigmaRunResult } from '../kernel-lib/src/detect/index.js';
import { Catalog } from '../kernel-lib/src/lakehouse/catalog.js';
import { BRONZE_TABLE, loadEventFiles } from '../kernel-lib/src/lakehouse/load-files.js';
import { readEventFiles } from '../kernel-lib/src/winlogbeat/convert.js';
import { SHARED_DATA, tempDir, testSession } from './helpers.js';

const REGRESSION = path.join(SHARED_DATA, 'sigma', 'regression', 'rules', 'windows');
const RULES = path.join(SHARED_DATA, 'sigma', 'rules');

/** Cases that fail for a known limitation, with the reason (reported as todo, not hidden). */
const KNOWN_LIMITS: Record<string, string> = {};

interface RegressionCase {
  name: string;
  dir: string;
  ruleId: string;
  /** Expected matches; undefined: at least one. */
  matchCount: number | undefined;
  host: string;
  rule?: SigmaRule;
  /** Why the case is not run (rule missing, category not supported). */
  skip?: string;
}

function findCases(): RegressionCase[] {
  const cases: RegressionCase[] = [];
  const walk = (dir: string): void => {
    if (existsSync(path.join(dir, 'info.yml'))) {
      const info = yaml.load(readFileSync(path.join(dir, 'info.yml'), 'utf8')) as {
        rule_metadata?: { id: string }[];
        regression_tests_info?: { match_count?: number }[];
      };
      const ruleId = info.rule_metadata?.[0]?.id;
      assert.ok(ruleId, `${dir}/info.yml names no rule id`);
      cases.push({
        name: path.relative(REGRESSION, dir),
        dir,
        ruleId,
        matchCount: info.regression_tests_info?.[0]?.match_count,
        host: `regression-${String(cases.length).padStart(3, '0')}`,
      });
      return;
    }
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.isDirectory()) walk(path.join(dir, e.name));
    }
  };
  walk(REGRESSION);
  return cases;
}

const cases = findCases();
const rulesById = new Map(loadSigmaRules(RULES).map((r) => [r.id, r]));
for (const c of cases) {
  c.rule = rulesById.get(c.ruleId);
  if (!c.rule) c.skip = `rule ${c.ruleId} is not among the shared rules`;
  else {
    try {
      ruleTarget(c.rule);
    } catch (err) {
      c.skip = (err as Error).message;
    }
  }
}
const runnable = cases.filter((c) => !c.skip);

describe('Sigma regression data (SigmaHQ)', () => {
  const results = new Map<string, SigmaRunResult>();
  let timings = '';

  before(async () => {
    const session = await testSession();
    const catalog = new Catalog(tempDir());
    const started = Date.now();
    // One NDJSON file of winlogbeat 7 documents, each case's events under its own host name.
    const lines: string[] = [];
    for (const c of runnable) {
      const files = readdirSync(c.dir).filter((f) => f.endsWith('.json')).map((f) => path.join(c.dir, f));
      for await (const doc of readEventFiles(files)) {
        doc.agent = { ...(doc.agent ?? { type: 'winlogbeat' }), hostname: c.host, name: c.host };
        lines.push(JSON.stringify(doc));
      }
    }
    const file = path.join(tempDir(), 'regression.ndjson');
    writeFileSync(file, `${lines.join('\n')}\n`);
    await loadEventFiles([file], { catalog, session });
    const loaded = Date.now();
    await buildSilver(BRONZE_TABLE, { catalog, session });
    const built = Date.now();
    const ruleList = [...new Map(runnable.map((c) => [c.ruleId, c.rule!])).values()];
    for (const r of await runSigmaRules(ruleList, { catalog, session, sample: 0, countBy: 'dvc_hostname' })) results.set(r.rule.id, r);
    timings = `${lines.length} events: load ${loaded - started} ms, silver ${built - loaded} ms, ${ruleList.length} rules ${Date.now() - built} ms`;
  });

  after(() => {
    const passed = runnable.filter((c) => !KNOWN_LIMITS[c.name] && matchesOf(c) !== undefined && meetsExpectation(c)).length;
    console.log(`sigma regression: ${passed}/${runnable.length} cases pass (${cases.length - runnable.length} not runnable); ${timings}`);
  });

  const matchesOf = (c: RegressionCase): number | undefined => {
    const r = results.get(c.ruleId);
    return r && !r.error ? (r.matchesBy?.[c.host] ?? 0) : undefined;
  };
  const meetsExpectation = (c: RegressionCase): boolean => {
    const n = matchesOf(c) ?? -1;
    return c.matchCount === undefined ? n >= 1 : n === c.matchCount;
  };

  it('rules stay specific: none matches the events of more than a few other cases', () => {
    // Guards against predicates that over-match (a test that compiled to TRUE would hit every host).
    const broad = [...results.values()].filter((r) => Object.keys(r.matchesBy ?? {}).length > 5).map((r) => r.rule.title);
    assert.deepEqual(broad, []);
  });

  for (const c of cases) {
    const title = `${c.name}${c.rule ? ` — ${c.rule.title}` : ''}`;
    if (c.skip) {
      it.todo(`${title}: ${c.skip}`);
      continue;
    }
    const limit = KNOWN_LIMITS[c.name];
    if (limit) {
      it.todo(`${title}: ${limit}`);
      continue;
    }
    it(title, () => {
      const r = results.get(c.ruleId);
      assert.ok(r, 'the rule was run');
      assert.equal(r.error, undefined, r.error);
      const n = matchesOf(c)!;
      if (c.matchCount === undefined) assert.ok(n >= 1, `expected at least one match, got ${n}; warnings: ${r.warnings.join('; ')}`);
      else assert.equal(n, c.matchCount, `matches (warnings: ${r.warnings.join('; ') || 'none'})`);
    });
  }
});
