// P1 — no raw identifier is ever durable. The devices publish, through Mosquitto with their
// own credentials, readings whose every MAC, plate, SSID and image reference is a canary
// (test/support/canaries.ts), plus canaries in fields the schemas do not know and in a batch of
// messages the pipeline must refuse or Mosquitto must deny. Gateway, processor and writer run
// as real processes at their most verbose log level. Once the aggregates of the last window
// are in InfluxDB, every place the data went is searched for every canary in every spelling:
// each Kafka broker's log directories (all topics, __consumer_offsets included), InfluxDB's
// files and a query of every row, Mosquitto's persistence and config, the servers' own logs, the
// services' output and /metrics. The figures are printed; the test also proves it is not vacuous
// (the canaries were delivered and counted all the way) and that the search finds planted
// canaries: in a file, and, written to a Kafka topic, in every broker's log directories.
// It runs twice: on the shared broker (project `privacy`) and on a three-broker KRaft cluster
// (project `privacy-cluster`), where the services' topics must have 3 replicas and
// min.insync.replicas 2, and each broker's copy is searched on its own (a replica is a copy).
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes, randomInt } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InfluxDB } from '@influxdata/influxdb-client';
import { devicePassword } from '@lethe/config';
import { createKafka, ensureTopics, PRODUCER_OPTIONS } from '@lethe/kafka';
import { createLogger, PRESENCE_BLOCK } from '@lethe/observability';
import {
  DEFAULT_FLEET_PATH,
  loadFleet,
  parseSightings,
  readingTopic,
  TOPICS,
  type DeviceKind,
  type LamppostReadingInput,
  type RejectReason,
  type TrafficLightReadingInput,
} from '@lethe/schemas';
import { DEFAULT_POLICY_PATH, loadPolicy, topicSpecs } from '@lethe/privacy';
import { createCity, createFleetPublisher, loadScenario, type SimulatedReading } from '@lethe/simulator';
import { connectAsync } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lamppostReading } from '../bad-input/catalogue.ts';
import { createCanaries, createCanaryMatcher, filesUnder, searchFiles, searchText, type Canaries, type PlaceReport } from '../support/canaries.ts';
import type { TestInfra } from '../support/global-setup.ts';
import type { RunningService } from '../support/services.ts';
import { waitFor } from '../support/wait.ts';
import { partitionDirs } from './kafka-log-segments.ts';
import { everyCopy, kafkaUnderTest, type KafkaUnderTest } from './kafka-under-test.ts';
import { counter as metric } from '../support/prom-text.ts';
import { dumpTopic } from '../faults/topic-dump.ts';
import { policyCopy, shortWindows } from '../support/policy-copy.ts';
import { startPipeline } from '../support/pipeline.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const LOCAL_DIR = process.env.LETHE_LOCAL_DIR ?? join(ROOT, '.local');
const silent = createLogger({ service: 'test', level: 'silent' });

const WINDOW_SECONDS = 5;
/** Pseudonym epoch of the test policy: keys rotate during the run, as in production. */
const EPOCH_SECONDS = 10;
/** Ticks of the city (1 s apart): every device publishes once per tick. */
const TICKS = 8;
/** Canaries added to each reading on top of the city's own (renamed) people and cars, so each kind reaches well over 1,000. */
const FRESH_MACS_PER_READING = 3;
const FRESH_PLATES_PER_READING = 5;
/** Every tenth valid reading also carries canaries in fields no schema knows (they must be stripped). */
const UNKNOWN_FIELD_EVERY = 10;
/** Rounds of the invalid-message batch, each with fresh canaries. */
const INVALID_ROUNDS = 5;
const LOG_LEVEL = 'trace';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The shipped policy with short windows and epochs, so the run sees them close in seconds. */
const testPolicyFile = () =>
  policyCopy((doc) => {
    shortWindows(doc, `${WINDOW_SECONDS}s`, `${EPOCH_SECONDS}s`);
  });

