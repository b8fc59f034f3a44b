// The same input through two topologies gives identical aggregates (issue 14): one reading at a
// time is published to both at once, with the same timestamp.
//   one:  1 Mosquitto, 1 gateway, 1 Kafka broker (the shared servers), 1 processor
//   many: 2 Mosquittos with the fleet sharded over them (shardOf), a gateway per shard, a
//         three-broker KRaft cluster (RF 3, min ISR 2), 3 processors sharing a consumer group
// All gateways share their keys through one keyring, as a city's would; the processors share the
// noise key. Every released figure of the data's windows — environmental, noised person-derived,
// privacy records — must be the same, and no stream empty. The minimal and the scaled-out stacks
// differ in every dimension at once: MQTT brokers, gateways, Kafka brokers and processors.
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKafka, type Admin } from '@lethe/kafka';
import { createLogger } from '@lethe/observability';
import { loadPolicy, partialSeries } from '@lethe/privacy';
import { DEFAULT_FLEET_PATH, loadFleet, topicNames, type AggregateRecord } from '@lethe/schemas';
import { createCity, createFleetPublisher, loadScenario, runSimulation, shardOf, type FleetPublisher, type SimulatedReading } from '@lethe/simulator';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { gatewayTokensFile } from '../../services/keyring/src/gateway-tokens.ts';
import { startKafkaCluster, type KafkaCluster } from '../support/kafka-cluster.ts';
import { startNativeServers, type NativeServers } from '../support/native-servers.ts';
import { policyCopy, shortWindows } from '../support/policy-copy.ts';
import { counter, samples, scrape } from '../support/prom-text.ts';
import { countByStream, readAggregates, releasedUpTo, windowsOfData, type Deployment } from '../support/released-aggregates.ts';
import { freePort, startService, type RunningService } from '../support/services.ts';
import { sleep, waitFor } from '../support/wait.ts';

const infra = inject('infra');
const RUN = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const WINDOW_SECONDS = 5;
const EPOCH_SECONDS = 20;
const TICKS = 20;
const NOISE_KEY = randomBytes(32).toString('hex');
const KEYRING_TOKEN = randomBytes(24).toString('hex');
const logger = createLogger({ service: 'topologies-test', level: 'warn' });
const policyFile = policyCopy((doc) => shortWindows(doc, `${WINDOW_SECONDS}s`, `${EPOCH_SECONDS}s`));
const policy = loadPolicy(policyFile);
const floorTo = (ts: number, seconds: number) => Math.floor(ts / (seconds * 1000)) * seconds * 1000;

