#!/usr/bin/env node
/**
 * The `winlake` command: tables, the local Kafka broker, producing and loading events, the demo.
 * Output goes to stdout; errors to stderr with a non-zero exit code.
 */
import { runCli } from './commands.js';

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`winlake: ${err instanceof Error ? err.message : String(err)}`);
    if (process.env.WINLAKE_DEBUG) console.error(err);
    process.exitCode = 1;
  },
);
