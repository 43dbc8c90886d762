/**
 * Connecting to secured Kafka clusters: SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and TLS, from
 * the Spark/Databricks option names (`kafka.security.protocol`, `kafka.sasl.jaas.config`, ...), a
 * plain typed form (`{ sasl, ssl }`) or, for secrets, environment variables. The result is one
 * {@link KafkaSecurity} that both client implementations turn into their own options.
 *
 * Secrets never leave this module in text: errors name the option, never its value, and
 * {@link redactSecrets} scrubs them from any message a client library produces.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { KafkaConnectionError, asConnectionError } from './connect-error.js';

/** The SASL mechanisms both clients implement. */
export type SaslMechanism = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
/** Kafka's `security.protocol` values. */
export type SecurityProtocol = 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';

const MECHANISMS: readonly SaslMechanism[] = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'];
const PROTOCOLS: readonly SecurityProtocol[] = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'];

/** Environment variables read for values the options leave out (secrets stay out of notebooks). */
export const SECURITY_ENV = {
  username: 'WINLAKE_KAFKA_SASL_USERNAME',
  password: 'WINLAKE_KAFKA_SASL_PASSWORD',
  keyPassword: 'WINLAKE_KAFKA_SSL_KEY_PASSWORD',
} as const;

/** The typed SASL form. `username` / `password` default to the {@link SECURITY_ENV} variables. */
export interface KafkaSaslOptions {
  mechanism: SaslMechanism | Lowercase<SaslMechanism>;
  username?: string;
  password?: string;
}

/**
 * The typed TLS form. `ca`, `cert` and `key` are PEM text or the path of a PEM file.
 * Hostname verification is on unless `checkHostname: false`; `rejectUnauthorized: false` turns
 * all certificate checks off (tests only).
 */
export interface KafkaSslOptions {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  /** The private key's passphrase; default the `WINLAKE_KAFKA_SSL_KEY_PASSWORD` variable. */
  keyPassword?: string;
  rejectUnauthorized?: boolean;
  checkHostname?: boolean;
}

/**
 * Security options as users write them: the typed form (`sasl`, `ssl`) or Spark's names. Only one
 * form at a time. `ssl: true` is TLS with the system's CAs.
 */
export interface KafkaSecurityOptions {
  sasl?: KafkaSaslOptions;
  ssl?: KafkaSslOptions | boolean;
  /** PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL. */
  'kafka.security.protocol'?: string;
  /** PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512. */
  'kafka.sasl.mechanism'?: string;
  /** `org.apache.kafka.common.security.plain.PlainLoginModule required username="..." password="...";` (or ScramLoginModule). */
  'kafka.sasl.jaas.config'?: string;
  /** PEM CA file (librdkafka's name). */
  'kafka.ssl.ca.location'?: string;
  /** PEM client certificate file (librdkafka's name). */
  'kafka.ssl.certificate.location'?: string;
  /** PEM private key file (librdkafka's name). */
  'kafka.ssl.key.location'?: string;
  'kafka.ssl.key.password'?: string;
  /** Only 'PEM' (Java's JKS and PKCS12 stores are refused). */
  'kafka.ssl.truststore.type'?: string;
  /** A PEM file when `kafka.ssl.truststore.type` is PEM. */
  'kafka.ssl.truststore.location'?: string;
  /** PEM CA certificates, inline. */
  'kafka.ssl.truststore.certificates'?: string;
  /** Only 'PEM'. */
  'kafka.ssl.keystore.type'?: string;
  /** A PEM file holding the private key and the certificate chain, when `kafka.ssl.keystore.type` is PEM. */
  'kafka.ssl.keystore.location'?: string;
  /** PEM certificate chain, inline. */
  'kafka.ssl.keystore.certificate.chain'?: string;
  /** PEM private key, inline. */
  'kafka.ssl.keystore.key'?: string;
  /** 'https' (the default: hostname verification) or '' (none). */
  'kafka.ssl.endpoint.identification.algorithm'?: string;
}