describe('one broker, gateway and processor vs. two MQTT shards, three Kafka brokers and three processors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lethe-topologies-'));
  const services: RunningService[] = [];
  const shards: NativeServers[] = [];
  let cluster: KafkaCluster | undefined;
  const gateways: Record<'one' | 'many', RunningService[]> = { one: [], many: [] };
  const processors: RunningService[] = [];
  const deployments: Record<'one' | 'many', Deployment> = {
    one: { name: 'one', brokers: infra.kafkaBrokers, groupId: `topo-${RUN}-one`, topicPrefix: `topo-${RUN}.one.` },
    many: { name: 'many', brokers: [], groupId: `topo-${RUN}-many`, topicPrefix: `topo-${RUN}.many.` },
  };
  const admins: Partial<Record<'one' | 'many', Admin>> = {};
  const gatewayIds = { one: [`topo-${RUN}-one`], many: [`topo-${RUN}-shard-0`, `topo-${RUN}-shard-1`] };

  const gatewayEnv = (d: Deployment, mqttUrl: string, password: string, clientId: string, keyringPort: number) => ({
    KAFKA_BROKERS: d.brokers.join(','),
    POLICY_FILE: policyFile,
    KAFKA_TOPIC_PREFIX: d.topicPrefix,
    KAFKA_PARTITIONS: '3',
    MQTT_URL: mqttUrl,
    MQTT_USERNAME: 'lethe-gateway',
    MQTT_PASSWORD: password,
    MQTT_CLIENT_ID: clientId,
    MQTT_SHARE_GROUP: `topo-${RUN}`,
    MQTT_CONNECTIONS: '2',
    KEYRING_URL: `http://127.0.0.1:${keyringPort}`,
    KEYRING_TOKEN: `${KEYRING_TOKEN}-${clientId}`,
  });
  const processorEnv = (d: Deployment) => ({
    KAFKA_BROKERS: d.brokers.join(','),
    POLICY_FILE: policyFile,
    KAFKA_GROUP_ID: d.groupId,
    KAFKA_INPUT_TOPIC_PREFIX: d.topicPrefix,
    KAFKA_TOPIC_PREFIX: d.topicPrefix,
    KAFKA_PARTITIONS: '3',
    NOISE_KEY,
    // As in scale-out.test.ts: lateness must not depend on timing when figures are compared one for one.
    WINDOW_GRACE_SECONDS: '5',
    WINDOW_MAX_WAIT_SECONDS: '15',
    TICK_MS: '200',
  });

  beforeAll(async () => {
    // The scaled-out stack's servers: three Kafka brokers, two Mosquittos with the same secrets.
    cluster = await startKafkaCluster(join(dir, 'kafka'));
    deployments.many.brokers = cluster.brokers;
    for (let i = 0; i < 2; i++) {
      const localDir = join(dir, `mqtt-${i}`);
      if (i > 0) cpSync(shards[0]!.secretsDir, join(localDir, 'secrets'), { recursive: true });
      shards.push(await startNativeServers({ env: { LETHE_LOCAL_DIR: localDir, LETHE_MQTT_PORT: String(await freePort()) }, services: ['mosquitto'] }));
    }
    for (const name of ['one', 'many'] as const) {
      admins[name] = createKafka({ brokers: [...deployments[name].brokers], clientId: `topo-${RUN}`, logger }).admin();
      await admins[name]!.connect();
    }

    const keyring = await startService('keyring', {
      KEYRING_GATEWAY_TOKENS: gatewayTokensFile(Object.fromEntries([...gatewayIds.one, ...gatewayIds.many].map((id) => [id, `${KEYRING_TOKEN}-${id}`]))),
      KEYRING_READING_INTERVAL_SECONDS: '1',
      POLICY_FILE: policyFile,
    });
    services.push(keyring);
    gateways.one.push(await startService('gateway', gatewayEnv(deployments.one, infra.mqttUrl, infra.gatewayPassword, gatewayIds.one[0]!, keyring.port)));
    for (const [i, shard] of shards.entries()) {
      const env = gatewayEnv(deployments.many, shard.endpoints.MQTT_URL!, shard.secret('mqtt-gateway-password'), gatewayIds.many[i]!, keyring.port);
      gateways.many.push(await startService('gateway', env));
    }
    services.push(...gateways.one, ...gateways.many);
    processors.push(await startService('processor', processorEnv(deployments.one)));
    processors.push(...(await Promise.all([0, 1, 2].map(() => startService('processor', processorEnv(deployments.many))))));
    services.push(...processors);
    // The three share the input partitions before anything is published.
    const input = topicNames(deployments.many.topicPrefix);
    const owns = async (p: RunningService, topic: string) =>
      samples(await scrape(`http://127.0.0.1:${p.port}`), 'lethe_processor_input_partitions').some((m) => m.labels.topic === topic && m.value === 1);
    await waitFor(
      'the three processors to share the input partitions',
      async () => (await Promise.all(processors.slice(1).map(async (p) => (await owns(p, input.readings)) && (await owns(p, input.sightings))))).every(Boolean),
      120_000,
    );
  }, 600_000);

  afterAll(async () => {
    for (const s of services.reverse()) await s.stop();
    for (const name of ['one', 'many'] as const) {
      const admin = admins[name];
      if (!admin) continue;
      if (name === 'one') {
        const topics = (await admin.listTopics()).filter((t) => t.startsWith(deployments.one.topicPrefix));
        if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined);
      }
      await admin.disconnect();
    }
    for (const shard of shards) await shard.down();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 300_000);

  it('releases the same figures through both', async () => {
    const fleet = loadFleet(DEFAULT_FLEET_PATH);
    const city = createCity({ devices: fleet.devices, scenario: loadScenario('rush-hour'), seed: 'topologies', tickSeconds: 5, travelTimeScale: 0.01 });
    const one = createFleetPublisher({ url: infra.mqttUrl, fleetSecret: infra.fleetSecret, clientIdPrefix: `topo-${RUN}` });
    const many = createFleetPublisher({
      url: shards.map((s) => s.endpoints.MQTT_URL!),
      fleetSecret: shards[0]!.secret('fleet-secret'),
      clientIdPrefix: `topo-${RUN}`,
    });
    // Each reading to both stacks, the same payload at the same time.
    const both: FleetPublisher = {
      publish: async (deviceId, topic, payload) => void (await Promise.all([one.publish(deviceId, topic, payload), many.publish(deviceId, topic, payload)])),
      close: async () => void (await Promise.all([one.close(), many.close()])),
    };
    const published: SimulatedReading[] = [];
    await sleep(EPOCH_SECONDS * 1000 - (Date.now() % (EPOCH_SECONDS * 1000)) + 200);
    const summary = await runSimulation({ city, publisher: both, tickSeconds: 1, ticks: TICKS, onPublished: (r) => published.push(r) });
    await both.close();
    expect(summary.failed).toBe(0);
    expect(published).toHaveLength(TICKS * fleet.devices.length);

    // Each shard's gateway forwarded its own devices' readings, and only those.
    const perShard = [0, 1].map((s) => fleet.devices.filter((d) => shardOf(d.id, 2) === s).length * TICKS);
    const forwarded = async (g: RunningService) => counter(await scrape(`http://127.0.0.1:${g.port}`), 'lethe_gateway_messages_forwarded_total');
    const expected = [TICKS * fleet.devices.length, ...perShard];
    const all = [gateways.one[0]!, ...gateways.many];
    await waitFor(
      'every gateway to forward what its broker acknowledged',
      async () => (await Promise.all(all.map(forwarded))).every((n, i) => n >= expected[i]!),
      60_000,
    );
    expect(await Promise.all(all.map(forwarded)), 'readings forwarded by the gateway of one, of shard 0, of shard 1').toEqual(expected);

    const stamps = published.map((r) => Date.parse((r.payload as { ts: string }).ts));
    const [firstTs, lastTs] = [Math.min(...stamps), Math.max(...stamps)];
    const expectedUpTo = Object.fromEntries(partialSeries(policy).map((s) => [s.id, floorTo(lastTs, s.size / 1000) + s.size]));
    for (const name of ['one', 'many'] as const) {
      await waitFor(
        `the ${name} stack to release every window`,
        async () => {
          const upTo = await releasedUpTo(admins[name]!, deployments[name]);
          return Object.entries(expectedUpTo).every(([series, end]) => (upTo[series] ?? 0) >= end);
        },
        180_000,
      );
    }

    const inData = (records: Map<string, AggregateRecord>) => windowsOfData(records, floorTo(firstTs, EPOCH_SECONDS), Math.max(...Object.values(expectedUpTo)));
    const a = inData(await readAggregates(admins.one!, deployments.one));
    const b = inData(await readAggregates(admins.many!, deployments.many));
    const [ca, cb] = [countByStream(a), countByStream(b)];
    console.log(
      `topologies: ${a.size} aggregate records (one) vs ${b.size} (many); per stream: ` +
        [...new Set([...ca.keys(), ...cb.keys()])]
          .sort()
          .map((s) => `${s} ${ca.get(s) ?? 0}/${cb.get(s) ?? 0}`)
          .join(', '),
    );
    expect(new Map([...b].sort()), 'aggregates of the scaled-out stack vs the minimal one').toEqual(new Map([...a].sort()));
    for (const stream of ['lamppost', 'traffic_light', 'sewer', 'pedestrians', 'vehicles', 'travel_times', 'dwell', 'traffic_light.vehicle_count_sum']) {
      expect(ca.get(stream) ?? 0, `released ${stream}`).toBeGreaterThan(0);
    }
  }, 600_000);
});
