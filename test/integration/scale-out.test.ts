// Scale-out on real Kafka and Mosquitto: the same input gives the same aggregates through one
// processor and through three.
//
// One deterministic scenario is published once through Mosquitto to two gateways that share
// their pseudonym keys through the keyring, into input topics with 3 partitions. It is processed
// (b) live, by three processor processes sharing a consumer group (one input partition each,
// one of them releasing), and (a) afterwards, from the retained input, by one processor alone
// in a fresh group. The two runs' aggregate records — every environmental figure, every noised
// person-derived figure, every privacy record with its ε — must be identical, and none of the
// streams empty. Everything lives under a run-specific topic prefix, share group and consumer
// groups, so nothing here touches the other suites' topics or sessions.
import { randomBytes } from 'node:crypto';
import { CONSUMER_TIMEOUTS, createKafka, type Admin } from '@lethe/kafka';
import { createLogger } from '@lethe/observability';
import { loadPolicy, partialSeries } from '@lethe/privacy';
import {
  DEFAULT_FLEET_PATH,
  loadFleet,
  parseSightings,
  topicNames,
  type AggregateRecord,
  type LamppostReadingInput,
  type TrafficLightReadingInput,
} from '@lethe/schemas';
import { createCity, createFleetPublisher, loadScenario, runSimulation, type SimulatedReading } from '@lethe/simulator';
import { connectAsync } from 'mqtt';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { policyCopy, shortWindows } from '../support/policy-copy.ts';
import { startService, type RunningService } from '../support/services.ts';
import { gatewayTokensFile } from '../../services/keyring/src/gateway-tokens.ts';
import { sleep, waitFor } from '../support/wait.ts';
import { counter, samples, scrape } from '../support/prom-text.ts';
import {
  countByStream,
  readAggregates as readAggregatesOf,
  releasedUpTo as releasedUpToOf,
  windowsOfData,
  type Deployment,
} from '../support/released-aggregates.ts';

const infra = inject('infra');
const RUN = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const PREFIX = `scale-${RUN}.`;
const INPUT = topicNames(PREFIX);
const WINDOW_SECONDS = 5;
const EPOCH_SECONDS = 20;
const TICKS = 20;
const NOISE_KEY = randomBytes(32).toString('hex');
const KEYRING_TOKEN = randomBytes(24).toString('hex');
const GATEWAY_CLIENT_IDS = [`scale-${RUN}-a`, `scale-${RUN}-b`];
const MQTT_CONNECTIONS = 2;
const logger = createLogger({ service: 'scale-out-test', level: 'warn' });

/** The shipped policy with 5 s windows and 20 s epochs, so windows, trips and dwell times all close within the test. */
function testPolicyFile(): string {
  return policyCopy((doc) => {
    shortWindows(doc, `${WINDOW_SECONDS}s`, `${EPOCH_SECONDS}s`);
  });
}

const policyFile = testPolicyFile();
const policy = loadPolicy(policyFile);
const floorTo = (ts: number, seconds: number) => Math.floor(ts / (seconds * 1000)) * seconds * 1000;

/** One processor deployment: its own consumer groups and output topics, reading the shared input topics. */
function processorEnv(name: string): Record<string, string> {
  return {
    KAFKA_BROKERS: infra.kafkaBrokers.join(','),
    POLICY_FILE: policyFile,
    KAFKA_GROUP_ID: `scale-${RUN}-${name}`,
    KAFKA_INPUT_TOPIC_PREFIX: PREFIX,
    KAFKA_TOPIC_PREFIX: `${PREFIX}${name}.`,
    KAFKA_PARTITIONS: '3',
    NOISE_KEY,
    // Lateness must not depend on timing: the figures of a live run, a replay and a run with a
    // processor killed mid-stream are compared figure for figure. A 2 s max wait closed windows by
    // the clock whenever a processor stalled 2 s (CPU starved on 2 cores while the survivors
    // rebalance and replay), dropping the readings and sightings it had not yet fetched as late:
    // 2 of 1,595 dwell figures differed in one CI run. The service's defaults are 5 s and 60 s.
    WINDOW_GRACE_SECONDS: '5',
    WINDOW_MAX_WAIT_SECONDS: '15',
    TICK_MS: '200',
  };
}