/** What a client needs to connect: resolved, checked, files read. */
export interface KafkaSecurity {
  protocol: SecurityProtocol;
  sasl?: { mechanism: SaslMechanism; username: string; password: string };
  /** Node TLS options (ca, cert, key, passphrase, rejectUnauthorized, checkServerIdentity). */
  tls?: TlsOptions;
  /** The secrets, for {@link redactSecrets}. */
  secrets: string[];
}

/** A Spark option name that is refused, with the reason and what to use instead. */
const REFUSED: Record<string, string> = {
  'kafka.ssl.truststore.password': 'PEM truststores have no password',
  'kafka.ssl.keystore.password': 'PEM keystores have no store password; give the key passphrase as kafka.ssl.key.password',
  'kafka.sasl.login.callback.handler.class': 'OAuth/IAM login handlers (Java classes) cannot run here; use PLAIN or SCRAM',
  'kafka.sasl.client.callback.handler.class': 'Java callback handlers cannot run here; use PLAIN or SCRAM',
  'kafka.sasl.kerberos.service.name': 'Kerberos (GSSAPI) is not supported; use PLAIN or SCRAM',
  'kafka.ssl.keystore.certificate.location': 'unknown; use kafka.ssl.certificate.location',
};

const JKS_HELP =
  'Java keystores (JKS, PKCS12) are not supported: export the certificates as PEM, e.g. ' +
  '`keytool -exportcert -rfc -keystore truststore.jks -alias CARoot -file ca.pem` or ' +
  '`openssl pkcs12 -in keystore.p12 -out client.pem`, and pass kafka.ssl.ca.location ' +
  '(or kafka.ssl.truststore.type=PEM with kafka.ssl.truststore.location)';

const SPARK_KEYS = new Set<string>([
  'kafka.security.protocol',
  'kafka.sasl.mechanism',
  'kafka.sasl.jaas.config',
  'kafka.ssl.ca.location',
  'kafka.ssl.certificate.location',
  'kafka.ssl.key.location',
  'kafka.ssl.key.password',
  'kafka.ssl.truststore.type',
  'kafka.ssl.truststore.location',
  'kafka.ssl.truststore.certificates',
  'kafka.ssl.keystore.type',
  'kafka.ssl.keystore.location',
  'kafka.ssl.keystore.certificate.chain',
  'kafka.ssl.keystore.key',
  'kafka.ssl.endpoint.identification.algorithm',
]);

/** Option names that look like security settings; anything other than `sasl` / `ssl` among them is a mistake. */
const SECURITY_LIKE = /sasl|ssl|tls|secur|passw|jaas|cert|trust|keystore|mechanism|username/i;

/**
 * Checks the option names of an options object: every `kafka.*` name must be one winlake knows
 * (security or not, nothing is silently ignored), and no other name may look like a security
 * setting except `sasl` and `ssl`.
 *
 * @example checkSecurityOptionNames('readKafkaTopic', { 'kafka.sasl.mechanism': 'PLAIN' }) // ok
 */
export function checkSecurityOptionNames(caller: string, options: object): void {
  for (const key of Object.keys(options)) {
    if ((options as Record<string, unknown>)[key] === undefined) continue;
    if (key in REFUSED) throw new Error(`${caller}: option ${key} is not supported: ${REFUSED[key]}`);
    if (key.startsWith('kafka.')) {
      if (!SPARK_KEYS.has(key)) {
        throw new Error(`${caller}: unknown Kafka option ${key} (winlake accepts ${[...SPARK_KEYS].join(', ')}; other Kafka client settings are not supported)`);
      }
    } else if (key !== 'sasl' && key !== 'ssl' && SECURITY_LIKE.test(key)) {
      throw new Error(`${caller}: unknown security option ${JSON.stringify(key)}: use sasl: { mechanism, username, password }, ssl: { ca, cert, key, rejectUnauthorized }, or the kafka.* names`);
    }
  }
}

