/** Dispatches `winlake <command> ...` to the module that implements it (loaded on demand). */

const USAGE = `usage: winlake <command> [options]

commands:
  table list|read|schema|describe ... inspect lakehouse tables (winlake table --help)
  kafka start|stop|status              the local Kafka broker (KRaft, no Docker)
  produce [--simulate|--file F...]     send winlogbeat documents to a topic
  pack list|export <pack> --spark      mapping packs, and each as Spark SQL
  load <files...>                      ingest .evtx and winlogbeat/NXLog/evtx_dump JSON files into bronze and silver
  sigma compile|check|test|run ...     Sigma rules: SQL, refusals, tests on event files, gold alerts
  demo                                 the whole pipeline end to end on simulated and real events
  lab                                  JupyterLab with the TypeScript (tslab) kernel on notebooks/
`;

type Command = (args: string[]) => Promise<number>;

const commands: Record<string, () => Promise<Command>> = {
  table: async () => (await import('./table.js')).tableCommand,
  kafka: async () => (await import('./kafka.js')).kafkaCommand,
  produce: async () => (await import('./produce.js')).produceCommand,
  load: async () => (await import('./load.js')).loadCommand,
  pack: async () => (await import('./pack.js')).packCommand,
  sigma: async () => (await import('./sigma.js')).sigmaCommand,
  demo: async () => (await import('./demo.js')).demoCommand,
  lab: async () => (await import('./lab.js')).labCommand,
};

/**
 * Runs the CLI with the given arguments and returns the exit code.
 * @example await runCli(['table', 'list'])
 */
export async function runCli(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name) {
    process.stderr.write(USAGE);
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`winlake: unknown command '${name}'\n${USAGE}`);
    return 2;
  }
  return (await load())(rest);
}