/** A processor deployment of this test, as the shared readers know it. */
const deployment = (name: string): Deployment => ({ name, brokers: infra.kafkaBrokers, groupId: `scale-${RUN}-${name}`, topicPrefix: `${PREFIX}${name}.` });
const releasedUpTo = (admin: Admin, name: string) => releasedUpToOf(admin, deployment(name));
const readAggregates = (admin: Admin, name: string) => readAggregatesOf(admin, deployment(name));

describe('scale-out: one processor and three give identical aggregates', () => {
  const services: RunningService[] = [];
  const three: RunningService[] = [];
  /** The single processor: a replay in the first test, live from then on. */
  let one: RunningService | undefined;
  const gateways: RunningService[] = [];
  const published: SimulatedReading[] = [];
  const kafka = createKafka({ brokers: infra.kafkaBrokers, clientId: 'scale-out-test', logger });
  const admin = kafka.admin();

  beforeAll(async () => {
    await admin.connect();
    // Each gateway its own token; the budgets follow this run's fleet rate (a reading per device every 1 s).
    const keyring = await startService('keyring', {
      KEYRING_GATEWAY_TOKENS: gatewayTokensFile(Object.fromEntries(GATEWAY_CLIENT_IDS.map((id) => [id, `${KEYRING_TOKEN}-${id}`]))),
      KEYRING_READING_INTERVAL_SECONDS: '1',
      POLICY_FILE: policyFile,
      KAFKA_BROKERS: infra.kafkaBrokers.join(','),
      KAFKA_TOPIC_PREFIX: PREFIX,
    });
    services.push(keyring);
    for (const clientId of GATEWAY_CLIENT_IDS) {
      const gateway = await startService('gateway', {
        KAFKA_BROKERS: infra.kafkaBrokers.join(','),
        POLICY_FILE: policyFile,
        KAFKA_TOPIC_PREFIX: PREFIX,
        KAFKA_PARTITIONS: '3',
        MQTT_URL: infra.mqttUrl,
        MQTT_USERNAME: 'lethe-gateway',
        MQTT_PASSWORD: infra.gatewayPassword,
        // Own client ids and share group: this run's sessions never take another suite's messages.
        MQTT_CLIENT_ID: clientId,
        MQTT_SHARE_GROUP: `scale-${RUN}`,
        MQTT_CONNECTIONS: String(MQTT_CONNECTIONS),
        KEYRING_URL: `http://127.0.0.1:${keyring.port}`,
        KEYRING_TOKEN: `${KEYRING_TOKEN}-${clientId}`,
      });
      services.push(gateway);
      gateways.push(gateway);
    }
    const started = await Promise.all([0, 1, 2].map(() => startService('processor', processorEnv('three'))));
    services.push(...started);
    three.push(...started);
    // Three members, one readings and one sightings partition each, before anything is published.
    const owns = async (p: RunningService, topic: string) =>
      samples(await scrape(`http://127.0.0.1:${p.port}`), 'lethe_processor_input_partitions').some((m) => m.labels.topic === topic && m.value === 1);
    const settled = async () => (await Promise.all(three.map(async (p) => (await owns(p, INPUT.readings)) && (await owns(p, INPUT.sightings))))).every(Boolean);
    await waitFor('the three processors to share the input partitions', settled, 60_000);
    await sleep(2_000);
    expect(await settled(), 'the group is stable').toBe(true);
  });

  afterAll(async () => {
    for (const s of services.reverse()) await s.stop();
    // The gateways' persistent MQTT sessions, and this run's topics and groups, go with the run.
    for (const prefix of GATEWAY_CLIENT_IDS) {
      for (let i = 0; i < MQTT_CONNECTIONS; i++) {
        const client = await connectAsync(infra.mqttUrl, {
          clientId: `${prefix}-${i}`,
          username: 'lethe-gateway',
          password: infra.gatewayPassword,
          clean: true,
          protocolVersion: 4,
          reconnectPeriod: 0,
        });
        await client.endAsync();
      }
    }
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(PREFIX));
    if (topics.length > 0) await admin.deleteTopics({ topics });
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(`scale-${RUN}-`));
    if (groups.length > 0) await admin.deleteGroups(groups).catch(() => undefined);
    await admin.disconnect();
  });

  it('publishes a scenario once and releases the same records through 3 processor instances live and 1 afterwards', async () => {
    const fleet = loadFleet(DEFAULT_FLEET_PATH);
    expect((await admin.fetchTopicMetadata({ topics: [INPUT.readings, INPUT.sightings] })).topics.map((t) => t.partitions.length)).toEqual([3, 3]);

    // 1. The scenario, once: each 1 s tick carries 5 s of traffic, cars drive 100× faster (trips within an epoch).
    const city = createCity({ devices: fleet.devices, scenario: loadScenario('rush-hour'), seed: 'scale-out', tickSeconds: 5, travelTimeScale: 0.01 });
    const publisher = createFleetPublisher({ url: infra.mqttUrl, fleetSecret: infra.fleetSecret, clientIdPrefix: `scale-${RUN}` });
    // Start just after an epoch boundary, so the scenario's trips and dwell times fall in one epoch.
    await sleep(EPOCH_SECONDS * 1000 - (Date.now() % (EPOCH_SECONDS * 1000)) + 200);
    const summary = await runSimulation({ city, publisher, tickSeconds: 1, ticks: TICKS, onPublished: (r) => published.push(r) });
    await publisher.close();
    expect(summary.failed).toBe(0);
    expect(published).toHaveLength(TICKS * fleet.devices.length);

    // Both gateways took part, and shared keys: one pseudonym per phone or plate per epoch, whichever gateway saw it.
    for (const g of gateways) expect(counter(await scrape(`http://127.0.0.1:${g.port}`), 'lethe_gateway_messages_forwarded_total'), g.name).toBeGreaterThan(0);
    const lastTs = Math.max(...published.map((r) => Date.parse((r.payload as { ts: string }).ts)));
    const firstTs = Math.min(...published.map((r) => Date.parse((r.payload as { ts: string }).ts)));
    const identifiers = new Map<string, Set<string>>();
    for (const r of published) {
      const p = r.payload as Partial<LamppostReadingInput & TrafficLightReadingInput>;
      const epoch = floorTo(Date.parse(p.ts!), EPOCH_SECONDS);
      for (const probe of p.wifiProbes ?? [])
        (identifiers.get(`wifi|${epoch}`) ?? identifiers.set(`wifi|${epoch}`, new Set()).get(`wifi|${epoch}`)!).add(probe.mac.toUpperCase());
      for (const read of p.plateReads ?? [])
        (identifiers.get(`plate|${epoch}`) ?? identifiers.set(`plate|${epoch}`, new Set()).get(`plate|${epoch}`)!).add(read.plate.replaceAll(' ', ''));
    }

    // 2. (b) Three processors, live. Done once every series is released past the data (dwell: past its epoch).
    const lastEnd = (size: number) => floorTo(lastTs, size / 1000) + size;
    const expectedUpTo = Object.fromEntries(partialSeries(policy).map((s) => [s.id, lastEnd(s.size)]));
    const done = (name: string) => async () => {
      const upTo = await releasedUpTo(admin, name);
      return Object.entries(expectedUpTo).every(([series, end]) => (upTo[series] ?? 0) >= end);
    };
    await waitFor('the three processors to release every window', done('three'), 120_000);
    const working = await Promise.all(
      three.map(async (p) => counter(await scrape(`http://127.0.0.1:${p.port}`), 'lethe_processor_records_total', { outcome: 'accepted' })),
    );
    expect(
      working.every((n) => n > 0),
      `records accepted per processor: ${working.join(', ')}`,
    ).toBe(true);
    const releasing = await Promise.all(
      three.map(async (p) => samples(await scrape(`http://127.0.0.1:${p.port}`), 'lethe_processor_releaser_active')[0]?.value ?? 0),
    );
    expect(
      releasing.reduce((a, b) => a + b, 0),
      'one releaser active, two standing by',
    ).toBe(1);

    // 3. (a) One processor, afterwards, from the input Kafka retained.
    one = await startService('processor', processorEnv('one'));
    services.push(one);
    await waitFor('the single processor to release every window', done('one'), 120_000);

    // 4. The same records, key by key, over the windows of the data. Every window is released
    // whether or not it had data (P9), so the live run, started before the data and running
    // after it, also released empty windows the replay never saw; and ε spent today counts from
    // each releaser's first window (the replay's releases are replays of the live run's, which
    // the release ledger lets it make under the same key at no cost), so it is left out.
    const inData = (records: Map<string, AggregateRecord>) => windowsOfData(records, floorTo(firstTs, EPOCH_SECONDS), Math.max(...Object.values(expectedUpTo)));
    const [a, b] = [inData(await readAggregates(admin, 'one')), inData(await readAggregates(admin, 'three'))];
    const byStream = countByStream;
    const counts = byStream(a);
    console.log(
      `scale-out: ${a.size} aggregate records from 1 processor, ${b.size} from 3; per stream (1 vs 3): ` +
        [...new Set([...counts.keys(), ...byStream(b).keys()])]
          .sort()
          .map((s) => `${s} ${counts.get(s) ?? 0}/${byStream(b).get(s) ?? 0}`)
          .join(', '),
    );
    expect(new Map([...b].sort()), 'aggregates of 3 processors vs 1').toEqual(new Map([...a].sort()));
    for (const stream of ['lamppost', 'traffic_light', 'sewer', 'pedestrians', 'vehicles', 'travel_times', 'dwell', 'traffic_light.vehicle_count_sum']) {
      expect(counts.get(stream) ?? 0, `released ${stream}`).toBeGreaterThan(0);
    }
    for (const stream of ['pedestrians', 'vehicles', 'travel_times', 'dwell', 'traffic_light.vehicle_count_sum']) {
      expect(counts.get(`privacy:${stream}`) ?? 0, `privacy records of ${stream}`).toBeGreaterThan(0);
    }

    // Shared keys: no identifier got two pseudonyms in one epoch (separate keys would give it one per gateway).
    const sightings = createKafka({ brokers: infra.kafkaBrokers, clientId: 'scale-out-reader', logger }).consumer({
      groupId: `scale-${RUN}-reader-sightings`,
      allowAutoTopicCreation: false,
    });
    const pseudonyms = new Map<string, Set<string>>();
    const total = (await admin.fetchTopicOffsets(INPUT.sightings)).reduce((n, p) => n + Number(p.high), 0);
    let seen = 0;
    await sightings.connect();
    await sightings.subscribe({ topic: INPUT.sightings, fromBeginning: true });
    await sightings.run({
      eachMessage: async ({ message }) => {
        seen++;
        for (const s of parseSightings(message.value)!) {
          const key = `${s.source}|${floorTo(s.ts, EPOCH_SECONDS)}`;
          (pseudonyms.get(key) ?? pseudonyms.set(key, new Set()).get(key)!).add(s.pseudonym);
        }
      },
    });
    await waitFor('every sighting', () => seen >= total, 30_000);
    await sightings.disconnect();
    expect(new Map([...pseudonyms].map(([k, v]) => [k, v.size]))).toEqual(new Map([...identifiers].map(([k, v]) => [k, v.size])));
  });

  it('hands the release to a standby within seconds when the releasing processor is killed mid-stream, and releases every window', async () => {
    const fleet = loadFleet(DEFAULT_FLEET_PATH);
    const active = async (p: RunningService) =>
      p.process.exitCode === null && p.process.signalCode === null
        ? (samples(await scrape(`http://127.0.0.1:${p.port}`), 'lethe_processor_releaser_active')[0]?.value ?? 0) === 1
        : false;
    const city = createCity({ devices: fleet.devices, scenario: loadScenario('rush-hour'), seed: 'scale-out-failover', tickSeconds: 5, travelTimeScale: 0.01 });
    const publisher = createFleetPublisher({ url: infra.mqttUrl, fleetSecret: infra.fleetSecret, clientIdPrefix: `scale-${RUN}-failover` });
    const sent: SimulatedReading[] = [];
    await sleep(EPOCH_SECONDS * 1000 - (Date.now() % (EPOCH_SECONDS * 1000)) + 200);
    const simulation = runSimulation({ city, publisher, tickSeconds: 1, ticks: TICKS, onPublished: (r) => sent.push(r) });

    // Mid-stream: SIGKILL the processor whose releaser is active (no shutdown, no last commit).
    await sleep((TICKS / 2) * 1000);
    const flags = await Promise.all(three.map(active));
    const victim = three[flags.indexOf(true)];
    expect(victim, 'an active releaser among the three').toBeDefined();
    const upToAtKill = await releasedUpTo(admin, 'three');
    const exited = new Promise((resolve) => victim!.process.once('exit', resolve));
    const killedAt = performance.now();
    victim!.process.kill('SIGKILL');
    await exited;
    const standbys = three.filter((p) => p !== victim);
    // Taken over: a standby's releaser is active, and the released-up-to mark moves past where it was.
    const takeoverMs = await waitFor('a standby releaser to take over', async () => (await Promise.all(standbys.map(active))).some(Boolean), 120_000);
    const advanced = async () => {
      const now = await releasedUpTo(admin, 'three');
      return Object.entries(now).some(([series, end]) => end > (upToAtKill[series] ?? 0));
    };
    await waitFor('the released-up-to mark to move on', advanced, 120_000);
    const resumedMs = performance.now() - killedAt;
    const summary = await simulation;
    await publisher.close();
    expect(summary.failed).toBe(0);

    // Every window of this data released by the two survivors, and by the single processor, which has run live since.
    const lastTs = Math.max(...sent.map((r) => Date.parse((r.payload as { ts: string }).ts)));
    const firstTs = Math.min(...sent.map((r) => Date.parse((r.payload as { ts: string }).ts)));
    const lastEnd = (size: number) => floorTo(lastTs, size / 1000) + size;
    const expectedUpTo = Object.fromEntries(partialSeries(policy).map((s) => [s.id, lastEnd(s.size)]));
    for (const name of ['three', 'one']) {
      const released = async () => {
        const upTo = await releasedUpTo(admin, name);
        return Object.entries(expectedUpTo).every(([series, end]) => (upTo[series] ?? 0) >= end);
      };
      await waitFor(`${name} to release every window of the data`, released, 180_000);
    }
    const inData = (records: Map<string, AggregateRecord>) => windowsOfData(records, floorTo(firstTs, EPOCH_SECONDS), Math.max(...Object.values(expectedUpTo)));
    // readAggregates also fails on a record released twice with different values.
    const [a, b] = [inData(await readAggregates(admin, 'one')), inData(await readAggregates(admin, 'three'))];
    console.log(
      `releaser failover: the active releaser SIGKILLed mid-stream; a standby active after ${(takeoverMs / 1000).toFixed(1)} s, ` +
        `releases moving again after ${(resumedMs / 1000).toFixed(1)} s (consumer session timeout ${CONSUMER_TIMEOUTS.sessionTimeout / 1000} s); ` +
        `${b.size} aggregate records of the data, ${a.size} from the single processor`,
    );
    expect(a.size).toBeGreaterThan(0);
    // Every window of every stream released by the survivors, as by the single processor: the
    // privacy record each release writes, key by key.
    const releases = (records: Map<string, AggregateRecord>) => [...records.keys()].filter((k) => k.startsWith('privacy|')).sort();
    expect(releases(b), 'windows released with the releaser killed vs one processor').toEqual(releases(a));
    // Figure for figure, as the single processor: no window or dwell epoch open at the kill is
    // computed from part of its data. Readings dropped as late are counted exactly (sightings only
    // in blocks of 1000): on a failure they tell whether a stall closed windows early.
    const late = async (p: RunningService) =>
      counter(await scrape(`http://127.0.0.1:${p.port}`), 'lethe_processor_records_total', { topic: INPUT.readings, outcome: 'late' });
    const differ = [...a].filter(([k, r]) => JSON.stringify(b.get(k)) !== JSON.stringify(r)).map(([k]) => k);
    expect(
      differ,
      `records that differ from the single processor's (late readings: one ${await late(one!)}, survivors ${(await Promise.all(standbys.map(late))).join(', ')})`,
    ).toEqual([]);
    // The bound the docs state: the consumer session timeout plus a rebalance, within a minute on a slow machine.
    expect(resumedMs, 'releases moving again after the kill').toBeLessThan(60_000);
  });
});