/**
 * Resolves the security options into what the clients need, reading PEM files and the
 * {@link SECURITY_ENV} variables. Returns undefined for a plaintext connection with no options.
 * Errors name the option at fault and never its value.
 *
 * @example
 * const sec = resolveKafkaSecurity('readKafkaTopic', {
 *   'kafka.security.protocol': 'SASL_SSL',
 *   'kafka.sasl.mechanism': 'SCRAM-SHA-512',
 *   'kafka.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required username="svc" password="...";',
 *   'kafka.ssl.ca.location': '/etc/kafka/ca.pem',
 * });
 * // sec.protocol === 'SASL_SSL', sec.sasl.mechanism === 'SCRAM-SHA-512'
 */
export function resolveKafkaSecurity(caller: string, options: KafkaSecurityOptions, env: NodeJS.ProcessEnv = process.env): KafkaSecurity | undefined {
  checkSecurityOptionNames(caller, options);
  const spark = Object.keys(options).filter((k) => k.startsWith('kafka.') && (options as Record<string, unknown>)[k] !== undefined);
  const typed = options.sasl !== undefined || (options.ssl !== undefined && options.ssl !== false);
  if (spark.length > 0 && typed) {
    throw new Error(`${caller}: give security either as sasl/ssl or as kafka.* options, not both (got ${spark.join(', ')} and sasl/ssl)`);
  }
  if (spark.length > 0) return fromSpark(caller, options, env);
  if (typed) return fromTyped(caller, options, env);
  return undefined;
}

function fromTyped(caller: string, options: KafkaSecurityOptions, env: NodeJS.ProcessEnv): KafkaSecurity {
  const secrets: string[] = [];
  let sasl: KafkaSecurity['sasl'];
  if (options.sasl !== undefined) {
    const s = options.sasl as unknown as Record<string, unknown>;
    if (typeof s !== 'object' || s === null) throw new Error(`${caller}: sasl must be { mechanism, username, password }`);
    for (const k of Object.keys(s)) {
      if (!['mechanism', 'username', 'password'].includes(k)) throw new Error(`${caller}: unknown sasl option ${JSON.stringify(k)} (sasl takes mechanism, username, password)`);
    }
    sasl = credentials(caller, 'sasl.mechanism', s.mechanism, optionalString(caller, 'sasl.username', s.username), optionalString(caller, 'sasl.password', s.password), env);
    secrets.push(sasl.password);
  }
  let tls: TlsOptions | undefined;
  if (options.ssl !== undefined && options.ssl !== false) {
    const s = (options.ssl === true ? {} : options.ssl) as Record<string, unknown>;
    if (typeof s !== 'object' || s === null) throw new Error(`${caller}: ssl must be true or { ca, cert, key, rejectUnauthorized }`);
    const known = ['ca', 'cert', 'key', 'keyPassword', 'rejectUnauthorized', 'checkHostname'];
    for (const k of Object.keys(s)) {
      if (!known.includes(k)) throw new Error(`${caller}: unknown ssl option ${JSON.stringify(k)} (ssl takes ${known.join(', ')})`);
    }
    for (const k of ['rejectUnauthorized', 'checkHostname']) {
      if (s[k] !== undefined && typeof s[k] !== 'boolean') throw new Error(`${caller}: ssl.${k} must be true or false`);
    }
    tls = tlsOptions(caller, {
      ca: pem(caller, 'ssl.ca', s.ca, 'CERTIFICATE'),
      cert: pem(caller, 'ssl.cert', s.cert, 'CERTIFICATE'),
      key: pem(caller, 'ssl.key', s.key, 'PRIVATE KEY'),
      keyPassword: optionalString(caller, 'ssl.keyPassword', s.keyPassword) ?? env[SECURITY_ENV.keyPassword],
      rejectUnauthorized: s.rejectUnauthorized !== false,
      checkHostname: s.checkHostname !== false,
    });
    if (tls.passphrase) secrets.push(String(tls.passphrase));
  }
  const protocol: SecurityProtocol = sasl ? (tls ? 'SASL_SSL' : 'SASL_PLAINTEXT') : 'SSL';
  return { protocol, ...(sasl ? { sasl } : {}), ...(tls ? { tls } : {}), secrets };
}