async function scrape(service: RunningService): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${service.port}/metrics`);
  if (!res.ok) throw new Error(`${service.name} /metrics answered ${res.status}`);
  return res.text();
}

/** Where each canary went in: category → distinct canaries. */
type Ledger = Map<string, Set<string>>;
const note = (ledger: Ledger, category: string, canary: string) => {
  let set = ledger.get(category);
  if (!set) ledger.set(category, (set = new Set()));
  set.add(canary);
  return canary;
};

/** A message the gateway must refuse (with this reason), or Mosquitto must deny (ACL). */
interface InvalidMessage {
  what: string;
  deviceId: string;
  topic: string;
  /** JSON-serialized by the publisher, or sent as these raw bytes. */
  payload: unknown;
  raw?: boolean;
  expect: RejectReason | 'ACL_DENIED';
}

/**
 * Makes Mosquitto write its in-memory state (sessions, queued and in-flight messages) to its
 * persistence file now, instead of at its next autosave or shutdown: SIGUSR1 does exactly that
 * (mosquitto(8)). Only the native broker of LETHE_LOCAL_DIR is signalled, after checking that
 * the pid in its pid file really runs that broker's config.
 */
async function saveMosquittoPersistence(mosquittoDir: string): Promise<string> {
  const conf = join(mosquittoDir, 'mosquitto.conf');
  const pidFile = join(LOCAL_DIR, 'pids/mosquitto.pid');
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  if (!cmdline.includes(conf)) throw new Error(`${pidFile} names pid ${pid}, which is not the Mosquitto of ${conf} (${cmdline})`);
  const db = join(mosquittoDir, 'data/mosquitto.db');
  const before = statSync(db, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  process.kill(pid, 'SIGUSR1');
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(100)) {
    if ((statSync(db, { throwIfNoEntry: false })?.mtimeMs ?? 0) > before) return db;
  }
  throw new Error(`Mosquitto (pid ${pid}) did not rewrite ${db} within 10 s of SIGUSR1`);
}

/**
 * Writes a probe's canaries (a MAC, a plate and a text) to a topic of its own, created as the
 * services create theirs (the cluster's replication, the personal topics' configs), and waits
 * until every broker's log directories hold them: the search of each broker's directories must
 * find them there.
 */
async function plantInKafka(target: KafkaUnderTest, probe: Canaries, topic: string): Promise<void> {
  const { macs, plates, texts } = probe.issued();
  const kafka = createKafka({ brokers: target.infra.kafkaBrokers, clientId: 'p1-plant', logger: silent });
  const admin = kafka.admin();
  const producer = kafka.producer(PRODUCER_OPTIONS);
  await admin.connect();
  await producer.connect();
  try {
    const sightings = topicSpecs(loadPolicy(DEFAULT_POLICY_PATH)).find((s) => s.topic === TOPICS.sightings)!;
    await ensureTopics(admin, [{ ...sightings, topic, numPartitions: 1 }], silent);
    await producer.send({ topic, messages: [{ key: 'planted', value: JSON.stringify({ macs, plates, texts }) }] });
    const matcher = createCanaryMatcher(probe);
    await waitFor(
      `the planted canary in ${topic} on every broker's disk`,
      () => [...target.logDirs.values()].every((dirs) => searchFiles('planted', filesUnder(partitionDirs(dirs, topic)), matcher).hits.length > 0),
      60_000,
    );
  } finally {
    await producer.disconnect();
    await admin.disconnect();
  }
}

