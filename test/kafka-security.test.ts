/**
 * Secured Kafka for real: a local broker with SASL_SSL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and
 * SSL with client certificates, certificates made by openssl and SCRAM users by kafka-configs at
 * test time. Both clients read (batch) and stream exactly once; wrong passwords, untrusted CAs,
 * hostname mismatches, plaintext against TLS and unreachable brokers fail with clear errors; and no
 * password appears in any error, output, checkpoint or Delta log.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { after, before, describe, test } from 'node:test';
import type { Session } from '../kernel-lib/src/engine/session.js';
import { read_kafka_topic } from '../kernel-lib/src/index.js';
import { produceCommand } from '../kernel-lib/src/cli/produce.js';
import { Catalog } from '../kernel-lib/src/lakehouse/catalog.js';
import { writeTableStream } from '../kernel-lib/src/lakehouse/streaming.js';
import { readTable } from '../kernel-lib/src/lakehouse/tables.js';
import { createKafkaClient, type KafkaClientKind } from '../kernel-lib/src/source/kafka/client.js';
import { KafkaSecurityError, type KafkaSecurityOptions } from '../kernel-lib/src/source/kafka/security.js';
import { KafkaStreamSource } from '../kernel-lib/src/stream/kafka-source.js';
import type { StreamFrame } from '../kernel-lib/src/stream/index.js';
import { addIngestMeta, parseWinlogbeat } from '../kernel-lib/src/winlogbeat/parse.js';
import { tempDir, testSession } from './helpers.js';
import { winlogbeatDoc } from './kafka-helpers.js';
import { HOST, freePorts, startSecureBroker, stopSecureBroker, type SecureBroker } from './kafka-secure-helpers.js';

const session: Session = await testSession();
const TOPIC = 'secure-events';
const DOCS = 240;
/** Every message the code under test wrote to the console or the process streams. */
const captured: string[] = [];
/** Every error the tests saw, with causes (util.inspect). */
const errors: string[] = [];
const lakehouse = tempDir('winlake-secure-lake-');

let broker: SecureBroker;

/** Records console and process output (still passing it through) for the no-secret checks. */
function captureOutput(): () => void {
  const restore: (() => void)[] = [];
  for (const name of ['log', 'warn', 'error', 'info'] as const) {
    const original = console[name];
    console[name] = (...args: unknown[]) => {
      captured.push(args.map((a) => (typeof a === 'string' ? a : inspect(a, { depth: 6 }))).join(' '));
      original.apply(console, args);
    };
    restore.push(() => (console[name] = original));
  }
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write.bind(stream);
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      captured.push(String(chunk));
      return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof stream.write;
    restore.push(() => (stream.write = original));
  }
  return () => restore.forEach((r) => r());
}

before(async () => {
  broker = await startSecureBroker();
  const setup = createKafkaClient(`${HOST}:${broker.ports.plaintext}`);
  try {
    await setup.createTopic(TOPIC, { partitions: 3 });
    await new Promise((r) => setTimeout(r, 1000));
    await setup.produce(TOPIC, Array.from({ length: DOCS }, (_, i) => ({ value: JSON.stringify(winlogbeatDoc(i)), partition: i % 3 })));
  } finally {
    await setup.close();
  }
});

after(async () => {
  if (broker) await stopSecureBroker(broker);
});

const sasl = () => broker.ports.saslSsl;
const jaas = (module: 'plain' | 'scram', username: string, password: string) =>
  `org.apache.kafka.common.security.${module === 'plain' ? 'plain.PlainLoginModule' : 'scram.ScramLoginModule'} required username="${username}" password="${password}";`;

/** The ways the tests log in: Spark names, the typed form, the environment. */
function logins(): { name: string; port: number; options: KafkaSecurityOptions; env?: Record<string, string> }[] {
  const { users, certs } = broker;
  const keystore = path.join(certs.dir, 'client-keystore.pem');
  writeFileSync(keystore, `${readFileSync(certs.clientKey, 'utf8')}${readFileSync(certs.clientCert, 'utf8')}`);
  return [
    {
      name: 'SASL_SSL SCRAM-SHA-512, Spark names',
      port: sasl(),
      options: {
        'kafka.security.protocol': 'SASL_SSL',
        'kafka.sasl.mechanism': 'SCRAM-SHA-512',
        'kafka.sasl.jaas.config': jaas('scram', users.scram512.username, users.scram512.password),
        'kafka.ssl.ca.location': certs.ca,
      },
    },
    {
      name: 'SASL_SSL SCRAM-SHA-256, password from WINLAKE_KAFKA_SASL_PASSWORD',
      port: sasl(),
      options: { sasl: { mechanism: 'SCRAM-SHA-256', username: users.scram256.username }, ssl: { ca: certs.ca } },
      env: { WINLAKE_KAFKA_SASL_PASSWORD: users.scram256.password },
    },
    {
      name: 'SASL_SSL PLAIN, typed form',
      port: sasl(),
      options: { sasl: { mechanism: 'PLAIN', ...users.plain }, ssl: { ca: readFileSync(certs.ca, 'utf8') } },
    },
    {
      name: 'SSL with a client certificate (PEM keystore, Java names)',
      port: broker.ports.ssl,
      options: {
        'kafka.security.protocol': 'SSL',
        'kafka.ssl.truststore.type': 'PEM',
        'kafka.ssl.truststore.location': certs.ca,
        'kafka.ssl.keystore.type': 'PEM',
        'kafka.ssl.keystore.location': keystore,
      },
    },
  ];
}