function fromSpark(caller: string, o: KafkaSecurityOptions, env: NodeJS.ProcessEnv): KafkaSecurity {
  for (const k of Object.keys(o)) {
    if (k.startsWith('kafka.') && typeof (o as Record<string, unknown>)[k] !== 'string' && (o as Record<string, unknown>)[k] !== undefined) {
      throw new Error(`${caller}: option ${k} must be a string`);
    }
  }
  const rawProtocol = o['kafka.security.protocol'];
  if (rawProtocol === undefined) {
    throw new Error(`${caller}: kafka.* security options need kafka.security.protocol (${PROTOCOLS.join(', ')}); Kafka would otherwise connect in plaintext and ignore them`);
  }
  const protocol = rawProtocol.trim().toUpperCase() as SecurityProtocol;
  if (!PROTOCOLS.includes(protocol)) throw new Error(`${caller}: kafka.security.protocol must be one of ${PROTOCOLS.join(', ')}, got ${JSON.stringify(rawProtocol)}`);
  const usesSasl = protocol.startsWith('SASL_');
  const usesTls = protocol.endsWith('SSL');
  const given = (prefix: string) => Object.keys(o).filter((k) => k.startsWith(prefix) && (o as Record<string, unknown>)[k] !== undefined);
  if (!usesSasl && given('kafka.sasl.').length > 0) {
    throw new Error(`${caller}: ${given('kafka.sasl.').join(', ')} given, but kafka.security.protocol is ${protocol}: use SASL_SSL or SASL_PLAINTEXT`);
  }
  if (!usesTls && given('kafka.ssl.').length > 0) {
    throw new Error(`${caller}: ${given('kafka.ssl.').join(', ')} given, but kafka.security.protocol is ${protocol}: use SSL or SASL_SSL`);
  }
  const secrets: string[] = [];
  let sasl: KafkaSecurity['sasl'];
  if (usesSasl) {
    const mechanismText = o['kafka.sasl.mechanism'];
    const jaasText = o['kafka.sasl.jaas.config'];
    const jaas = jaasText === undefined ? undefined : parseJaasConfig(caller, jaasText);
    // Kafka's default mechanism is GSSAPI; PlainLoginModule can only mean PLAIN.
    const mechanism = mechanismText ?? (jaas?.module === 'plain' ? 'PLAIN' : undefined);
    if (mechanism === undefined) throw new Error(`${caller}: kafka.security.protocol ${protocol} needs kafka.sasl.mechanism (${MECHANISMS.join(', ')})`);
    sasl = credentials(caller, 'kafka.sasl.mechanism', mechanism, jaas?.username, jaas?.password, env);
    if (jaas && (jaas.module === 'plain') !== (sasl.mechanism === 'PLAIN')) {
      throw new Error(`${caller}: kafka.sasl.jaas.config uses ${jaas.module === 'plain' ? 'PlainLoginModule' : 'ScramLoginModule'}, which does not go with kafka.sasl.mechanism ${sasl.mechanism}`);
    }
    secrets.push(sasl.password);
  }
  let tls: TlsOptions | undefined;
  if (usesTls) {
    for (const k of ['kafka.ssl.truststore.type', 'kafka.ssl.keystore.type'] as const) {
      const v = o[k];
      if (v !== undefined && v.trim().toUpperCase() !== 'PEM') throw new Error(`${caller}: ${k} ${JSON.stringify(v)} is not supported. ${JKS_HELP}`);
    }
    if (o['kafka.ssl.truststore.location'] !== undefined && o['kafka.ssl.truststore.type'] === undefined) {
      throw new Error(`${caller}: kafka.ssl.truststore.location is a JKS truststore unless kafka.ssl.truststore.type is PEM. ${JKS_HELP}`);
    }
    if (o['kafka.ssl.keystore.location'] !== undefined && o['kafka.ssl.keystore.type'] === undefined) {
      throw new Error(`${caller}: kafka.ssl.keystore.location is a JKS keystore unless kafka.ssl.keystore.type is PEM. ${JKS_HELP}`);
    }
    const one = (what: string, names: (keyof KafkaSecurityOptions)[], files: boolean[], label: 'CERTIFICATE' | 'PRIVATE KEY'): string | undefined => {
      const set = names.filter((n) => o[n] !== undefined);
      if (set.length > 1) throw new Error(`${caller}: give the ${what} once, not as ${set.join(' and ')}`);
      const name = set[0];
      if (name === undefined) return undefined;
      const value = o[name] as string;
      return files[names.indexOf(name)] ? pemFile(caller, name, value, label) : pemText(caller, name, value, label);
    };
    const ca = one('CA certificates', ['kafka.ssl.ca.location', 'kafka.ssl.truststore.location', 'kafka.ssl.truststore.certificates'], [true, true, false], 'CERTIFICATE');
    let cert = one('client certificate', ['kafka.ssl.certificate.location', 'kafka.ssl.keystore.certificate.chain'], [true, false], 'CERTIFICATE');
    let key = one('private key', ['kafka.ssl.key.location', 'kafka.ssl.keystore.key'], [true, false], 'PRIVATE KEY');
    const keystore = o['kafka.ssl.keystore.location'];
    if (keystore !== undefined) {
      // Java's PEM keystore file holds the key and the certificate chain together.
      if (cert !== undefined || key !== undefined) throw new Error(`${caller}: give the client certificate and key once: kafka.ssl.keystore.location or the certificate/key options`);
      cert = pemFile(caller, 'kafka.ssl.keystore.location', keystore, 'CERTIFICATE');
      key = pemFile(caller, 'kafka.ssl.keystore.location', keystore, 'PRIVATE KEY');
    }
    const algorithm = o['kafka.ssl.endpoint.identification.algorithm'];
    if (algorithm !== undefined && algorithm !== '' && algorithm.toLowerCase() !== 'https') {
      throw new Error(`${caller}: kafka.ssl.endpoint.identification.algorithm must be 'https' (hostname verification, the default) or '' (none), got ${JSON.stringify(algorithm)}`);
    }
    tls = tlsOptions(caller, {
      ca,
      cert,
      key,
      keyPassword: o['kafka.ssl.key.password'] ?? env[SECURITY_ENV.keyPassword],
      rejectUnauthorized: true,
      checkHostname: algorithm !== '',
    });
    if (tls.passphrase) secrets.push(String(tls.passphrase));
  }
  return { protocol, ...(sasl ? { sasl } : {}), ...(tls ? { tls } : {}), secrets };
}

