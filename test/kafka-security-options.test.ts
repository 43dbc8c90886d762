/**
 * Kafka security options without a broker: Spark/Databricks names, the typed form, environment
 * variables, JAAS parsing, what is refused, and that no error shows a secret.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parseArgs } from '../kernel-lib/src/cli/args.js';
import { produceCommand } from '../kernel-lib/src/cli/produce.js';
import { SECURITY_SWITCHES, securityFromArgs } from '../kernel-lib/src/cli/kafka-security-args.js';
import { createKafkaClient } from '../kernel-lib/src/source/kafka/client.js';
import { readKafkaTopic } from '../kernel-lib/src/source/kafka/read-topic.js';
import { parseJaasConfig, redactSecrets, resolveKafkaSecurity, type KafkaSecurityOptions } from '../kernel-lib/src/source/kafka/security.js';
import { KafkaStreamSource } from '../kernel-lib/src/stream/kafka-source.js';
import { tempDir } from './helpers.js';
import { makeCerts } from './kafka-secure-helpers.js';

const secret = (): string => `s3cr3t-${randomBytes(8).toString('hex')}`;
const PLAIN_MODULE = 'org.apache.kafka.common.security.plain.PlainLoginModule';
const SCRAM_MODULE = 'org.apache.kafka.common.security.scram.ScramLoginModule';
const NO_ENV = {};

const certs = makeCerts(path.join(tempDir(), 'certs'));
const readText = (file: string): string => readFileSync(file, 'utf8');

/** Asserts that `fn` throws an error matching `pattern` whose message holds none of `secrets`. */
function throwsWithout(fn: () => unknown, pattern: RegExp, secrets: string[]): void {
  assert.throws(fn, (err: Error) => {
    assert.match(err.message, pattern);
    for (const s of secrets) assert.ok(!err.message.includes(s), `the error shows a secret: ${err.message}`);
    return true;
  });
}

test('Spark/Databricks names: SASL_SSL with SCRAM-SHA-512, PLAIN and a PEM CA', () => {
  const password = secret();
  const sec = resolveKafkaSecurity(
    't',
    {
      'kafka.security.protocol': 'sasl_ssl',
      'kafka.sasl.mechanism': 'SCRAM-SHA-512',
      'kafka.sasl.jaas.config': `${SCRAM_MODULE} required username="svc-hunt" password="${password}";`,
      'kafka.ssl.ca.location': certs.ca,
    },
    NO_ENV,
  );
  assert.equal(sec?.protocol, 'SASL_SSL');
  assert.deepEqual(sec?.sasl, { mechanism: 'SCRAM-SHA-512', username: 'svc-hunt', password });
  assert.match(String(sec?.tls?.ca), /^-----BEGIN CERTIFICATE-----/);
  assert.equal(sec?.tls?.rejectUnauthorized, true);
  assert.equal(sec?.tls?.checkServerIdentity, undefined, 'hostname verification is Node’s default check');
  assert.deepEqual(sec?.secrets, [password]);

  // Databricks' shaded class name, PLAIN inferred from the login module, SASL_PLAINTEXT without TLS.
  const plain = resolveKafkaSecurity('t', { 'kafka.security.protocol': 'SASL_PLAINTEXT', 'kafka.sasl.jaas.config': `kafkashaded.${PLAIN_MODULE} required username=u password="p\\"q";` }, NO_ENV);
  assert.deepEqual(plain?.sasl, { mechanism: 'PLAIN', username: 'u', password: 'p"q' });
  assert.equal(plain?.tls, undefined);
});

test('PEM stores by their Java names, client certificates, hostname verification off only when asked', () => {
  const keystore = path.join(certs.dir, 'client-keystore.pem');
  writeFileSync(keystore, `${readText(certs.clientKey)}${readText(certs.clientCert)}`);
  const sec = resolveKafkaSecurity(
    't',
    {
      'kafka.security.protocol': 'SSL',
      'kafka.ssl.truststore.type': 'PEM',
      'kafka.ssl.truststore.location': certs.ca,
      'kafka.ssl.keystore.type': 'PEM',
      'kafka.ssl.keystore.location': keystore,
      'kafka.ssl.endpoint.identification.algorithm': '',
    },
    NO_ENV,
  );
  assert.equal(sec?.protocol, 'SSL');
  assert.match(String(sec?.tls?.cert), /^-----BEGIN CERTIFICATE-----[\s\S]*END CERTIFICATE-----\n$/);
  assert.doesNotMatch(String(sec?.tls?.cert), /PRIVATE KEY/, 'the key and the chain are split out of the keystore file');
  assert.match(String(sec?.tls?.key), /^-----BEGIN PRIVATE KEY-----/);
  assert.equal(typeof sec?.tls?.checkServerIdentity, 'function');
  const inline = resolveKafkaSecurity('t', { 'kafka.security.protocol': 'SSL', 'kafka.ssl.truststore.certificates': readText(certs.ca) }, NO_ENV);
  assert.equal(inline?.tls?.ca, readText(certs.ca));
});

