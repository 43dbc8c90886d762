/**
 * `winlake pack export <pack> --spark`: each shipped pack as Spark SQL. Spark is not in CI, so the
 * exported text itself is run by DuckDB, its quoting translated token by token (Spark's backquoted
 * identifiers and backslash-escaped strings; the EXPRs are copied unchanged and must mean the same
 * in both), over the same flattened bronze, and must give the rows of applyPack. The benchmark
 * `npm run bench -- reference` runs the same export on Spark itself.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { applyPack, loadPack, loadPacks } from '../kernel-lib/src/cim/pack.js';
import { SPARK_FLAT_BRONZE, sparkIdent, sparkPackSql, sparkString } from '../kernel-lib/src/cim/spark-export.js';
import { packCommand } from '../kernel-lib/src/cli/pack.js';
import { quoteIdent } from '../kernel-lib/src/engine/quote.js';
import { Frame } from '../kernel-lib/src/frame/index.js';
import { ndjsonToFrame } from '../kernel-lib/src/source/kafka/ndjson-frame.js';
import { parseWinlogbeat } from '../kernel-lib/src/winlogbeat/parse.js';
import { simulateNdjson } from '../kernel-lib/src/winlogbeat/simulate.js';
import { tempDir, testSession } from './helpers.js';

/** Spark SQL's quoting as DuckDB's: `ident` → "ident", 'a\'b\\c' → 'a''b\c'; everything else as is. */
function sparkToDuckdb(sql: string): string {
  let out = '';
  for (let i = 0; i < sql.length; ) {
    const c = sql[i]!;
    if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      out += sql.slice(i, end < 0 ? sql.length : end);
      i = end < 0 ? sql.length : end;
    } else if (c === '`') {
      let name = '';
      for (i++; ; i++) {
        if (sql[i] === '`' && sql[i + 1] === '`') {
          name += '`';
          i++;
        } else if (sql[i] === '`') break;
        else name += sql[i];
      }
      i++;
      out += quoteIdent(name);
    } else if (c === "'") {
      let text = '';
      for (i++; sql[i] !== "'"; i++) text += sql[i] === '\\' ? sql[++i] : sql[i];
      i++;
      out += `'${text.replaceAll("'", "''")}'`;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

const session = await testSession();
// Every kind of event the simulator makes, through bronze's raw stage and the flatten.
const lines = [...simulateNdjson({ seed: 7, count: 4000, version: 7 })];
const raw = await parseWinlogbeat(await ndjsonToFrame(session, { lines, tempDir: tempDir() }), 'raw');
await session.run(`CREATE TEMP TABLE flat_bronze AS ${await (await parseWinlogbeat(raw, 'flatten')).toSql()}`);
const flat = Frame.fromSql(session, 'SELECT * FROM flat_bronze');

describe('pack export to Spark SQL', () => {

  it('quotes identifiers and strings the way Spark reads them', () => {
    assert.equal(sparkIdent('winlog:event_data:Image'), '`winlog:event_data:Image`');
    assert.equal(sparkIdent('a`b'), '`a``b`');
    assert.equal(sparkString("C:\\Windows\\it's"), "'C:\\\\Windows\\\\it\\'s'");
    assert.equal(sparkToDuckdb(sparkString("C:\\Windows\\it's")), "'C:\\Windows\\it''s'");
  });

  it('every shipped pack, exported, gives the rows of applyPack over the same flattened bronze', async () => {
    const present = new Set((await flat.columns()).map((c) => c.toLowerCase()));
    let packsWithRows = 0;
    for (const pack of loadPacks()) {
      const { sql, columns } = sparkPackSql(pack);
      assert.match(sql, new RegExp(`FROM ${sparkIdent(SPARK_FLAT_BRONZE)}`), pack.table);
      // As the header says: a column this bronze lacks is added as NULL before the query runs.
      const missing = columns.filter((c) => !present.has(c.toLowerCase()));
      await session.run(
        `CREATE OR REPLACE TEMP VIEW ${quoteIdent(SPARK_FLAT_BRONZE)} AS SELECT *${missing.map((c) => `, CAST(NULL AS VARCHAR) AS ${quoteIdent(c)}`).join('')} FROM flat_bronze`,
      );
      const exported = sparkToDuckdb(sql);
      const expected = await (await applyPack(flat, pack)).toSql();
      const exportedColumns = (await session.run(`SELECT * FROM (${exported}) LIMIT 0`)).columnNames();
      const expectedColumns = (await session.run(`SELECT * FROM (${expected}) LIMIT 0`)).columnNames();
      assert.deepEqual(exportedColumns, expectedColumns, pack.table);
      const count = async (q: string): Promise<number> => Number(await session.scalar(`SELECT count(*) FROM (${q})`));
      const rows = await count(expected);
      assert.equal(await count(exported), rows, `${pack.table}: rows`);
      assert.equal(await count(`SELECT * FROM (${exported}) EXCEPT ALL SELECT * FROM (${expected})`), 0, `${pack.table}: rows only in the export`);
      assert.equal(await count(`SELECT * FROM (${expected}) EXCEPT ALL SELECT * FROM (${exported})`), 0, `${pack.table}: rows only in applyPack`);
      if (rows > 0) packsWithRows++;
    }
    // The comparison means something only where there are rows: the simulator feeds most packs.
    assert.ok(packsWithRows >= 10, `only ${packsWithRows} packs had rows`);
  });

  it('refuses an EXPR whose quoting Spark and DuckDB read differently', () => {
    const pack = loadPack('DNS');
    const transforms = pack.transforms.map((t) => ('new' in t && t.new[1].startsWith('EXPR=') ? { new: [t.new[0], `EXPR=upper("winlog:task")`] as const } : t));
    assert.throws(() => sparkPackSql({ ...pack, transforms }), /double quote, backslash or backquote/);
  });

  it('winlake pack export --spark writes the query, one file per pack for all', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'process.sql');
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = (() => true) as typeof process.stdout.write;
    let one: number;
    let all: number;
    try {
      one = await packCommand(['export', 'Process', '--spark', '--from', 'my_flat', '--output', file]);
      all = await packCommand(['export', 'all', '--spark', '--output', path.join(dir, 'all')]);
    } finally {
      process.stdout.write = write;
    }
    assert.equal(one, 0);
    assert.equal(readFileSync(file, 'utf8'), sparkPackSql(loadPack('Process'), 'my_flat').sql);
    assert.equal(all, 0);
    assert.equal(readFileSync(path.join(dir, 'all', 'DNS.sql'), 'utf8'), sparkPackSql(loadPack('DNS')).sql);
    assert.equal(await packCommand(['export', 'Process']), 2, 'without --spark: no target');
  });
});