function optionalString(caller: string, name: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new Error(`${caller}: ${name} must be a string`);
  return v;
}

function credentials(
  caller: string,
  mechanismName: string,
  mechanism: unknown,
  username: string | undefined,
  password: string | undefined,
  env: NodeJS.ProcessEnv,
): { mechanism: SaslMechanism; username: string; password: string } {
  const upper = typeof mechanism === 'string' ? mechanism.trim().toUpperCase() : undefined;
  const m = MECHANISMS.find((x) => x === upper);
  if (m === undefined) {
    const hint = upper === 'GSSAPI' ? ' (Kerberos is not supported)' : upper === 'OAUTHBEARER' || upper === 'AWS_MSK_IAM' ? ' (OAuth/IAM logins are not supported)' : '';
    throw new Error(`${caller}: ${mechanismName} must be one of ${MECHANISMS.join(', ')}, got ${JSON.stringify(mechanism)}${hint}`);
  }
  const user = username ?? env[SECURITY_ENV.username];
  const pass = password ?? env[SECURITY_ENV.password];
  if (!user) throw new Error(`${caller}: SASL ${m} needs a username (in the options or ${SECURITY_ENV.username})`);
  if (!pass) throw new Error(`${caller}: SASL ${m} needs a password (in the options or ${SECURITY_ENV.password})`);
  return { mechanism: m, username: user, password: pass };
}

/** A JAAS login module line, e.g. `...PlainLoginModule required username="u" password="p";`. */
export interface JaasConfig {
  module: 'plain' | 'scram';
  username?: string;
  password?: string;
}

