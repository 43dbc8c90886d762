/** The Kafka security flags shared by the CLI commands that talk to a Kafka cluster. */
import type { KafkaSecurityOptions } from '../source/kafka/security.js';
import { stringOption, type ParsedArgs } from './args.js';

/** Usage lines for the flags. */
export const SECURITY_USAGE = `
secured clusters:
  --security-protocol P      PLAINTEXT (default), SSL, SASL_PLAINTEXT or SASL_SSL
  --sasl-mechanism M         PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
  --sasl-username U          default: WINLAKE_KAFKA_SASL_USERNAME
                             the password is read from WINLAKE_KAFKA_SASL_PASSWORD only
                             (a flag would show in the process list)
  --ssl-ca FILE              PEM file of the CA that signed the brokers' certificates
  --ssl-cert FILE            PEM client certificate (SSL client authentication)
  --ssl-key FILE             its PEM private key (passphrase: WINLAKE_KAFKA_SSL_KEY_PASSWORD)
  --no-hostname-verification do not check that the broker's certificate names its host
`;

/** The flags' names (value flags, then the one boolean flag). */
export const SECURITY_FLAGS = ['security-protocol', 'sasl-mechanism', 'sasl-username', 'ssl-ca', 'ssl-cert', 'ssl-key'] as const;
export const SECURITY_SWITCHES = ['no-hostname-verification'] as const;

/**
 * The security flags as Spark-named options (resolved and checked by the Kafka client).
 * @example securityFromArgs(parseArgs(['--security-protocol', 'SASL_SSL', '--sasl-mechanism', 'PLAIN'], ['no-hostname-verification']))
 */
export function securityFromArgs(args: ParsedArgs): KafkaSecurityOptions {
  for (const secret of ['sasl-password', 'ssl-key-password']) {
    if (args.options.has(secret)) {
      const env = secret === 'sasl-password' ? 'WINLAKE_KAFKA_SASL_PASSWORD' : 'WINLAKE_KAFKA_SSL_KEY_PASSWORD';
      throw new Error(`--${secret} is not accepted (the process list would show it): set ${env} instead`);
    }
  }
  const protocol = stringOption(args, 'security-protocol');
  const mechanism = stringOption(args, 'sasl-mechanism');
  const username = stringOption(args, 'sasl-username');
  const out: KafkaSecurityOptions = {};
  if (protocol !== undefined) out['kafka.security.protocol'] = protocol;
  if (mechanism !== undefined) out['kafka.sasl.mechanism'] = mechanism;
  if (username !== undefined) {
    // The password stays in the environment; the JAAS line carries only the user.
    if (/["\\]/.test(username)) throw new Error('--sasl-username may not contain quotes or backslashes');
    out['kafka.sasl.jaas.config'] = `org.apache.kafka.common.security.${mechanism?.toUpperCase() === 'PLAIN' ? 'plain.PlainLoginModule' : 'scram.ScramLoginModule'} required username="${username}";`;
  }
  const ca = stringOption(args, 'ssl-ca');
  const cert = stringOption(args, 'ssl-cert');
  const key = stringOption(args, 'ssl-key');
  if (ca !== undefined) out['kafka.ssl.ca.location'] = ca;
  if (cert !== undefined) out['kafka.ssl.certificate.location'] = cert;
  if (key !== undefined) out['kafka.ssl.key.location'] = key;
  if (args.options.get('no-hostname-verification') === true) out['kafka.ssl.endpoint.identification.algorithm'] = '';
  return out;
}

/**
 * Refuses options a command does not know, so that a misspelt security flag is never ignored.
 * @example rejectUnknownOptions('produce', parseArgs(['--topc', 'x']), ['topic']) // throws
 */
export function rejectUnknownOptions(command: string, args: ParsedArgs, known: readonly string[]): void {
  for (const name of args.options.keys()) {
    if (!known.includes(name)) throw new Error(`winlake ${command}: unknown option --${name}`);
  }
}
