import { closeSession } from '../engine/session.js';
import { buildSilver } from '../cim/build-silver.js';
import { Catalog } from '../lakehouse/catalog.js';
import { BRONZE_TABLE, loadEventFiles } from '../lakehouse/load-files.js';
import { parseArgs, stringOption } from './args.js';

const USAGE = `usage: winlake load <files...> [--home DIR] [--table NAME] [--rebase now|ISO-TIME] [--no-silver]
  Ingests Windows .evtx files and winlogbeat / winlogbeat 6 / NXLog / evtx_dump JSON files (.json, .gz, .tar.gz) into the
  bronze table (default ${BRONZE_TABLE}), then builds every silver table from bronze.
`;

/**
 * `winlake load <files...>`: files → bronze → silver, without Kafka.
 * @example await loadCommand(['kernel-lib/data/mordor/cmd_psexec_lsa_secrets_dump.json'])
 */
export async function loadCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['help', 'no-silver']);
  if (args.options.has('help') || args.positionals.length === 0) {
    process.stdout.write(USAGE);
    return args.options.has('help') ? 0 : 2;
  }
  const catalog = new Catalog(stringOption(args, 'home'));
  const table = stringOption(args, 'table') ?? BRONZE_TABLE;
  const rebaseArg = stringOption(args, 'rebase');
  const rebase = rebaseArg === undefined ? undefined : { start: rebaseArg === 'now' ? new Date() : new Date(rebaseArg) };
  if (rebase && Number.isNaN(rebase.start.getTime())) throw new Error(`--rebase must be 'now' or an ISO time, got ${JSON.stringify(rebaseArg)}`);
  try {
    const loaded = await loadEventFiles(args.positionals, { catalog, table, ...(rebase ? { rebase } : {}) });
    const quarantined = loaded.quarantine?.result.numRows ?? 0;
    process.stdout.write(
      `bronze ${loaded.table.name}: ${loaded.documents} documents read: ${loaded.result.numRows} in bronze, ` +
        `${quarantined} quarantined${quarantined ? ` in ${loaded.quarantine?.table.name}` : ''} (version ${loaded.result.version})\n`,
    );
    if (!args.options.has('no-silver')) {
      const silver = await buildSilver(loaded.table.name, { catalog });
      for (const t of silver.tables) {
        process.stdout.write(`silver ${t.table}: +${t.rows} rows${t.version === null ? '' : ` (version ${t.version})`}\n`);
      }
    }
    process.stdout.write(`lakehouse: ${catalog.root}\n`);
    return 0;
  } finally {
    await closeSession();
  }
}