const JAAS_MODULES: Record<string, JaasConfig['module']> = {
  'org.apache.kafka.common.security.plain.PlainLoginModule': 'plain',
  'org.apache.kafka.common.security.scram.ScramLoginModule': 'scram',
};

/**
 * Parses Kafka's `sasl.jaas.config` value for the PLAIN and SCRAM login modules (Databricks'
 * `kafkashaded.` prefix included). Values are double-quoted (with `\"` and `\\` escapes) or bare
 * words. Errors never quote the text, which holds a password.
 *
 * @example parseJaasConfig('x', 'org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";') // => { module: 'plain', username: 'u', password: 'p' }
 */
export function parseJaasConfig(caller: string, text: string): JaasConfig {
  const fail = (why: string): never => {
    throw new Error(
      `${caller}: kafka.sasl.jaas.config ${why}; expected 'org.apache.kafka.common.security.plain.PlainLoginModule required username="..." password="...";' or the ScramLoginModule form (the value is not shown: it holds a secret)`,
    );
  };
  let i = 0;
  const skipSpace = (): void => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const word = (): string => {
    const start = i;
    while (i < text.length && /[^\s=;"]/.test(text[i]!)) i++;
    return text.slice(start, i);
  };
  skipSpace();
  let moduleName = word();
  if (moduleName.startsWith('kafkashaded.')) moduleName = moduleName.slice('kafkashaded.'.length);
  const module = JAAS_MODULES[moduleName];
  if (!module) fail(moduleName ? 'names a login module winlake does not support (only PlainLoginModule and ScramLoginModule)' : 'is empty');
  skipSpace();
  const flag = word();
  if (!['required', 'requisite', 'sufficient', 'optional'].includes(flag)) fail('has no control flag (required) after the login module');
  const values: Record<string, string> = {};
  for (;;) {
    skipSpace();
    if (i >= text.length) fail("does not end with ';'");
    if (text[i] === ';') {
      i++;
      break;
    }
    const key = word();
    if (!key) fail('has an unexpected character');
    skipSpace();
    if (text[i] !== '=') fail(`has no '=' after ${key}`);
    i++;
    skipSpace();
    let value = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) fail('has an unterminated quoted value');
        const c = text[i++]!;
        if (c === '"') break;
        value += c === '\\' && i < text.length ? text[i++]! : c;
      }
    } else {
      value = word();
      if (!value) fail(`has no value for ${key}`);
    }
    if (key in values) fail(`gives ${key} twice`);
    values[key] = value;
  }
  skipSpace();
  if (i < text.length) fail("has text after the ';' (only one login module is supported)");
  for (const key of Object.keys(values)) {
    if (key !== 'username' && key !== 'password') fail(`has option ${key}, which winlake does not support (only username and password)`);
  }
  return { module: module!, ...(values.username !== undefined ? { username: values.username } : {}), ...(values.password !== undefined ? { password: values.password } : {}) };
}

function pem(caller: string, name: string, v: unknown, label: 'CERTIFICATE' | 'PRIVATE KEY'): string | undefined {
  if (v === undefined) return undefined;
  const text = Buffer.isBuffer(v) ? v.toString('utf8') : v;
  if (typeof text !== 'string') throw new Error(`${caller}: ${name} must be PEM text or the path of a PEM file`);
  return text.includes('-----BEGIN') ? pemText(caller, name, text, label) : pemFile(caller, name, text, label);
}

function pemFile(caller: string, name: string, file: string, label: 'CERTIFICATE' | 'PRIVATE KEY'): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${caller}: ${name}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (!text.includes('-----BEGIN')) throw new Error(`${caller}: ${name}: ${file} is not a PEM file. ${JKS_HELP}`);
  return pemText(caller, `${name} (${file})`, text, label);
}

