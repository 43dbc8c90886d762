/** `winlake kafka start|stop|status`: the local single-node Kafka broker (KRaft, no Docker). */
import { brokerOptions, brokerStatus, startBroker, stopBroker, type BrokerStatus } from '../source/kafka/broker.js';

const USAGE = `usage: winlake kafka start|stop|status

  start    install Kafka (once, via Maven), start the broker on 127.0.0.1:9092 (PLAINTEXT)
           and 127.0.0.1:9094 (OUTSIDE), create topic 'winlogbeat' (3 partitions)
  stop     stop it (SIGTERM, then SIGKILL after 30 s)
  status   running?, pid, ports, topics

Ports: WINLAKE_KAFKA_PORT, WINLAKE_KAFKA_OUTSIDE_PORT, WINLAKE_KAFKA_CONTROLLER_PORT.
Files: .cache/kafka/ (jars, data, logs).
`;

function describe(s: BrokerStatus): string {
  const lines = [
    `broker:     ${s.running ? `running (pid ${s.pid})` : 'not running'}`,
    `listeners:  PLAINTEXT 127.0.0.1:${s.ports.plaintext}, OUTSIDE 127.0.0.1:${s.ports.outside}, CONTROLLER 127.0.0.1:${s.ports.controller}`,
  ];
  if (s.topics) {
    const topics = Object.entries(s.topics).map(([t, n]) => `${t} (${n} partition${n === 1 ? '' : 's'})`);
    lines.push(`topics:     ${topics.length > 0 ? topics.join(', ') : '(none)'}`);
  } else if (s.running) {
    lines.push('topics:     (the broker does not answer yet)');
  }
  lines.push(`home:       ${s.home}`, `log:        ${s.logFile}`);
  return lines.join('\n');
}

/**
 * Runs `winlake kafka <start|stop|status>` and returns the exit code (status: 0 running, 3 not).
 * @example await kafkaCommand(['start'])
 */
export async function kafkaCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (rest.length > 0) {
    process.stderr.write(`winlake kafka: unexpected arguments ${rest.join(' ')}\n${USAGE}`);
    return 2;
  }
  const options = brokerOptions();
  switch (sub) {
    case 'start': {
      const s = await startBroker(options, (line) => console.log(line));
      console.log(s.alreadyRunning ? 'the Kafka broker is already running' : 'the Kafka broker is up');
      console.log(describe(s));
      return 0;
    }
    case 'stop': {
      const r = await stopBroker(options);
      console.log(r.wasRunning ? `stopped the Kafka broker (pid ${r.pid}${r.killed ? ', killed after the timeout' : ''})` : 'the Kafka broker was not running');
      return 0;
    }
    case 'status': {
      const s = await brokerStatus(options);
      console.log(describe(s));
      return s.running ? 0 : 3;
    }
    case undefined:
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return sub ? 0 : 2;
    default:
      process.stderr.write(`winlake kafka: unknown subcommand '${sub}'\n${USAGE}`);
      return 2;
  }
}
