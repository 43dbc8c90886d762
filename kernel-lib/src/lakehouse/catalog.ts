import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { assertInside } from '../engine/real-path.js';
import { defaultLakehouseRoot } from '../engine/session.js';

/** The medallion tiers a table can live in. */
export type Tier = 'bronze' | 'silver' | 'gold';
export const TIERS: readonly Tier[] = ['bronze', 'silver', 'gold'];

/** Spark-style table names: letters, digits and underscores, starting with a letter or underscore. */
const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** A table the catalog knows: its canonical (lower-case) name, tier and folder. */
export interface TableEntry {
  name: string;
  tier: Tier;
  path: string;
}

/**
 * Validates a table name and returns its canonical form. Names are case-insensitive like Spark's
 * (`Process` is `process`), and cannot hold path characters, so no name escapes the lakehouse.
 * @example canonicalTableName('Process') // => 'process'
 */
export function canonicalTableName(name: string): string {
  if (typeof name !== 'string' || !TABLE_NAME.test(name)) {
    throw new Error(
      `invalid table name ${JSON.stringify(name)}: use letters, digits and underscores (starting with a letter or _), at most 128 characters`,
    );
  }
  return name.toLowerCase();
}

/**
 * Validates a tier name.
 * @example assertTier('bronze')
 */
export function assertTier(tier: string): asserts tier is Tier {
  if (!(TIERS as readonly string[]).includes(tier)) {
    throw new Error(`invalid table tier ${JSON.stringify(tier)}: must be one of ${TIERS.join(', ')}`);
  }
}

/**
 * The lakehouse root: `<root>/<tier>/<table>/` holds each Delta table.
 * The root is the `root` option, else the `WINLAKE_HOME` environment variable, else `./lakehouse`.
 *
 * @example
 * const lake = new Catalog();            // ./lakehouse
 * lake.locate('Process')                 // { name: 'process', tier: 'silver', path: '.../silver/process' }
 */
export class Catalog {
  readonly root: string;

  constructor(root?: string) {
    this.root = root === undefined ? defaultLakehouseRoot() : path.resolve(root);
  }

  /** Where a table of this tier lives (whether or not it exists yet). */
  pathFor(name: string, tier: Tier): string {
    assertTier(tier);
    return path.join(this.root, tier, canonicalTableName(name));
  }

  /** Every table in the lakehouse, by tier then name. */
  list(): TableEntry[] {
    const entries: TableEntry[] = [];
    for (const tier of TIERS) {
      const dir = path.join(this.root, tier);
      if (!existsSync(dir)) continue;
      for (const name of readdirSync(dir).sort()) {
        const tablePath = path.join(dir, name);
        if (TABLE_NAME.test(name) && existsSync(path.join(tablePath, '_delta_log')) && statSync(tablePath).isDirectory()) {
          entries.push({ name, tier, path: tablePath });
        }
      }
    }
    return entries;
  }

  /**
   * Finds a table by name in any tier, or undefined. A table whose folder really lies outside the
   * lakehouse (a symlinked table or tier folder) is refused.
   */
  find(name: string): TableEntry | undefined {
    const canonical = canonicalTableName(name);
    const found = this.list().find((t) => t.name === canonical);
    if (found) this.assertInLakehouse(found.path);
    return found;
  }

  /** Throws unless the real path of a table folder lies inside the lakehouse's tier folder. */
  private assertInLakehouse(tablePath: string): void {
    assertInside(path.dirname(tablePath), tablePath, 'table folder');
    assertInside(this.root, tablePath, 'table folder');
  }

  /** Finds a table by name, or throws naming the known tables. */
  locate(name: string): TableEntry {
    const found = this.find(name);
    if (found) return found;
    const known = this.list().map((t) => `${t.name} (${t.tier})`);
    throw new Error(
      `no table named ${JSON.stringify(name)} in the lakehouse at ${this.root}; known tables: ${known.length ? known.join(', ') : '(none)'}` +
        ' (another lakehouse: set WINLAKE_HOME, or pass --home to the CLI)',
    );
  }

  /**
   * The folder to write a table of the given tier: its existing folder, or a new one. A name
   * already used in another tier is an error (names are unique across the lakehouse).
   */
  resolveForWrite(name: string, tier: Tier): TableEntry {
    assertTier(tier);
    const existing = this.find(name);
    if (existing && existing.tier !== tier) {
      throw new Error(`table ${existing.name} already exists in the ${existing.tier} tier, not ${tier}`);
    }
    if (existing) return existing;
    const entry = { name: canonicalTableName(name), tier, path: this.pathFor(name, tier) };
    this.assertInLakehouse(entry.path);
    return entry;
  }
}