/** Keeps the PEM blocks of one kind (a Java PEM keystore file holds the key and the chain together). */
function pemText(caller: string, name: string, text: string, label: 'CERTIFICATE' | 'PRIVATE KEY'): string {
  const blocks = text.match(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g) ?? [];
  const wanted = blocks.filter((b) => (label === 'CERTIFICATE' ? /^-----BEGIN CERTIFICATE-----/.test(b) : /^-----BEGIN (?:[A-Z0-9]+ )?(?:ENCRYPTED )?PRIVATE KEY-----/.test(b)));
  if (wanted.length === 0) throw new Error(`${caller}: ${name} holds no PEM ${label.toLowerCase()} block`);
  return `${wanted.join('\n')}\n`;
}

function tlsOptions(
  caller: string,
  o: { ca: string | undefined; cert: string | undefined; key: string | undefined; keyPassword: string | undefined; rejectUnauthorized: boolean; checkHostname: boolean },
): TlsOptions {
  if ((o.cert === undefined) !== (o.key === undefined)) throw new Error(`${caller}: a TLS client certificate needs its private key, and a key its certificate`);
  return {
    ...(o.ca !== undefined ? { ca: o.ca } : {}),
    ...(o.cert !== undefined ? { cert: o.cert } : {}),
    ...(o.key !== undefined ? { key: o.key } : {}),
    ...(o.keyPassword ? { passphrase: o.keyPassword } : {}),
    rejectUnauthorized: o.rejectUnauthorized,
    // Hostname verification stays Node's default unless turned off explicitly.
    ...(o.checkHostname ? {} : { checkServerIdentity: () => undefined }),
  };
}

/**
 * Replaces every secret in `text` with `***` (a client library's message might echo a value).
 * @example redactSecrets('bad password hunter2', ['hunter2']) // => 'bad password ***'
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join('***');
  return out;
}

/** A security failure that retrying cannot fix: wrong credentials, an untrusted certificate. */
export class KafkaSecurityError extends Error {
  constructor(
    message: string,
    readonly kind: 'authentication' | 'tls',
  ) {
    super(message);
    this.name = 'KafkaSecurityError';
  }
}

/** The errors inside an error: causes, aggregated errors, kafkajs' originalError. */
function errorChain(err: unknown): (Error & { code?: unknown; broker?: unknown })[] {
  const out: (Error & { code?: unknown })[] = [];
  const queue: unknown[] = [err];
  while (queue.length > 0 && out.length < 50) {
    const e = queue.shift();
    if (!(e instanceof Error) || out.includes(e)) continue;
    out.push(e);
    const x = e as Error & { cause?: unknown; errors?: unknown; originalError?: unknown };
    queue.push(x.cause, x.originalError);
    if (Array.isArray(x.errors)) queue.push(...(x.errors as unknown[]));
  }
  return out;
}

const TLS_CODE = /^(?:ERR_SSL_|ERR_TLS_|CERT_|UNABLE_TO_|SELF_SIGNED|DEPTH_ZERO|HOSTNAME_MISMATCH|EPROTO$)/;

/**
 * Turns a client library's connection failure into a clear error: a failed SASL login names the
 * mechanism and user, a TLS failure says TLS (and why: untrusted certificate, hostname, not a TLS
 * listener), a plaintext client cut off by a TLS or SASL listener is told so, and an unreachable
 * broker is named by host:port. Other errors come back as they are. Secrets are redacted.
 *
 * @example throw explainKafkaError(err, { servers: ['kafka:9093'] });
 */