async function withEnv<T>(env: Record<string, string> | undefined, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(env ?? {}).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** Awaits a rejection, checks it against `pattern` and records it for the no-secret checks. */
async function rejectsWith(promise: Promise<unknown>, pattern: RegExp): Promise<Error> {
  let error: Error | undefined;
  await assert.rejects(promise, (err: Error) => {
    error = err;
    errors.push(`${err.message}\n${inspect(err, { depth: 8 })}`);
    assert.match(err.message, pattern);
    return true;
  });
  return error!;
}

function bronzeStream(stream: StreamFrame): StreamFrame {
  return stream.map((batch) => parseWinlogbeat(addIngestMeta(batch), 'raw'));
}

for (const kind of ['platformatic', 'kafkajs'] as const satisfies readonly KafkaClientKind[]) {
  describe(`secured Kafka with the ${kind} client`, () => {
    let restore: () => void;
    before(() => (restore = captureOutput()));
    after(() => restore());

    test('each login reads every record once (batch)', async () => {
      for (const login of logins()) {
        const [df] = await withEnv(login.env, () => read_kafka_topic(HOST, login.port, TOPIC, { session, client: kind, ...login.options }));
        const [row] = await session.rows<{ n: number; d: number; docs: number }>(
          `SELECT count(*)::INTEGER n, count(DISTINCT (_kafka_partition, _kafka_offset))::INTEGER d, count(winlog)::INTEGER docs FROM (${await df.toSql()})`,
        );
        assert.deepEqual(row, { n: DOCS, d: DOCS, docs: DOCS }, login.name);
      }
    });

    test('streams into bronze exactly once over SASL_SSL, and a rerun reads only new offsets', async () => {
      const catalog = new Catalog(path.join(lakehouse, kind));
      const login = logins()[0]!;
      const table = `secure_bronze_${kind}`;
      const run = async () => {
        const [stream] = await read_kafka_topic(HOST, login.port, TOPIC, { session, client: kind, streaming: true, maxOffsetsPerTrigger: 100, ...login.options });
        const q = writeTableStream(bronzeStream(stream), table, 'bronze', ['_event_date'], { catalog, trigger: { availableNow: true }, queryName: 'secure' });
        try {
          assert.equal(await q.awaitTermination(120_000), true);
        } finally {
          await q.stop();
        }
        captured.push(JSON.stringify(q.recentProgress), JSON.stringify(q.status));
        return q.recentProgress.reduce((s, p) => s + p.numInputRows, 0);
      };
      assert.equal(await run(), DOCS);
      assert.equal(await run(), 0, 'a second run from the checkpoint has nothing new');
      const bronze = await readTable(table, { catalog, session });
      const [row] = await session.rows<{ n: number; d: number }>(
        `SELECT count(*)::INTEGER n, count(DISTINCT (_kafka_partition, _kafka_offset))::INTEGER d FROM (${await bronze.toSql()})`,
      );
      assert.deepEqual(row, { n: DOCS, d: DOCS });
    });

    test('a wrong password fails at once with an authentication error naming the mechanism', async () => {
      const { users, certs } = broker;
      for (const [mechanism, user] of [
        ['PLAIN', users.plain],
        ['SCRAM-SHA-256', users.scram256],
        ['SCRAM-SHA-512', users.scram512],
      ] as const) {
        const wrong = `${user.password}x`;
        const options = { sasl: { mechanism, username: user.username, password: wrong }, ssl: { ca: certs.ca } };
        const err = await rejectsWith(
          read_kafka_topic(HOST, sasl(), TOPIC, { session, client: kind, ...options }),
          new RegExp(`refused the SASL ${mechanism} login of user "${user.username}": authentication failed`),
        );
        assert.ok(err instanceof KafkaSecurityError && err.kind === 'authentication');
        assert.ok(!err.message.includes(wrong));
        await rejectsWith(read_kafka_topic(HOST, sasl(), TOPIC, { session, client: kind, streaming: true, ...options }), new RegExp(`SASL ${mechanism} login`));
      }
      // The streaming source does not retry a refused login for its two-minute retry window.
      const source = new KafkaStreamSource(`${HOST}:${sasl()}`, TOPIC, {
        client: kind,
        sasl: { mechanism: 'SCRAM-SHA-256', username: users.scram256.username, password: 'not-the-password' },
        ssl: { ca: certs.ca },
        retry: { timeoutMs: 600_000 },
      });
      try {
        await rejectsWith(source.initialOffsets(), /reading the start offsets failed: Kafka at .* refused the SASL SCRAM-SHA-256 login/);
        assert.deepEqual(source.retried, [], 'no retries');
      } finally {
        await source.close();
      }
    });

    test('TLS problems say TLS: a plaintext client, an untrusted CA, a host the certificate does not name, a client without its certificate', async () => {
      const { users, certs } = broker;
      const login = { sasl: { mechanism: 'PLAIN' as const, ...users.plain } };
      await rejectsWith(read_kafka_topic(HOST, sasl(), TOPIC, { session, client: kind }), new RegExp(`Kafka at ${HOST}:${sasl()} closed the connection .*TLS`));
      const untrusted = await rejectsWith(read_kafka_topic(HOST, sasl(), TOPIC, { session, client: kind, ...login, ssl: { ca: certs.otherCa } }), /TLS connection to Kafka at .* failed: the broker's certificate is not signed by a trusted CA/);
      assert.ok(untrusted instanceof KafkaSecurityError && untrusted.kind === 'tls');
      // The certificate names IP 127.0.0.1 only: hostname verification is on unless turned off.
      await rejectsWith(read_kafka_topic('localhost', sasl(), TOPIC, { session, client: kind, ...login, ssl: { ca: certs.ca } }), /TLS connection to Kafka at localhost:\d+ failed: the certificate does not name this host/);
      const [df] = await read_kafka_topic('localhost', sasl(), TOPIC, { session, client: kind, ...login, ssl: { ca: certs.ca, checkHostname: false } });
      assert.equal(await df.count(), DOCS);
      await rejectsWith(read_kafka_topic(HOST, broker.ports.plaintext, TOPIC, { session, client: kind, ssl: { ca: certs.ca } }), /TLS connection to Kafka at .* failed: the listener does not speak TLS/);
      await rejectsWith(read_kafka_topic(HOST, broker.ports.ssl, TOPIC, { session, client: kind, ssl: { ca: certs.ca } }), /TLS connection to Kafka at .*client certificate/);
    });

    test('an unreachable broker is named by host:port', async () => {
      const [port] = await freePorts(1);
      await rejectsWith(read_kafka_topic(HOST, port!, TOPIC, { session, client: kind, sasl: { mechanism: 'PLAIN', ...broker.users.plain }, ssl: { ca: broker.certs.ca } }), new RegExp(`cannot connect to Kafka at ${HOST}:${port} \\(ECONNREFUSED\\)`));
    });
  });
}

test('winlake produce with security flags, the password in the environment', async () => {
  const restore = captureOutput();
  try {
    const { users, certs } = broker;
    const flags = ['--simulate', '--count', '50', '--topic', 'secure-cli', '--brokers', `${HOST}:${sasl()}`, '--security-protocol', 'SASL_SSL', '--sasl-mechanism', 'SCRAM-SHA-512', '--sasl-username', users.scram512.username, '--ssl-ca', certs.ca];
    assert.equal(await withEnv({ WINLAKE_KAFKA_SASL_PASSWORD: users.scram512.password }, () => produceCommand(flags)), 0);
    const end = createKafkaClient(`${HOST}:${broker.ports.plaintext}`);
    try {
      assert.equal([...(await end.endOffsets('secure-cli')).values()].reduce((a, b) => a + b, 0), 50);
    } finally {
      await end.close();
    }
    await rejectsWith(withEnv({ WINLAKE_KAFKA_SASL_PASSWORD: 'wrong-password' }, () => produceCommand(flags)), /refused the SASL SCRAM-SHA-512 login/);
  } finally {
    restore();
  }
});

test('no password appears in any error, output, checkpoint or Delta log', () => {
  assert.ok(errors.length >= 10, `the tests saw ${errors.length} errors`);
  assert.ok(captured.length > 0);
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = path.join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else files.push(p);
    }
  };
  walk(lakehouse);
  assert.ok(files.some((f) => f.includes('_delta_log')) && files.some((f) => f.includes('_checkpoints')), 'the lakehouse holds Delta logs and checkpoints');
  for (const secret of broker.secrets) {
    for (const e of errors) assert.ok(!e.includes(secret), `an error shows a password: ${e.slice(0, 300)}`);
    for (const c of captured) assert.ok(!c.includes(secret), `output shows a password: ${c.slice(0, 300)}`);
    for (const f of files) assert.ok(!readFileSync(f).includes(secret), `${f} holds a password`);
  }
});
