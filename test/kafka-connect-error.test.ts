/**
 * A broker that cannot be reached is one line naming host:port and what to check, from both Kafka
 * clients and from the CLI (no broker is started: the port is one nothing listens on).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { createKafkaClient } from '../kernel-lib/src/source/kafka/client.js';
import { KafkaConnectionError } from '../kernel-lib/src/source/kafka/connect-error.js';

const execFileAsync = promisify(execFile);

/** A port that was free a moment ago (bound by the OS, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

for (const kind of ['platformatic', 'kafkajs'] as const) {
  test(`${kind}: an unreachable broker is one line naming host:port and the settings to check`, async () => {
    const port = await closedPort();
    const client = createKafkaClient(`127.0.0.1:${port}`, { kind, timeoutMs: 3000 });
    try {
      const err = await client.endOffsets('winlogbeat').then(
        () => assert.fail('endOffsets on a closed port resolved'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof KafkaConnectionError, `got ${String(err)}`);
      assert.equal(err.message.split('\n').length, 1);
      assert.equal(err.stack, `KafkaConnectionError: ${err.message}`);
      assert.match(err.message, new RegExp(`^cannot connect to Kafka at 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\): is the broker running`));
      assert.match(err.message, /WINLAKE_KAFKA_PORT.*WINLAKE_KAFKA_OUTSIDE_PORT/);
    } finally {
      await client.close();
    }
  });
}

test('winlake produce to an unreachable broker: one stderr line, exit 1', async () => {
  const port = await closedPort();
  const bin = path.resolve(import.meta.dirname, '..', 'kernel-lib', 'bin', 'winlake.js');
  const run = await execFileAsync(process.execPath, [bin, 'produce', '--simulate', '--count', '5', '--brokers', `127.0.0.1:${port}`], { timeout: 120_000 }).then(
    () => assert.fail('produce to a closed port succeeded'),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
  assert.equal(run.code, 1);
  const lines = run.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, run.stderr);
  assert.match(lines[0]!, new RegExp(`^winlake: cannot connect to Kafka at 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`));
});
