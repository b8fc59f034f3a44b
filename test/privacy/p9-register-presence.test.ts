// P9 — the api's public outputs about personal data do not tell one car from none (issue 11,
// findings 3 and 4). Two worlds that differ only by one car: the same real services (gateway,
// processor, writer, api) and the same background readings of a traffic light and a lamppost
// every second, nobody about; in world B one reading of the traffic light carries one plate.
// The worlds run one after the other on timelines shifted by a multiple of every period of the
// schedule (windows, epochs, TTL, checks), so the schedule is the same in both. Every public
// output of the api other than the noised aggregates — the register as JSON and as a page,
// the transparency report (day, month, year), the audit log's verification and /metrics
// (served on the same port) — is fetched twice per epoch in both worlds, and the pairs taken at
// the same offset are compared after removing what is pure wall clock (the time a response was
// made, the audit head's hash, which covers every event's clock time), with times made
// relative to the world's start and counters relative to the world's first snapshot. The audit
// log itself is compared too, as a public copy of it would read (P8 means it to be verifiable
// by anyone): the records of each world, without the clock time they were written at.
//
// The attack's figure is the number of output fields that differ between the worlds in any
// pair: each one lets an attacker tell the worlds apart with certainty (advantage 1/2). The
// threshold is 0 (docs/privacy.md, P9). It is printed with the fields that differ.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InfluxDB } from '@influxdata/influxdb-client';
import { createKafka } from '@lethe/kafka';
import { loadPolicy, measurementOf, snakeCase } from '@lethe/privacy';
import { createLogger } from '@lethe/observability';
import { TOPICS } from '@lethe/schemas';
import { createFleetPublisher } from '@lethe/simulator';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { policyCopy, shortWindows } from '../support/policy-copy.ts';
import { auditRecords, operatorMetrics, publishBackground, relative, reportDifferences, snapshot, type Snapshot } from '../support/public-outputs.ts';
import { influxEnv, startService, type RunningService } from '../support/services.ts';
import { tokenHash } from '@lethe/config';
import { startPipeline } from '../support/pipeline.ts';

const infra = inject('infra');
const RUN = randomBytes(4).toString('hex');
const S = 1000;
/** Test schedule: 5 s windows, 10 s epochs, 20 s TTL; the worlds are shifted by a multiple of all of them. */
const WINDOW = '5s';
const EPOCH = '10s';
const TTL = '20s';
const WORLD_SHIFT = 120 * S;
/**
 * What a world's start is aligned to: the longest period of the schedule (the TTL, which is
 * also the retention attestations' period), so every period starts with the world. The second
 * world then starts in the same phase of each, WORLD_SHIFT being a multiple of this.
 */
const SCHEDULE_PERIOD = 20 * S;
/** How long each world is watched: the car's sighting is deleted (TTL + bound) and every figure has caught up. */
const WORLD_MS = 100 * S;
/**
 * When in each 10 s (an epoch) the outputs are read: between the schedule's events, never on
 * one — keys are destroyed 2–3 s after an epoch ends and reach the api through Kafka, checks
 * run on the second, attestations on the period — so a pair is never split by an event that
 * happened to land a few milliseconds earlier in one world than in the other.
 */
const SNAPSHOT_PHASES = [6.5 * S, 8.5 * S];
/**
 * When the services' own metrics are read: 950 ms after the last background reading (published
 * at 100 ms past each second) and 2 s after the last window closed, so every count has settled.
 */
const OPERATOR_PHASE = 9.05 * S;
const OPERATOR_SERVICES = ['gateway', 'processor', 'writer'];
/** The open data compared: each world's first 90 s of windows, all released by the world's end. */
const OPEN_DATA_MS = 90 * S;
const PERSON_MEASUREMENTS = new Set(['pedestrians', 'vehicles', 'travel_times', 'dwell']);
const CAR_AT = 12.3 * S;
/** The audit records compared: those stamped in the first 80 s of a world, all written by its end. */
const AUDIT_SPAN = 80 * S;
const PLATE = 'KX 9137';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sleepUntil = (t: number) => sleep(Math.max(0, t - Date.now()));

// ---- the worlds ------------------------------------------------------------------------------

