import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { listPacks, loadPack, loadPacks } from '../cim/pack.js';
import { SPARK_FLAT_BRONZE, sparkPackSql } from '../cim/spark-export.js';
import { parseArgs, stringOption } from './args.js';

const USAGE = `usage: winlake pack <subcommand>
  list                                       the shipped mapping packs (one silver table each)
  export <pack|all> --spark [--from TABLE] [--output FILE|DIR]
       the pack's filter and transform list as one Spark SQL query over the flattened bronze
       table or view TABLE (default ${SPARK_FLAT_BRONZE}); 'all' with --output DIR writes <Table>.sql per pack
`;

/**
 * `winlake pack list|export`: the shipped mapping packs, and each as Spark SQL.
 * @example await packCommand(['export', 'Process', '--spark']) // prints the Spark SQL query
 */
export async function packCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['help', 'spark']);
  const [sub, name] = args.positionals;
  if (args.options.has('help')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (sub === 'list') {
    for (const pack of loadPacks()) {
      process.stdout.write(`${pack.table}\t${pack.sources.map((s) => `${s.sourcetype} ${s.eventIds.join(',')}`).join('; ')}\n`);
    }
    return 0;
  }
  if (sub !== 'export' || !name) {
    process.stderr.write(USAGE);
    return 2;
  }
  if (!args.options.has('spark')) {
    process.stderr.write(`winlake pack export: say the target: --spark (the only one so far)\n${USAGE}`);
    return 2;
  }
  const from = stringOption(args, 'from') ?? SPARK_FLAT_BRONZE;
  const output = stringOption(args, 'output');
  const names = name === 'all' ? listPacks() : [name];
  if (names.length > 1 && output === undefined) throw new Error("winlake pack export all needs --output DIR (one .sql file per pack)");
  for (const n of names) {
    const { table, sql } = sparkPackSql(loadPack(n), from);
    if (output === undefined) {
      process.stdout.write(sql);
    } else {
      const file = names.length > 1 || output.endsWith('/') ? path.join(output, `${table}.sql`) : output;
      mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
      writeFileSync(file, sql);
      process.stdout.write(`${file}\n`);
    }
  }
  return 0;
}
