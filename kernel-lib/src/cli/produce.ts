/** `winlake produce`: send winlogbeat documents (simulated or from NDJSON files) to a Kafka topic. */
import { createReadStream, existsSync } from 'node:fs';
import readline from 'node:readline';
import { localKafka } from '../source/kafka/local.js';
import type { KafkaClientKind } from '../source/kafka/client.js';
import { produce } from '../source/kafka/produce.js';
import { progressBar } from '../source/kafka/progress.js';
import { simulateNdjson } from '../winlogbeat/simulate.js';
import { intOption, parseArgs, stringOption } from './args.js';
import { SECURITY_FLAGS, SECURITY_SWITCHES, SECURITY_USAGE, rejectUnknownOptions, securityFromArgs } from './kafka-security-args.js';

const USAGE = `usage: winlake produce (--simulate | --file F [F...]) [options]

  --simulate            simulated winlogbeat 8 documents (Sysmon, Security, PowerShell, attacks)
  --file F [F...]       NDJSON files, one document per line (blank lines skipped)
  --topic T             default winlogbeat
  --brokers H:P[,H:P]   default the local broker's OUTSIDE listener, 127.0.0.1:
                        $WINLAKE_KAFKA_OUTSIDE_PORT (default 9094), as winlogbeat used
  --count N             stop after N documents (--simulate: default 10000)
  --rate N              target documents per second (default: as fast as acknowledged)
  --batch-size N        documents per request (default 500)
  --acks 1|-1           default 1 (winlogbeat's required_acks)
  --seed N              simulator seed (default 1)
  --client kafkajs|platformatic
${SECURITY_USAGE}`;

const OPTIONS = ['simulate', 'help', 'file', 'topic', 'brokers', 'count', 'rate', 'batch-size', 'acks', 'seed', 'client', ...SECURITY_FLAGS, ...SECURITY_SWITCHES];

async function* fileLines(files: readonly string[]): AsyncGenerator<string> {
  for (const file of files) {
    const lines = readline.createInterface({ input: createReadStream(file), crlfDelay: Infinity });
    for await (const line of lines) if (line.trim() !== '') yield line;
  }
}

/**
 * Runs `winlake produce ...` and returns the exit code.
 * @example await produceCommand(['--simulate', '--count', '1000', '--rate', '500'])
 */
export async function produceCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['simulate', 'help', ...SECURITY_SWITCHES]);
  if (args.options.has('help')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!args.options.has('sasl-password') && !args.options.has('ssl-key-password')) rejectUnknownOptions('produce', args, OPTIONS);
  const security = securityFromArgs(args);
  const simulate = args.options.get('simulate') === true;
  const first = stringOption(args, 'file');
  const files = first === undefined ? [] : [first, ...args.positionals];
  if (first === undefined && args.positionals.length > 0) {
    process.stderr.write(`winlake produce: unexpected arguments ${args.positionals.join(' ')}\n${USAGE}`);
    return 2;
  }
  if (simulate === (files.length > 0)) {
    process.stderr.write(`winlake produce: give either --simulate or --file\n${USAGE}`);
    return 2;
  }
  for (const f of files) if (!existsSync(f)) throw new Error(`no such file: ${f}`);
  const client = stringOption(args, 'client');
  if (client !== undefined && client !== 'kafkajs' && client !== 'platformatic') throw new Error(`--client must be kafkajs or platformatic, got ${client}`);
  const acks = stringOption(args, 'acks') ?? '1';
  if (acks !== '1' && acks !== '-1') throw new Error(`--acks must be 1 or -1, got ${acks}`);
  const topic = stringOption(args, 'topic') ?? 'winlogbeat';
  const brokers = stringOption(args, 'brokers') ?? localKafka().outsideBootstrap;
  const count = intOption(args, 'count') ?? (simulate ? 10_000 : undefined);
  const rate = intOption(args, 'rate');
  const batchSize = intOption(args, 'batch-size');
  const docs = simulate ? simulateNdjson({ seed: intOption(args, 'seed') ?? 1, count: count ?? 10_000 }) : fileLines(files);
  const bar = progressBar(`producing to ${topic}`, 'docs');
  const result = await produce(docs, {
    brokers,
    topic,
    acks: acks === '1' ? 1 : -1,
    ...(count !== undefined ? { count } : {}),
    ...(rate ? { rate } : {}),
    ...(batchSize ? { batchSize } : {}),
    ...(client ? { client: client as KafkaClientKind } : {}),
    ...security,
    onProgress: (p) => bar.update({ done: p.acknowledged, ...(count !== undefined ? { total: count } : {}), elapsed: p.elapsedSeconds }),
  });
  bar.finish({ done: result.acknowledged, ...(count !== undefined ? { total: count } : {}), elapsed: result.elapsedSeconds });
  console.log(`acknowledged ${result.acknowledged} documents in ${result.batches} batches to ${topic} at ${brokers} (${Math.round(result.rate)} docs/s)`);
  return 0;
}