export function explainKafkaError(err: unknown, ctx: { servers: readonly string[]; security?: KafkaSecurity }): unknown {
  if (err instanceof KafkaSecurityError) return err;
  const chain = errorChain(err);
  if (chain.length === 0) return err;
  const secrets = ctx.security?.secrets ?? [];
  const messages = chain.map((e) => redactSecrets(e.message, secrets));
  const all = messages.join(' | ');
  const where = /(?:to|broker) \[?([\w.-]+|[0-9a-fA-F:]+)\]?:(\d{1,5})/.exec(all);
  const address = where ? `${where[1]}:${where[2]}` : ctx.servers.join(',');
  const inner = messages[messages.length - 1] ?? '';
  const sasl = ctx.security?.sasl;
  const authFailed = chain.some(
    (e) => e.code === 'PLT_KFK_AUTHENTICATION' || e.name === 'KafkaJSSASLAuthenticationError' || /SASL_AUTHENTICATION_FAILED|Authentication failed/i.test(e.message),
  );
  if (authFailed) {
    const detail = messages.find((m) => /invalid credentials|invalid username|authentication failed due/i.test(m)) ?? inner;
    return new KafkaSecurityError(
      sasl
        ? `Kafka at ${address} refused the SASL ${sasl.mechanism} login of user ${JSON.stringify(sasl.username)}: authentication failed (wrong username or password, or the broker does not offer ${sasl.mechanism}): ${detail}`
        : `Kafka at ${address} asked for SASL authentication: set kafka.security.protocol SASL_SSL (or SASL_PLAINTEXT), kafka.sasl.mechanism and the credentials: ${detail}`,
      'authentication',
    );
  }
  const tlsCode = chain.find((e) => typeof e.code === 'string' && TLS_CODE.test(e.code));
  const tlsText = messages.find((m) => /certificate|self.signed|wrong version number|ssl|TLS handshake|secure TLS connection/i.test(m));
  if (ctx.security?.tls && (tlsCode || tlsText)) {
    const reason = redactSecrets(tlsCode?.message ?? tlsText ?? inner, secrets);
    const hint = /wrong version number|packet length|TLS handshake failed|secure TLS connection was established/i.test(all)
      ? 'the listener does not speak TLS (is it PLAINTEXT or SASL_PLAINTEXT?)'
      : /altname|hostname|Host:|IP: /i.test(all)
        ? "the certificate does not name this host (hostname verification; kafka.ssl.endpoint.identification.algorithm='' turns it off)"
        : /certificate required|alert handshake failure|bad certificate/i.test(all)
          ? 'the broker wants a client certificate (kafka.ssl.certificate.location and kafka.ssl.key.location)'
          : /self.signed|unable to (?:verify|get)|issuer|untrusted|verify/i.test(all)
            ? "the broker's certificate is not signed by a trusted CA (give its CA as kafka.ssl.ca.location or ssl: { ca })"
            : 'see the reason';
    return new KafkaSecurityError(`TLS connection to Kafka at ${address} failed: ${hint}: ${reason}`, 'tls');
  }
  const refused = chain.find((e) => typeof e.code === 'string' && ['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN'].includes(e.code));
  if (refused) {
    return withCause(new KafkaConnectionError([address], String(refused.code)), err);
  }
  const cutOff = /Connection closed|socket disconnected|ECONNRESET|Closed connection|KafkaJSConnectionClosedError|timed out|Request timeout/i.test(all);
  if (!ctx.security?.tls && cutOff) {
    return withCause(
      new Error(
        `Kafka at ${address} closed the connection or did not answer: if this listener uses TLS or SASL, set kafka.security.protocol (SSL, SASL_SSL, SASL_PLAINTEXT) and its options; plaintext clients cannot talk to it (${inner})`,
      ),
      err,
    );
  }
  const network = cutOff || chain.some((e) => e.code === 'PLT_KFK_NETWORK' || e.name === 'KafkaJSConnectionError' || e.name === 'KafkaJSConnectionClosedError');
  if (ctx.security?.tls && network) {
    return withCause(
      new Error(
        `TLS connection to Kafka at ${address} was closed by the broker: if the listener requires a client certificate, give kafka.ssl.certificate.location and kafka.ssl.key.location (ssl: { cert, key }); if it wants SASL, kafka.security.protocol SASL_SSL (${inner})`,
      ),
      err,
    );
  }
  if (secrets.length > 0 && chain.some((e) => redactSecrets(e.message, secrets) !== e.message)) {
    return withCause(new Error(redactSecrets((err as Error).message, secrets)), undefined);
  }
  return asConnectionError(err, ctx.servers);
}

function withCause(e: Error, cause: unknown): Error {
  if (cause !== undefined) Object.defineProperty(e, 'cause', { value: cause, enumerable: false, configurable: true, writable: true });
  return e;
}