test('the typed form, with the password from WINLAKE_KAFKA_SASL_PASSWORD', () => {
  const password = secret();
  const env = { WINLAKE_KAFKA_SASL_PASSWORD: password, WINLAKE_KAFKA_SASL_USERNAME: 'from-env' };
  const sec = resolveKafkaSecurity('t', { sasl: { mechanism: 'scram-sha-256' }, ssl: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey } }, env);
  assert.equal(sec?.protocol, 'SASL_SSL');
  assert.deepEqual(sec?.sasl, { mechanism: 'SCRAM-SHA-256', username: 'from-env', password });
  assert.ok(sec?.tls?.cert && sec.tls.key);
  assert.equal(resolveKafkaSecurity('t', { sasl: { mechanism: 'PLAIN', username: 'u', password: 'p' } }, NO_ENV)?.protocol, 'SASL_PLAINTEXT');
  assert.equal(resolveKafkaSecurity('t', { ssl: true }, NO_ENV)?.protocol, 'SSL');
  assert.equal(resolveKafkaSecurity('t', { ssl: { rejectUnauthorized: false } }, NO_ENV)?.tls?.rejectUnauthorized, false);
  assert.equal(resolveKafkaSecurity('t', {}, NO_ENV), undefined, 'no options: plaintext');
  // The env password fills in a JAAS line without one.
  const jaas = resolveKafkaSecurity('t', { 'kafka.security.protocol': 'SASL_SSL', 'kafka.sasl.mechanism': 'PLAIN', 'kafka.sasl.jaas.config': `${PLAIN_MODULE} required username="u";` }, env);
  assert.equal(jaas?.sasl?.password, password);
});

