/**
 * The local Kafka broker winlake runs for development, tests and demos: Apache Kafka 3.9 from Maven
 * Central, one KRaft node (broker + controller), started as a detached `java` process. Its jars, data,
 * logs and pid file live under `.cache/kafka/` in the repository (an ignored folder).
 */
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, openSync, closeSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createKafkaClient } from './client.js';

const execFileAsync = promisify(execFile);

/** The Kafka release the broker runs (the last 3.9 patch on Maven Central). */
export const KAFKA_VERSION = '3.9.2';

/** Where the broker's data files (pom, properties templates) live: kernel-lib/kafka/. */
const KAFKA_DATA_DIR = fileURLToPath(new URL('../../../kafka/', import.meta.url));
/** The repository root (kernel-lib's parent), where `.cache/` lives. */
const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** One local broker instance: its ports and its folder. */
export interface BrokerOptions {
  /** The PLAINTEXT ("inside") listener port. Default 9092 or `WINLAKE_KAFKA_PORT`. */
  port: number;
  /** The OUTSIDE listener port, the one winlogbeat used in the reference. Default 9094 or `WINLAKE_KAFKA_OUTSIDE_PORT`. */
  outsidePort: number;
  /** The KRaft controller listener port. Default 9093 or `WINLAKE_KAFKA_CONTROLLER_PORT`. */
  controllerPort: number;
  /** The instance folder (data, logs, pid, rendered properties). Default `.cache/kafka/default`. */
  home: string;
  /** Where the broker's jars are copied (shared by all instances). Default `.cache/kafka/libs`. */
  libsDir: string;
  /**
   * The local Maven repository used to fetch them. Default `WINLAKE_MAVEN_REPO`, else Maven's own
   * `~/.m2/repository`: outside the clone, so a fresh checkout on the same machine reuses the jars.
   */
  mavenRepo: string;
  /** Java maximum heap, e.g. '512m'. */
  heap: string;
  /** Topics to create (idempotently) once the broker is up, with their partition counts. */
  topics: Record<string, number>;
  /**
   * Broker settings added after the template's (a later key wins), e.g. extra listeners with
   * SASL_SSL. Values must not contain line breaks.
   */
  extraProperties?: Record<string, string>;
}

/** What `brokerStatus` finds. */
export interface BrokerStatus {
  running: boolean;
  /** The broker's process id, when a pid file names a live process. */
  pid?: number;
  /** `127.0.0.1:<port>` of the PLAINTEXT listener. */
  bootstrap: string;
  ports: { plaintext: number; outside: number; controller: number };
  /** Topics with partition counts, when the broker answered a metadata request. */
  topics?: Record<string, number>;
  home: string;
  logFile: string;
}

function envPort(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0 || n > 65535) throw new Error(`${name} must be a TCP port number, got ${JSON.stringify(raw)}`);
  return n;
}

/**
 * The default broker's options, with any overrides applied.
 * @example const opts = brokerOptions({ port: 19092, outsidePort: 19094, controllerPort: 19093, home: '/tmp/k2' });
 */
export function brokerOptions(overrides: Partial<BrokerOptions> = {}): BrokerOptions {
  const cache = path.join(REPO_ROOT, '.cache');
  return {
    port: envPort('WINLAKE_KAFKA_PORT', 9092),
    outsidePort: envPort('WINLAKE_KAFKA_OUTSIDE_PORT', 9094),
    controllerPort: envPort('WINLAKE_KAFKA_CONTROLLER_PORT', 9093),
    home: path.join(cache, 'kafka', 'default'),
    libsDir: path.join(cache, 'kafka', 'libs'),
    mavenRepo: process.env.WINLAKE_MAVEN_REPO ?? path.join(os.homedir(), '.m2', 'repository'),
    heap: '512m',
    topics: { winlogbeat: 3 },
    ...overrides,
  };
}

const paths = (o: BrokerOptions) => ({
  props: path.join(o.home, 'server.properties'),
  data: path.join(o.home, 'data'),
  logs: path.join(o.home, 'logs'),
  pid: path.join(o.home, 'broker.pid'),
  stdout: path.join(o.home, 'logs', 'stdout.log'),
  stamp: path.join(o.libsDir, '.installed'),
});

