import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { kafkaCommand } from '../kernel-lib/src/cli/kafka.js';
import { brokerOptions, brokerStatus, startBroker, stopBroker, type BrokerOptions } from '../kernel-lib/src/source/kafka/broker.js';
import { createKafkaClient } from '../kernel-lib/src/source/kafka/client.js';
import { tempDir } from './helpers.js';
import { freePorts } from './kafka-secure-helpers.js';
import { BOOTSTRAP, deleteTopics, ensureBroker, uniqueTopic } from './kafka-helpers.js';

describe('the default local broker', () => {
  it('starts idempotently and reports its status', async () => {
    await ensureBroker();
    const again = await startBroker(brokerOptions());
    assert.equal(again.alreadyRunning, true);
    const status = await brokerStatus();
    assert.equal(status.running, true);
    assert.ok(status.pid && status.pid > 0);
    const o = brokerOptions();
    assert.deepEqual(status.ports, { plaintext: o.port, outside: o.outsidePort, controller: o.controllerPort });
    assert.equal(status.topics?.winlogbeat, 3, 'topic winlogbeat has 3 partitions');
    assert.equal(await kafkaCommand(['status']), 0);
  });

  it('answers on the OUTSIDE listener (9094) as well as PLAINTEXT (9092)', async () => {
    await ensureBroker();
    const topic = uniqueTopic('outside');
    const inside = createKafkaClient(BOOTSTRAP);
    const outside = createKafkaClient(`127.0.0.1:${brokerOptions().outsidePort}`, { kind: 'kafkajs' });
    try {
      assert.equal(await inside.createTopic(topic, { partitions: 1 }), true);
      assert.equal(await inside.createTopic(topic, { partitions: 1 }), false, 'creating an existing topic is a no-op');
      await outside.produce(topic, [{ value: 'a' }, { value: 'b' }]);
      assert.deepEqual([...(await inside.endOffsets(topic))], [[0, 2]]);
    } finally {
      await inside.close();
      await outside.close();
      await deleteTopics([topic]);
    }
  });
});

describe('a second broker instance', () => {
  // Registered before tempDir's own clean-up, so that a failing test never leaves a JVM whose
  // folder (and pid file) is already gone.
  const started: { options?: BrokerOptions } = {};
  after(async () => {
    if (started.options) await stopBroker(started.options, 10_000);
  });
  const home = tempDir('winlake-kafka2-');
  let options: BrokerOptions;
  // Free ports, not fixed ones: another clone's suite may be running the same test on this machine.
  before(async () => {
    const [port, controllerPort, outsidePort] = (await freePorts(3)) as [number, number, number];
    options = started.options = brokerOptions({ port, controllerPort, outsidePort, home, heap: '256m', topics: { events: 2 } });
  });

  it('starts, starts again idempotently, stops and stops again', async () => {
    assert.equal((await brokerStatus(options)).running, false);
    const first = await startBroker(options);
    assert.equal(first.alreadyRunning, false);
    assert.equal(first.running, true);
    assert.deepEqual(first.topics, { events: 2 });
    const second = await startBroker(options);
    assert.equal(second.alreadyRunning, true);
    assert.equal(second.pid, first.pid);
    const stopped = await stopBroker(options, 20_000);
    assert.equal(stopped.wasRunning, true);
    assert.equal(stopped.pid, first.pid);
    assert.equal((await stopBroker(options)).wasRunning, false);
    assert.equal((await brokerStatus(options)).running, false);
    // The default broker is untouched.
    assert.equal((await brokerStatus()).running, true);
  });

  it('refuses to start on a port another program holds', async () => {
    await ensureBroker();
    const [controllerPort, outsidePort] = (await freePorts(2)) as [number, number];
    const clash = brokerOptions({ port: brokerOptions().port, controllerPort, outsidePort, home: tempDir('winlake-kafka3-') });
    await assert.rejects(startBroker(clash), new RegExp(`port ${brokerOptions().port} on 127\\.0\\.0\\.1 is already in use`));
  });
});