test('unknown, unsupported and inconsistent security options are errors, never ignored', () => {
  const password = secret();
  const jaas = `${SCRAM_MODULE} required username="u" password="${password}";`;
  const cases: [KafkaSecurityOptions & Record<string, unknown>, RegExp][] = [
    [{ 'kafka.security.protocol': 'SASL_SSL', 'kafka.sasl.mechanism': 'SCRAM-SHA-256', 'kafka.sasl.jaas.config': jaas, 'kafka.ssl.truststore.location': '/etc/kafka/truststore.jks' }, /JKS truststore unless kafka\.ssl\.truststore\.type is PEM.*keytool -exportcert/],
    [{ 'kafka.security.protocol': 'SSL', 'kafka.ssl.truststore.type': 'JKS', 'kafka.ssl.truststore.location': certs.ca }, /kafka\.ssl\.truststore\.type "JKS" is not supported/],
    [{ 'kafka.security.protocol': 'SSL', 'kafka.ssl.truststore.password': password }, /kafka\.ssl\.truststore\.password is not supported/],
    [{ 'kafka.security.protocol': 'SASL_SSL', 'kafka.sasl.mechanism': 'GSSAPI', 'kafka.sasl.jaas.config': jaas }, /must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, got "GSSAPI" \(Kerberos/],
    [{ 'kafka.security.protocol': 'SASL_SSL', 'kafka.sasl.mechanism': 'PLAIN', 'kafka.sasl.jaas.config': jaas }, /ScramLoginModule, which does not go with kafka\.sasl\.mechanism PLAIN/],
    [{ 'kafka.security.protocol': 'SASL_SSL', 'kafka.sasl.jaas.config': jaas }, /needs kafka\.sasl\.mechanism/],
    [{ 'kafka.sasl.mechanism': 'PLAIN', 'kafka.sasl.jaas.config': jaas }, /need kafka\.security\.protocol/],
    [{ 'kafka.security.protocol': 'SSL', 'kafka.sasl.mechanism': 'PLAIN', 'kafka.sasl.jaas.config': jaas }, /given, but kafka\.security\.protocol is SSL/],
    [{ 'kafka.security.protocol': 'SASL_PLAINTEXT', 'kafka.sasl.mechanism': 'SCRAM-SHA-256', 'kafka.sasl.jaas.config': jaas, 'kafka.ssl.ca.location': certs.ca }, /kafka\.ssl\.ca\.location given, but kafka\.security\.protocol is SASL_PLAINTEXT/],
    [{ 'kafka.security.protocol': 'TLS' }, /must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL/],
    [{ 'kafka.security.protocol': 'SSL', 'kafka.ssl.truststore.location ': certs.ca }, /unknown Kafka option kafka\.ssl\.truststore\.location /],
    [{ 'kafka.security.protocol': 'SASL_SSL', 'kafka.sasl.mechanism': 'SCRAM-SHA-256', 'kafka.sasl.jaas.config': jaas, 'kafka.sasl.login.callback.handler.class': 'x' }, /not supported: OAuth\/IAM/],
    [{ 'kafka.group.id': 'g' }, /unknown Kafka option kafka\.group\.id/],
    [{ tls: { ca: certs.ca } }, /unknown security option "tls"/],
    [{ saslPassword: password }, /unknown security option "saslPassword"/],
    [{ sasl: { mechanism: 'PLAIN', username: 'u', password, extra: 1 } as never }, /unknown sasl option "extra"/],
    [{ ssl: { ca: certs.ca, verify: false } as never }, /unknown ssl option "verify"/],
    [{ sasl: { mechanism: 'PLAIN', username: 'u' } }, /SASL PLAIN needs a password \(in the options or WINLAKE_KAFKA_SASL_PASSWORD\)/],
    [{ sasl: { mechanism: 'PLAIN', password } }, /needs a username/],
    [{ ssl: { ca: '/no/such/ca.pem' } }, /ssl\.ca: cannot read \/no\/such\/ca\.pem: ENOENT/],
    [{ ssl: { cert: certs.clientCert } }, /client certificate needs its private key/],
    [{ ssl: { ca: certs.clientKey } }, /holds no PEM certificate block/],
    [{ sasl: { mechanism: 'PLAIN', username: 'u', password }, 'kafka.security.protocol': 'SASL_SSL' }, /either as sasl\/ssl or as kafka\.\* options, not both/],
  ];
  for (const [options, pattern] of cases) throwsWithout(() => resolveKafkaSecurity('read_kafka_topic', options, NO_ENV), pattern, [password]);
});

test('JAAS lines: quoting, escapes, and errors that never show the text', () => {
  assert.deepEqual(parseJaasConfig('t', `  ${SCRAM_MODULE}   required\n username=svc password="a b\\\\c\\"d" ;  `), { module: 'scram', username: 'svc', password: 'a b\\c"d' });
  const password = secret();
  const bad = [
    `${PLAIN_MODULE} required username="u" password="${password}"`, // no ';'
    `${PLAIN_MODULE} username="u" password="${password}";`, // no control flag
    `com.example.OtherLoginModule required password="${password}";`,
    `${PLAIN_MODULE} required username="u" password="${password}`, // unterminated
    `${PLAIN_MODULE} required username="u" password="${password}" tokenauth=true;`,
    `${PLAIN_MODULE} required password="${password}" password="${password}";`,
    `${PLAIN_MODULE} required password="${password}"; ${SCRAM_MODULE} required;`,
  ];
  for (const text of bad) throwsWithout(() => parseJaasConfig('read_kafka_topic', text), /kafka\.sasl\.jaas\.config .*the value is not shown: it holds a secret/, [password]);
  assert.equal(redactSecrets(`login with ${password} failed (${password})`, [password]), 'login with *** failed (***)');
});

test('every entry point checks its security options before connecting', async () => {
  const password = secret();
  const bad = { 'kafka.security.protocol': 'SASL_SSL', 'kafka.sasl.mechanism': 'PLAIN', 'kafka.sasl.jaas.config': `${PLAIN_MODULE} required username="u" password="${password}"` };
  const noSecret = (err: Error) => !err.message.includes(password) && /jaas\.config/.test(err.message);
  assert.throws(() => createKafkaClient('127.0.0.1:1', bad), noSecret);
  assert.throws(() => createKafkaClient('127.0.0.1:1', { ssl: { ca: certs.ca, hostname: false } } as never), /unknown ssl option "hostname"/);
  await assert.rejects(readKafkaTopic('127.0.0.1', 1, 'winlogbeat', bad), noSecret);
  assert.throws(() => new KafkaStreamSource('127.0.0.1:1', 'winlogbeat', bad), noSecret);
});

test('CLI flags: security options from flags, passwords only from the environment, unknown flags refused', async () => {
  const flags = ['--security-protocol', 'SASL_SSL', '--sasl-mechanism', 'SCRAM-SHA-256', '--sasl-username', 'svc', '--ssl-ca', certs.ca, '--no-hostname-verification'];
  const options = securityFromArgs(parseArgs(flags, SECURITY_SWITCHES));
  const password = secret();
  const sec = resolveKafkaSecurity('produce', options, { WINLAKE_KAFKA_SASL_PASSWORD: password });
  assert.deepEqual(sec?.sasl, { mechanism: 'SCRAM-SHA-256', username: 'svc', password });
  assert.equal(typeof sec?.tls?.checkServerIdentity, 'function');
  await assert.rejects(produceCommand(['--simulate', '--sasl-password', password]), /--sasl-password is not accepted .*WINLAKE_KAFKA_SASL_PASSWORD/);
  await assert.rejects(produceCommand(['--simulate', '--sasl-mechansim', 'PLAIN']), /unknown option --sasl-mechansim/);
  await assert.rejects(produceCommand(['--simulate', '--security-protocol', 'SSL', '--sasl-mechanism', 'PLAIN']), /kafka\.sasl\.mechanism given, but kafka\.security\.protocol is SSL/);
});