describe('P1: no raw identifier is ever durable', () => {
  const run = Date.now();
  const canaries = createCanaries();
  const ledger: Ledger = new Map();
  const services: RunningService[] = [];
  const metricsText = new Map<string, string>();
  const outputs: Array<{ name: string; text: string }> = [];
  let firstPublish = 0;
  let delivered = false;
  const tmp = mkdtempSync(join(tmpdir(), 'lethe-p1-'));
  let target: KafkaUnderTest;
  let infra: TestInfra;

  beforeAll(async () => {
    target = await kafkaUnderTest();
    infra = target.infra;
    const policyFile = testPolicyFile();
    // On a fresh cluster the services create their topics themselves and subscribe at once, while
    // a broker may not know the topics yet (subscribeRetrying, @lethe/kafka, waits for it).
    services.push(...(await startPipeline({ infra, policyFile, groupPrefix: `p1-${run}`, env: { LOG_LEVEL } })).services);
  }, 300_000);

  afterAll(async () => {
    for (const s of [...services].reverse()) await s.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('delivers canary MACs and plates through MQTT, Kafka and the processor into InfluxDB aggregates', async () => {
    const gateway = services.find((s) => s.name === 'gateway')!;
    const fleet = loadFleet(DEFAULT_FLEET_PATH);
    const kafka = createKafka({ brokers: infra.kafkaBrokers, clientId: `p1-${run}`, logger: silent });
    const admin = kafka.admin();
    await admin.connect();
    const endOffsets = async (topic: string) => (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
    const topics = [TOPICS.readings, TOPICS.sightings, TOPICS.rejected];
    const received = (text: string) => metric(text, 'lethe_gateway_messages_received_total');
    /** Messages the gateway finished: counted only after Kafka acknowledged what each became. */
    const handled = (text: string) => metric(text, 'lethe_gateway_messages_forwarded_total') + metric(text, 'lethe_gateway_messages_rejected_total');

    // Counters and offsets from here on, once the gateway is idle: whatever Mosquitto had queued
    // for its persistent sessions while no gateway ran (an earlier run's leftovers) is in by now.
    let gatewayBefore = await scrape(gateway);
    for (const deadline = Date.now() + 15_000; Date.now() < deadline;) {
      await sleep(500);
      const again = await scrape(gateway);
      const settled = received(again) === received(gatewayBefore) && handled(again) === received(again);
      gatewayBefore = again;
      if (settled) break;
    }
    expect(handled(gatewayBefore), 'the gateway is idle before the run').toBe(received(gatewayBefore));
    const offsetsBefore = await Promise.all(topics.map(endOffsets));
    const sightingsBefore = new Map((await admin.fetchTopicOffsets(TOPICS.sightings)).map((p) => [p.partition, BigInt(p.high)]));

    // 1. Valid readings: the city's own, with every person's identifier renamed to a canary
    //    (the same phone or car keeps its canary, so dwell times and trips still happen), fresh
    //    canaries added, and canaries in every free-text field the schemas allow.
    const city = createCity({ devices: fleet.devices, scenario: loadScenario('rush-hour'), seed: `p1-${run}`, tickSeconds: 1, travelTimeScale: 0.01 });
    const publisher = createFleetPublisher({ url: infra.mqttUrl, fleetSecret: infra.fleetSecret, clientIdPrefix: `p1-${run}` });
    const macFor = new Map<string, string>();
    const plateFor = new Map<string, string>();
    const forwarded: Record<DeviceKind, number> = { lamppost: 0, 'traffic-light': 0, sewer: 0 };
    let sightings = 0;
    /** Sighting records to expect: one per identifier, device and slot (the slot is the whole 5 s window here, sighting-time.ts). */
    const sightingRecords = new Set<string>();
    const slotOf = (r: SimulatedReading) => Math.floor(Date.parse((r.payload as { ts: string }).ts) / (WINDOW_SECONDS * 1000));
    let valid = 0;
    const withCanaries = (r: SimulatedReading): SimulatedReading => {
      const payload = { ...r.payload } as Record<string, unknown>;
      if (r.kind === 'lamppost') {
        const p = r.payload as LamppostReadingInput;
        const probes = (p.wifiProbes ?? []).map((probe) => {
          let mac = macFor.get(probe.mac);
          if (!mac) macFor.set(probe.mac, (mac = canaries.mac()));
          return {
            ...probe,
            mac: note(ledger, 'wifiProbes.mac', mac),
            ...(probe.ssids ? { ssids: probe.ssids.map(() => note(ledger, 'wifiProbes.ssids', canaries.text('S'))) } : {}),
          };
        });
        for (let i = 0; i < FRESH_MACS_PER_READING; i++) {
          probes.push({
            mac: note(ledger, 'wifiProbes.mac', canaries.mac()),
            rssi: randomInt(-95, -40),
            ssids: [note(ledger, 'wifiProbes.ssids', canaries.text('S'))],
          });
        }
        payload.wifiProbes = probes;
        sightings += probes.length;
        for (const probe of probes) sightingRecords.add(`${r.deviceId}|${probe.mac}|${slotOf(r)}`);
      } else if (r.kind === 'traffic-light') {
        const p = r.payload as TrafficLightReadingInput;
        const reads = (p.plateReads ?? []).map((read) => {
          let plate = plateFor.get(read.plate);
          if (!plate) plateFor.set(read.plate, (plate = canaries.plate()));
          return {
            ...read,
            plate: note(ledger, 'plateReads.plate', plate),
            imageRef: `cam/${r.deviceId}/${note(ledger, 'plateReads.imageRef', canaries.text('I'))}.jpg`,
          };
        });
        for (let i = 0; i < FRESH_PLATES_PER_READING; i++) {
          reads.push({
            plate: note(ledger, 'plateReads.plate', canaries.plate()),
            speedKmh: randomInt(20, 70),
            imageRef: `cam/${r.deviceId}/${note(ledger, 'plateReads.imageRef', canaries.text('I'))}.jpg`,
          });
        }
        payload.plateReads = reads;
        sightings += reads.length;
        for (const read of reads) sightingRecords.add(`${r.deviceId}|${read.plate}|${slotOf(r)}`);
      }
      if (++valid % UNKNOWN_FIELD_EVERY === 0) {
        // Default deny: fields no schema names are stripped at the gateway, whatever they hold.
        payload.operatorNote = {
          mac: note(ledger, 'unknown fields', canaries.mac()),
          plate: note(ledger, 'unknown fields', canaries.plate()),
          text: note(ledger, 'unknown fields', canaries.text('U')),
        };
      }
      forwarded[r.kind]++;
      return { ...r, payload: payload as SimulatedReading['payload'] };
    };
    firstPublish = Date.now();
    let lastTs = 0;
    for (let tick = 0; tick < TICKS; tick++) {
      const started = Date.now();
      const readings = city.tick(new Date()).map(withCanaries);
      // QoS 1: each resolves on Mosquitto's PUBACK; a rejection fails the test.
      await Promise.all(readings.map((r) => publisher.publish(r.deviceId, r.topic, r.payload)));
      lastTs = Math.max(lastTs, ...readings.map((r) => Date.parse((r.payload as { ts: string }).ts)));
      await sleep(1000 - (Date.now() - started));
    }

    // 2. Messages that must never get past the gateway (refused, with a redacted excerpt) or
    //    past Mosquitto (denied by the ACL, though still acknowledged). An unknown device cannot
    //    reach the gateway at all (Mosquitto only knows the fleet's users), so unknown device ids
    //    come as a payload's deviceId and as a topic another device is denied.
    const invalid: InvalidMessage[] = [];
    const now = Date.now();
    const iso = (ms: number) => new Date(ms).toISOString();
    const rejected = (what: string) => (text: string) => note(ledger, `rejected: ${what}`, text);
    const lamppost = (deviceId: string, ts: number, macs: string[]) => lamppostReading(deviceId, 100_000 + invalid.length, ts, macs);
    for (let round = 0; round < INVALID_ROUNDS; round++) {
      const mac = (what: string) => rejected(what)(canaries.mac());
      const plate = (what: string) => rejected(what)(canaries.plate());
      const text = (what: string) => rejected(what)(canaries.text('R'));
      const lp = readingTopic('lamppost', 'LP-0001');
      invalid.push(
        {
          what: 'MAC in a number field',
          deviceId: 'LP-0001',
          topic: lp,
          payload: { ...lamppost('LP-0001', now, [mac('schema')]), pm25: mac('schema') },
          expect: 'SCHEMA_VIOLATION',
        },
        {
          what: 'MAC with dashes',
          deviceId: 'LP-0001',
          topic: lp,
          payload: lamppost('LP-0001', now, [mac('schema').replaceAll(':', '-')]),
          expect: 'SCHEMA_VIOLATION',
        },
        {
          what: 'MAC as a JSON key',
          deviceId: 'LP-0001',
          topic: lp,
          payload: { deviceId: 'LP-0001', [mac('schema')]: { plate: plate('schema') } },
          expect: 'SCHEMA_VIOLATION',
        },
        {
          what: 'SSID too long',
          deviceId: 'LP-0001',
          topic: lp,
          payload: { ...lamppost('LP-0001', now, []), wifiProbes: [{ mac: mac('schema'), ssids: [`${text('schema')}-${'x'.repeat(40)}`] }] },
          expect: 'SCHEMA_VIOLATION',
        },
        {
          what: 'lower-case plate, speed out of range',
          deviceId: 'TL-0001',
          topic: readingTopic('traffic-light', 'TL-0001'),
          payload: {
            deviceId: 'TL-0001',
            seq: 100_000 + round,
            ts: iso(now),
            phase: 'green',
            vehicleCount: 2,
            occupancyPct: 10,
            queueLength: 1,
            meanSpeedKmh: 40,
            plateReads: [
              { plate: plate('schema').toLowerCase(), speedKmh: 40 },
              { plate: plate('schema'), speedKmh: 999, imageRef: text('schema') },
            ],
          },
          expect: 'SCHEMA_VIOLATION',
        },
        {
          what: 'not JSON',
          deviceId: 'LP-0002',
          topic: readingTopic('lamppost', 'LP-0002'),
          payload: `probe mac=${mac('not JSON')} plate=${plate('not JSON')} ssid=${text('not JSON')}`,
          raw: true,
          expect: 'NOT_JSON',
        },
        {
          what: 'oversized',
          deviceId: 'LP-0001',
          topic: lp,
          payload: { ...lamppost('LP-0001', now, [mac('oversized')]), note: `${plate('oversized')} `.repeat(10_000) },
          expect: 'OVERSIZED',
        },
        {
          what: 'unknown device id in the payload',
          deviceId: 'LP-0001',
          topic: lp,
          payload: lamppost('LP-9999', now, [mac('unknown device')]),
          expect: 'TOPIC_DEVICE_MISMATCH',
        },
        {
          what: "traffic light on a lamppost's topic",
          deviceId: 'TL-0001',
          topic: readingTopic('lamppost', 'TL-0001'),
          payload: lamppost('TL-0001', now, [mac('wrong topic')]),
          expect: 'TOPIC_DEVICE_MISMATCH',
        },
        {
          what: 'unknown kind in the topic',
          deviceId: 'LP-0001',
          topic: 'lethe/v1/bogus/LP-0001/reading',
          payload: lamppost('LP-0001', now, [mac('wrong topic')]),
          expect: 'INVALID_TOPIC',
        },
        {
          what: 'MAC as the topic kind',
          deviceId: 'LP-0001',
          topic: `lethe/v1/${mac('topic name')}/LP-0001/reading`,
          payload: lamppost('LP-0001', now, [mac('wrong topic')]),
          expect: 'INVALID_TOPIC',
        },
        {
          what: 'plate as the topic kind',
          deviceId: 'LP-0001',
          topic: `lethe/v1/${plate('topic name')}/LP-0001/reading`,
          payload: lamppost('LP-0001', now, [mac('wrong topic')]),
          expect: 'INVALID_TOPIC',
        },
        {
          what: 'older than the TTL',
          deviceId: 'LP-0001',
          topic: lp,
          payload: lamppost('LP-0001', now - 3_600_000, [mac('too old')]),
          expect: 'TIMESTAMP_TOO_OLD',
        },
        {
          what: 'in the future',
          deviceId: 'LP-0001',
          topic: lp,
          payload: lamppost('LP-0001', now + 3_600_000, [mac('future')]),
          expect: 'TIMESTAMP_IN_FUTURE',
        },
        {
          what: "unknown device's topic",
          deviceId: 'LP-0001',
          topic: readingTopic('lamppost', 'LP-9999'),
          payload: lamppost('LP-9999', now, [mac('ACL')]),
          expect: 'ACL_DENIED',
        },
        {
          what: "another device's topic",
          deviceId: 'LP-0001',
          topic: readingTopic('lamppost', 'LP-0002'),
          payload: lamppost('LP-0002', now, [mac('ACL')]),
          expect: 'ACL_DENIED',
        },
        {
          what: 'not a reading topic',
          deviceId: 'LP-0001',
          topic: 'lethe/v1/lamppost/LP-0001/debug',
          payload: lamppost('LP-0001', now, [mac('ACL')]),
          expect: 'ACL_DENIED',
        },
      );
    }
    const raw = await connectAsync(infra.mqttUrl, {
      username: 'LP-0002',
      password: devicePassword(infra.fleetSecret, 'LP-0002'),
      clientId: `p1-${run}-raw`,
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 0,
    });
    for (const m of invalid) {
      if (m.raw) await raw.publishAsync(m.topic, String(m.payload), { qos: 1 });
      else await publisher.publish(m.deviceId, m.topic, m.payload);
    }
    await raw.endAsync();
    await publisher.close();

    const toGateway = invalid.filter((m) => m.expect !== 'ACL_DENIED');
    const expectedRejected = new Map<string, number>();
    for (const m of toGateway) expectedRejected.set(m.expect, (expectedRejected.get(m.expect) ?? 0) + 1);
    const validCount = forwarded.lamppost + forwarded['traffic-light'] + forwarded.sewer;
    const base = handled(gatewayBefore);

    // 3. Everything handled by the gateway (counted only after Kafka acknowledged it) ...
    let gatewayAfter = await scrape(gateway);
    for (
      const deadline = Date.now() + 30_000;
      handled(gatewayAfter) - base < validCount + toGateway.length && Date.now() < deadline;
      gatewayAfter = await scrape(gateway)
    )
      await sleep(250);
    const delta = (name: string, labels: Record<string, string> = {}) => metric(gatewayAfter, name, labels) - metric(gatewayBefore, name, labels);
    expect(delta('lethe_gateway_messages_received_total'), 'messages the gateway received').toBe(validCount + toGateway.length);
    for (const kind of Object.keys(forwarded) as DeviceKind[])
      expect(delta('lethe_gateway_messages_forwarded_total', { kind }), `${kind} readings forwarded`).toBe(forwarded[kind]);
    // Identifiers move with people: the gateway exports them only in whole blocks (P9); the sightings topic below has the exact count.
    expect(metric(gatewayAfter, 'lethe_gateway_sightings_pseudonymized_total') % PRESENCE_BLOCK, 'identifiers pseudonymized, in whole blocks').toBe(0);
    for (const [reason, n] of expectedRejected) expect(delta('lethe_gateway_messages_rejected_total', { reason }), `rejected as ${reason}`).toBe(n);
    expect(delta('lethe_gateway_messages_rejected_total'), 'rejected in all').toBe(toGateway.length);

    // ... reached Kafka: one pseudonymous sighting per canary, device and slot, one refusal per refused message.
    const offsetsAfter = await Promise.all(topics.map(endOffsets));
    // A sightings record holds a reading's sightings for one partition: the sightings in the records added are counted.
    const sightingsAdded = (await dumpTopic(infra.kafkaBrokers, admin, TOPICS.sightings))
      .filter((r) => BigInt(r.offset) >= (sightingsBefore.get(r.partition) ?? 0n))
      .map((r) => parseSightings(r.value)!.length);
    // The services created their topics with the cluster's defaults; every copy of every
    // partition is in the log directories searched below.
    await everyCopy(
      target,
      admin,
      topicSpecs(loadPolicy(DEFAULT_POLICY_PATH)).map((s) => s.topic),
    );
    await admin.disconnect();
    const grown = Object.fromEntries(topics.map((t, i) => [t, offsetsAfter[i]! - offsetsBefore[i]!]));
    expect(grown, 'records added to each topic').toEqual({
      [TOPICS.readings]: validCount,
      [TOPICS.sightings]: sightingsAdded.length,
      [TOPICS.rejected]: toGateway.length,
    });
    expect(
      sightingsAdded.reduce((a, b) => a + b, 0),
      'sightings in the records added',
    ).toBe(sightingRecords.size);
    expect(sightingsAdded.length, 'sightings records: fewer than sightings').toBeLessThan(sightingRecords.size);
    expect(sightings).toBeGreaterThanOrEqual(2000);

    // 4. ... and went all the way: the last window's aggregates, person-derived ones included, are in InfluxDB.
    const queryApi = new InfluxDB({ url: infra.influx.url, token: infra.influx.adminToken }).getQueryApi(infra.influx.org);
    const lastWindow = Math.floor(lastTs / (WINDOW_SECONDS * 1000)) * WINDOW_SECONDS * 1000;
    const measurements = new Map<string, number>();
    let lastWindowPrivacy = false;
    for (const deadline = Date.now() + 60_000; !lastWindowPrivacy && Date.now() < deadline; await sleep(1000)) {
      measurements.clear();
      const rows = await queryApi.collectRows<{ _measurement: string; _time: string }>(`from(bucket: "${infra.influx.bucket}")
        |> range(start: ${iso(firstPublish - EPOCH_SECONDS * 1000)})
        |> filter(fn: (r) => r.window == "${WINDOW_SECONDS}s")`);
      for (const row of rows) {
        measurements.set(row._measurement, (measurements.get(row._measurement) ?? 0) + 1);
        lastWindowPrivacy ||= row._measurement === 'privacy' && Date.parse(row._time) === lastWindow;
      }
    }
    expect(lastWindowPrivacy, `aggregates of the last window (${iso(lastWindow)}) in InfluxDB`).toBe(true);
    for (const m of ['pedestrians', 'vehicles', 'lamppost', 'traffic_light']) expect(measurements.get(m) ?? 0, `${m} rows in InfluxDB`).toBeGreaterThan(0);

    // The services' own view, taken before they stop (their /metrics is one of the places searched).
    for (const s of services) metricsText.set(s.name, await scrape(s));
    const processorAccepted = metric(metricsText.get('processor')!, 'lethe_processor_records_total', { topic: TOPICS.sightings, outcome: 'accepted' });
    expect(processorAccepted % PRESENCE_BLOCK, 'sightings the processor accepted, in whole blocks (P9)').toBe(0);
    expect(processorAccepted, 'sightings the processor accepted into its windows').toBeGreaterThanOrEqual(
      Math.floor(sightingRecords.size / PRESENCE_BLOCK) * PRESENCE_BLOCK,
    );
    expect(metric(metricsText.get('writer')!, 'lethe_writer_points_written_total'), 'points the writer wrote').toBeGreaterThan(0);
    for (const s of [...services].reverse()) await s.stop();
    for (const s of services) outputs.push({ name: `${s.name} stdout+stderr`, text: s.output() });

    const perCategory = [...ledger].map(([category, set]) => `  ${category.padEnd(34)} ${String(set.size).padStart(6)}`).join('\n');
    const sent = (what: string) => invalid.filter((m) => m.expect === what).length;
    console.log(
      `P1 canaries published (run tag ${canaries.tag}), distinct per field:\n${perCategory}\n` +
        `  valid readings ${validCount} (lamppost ${forwarded.lamppost}, traffic-light ${forwarded['traffic-light']}, sewer ${forwarded.sewer}), sightings ${sightings}\n` +
        `  invalid messages ${invalid.length}: ${[...expectedRejected].map(([r, n]) => `${r} ${n}`).join(', ')}, ACL_DENIED ${sent('ACL_DENIED')}\n` +
        `  Kafka grew by ${JSON.stringify(grown)}; processor accepted ${processorAccepted} sightings; InfluxDB rows of the run ${JSON.stringify(Object.fromEntries(measurements))}`,
    );
    expect(ledger.get('wifiProbes.mac')!.size, 'distinct canary MACs').toBeGreaterThanOrEqual(1000);
    expect(ledger.get('plateReads.plate')!.size, 'distinct canary plates').toBeGreaterThanOrEqual(1000);
    delivered = true;
  }, 150_000);

  it('finds a canary planted in a file, in every spelling, and nothing in a file without one', () => {
    const probe = createCanaries();
    const [mac, plate, text] = [probe.mac(), probe.plate(), probe.text('P')];
    const hex = mac.replaceAll(':', '');
    const spellings = [
      mac,
      mac.toLowerCase(),
      mac.replaceAll(':', '-'),
      mac.replaceAll(':', '-').toLowerCase(),
      hex,
      hex.toLowerCase(),
      `${hex.slice(0, 4)}.${hex.slice(4, 8)}.${hex.slice(8)}`.toLowerCase(),
      plate,
      plate.toLowerCase(),
      plate.replace(' ', ''),
      plate.replace(' ', '').toLowerCase(),
      // Digits right after a text canary (its counter has no fixed length) must not hide it.
      text,
      text.toLowerCase(),
      `${text}4567`,
      JSON.stringify({ imageRef: `cam/TL-0001/${text}.jpg` }),
    ];
    const dir = mkdtempSync(join(tmpdir(), 'lethe-p1-control-'));
    try {
      // Each spelling inside random bytes, as it would sit in a log segment or a data file.
      spellings.forEach((s, i) => writeFileSync(join(dir, `planted-${i}`), Buffer.concat([randomBytes(5000), Buffer.from(s), randomBytes(5000)])));
      writeFileSync(join(dir, 'clean'), Buffer.concat([randomBytes(5000), Buffer.from(`${probe.mac().slice(0, 9)} cz9 CANARY-`)]));
      const report = searchFiles('control', filesUnder([dir]), createCanaryMatcher(probe));
      expect(report.files).toBe(spellings.length + 1);
      expect(report.hits.map((h) => h.file.slice(dir.length + 1)).sort()).toEqual(spellings.map((_, i) => `planted-${i}`).sort());
      expect(new Set(report.hits.map((h) => h.canary))).toEqual(new Set([mac, plate, text]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('finds none of the canaries on any Kafka broker, in InfluxDB, Mosquitto, server logs, service logs or metrics, and finds canaries planted on every broker', async () => {
    // Searching is only meaningful if the canaries really went through.
    expect(delivered, 'the canaries were delivered (see the first test)').toBe(true);
    const matcher = createCanaryMatcher(canaries);
    const env = (name: string, fallback: string) => process.env[name] ?? fallback;
    const influxDir = env('LETHE_TEST_INFLUX_DATA_DIR', join(LOCAL_DIR, 'influxdb'));
    const mosquittoDir = env('LETHE_TEST_MOSQUITTO_DIR', join(LOCAL_DIR, 'mosquitto'));

    // Mosquitto sits before the first trust boundary (the gateway): it may legitimately hold raw
    // readings queued in its persistence for a persistent session that is offline (the gateway
    // down), until it is delivered. Here the gateway was online and acknowledged every message
    // (after Kafka had what it became), and Lethe publishes nothing retained, so once its state
    // is written out Mosquitto must hold none of them: that is what is asserted. ACL-denied
    // publishes must not be stored at all.
    const mosquittoDb = await saveMosquittoPersistence(mosquittoDir);

    const queryApi = new InfluxDB({ url: infra.influx.url, token: infra.influx.adminToken }).getQueryApi(infra.influx.org);
    // Every row of every measurement in the bucket for the run's time range: measurement, tag
    // values, field names and values, all as they come back.
    const rows = await queryApi.collectRows<Record<string, unknown>>(`from(bucket: "${infra.influx.bucket}")
      |> range(start: ${new Date(firstPublish - 120_000).toISOString()}, stop: ${new Date(Date.now() + 60_000).toISOString()})`);
    expect(rows.length, 'rows of the run in InfluxDB').toBeGreaterThan(0);

    // Positive control on Kafka's disks: a probe's canaries, written to a topic replicated as the
    // services' topics are, must be found in each broker's log directories by the same search.
    // The probe's identifiers are not the run's (the tags are random; a clash is drawn again).
    const { macs, plates } = canaries.issued();
    let probe: Canaries;
    do {
      probe = createCanaries();
      probe.mac();
      probe.plate();
      probe.text('K');
    } while (macs.includes(probe.issued().macs[0]!) || plates.includes(probe.issued().plates[0]!));
    const plantedTopic = `lethe.p1-planted.${run}`;
    await plantInKafka(target, probe, plantedTopic);

    const kafkaDirs = [...target.logDirs.values()].flat();
    const searched = [kafkaDirs, [influxDir], [mosquittoDir], target.cluster ? [target.cluster.localDir] : []].flat();
    const probeMatcher = createCanaryMatcher(probe);
    const planted = [...target.logDirs].map(([node, dirs]) => searchFiles(`Kafka ${node}, planted canaries`, filesUnder(dirs), probeMatcher));
    const reports: PlaceReport[] = [
      // Kafka does not compress here (no producer sets compression), so records are plain bytes.
      // Each broker's directories on their own: every one holds a copy of the personal topics.
      ...[...target.logDirs].map(([node, dirs]) => searchFiles(`Kafka ${node} log dirs (${dirs.join(',')})`, filesUnder(dirs), matcher, 'LP-0001')),
      // The cluster's own run directory: its nodes' logs and configs.
      ...(target.cluster
        ? [
            searchFiles(
              `rest of ${target.cluster.localDir} (Kafka nodes' logs, configs)`,
              filesUnder([target.cluster.localDir], kafkaDirs),
              matcher,
              TOPICS.sightings,
            ),
          ]
        : []),
      // InfluxDB compresses WAL entries and TSM blocks (snappy), so its raw bytes show series keys
      // (tag values, in the series file and TSI index) plainly but not string field values: those
      // are covered by the query of every row below.
      searchFiles(`InfluxDB data (${influxDir})`, filesUnder([influxDir]), matcher, 'LP-0001'),
      searchText('InfluxDB query, every row in range', [{ name: 'flux rows', text: JSON.stringify(rows) }], matcher, 'LP-0001'),
      searchFiles(`Mosquitto persistence + config (${mosquittoDir})`, filesUnder([mosquittoDir]), matcher, 'lethe-gateway-0'),
      // Everything else the servers keep: their logs (broker, controller, influxd), Kafka's config.
      // The generated secrets are left alone, and so is the Docker engine of `pnpm test:compose`
      // (infra/docker/dockerd.sh), which is not one of these servers and scans its own volumes.
      searchFiles(
        `rest of ${LOCAL_DIR} (server logs, configs)`,
        filesUnder([LOCAL_DIR], [...searched, join(LOCAL_DIR, 'secrets'), join(LOCAL_DIR, 'docker')]),
        matcher,
        'lethe-gateway',
      ),
      searchText('service stdout/stderr', outputs, matcher, '"service":"gateway"'),
      searchText(
        'service /metrics',
        [...metricsText].map(([name, text]) => ({ name: `${name} /metrics`, text })),
        matcher,
        'lethe_gateway_messages_forwarded_total',
      ),
    ];

    const admin = createKafka({ brokers: infra.kafkaBrokers, clientId: `p1-${run}-cleanup`, logger: silent }).admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [plantedTopic] });
    await admin.disconnect();

    const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
    console.log(
      `P1 search on ${target.label} (Mosquitto state saved to ${mosquittoDb}; ${rows.length} InfluxDB rows; ` +
        `planted canaries found ${planted.map((r) => `${r.hits.length} times in ${r.place.replace(', planted canaries', '')}`).join(', ')}):\n` +
        reports
          .map(
            (r) =>
              `  ${r.place}\n      ${r.files} files/parts, ${mb(r.bytes)}; canary hits ${r.hits.length}; prefix-only near misses ${r.nearMisses}${r.nearMisses > 0 ? ` (${r.nearMissSamples.map((x) => JSON.stringify(x)).join(', ')})` : ''}; control "${r.known?.needle}" found ${r.known?.count} times`,
          )
          .join('\n'),
    );

    for (const r of reports) {
      // Positive control: the place was really read and holds the pipeline's data.
      expect(r.known?.count ?? 0, `${r.place}: "${r.known?.needle}" (known to be there) found`).toBeGreaterThan(0);
    }
    // Positive control on every broker: the search finds each planted canary in its copy.
    const probeIssued = probe.issued();
    for (const r of planted) {
      expect(new Set(r.hits.map((h) => h.canary)), r.place).toEqual(new Set([...probeIssued.macs, ...probeIssued.plates, ...probeIssued.texts]));
    }
    const leaks = reports.flatMap((r) => r.hits.slice(0, 20).map((h) => `${r.place}: ${h.file} @${h.offset}: ${h.found} (canary ${h.canary})`));
    expect(leaks, 'canaries found').toEqual([]);
  });
});
