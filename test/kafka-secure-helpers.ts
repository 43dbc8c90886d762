/**
 * A second local broker for the security tests, with its own folder and free ports: PLAINTEXT
 * (set-up only), SASL_SSL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and SSL with client certificates.
 * Certificates are made with openssl when the test starts; passwords are random per run, so a
 * test can grep everything it captured for them.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { addScramUsers, brokerOptions, startBroker, stopBroker, type BrokerOptions } from '../kernel-lib/src/source/kafka/broker.js';

export const HOST = '127.0.0.1';

/** PEM files made for one run. */
export interface TestCerts {
  dir: string;
  /** The CA that signed the broker's and the client's certificates. */
  ca: string;
  /** Another CA, which signed nothing the broker uses. */
  otherCa: string;
  clientCert: string;
  clientKey: string;
  /** The broker's key and certificate chain in one file (Kafka's PEM keystore). */
  serverKeystore: string;
}

/** A user per SASL mechanism, with a random password. */
export interface TestUsers {
  plain: { username: string; password: string };
  scram256: { username: string; password: string };
  scram512: { username: string; password: string };
}

export interface SecureBroker {
  options: BrokerOptions;
  ports: { plaintext: number; saslSsl: number; ssl: number };
  certs: TestCerts;
  users: TestUsers;
  /** Every password of the run (for the no-secret-anywhere checks). */
  secrets: string[];
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { code?: string; stderr?: Buffer };
    if (e.code === 'ENOENT') throw new Error("the security tests need 'openssl' on PATH (Debian: apt-get install openssl)");
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr?.toString() ?? String(err)}`);
  }
}

/**
 * A CA, a broker certificate for IP 127.0.0.1 only (so that `localhost` fails hostname
 * verification), a client certificate signed by the same CA and an unrelated CA.
 */
export function makeCerts(dir: string): TestCerts {
  mkdirSync(dir, { recursive: true });
  const ca = (name: string) => {
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=winlake test ${name}`], dir);
  };
  ca('ca');
  ca('other-ca');
  const leaf = (name: string, subject: string, ext: string) => {
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
    writeFileSync(path.join(dir, `${name}.ext`), ext);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`], dir);
    // Kafka's PEM keystore wants PKCS#8; openssl 3 writes it already, openssl 1.1 may not.
    openssl(['pkcs8', '-topk8', '-nocrypt', '-in', `${name}.key`, '-out', `${name}.p8.key`], dir);
  };
  leaf('server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  leaf('client', '/CN=winlake-client', 'extendedKeyUsage=clientAuth\n');
  const read = (f: string) => readFileSync(path.join(dir, f), 'utf8');
  writeFileSync(path.join(dir, 'server-keystore.pem'), `${read('server.p8.key')}${read('server.pem')}${read('ca.pem')}`);
  return {
    dir,
    ca: path.join(dir, 'ca.pem'),
    otherCa: path.join(dir, 'other-ca.pem'),
    clientCert: path.join(dir, 'client.pem'),
    clientKey: path.join(dir, 'client.p8.key'),
    serverKeystore: path.join(dir, 'server-keystore.pem'),
  };
}

/** Free TCP ports on 127.0.0.1. */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const s = net.createServer();
          s.once('error', reject);
          s.listen(0, HOST, () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

const secret = (): string => `pw${randomBytes(12).toString('hex')}`;

/**
 * Starts the secured broker in a fresh temp folder and creates its SCRAM users with kafka-configs.
 * Stop it with {@link stopSecureBroker}.
 */
export async function startSecureBroker(): Promise<SecureBroker> {
  const home = mkdtempSync(path.join(os.tmpdir(), 'winlake-secure-broker-'));
  const certs = makeCerts(path.join(home, 'certs'));
  const [plaintext, outside, controller, saslSsl, ssl] = (await freePorts(5)) as [number, number, number, number, number];
  const users: TestUsers = {
    plain: { username: 'plain-user', password: secret() },
    scram256: { username: 'scram256-user', password: secret() },
    scram512: { username: 'scram512-user', password: secret() },
  };
  const listeners = `PLAINTEXT://${HOST}:${plaintext},OUTSIDE://${HOST}:${outside},SASL_SSL://${HOST}:${saslSsl},SSL://${HOST}:${ssl}`;
  const options = brokerOptions({
    port: plaintext,
    outsidePort: outside,
    controllerPort: controller,
    home,
    heap: '384m',
    topics: {},
    extraProperties: {
      listeners: `${listeners},CONTROLLER://${HOST}:${controller}`,
      'advertised.listeners': listeners,
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,OUTSIDE:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL',
      'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
      'listener.name.sasl_ssl.plain.sasl.jaas.config': `org.apache.kafka.common.security.plain.PlainLoginModule required user_${users.plain.username}="${users.plain.password}";`,
      'listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
      'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
      'ssl.keystore.type': 'PEM',
      'ssl.keystore.location': certs.serverKeystore,
      'ssl.truststore.type': 'PEM',
      'ssl.truststore.location': certs.ca,
      'listener.name.ssl.ssl.client.auth': 'required',
    },
  });
  try {
    await startBroker(options);
    await addScramUsers(options, [
      { mechanism: 'SCRAM-SHA-256', ...users.scram256 },
      { mechanism: 'SCRAM-SHA-512', ...users.scram512 },
    ]);
  } catch (err) {
    await stopSecureBroker({ options });
    throw err;
  }
  return {
    options,
    ports: { plaintext, saslSsl, ssl },
    certs,
    users,
    secrets: [users.plain.password, users.scram256.password, users.scram512.password],
  };
}

/** Stops the secured broker and deletes its folder (certificates included). */
export async function stopSecureBroker(b: Pick<SecureBroker, 'options'>): Promise<void> {
  await stopBroker(b.options);
  rmSync(b.options.home, { recursive: true, force: true });
}