async function requireTool(cmd: string, args: string[], what: string): Promise<string> {
  try {
    const { stdout, stderr } = await execFileAsync(cmd, args, { timeout: 60_000 });
    return `${stdout}${stderr}`;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`'${cmd}' is not installed or not on PATH: ${what}`);
    throw new Error(`'${cmd} ${args.join(' ')}' failed: ${(err as Error).message}`);
  }
}

/** Checks that `java` 17 or newer is on PATH (Kafka 3.9's broker needs 17 in KRaft mode). */
async function checkJava(): Promise<void> {
  const out = await requireTool('java', ['-version'], 'the local Kafka broker needs a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless)');
  const m = /version "(\d+)(?:\.(\d+))?/.exec(out);
  const major = m ? (m[1] === '1' ? Number(m[2]) : Number(m[1])) : NaN;
  if (!(major >= 17)) throw new Error(`the local Kafka broker needs Java 17 or newer; 'java -version' says: ${out.split('\n')[0] ?? out}`);
}

/**
 * Copies Kafka's jars from Maven Central into `libsDir` once (a stamp file marks a finished copy).
 * @example await installBroker(brokerOptions());
 */
export async function installBroker(o: BrokerOptions = brokerOptions()): Promise<{ installed: boolean; libsDir: string }> {
  const p = paths(o);
  if (existsSync(p.stamp) && readFileSync(p.stamp, 'utf8').trim() === KAFKA_VERSION) return { installed: false, libsDir: o.libsDir };
  await requireTool('mvn', ['-v'], 'installing the local Kafka broker needs Maven (Debian: apt-get install maven)');
  mkdirSync(o.libsDir, { recursive: true });
  // A partial earlier copy may hold other versions' jars: start clean so the classpath has one Kafka.
  for (const f of readdirSync(o.libsDir)) if (f.endsWith('.jar')) rmSync(path.join(o.libsDir, f));
  const args = [
    '-q',
    '-B',
    `-Dmaven.repo.local=${o.mavenRepo}`,
    '-f',
    path.join(KAFKA_DATA_DIR, 'pom.xml'),
    'dependency:copy-dependencies',
    `-DoutputDirectory=${o.libsDir}`,
  ];
  try {
    await execFileAsync('mvn', args, { timeout: 15 * 60_000, maxBuffer: 32 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`downloading Kafka ${KAFKA_VERSION} with Maven failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
  writeFileSync(p.stamp, `${KAFKA_VERSION}\n`);
  return { installed: true, libsDir: o.libsDir };
}

function readPid(o: BrokerOptions): number | undefined {
  const file = paths(o).pid;
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A pid can be reused by another program after a reboot: make sure it is a Kafka broker.
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('kafka.Kafka');
  } catch {
    return true; // no /proc (not Linux): trust the signal check
  }
}

function portOpen(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function renderTemplate(file: string, values: Record<string, string | number>): string {
  return readFileSync(file, 'utf8').replace(/\{\{(\w+)\}\}/g, (whole, name: string) => {
    const v = values[name];
    if (v === undefined) throw new Error(`${file}: unknown placeholder ${whole}`);
    return String(v);
  });
}

function javaClasspath(o: BrokerOptions): string {
  return `${o.libsDir}${path.sep}*`;
}

function log4jArgs(o: BrokerOptions): string[] {
  return [`-Dlog4j.configuration=file:${path.join(KAFKA_DATA_DIR, 'log4j.properties')}`, `-Dkafka.log.dir=${paths(o).logs}`];
}

/** Formats the KRaft storage once (the `meta.properties` file marks a formatted data folder). */
async function formatStorage(o: BrokerOptions): Promise<void> {
  const p = paths(o);
  if (existsSync(path.join(p.data, 'meta.properties'))) return;
  const clusterId = Buffer.from(randomUUID().replaceAll('-', ''), 'hex').toString('base64url');
  // base64url ids start with '-' one time in 64: attached with '=', the tool cannot read one as a flag.
  try {
    await execFileAsync(
      'java',
      ['-Xmx256m', '-cp', javaClasspath(o), ...log4jArgs(o), 'kafka.tools.StorageTool', 'format', `--cluster-id=${clusterId}`, '-c', p.props],
      { timeout: 120_000 },
    );
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`formatting Kafka storage in ${p.data} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/** A metadata request to the broker; resolves with topic → partition count, or throws. */
async function brokerTopics(o: BrokerOptions): Promise<Record<string, number>> {
  const client = createKafkaClient(`127.0.0.1:${o.port}`, { kind: 'platformatic', timeoutMs: 5000 });
  try {
    return await client.topics();
  } finally {
    await client.close();
  }
}

async function waitUntilReady(o: BrokerOptions, pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = 'no answer yet';
  while (Date.now() < deadline) {
    if (!isAlive(pid)) {
      throw new Error(`the Kafka broker (pid ${pid}) exited during startup; see ${path.join(paths(o).logs, 'server.log')} and ${paths(o).stdout}`);
    }
    if (await portOpen(o.port, 500)) {
      try {
        await brokerTopics(o);
        return;
      } catch (err) {
        lastError = (err as Error).message;
      }
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`the Kafka broker did not answer on 127.0.0.1:${o.port} within ${timeoutMs / 1000}s (${lastError}); see ${path.join(paths(o).logs, 'server.log')}`);
}

/**
 * Starts the broker (installing and formatting first when needed), waits until it answers a metadata
 * request and creates the configured topics. Starting a running broker only reports it.
 * @example const { alreadyRunning, pid } = await startBroker();
 */
export async function startBroker(
  o: BrokerOptions = brokerOptions(),
  log: (line: string) => void = () => {},
): Promise<BrokerStatus & { alreadyRunning: boolean }> {
  const p = paths(o);
  const existing = readPid(o);
  if (existing !== undefined && isAlive(existing)) {
    await waitUntilReady(o, existing, 60_000);
    await createTopics(o);
    return { ...(await brokerStatus(o)), alreadyRunning: true };
  }
  for (const port of [o.port, o.outsidePort, o.controllerPort]) {
    if (await portOpen(port, 500)) {
      throw new Error(`port ${port} on 127.0.0.1 is already in use by another program, so the broker in ${o.home} cannot start (set WINLAKE_KAFKA_PORT / _OUTSIDE_PORT / _CONTROLLER_PORT)`);
    }
  }
  await checkJava();
  const install = await installBroker(o);
  if (install.installed) log(`installed Kafka ${KAFKA_VERSION} jars in ${o.libsDir}`);
  mkdirSync(p.data, { recursive: true });
  mkdirSync(p.logs, { recursive: true });
  writeFileSync(
    p.props,
    renderTemplate(path.join(KAFKA_DATA_DIR, 'server.properties.template'), {
      port: o.port,
      outsidePort: o.outsidePort,
      controllerPort: o.controllerPort,
      dataDir: p.data,
    }),
  );
  if (o.extraProperties) appendFileSync(p.props, extraPropertiesText(o.extraProperties));
  await formatStorage(o);
  const out = openSync(p.stdout, 'a');
  const child = spawn(
    'java',
    [
      `-Xmx${o.heap}`,
      '-Xms128m',
      '-XX:+UseG1GC',
      '-XX:MaxGCPauseMillis=20',
      '-Djava.awt.headless=true',
      ...log4jArgs(o),
      '-cp',
      javaClasspath(o),
      'kafka.Kafka',
      p.props,
    ],
    { detached: true, stdio: ['ignore', out, out] },
  );
  closeSync(out);
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not launch java for the Kafka broker');
  child.unref();
  writeFileSync(p.pid, `${pid}\n`);
  log(`started Kafka ${KAFKA_VERSION} (pid ${pid}), waiting for it to answer on 127.0.0.1:${o.port}...`);
  await waitUntilReady(o, pid, 90_000);
  await createTopics(o);
  return { ...(await brokerStatus(o)), alreadyRunning: false };
}

async function createTopics(o: BrokerOptions): Promise<void> {
  if (Object.keys(o.topics).length === 0) return;
  const client = createKafkaClient(`127.0.0.1:${o.port}`, { kind: 'platformatic' });
  try {
    for (const [topic, partitions] of Object.entries(o.topics)) await client.createTopic(topic, { partitions });
  } finally {
    await client.close();
  }
}

/**
 * Stops the broker: SIGTERM (a clean shutdown), then SIGKILL after `timeoutMs`.
 * @example const { wasRunning } = await stopBroker();
 */
export async function stopBroker(o: BrokerOptions = brokerOptions(), timeoutMs = 30_000): Promise<{ wasRunning: boolean; pid?: number; killed: boolean }> {
  const p = paths(o);
  const pid = readPid(o);
  if (pid === undefined || !isAlive(pid)) {
    rmSync(p.pid, { force: true });
    return { wasRunning: false, killed: false };
  }
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && isAlive(pid)) await new Promise((r) => setTimeout(r, 200));
  let killed = false;
  if (isAlive(pid)) {
    process.kill(pid, 'SIGKILL');
    killed = true;
    while (isAlive(pid)) await new Promise((r) => setTimeout(r, 100));
  }
  rmSync(p.pid, { force: true });
  return { wasRunning: true, pid, killed };
}

/**
 * Whether the broker runs, its pid, ports and topics.
 * @example const s = await brokerStatus(); if (s.running) console.log(s.topics);
 */
export async function brokerStatus(o: BrokerOptions = brokerOptions()): Promise<BrokerStatus> {
  const pid = readPid(o);
  const alive = pid !== undefined && isAlive(pid);
  const status: BrokerStatus = {
    running: alive,
    bootstrap: `127.0.0.1:${o.port}`,
    ports: { plaintext: o.port, outside: o.outsidePort, controller: o.controllerPort },
    home: o.home,
    logFile: path.join(paths(o).logs, 'server.log'),
  };
  if (alive) {
    status.pid = pid;
    try {
      status.topics = await brokerTopics(o);
    } catch {
      // starting up or shutting down: running, but not answering yet
    }
  }
  return status;
}

/** The `key=value` lines of {@link BrokerOptions.extraProperties}. */
function extraPropertiesText(props: Record<string, string>): string {
  const lines = ['', '# extraProperties (BrokerOptions): later keys override the template above'];
  for (const [key, value] of Object.entries(props)) {
    if (/[\r\n]/.test(key + value) || !/^[\w.-]+$/.test(key)) throw new Error(`broker property ${JSON.stringify(key)}: a key is letters, digits, '.', '-' and '_', and no value may span lines`);
    lines.push(`${key}=${value.replaceAll('\\', '\\\\')}`);
  }
  return `${lines.join('\n')}\n`;
}

/** A SCRAM login to store on the broker. */
export interface ScramUser {
  mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
  username: string;
  password: string;
}

/**
 * Creates (or updates) SCRAM users on a running broker with Kafka's own `kafka-configs` tool
 * (`kafka.admin.ConfigCommand`), over the PLAINTEXT listener. The password is an argument of that
 * tool (visible in the process list while it runs): meant for test and development users.
 *
 * @example await addScramUsers(brokerOptions(), [{ mechanism: 'SCRAM-SHA-256', username: 'alice', password: 'alice-secret' }]);
 */
export async function addScramUsers(o: BrokerOptions, users: readonly ScramUser[]): Promise<void> {
  for (const u of users) {
    if (!/^[\w.@-]+$/.test(u.username)) throw new Error(`SCRAM user name ${JSON.stringify(u.username)}: letters, digits and . @ - _ only`);
    if (/[,\[\]=\s]/.test(u.password)) throw new Error(`the SCRAM password of ${u.username} may not contain , [ ] = or spaces (kafka-configs syntax)`);
    try {
      await execFileAsync(
        'java',
        ['-Xmx256m', '-cp', javaClasspath(o), ...log4jArgs(o), 'kafka.admin.ConfigCommand', '--bootstrap-server', `127.0.0.1:${o.port}`, '--alter', '--add-config', `${u.mechanism}=[iterations=4096,password=${u.password}]`, '--entity-type', 'users', '--entity-name', u.username],
        { timeout: 120_000 },
      );
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      // The message would hold the command line and its password: say what failed, not how.
      throw new Error(`creating the SCRAM user ${u.username} (${u.mechanism}) with kafka-configs failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    }
  }
}