describe('P9: the register and the api do not tell one car from none', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lethe-p9-register-'));
  const services: RunningService[] = [];
  let api: RunningService;
  const publisher = createFleetPublisher({ url: infra.mqttUrl, fleetSecret: infra.fleetSecret, clientIdPrefix: `p9-register-${RUN}` });
  let background: Promise<void> | undefined;
  let stopBackground = false;
  /** Set by a world: the plate the next traffic-light reading carries. */
  let carNext: string | undefined;
  let carSent = 0;
  let policyFile = '';
  const admin = createKafka({
    brokers: infra.kafkaBrokers,
    clientId: `p9-register-${RUN}`,
    logger: createLogger({ service: 'test', level: 'silent' }),
  }).admin();
  /** Records on the sightings topic so far: the positive control that the car went through. */
  const sightingsEnd = async () => (await admin.fetchTopicOffsets(TOPICS.sightings)).reduce((n, p) => n + Number(p.high), 0);

  async function backgroundReadings(): Promise<void> {
    let seq = 2_000_000_000 + Math.floor(Math.random() * 1_000_000) * 100;
    while (!stopBackground) {
      const ts = new Date().toISOString();
      const plateReads = carNext ? [{ plate: carNext, speedKmh: 32 }] : [];
      if (carNext) carSent++;
      carNext = undefined;
      await publishBackground(publisher, seq++, ts, plateReads);
      await sleep(1000 - (Date.now() % 1000) + 100);
    }
  }

  beforeAll(async () => {
    policyFile = policyCopy((doc) => {
      doc.rawData = { ttl: TTL, segment: '2s', maxLateness: '5s', keyGrace: '2s', maxFutureSkew: '5s' };
      shortWindows(doc, WINDOW, EPOCH);
    });
    const kafka = { KAFKA_BROKERS: infra.kafkaBrokers.join(','), POLICY_FILE: policyFile };
    const tokens = join(dir, 'api-requester-tokens');
    writeFileSync(tokens, JSON.stringify({ version: 1, tokens: { 'hk-police-force': tokenHash(randomBytes(32).toString('base64url')) } }));
    api = await startService('api', {
      ...kafka,
      ...influxEnv(infra.influx, 'api'),
      KAFKA_GROUP_ID: `p9-register-api-${RUN}`,
      AUDIT_LOG_FILE: join(dir, 'audit', 'api.jsonl'),
      REQUESTER_TOKENS_FILE: tokens,
      WATCH_INTERVAL_SECONDS: '1',
    });
    services.push(api);
    services.push(...(await startPipeline({ infra, policyFile, groupPrefix: `p9-register-${RUN}` })).services);
    await admin.connect();
    background = backgroundReadings();
  }, 240_000);

  afterAll(async () => {
    stopBackground = true;
    await background?.catch(() => undefined);
    await publisher.close();
    await admin.disconnect();
    for (const s of [...services].reverse()) await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The operators' view: each pipeline service's own metrics. */
  async function operatorSnapshot(offset: number): Promise<Snapshot> {
    const fields: Snapshot['fields'] = new Map();
    for (const name of OPERATOR_SERVICES) {
      const text = await (await fetch(`http://127.0.0.1:${services.find((s) => s.name === name)!.port}/metrics`)).text();
      for (const [k, v] of Object.entries(operatorMetrics(text, name))) fields.set(`${name} /metrics ${k}`, v);
    }
    return { offset, fields };
  }

  /**
   * The open data of a world as fields: every record the pipeline released in [t0, t0 + 90 s),
   * as InfluxDB holds it (the api's open-data routes read from there). The noised figures' values
   * differ between the worlds by their noise alone (a figure's noise is drawn for its window, and
   * the worlds' windows differ), so of those only the presence is compared, which is the release
   * pattern; everything else by value, ε spent relative to the world's first window.
   */
  async function openData(t0: number): Promise<Snapshot> {
    const kinds = loadPolicy(policyFile).kinds;
    const noised = new Set(
      Object.entries(kinds).flatMap(([kind, k]) =>
        Object.entries(k.fields)
          .filter(([name, f]) => !name.includes('.') && f.treatment === 'keep' && (f.class === 'person-derived' || f.class === 'presence-dependent'))
          .map(([name]) => `${measurementOf(kind as keyof typeof kinds)}|${snakeCase(name)}_`),
      ),
    );
    const isNoised = (measurement: string, field: string) =>
      PERSON_MEASUREMENTS.has(measurement) || [...noised].some((p) => `${measurement}|${field}`.startsWith(p));
    type Row = { _measurement: string; _field: string; _time: string; _value: number; [tag: string]: string | number };
    const rows = await new InfluxDB({ url: infra.influx.url, token: infra.influx.readerToken })
      .getQueryApi(infra.influx.org)
      .collectRows<Row>(
        `from(bucket: "${infra.influx.bucket}") |> range(start: ${new Date(t0).toISOString()}, stop: ${new Date(t0 + OPEN_DATA_MS).toISOString()})`,
      );
    const firstSpent = new Map<string, { at: number; value: number }>();
    for (const r of rows) {
      if (r._measurement !== 'privacy' || r._field !== 'epsilon_spent_today') continue;
      const at = Date.parse(r._time);
      const seen = firstSpent.get(String(r.stream));
      if (!seen || at < seen.at) firstSpent.set(String(r.stream), { at, value: r._value });
    }
    const fields: Snapshot['fields'] = new Map();
    for (const r of rows) {
      const tags = Object.entries(r)
        .filter(([k]) => !k.startsWith('_') && k !== 'result' && k !== 'table')
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      const key = `open data ${r._measurement} ${tags} ${r._field} t0+${Date.parse(r._time) - t0}`;
      if (isNoised(r._measurement, r._field)) fields.set(key, 'noised');
      else if (r._measurement === 'privacy' && r._field === 'epsilon_spent_today') fields.set(key, r._value - firstSpent.get(String(r.stream))!.value);
      else fields.set(key, r._value);
    }
    return { offset: 0, fields };
  }

  async function world(t0: number, withCar: boolean): Promise<{ outputs: Snapshot[]; operators: Snapshot[] }> {
    const snapshots: Snapshot[] = [];
    const operators: Snapshot[] = [];
    let car: Promise<void> | undefined;
    if (withCar) car = sleepUntil(t0 + CAR_AT).then(() => void (carNext = PLATE));
    for (let epoch = 0; epoch < WORLD_MS; epoch += 10 * S) {
      for (const phase of SNAPSHOT_PHASES) {
        await sleepUntil(t0 + epoch + phase);
        snapshots.push(await snapshot(`http://127.0.0.1:${api.port}`, t0, epoch + phase));
      }
      await sleepUntil(t0 + epoch + OPERATOR_PHASE);
      operators.push(await operatorSnapshot(epoch + OPERATOR_PHASE));
    }
    await car;
    const last = snapshots.at(-1)!;
    for (const [k, v] of auditRecords(join(dir, 'audit', 'api.jsonl'), t0, AUDIT_SPAN)) last.fields.set(`audit log ${k}`, v);
    return { outputs: relative(snapshots), operators: relative(operators) };
  }

  it('gives the same public outputs, field for field, with one car as with none', async () => {
    // Warm up past the raw-data limit (TTL + bound, 73 s here) so what earlier suites left in
    // the personal topics is gone, and every service is in its steady state.
    const warmUntil = Date.now() + 80 * S;
    const t0 = Math.ceil(warmUntil / SCHEDULE_PERIOD) * SCHEDULE_PERIOD;
    // Every output read once before, so the api's counters of its own requests exist in both worlds' first snapshot.
    await snapshot(`http://127.0.0.1:${api.port}`, t0, 0);
    const sightingsBefore = await sightingsEnd();
    const none = await world(t0, false);
    const sightingsBetween = await sightingsEnd();
    const one = await world(t0 + WORLD_SHIFT, true);
    const sightingsAfter = await sightingsEnd();
    const [noneOpen, oneOpen] = [await openData(t0), await openData(t0 + WORLD_SHIFT)];

    // Not vacuous: the car went through, the figures moved with the schedule in both worlds,
    // and the outputs were really read.
    expect(carSent).toBe(1);
    expect(one.outputs.at(-1)!.fields.size).toBeGreaterThan(100);
    expect(one.operators.at(-1)!.fields.size).toBeGreaterThan(30);
    expect([sightingsBetween - sightingsBefore, sightingsAfter - sightingsBetween], 'sightings written in world A (nobody) and world B (the car)').toEqual([
      0, 1,
    ]);

    expect(reportDifferences('P9 register presence', none.outputs, one.outputs)).toEqual([]);
    // Operators see the services' metrics: a count of identifiers, sightings or pseudonyms held
    // would turn 0 into 1 here; they are exported in whole blocks (presence-metrics.ts).
    expect(reportDifferences('P9 operator metrics', none.operators, one.operators)).toEqual([]);
    // The open data other than the noised values: which records and fields exist in each window,
    // the privacy records, the readings' exact figures (finding 2 on real servers).
    expect(oneOpen.fields.size, 'open data fields of a world').toBeGreaterThan(500);
    expect(reportDifferences('P9 open data', [noneOpen], [oneOpen])).toEqual([]);
  }, 600_000);
});
