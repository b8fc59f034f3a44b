// The whole pipeline on real servers: the simulator publishes a deterministic scenario
// through Mosquitto as the devices; gateway, processor and writer run as real processes; the
// aggregates that land in InfluxDB must equal figures computed independently from the
// published readings (exactly for counts, to float precision for means).
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InfluxDB } from '@influxdata/influxdb-client';
import { createNoiseSource, DEFAULT_POLICY_PATH, figureId, loadPolicy, noisyCount, sightingSlot, slotStart } from '@lethe/privacy';
import { DEFAULT_FLEET_PATH, loadFleet, type LamppostReadingInput, type SewerReadingInput, type TrafficLightReadingInput } from '@lethe/schemas';
import { createCity, createFleetPublisher, loadScenario, runSimulation, type SimulatedReading } from '@lethe/simulator';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { asGrafanaSendsIt, asGrafanaSendsPromQL, dashboardPromQueries, dashboardQueries, labelValuesQuery } from '../support/grafana-queries.ts';
import { startPrometheus, type RunningPrometheus } from '../support/prometheus.ts';
import { influxEnv, startService, type RunningService } from '../support/services.ts';
import { policyCopy, shortWindows } from '../support/policy-copy.ts';
import { plateMovementsRequest } from '../support/data-requests.ts';
import { startPipeline } from '../support/pipeline.ts';

const WINDOW_SECONDS = 5;
const TICKS = 12;
/** Tags that identify a person-derived series, in the order the reference model keys them. */
const PERSON_TAGS: Record<string, string[]> = {
  pedestrians: ['scope', 'district', 'device'],
  vehicles: ['scope', 'district', 'device'],
  travel_times: ['from', 'to'],
  traffic_light: ['scope', 'district', 'device'],
};
/** Pseudonym epoch of the test policy: four windows, so trips and key rotation happen during the test. */
const EPOCH_SECONDS = 20;
const infra = inject('infra');
const policy = loadPolicy(DEFAULT_POLICY_PATH);
const K = policy.kinds.lamppost.k;
const NOISE_KEY = randomBytes(32);
const noise = createNoiseSource(NOISE_KEY);

/** The shipped policy with short windows and epochs, so the test sees them close in seconds. */
const testPolicyFile = () =>
  policyCopy((doc) => {
    shortWindows(doc, `${WINDOW_SECONDS}s`, `${EPOCH_SECONDS}s`);
  });

interface Expected {
  readings: number;
  sums: Record<string, number>;
  max: Record<string, number>;
  trues: Record<string, number>;
}

const windowOf = (ts: number, seconds: number) => Math.floor(ts / (seconds * 1000)) * seconds * 1000;

/** Environmental reference: group the published readings by device and window, and by district and window. */
function expectedReadings(published: readonly SimulatedReading[], districtOf: (device: string) => string): Map<string, Expected> {
  const out = new Map<string, Expected>();
  const one = (key: string) => {
    let e = out.get(key);
    if (!e) out.set(key, (e = { readings: 0, sums: {}, max: {}, trues: {} }));
    return e;
  };
  // One reading updates its device's and its district's figures alike.
  const get = (measurement: string, device: string, ts: string) => {
    const window = windowOf(Date.parse(ts), WINDOW_SECONDS);
    const targets = [one(`${measurement}|${device}|${window}`), one(`${measurement}|district:${districtOf(device)}|${window}`)];
    const fan =
      <T extends unknown[]>(f: (e: Expected, ...a: T) => void) =>
      (...a: T) =>
        targets.forEach((e) => f(e, ...a));
    return {
      count: fan((e) => e.readings++),
      add: fan((e, name: string, value: number) => {
        e.sums[name] = (e.sums[name] ?? 0) + value;
        e.max[name] = Math.max(e.max[name] ?? -Infinity, value);
      }),
      flag: fan((e, name: string, value: boolean) => (e.trues[name] = (e.trues[name] ?? 0) + (value ? 1 : 0))),
    };
  };
  for (const r of published) {
    if (r.kind === 'lamppost') {
      const p = r.payload as LamppostReadingInput;
      const e = get('lamppost', r.deviceId, p.ts);
      e.count();
      e.add('pm25', p.pm25);
      e.add('energyWh', p.energyWh);
    } else if (r.kind === 'traffic-light') {
      const p = r.payload as TrafficLightReadingInput;
      const e = get('traffic_light', r.deviceId, p.ts);
      e.count();
      e.add('occupancyPct', p.occupancyPct);
    } else {
      const p = r.payload as SewerReadingInput;
      const e = get('sewer', r.deviceId, p.ts);
      e.count();
      e.add('levelCm', p.levelCm);
      e.flag('overflow', p.overflow);
    }
  }
  return out;
}

interface Sighting {
  person: string;
  device: string;
  district: string;
  ts: number;
}

/** Person-derived reference, written apart from the pipeline: true figures, the k and differencing rules, then the key's noise. */
function expectedPersonFigures(published: readonly SimulatedReading[], district: (device: string) => string): Map<string, number> {
  const wifi: Sighting[] = [];
  const plates: Sighting[] = [];
  const loops = new Map<string, number>();
  const seen = new Set<string>();
  for (const r of published) {
    const p = r.payload as Partial<LamppostReadingInput & TrafficLightReadingInput>;
    const ts = Date.parse(p.ts!);
    // As the gateway writes them (sighting-time.ts): one sighting per person, device and slot, stamped with the slot's start.
    const sighted = (list: Sighting[], source: 'wifi' | 'plate', person: string) => {
      const slot = slotStart(ts, sightingSlot(source, WINDOW_SECONDS * 1000));
      const id = `${source}|${person}|${r.deviceId}|${slot}`;
      if (seen.has(id)) return;
      seen.add(id);
      list.push({ person, device: r.deviceId, district: district(r.deviceId), ts: slot });
    };
    for (const probe of p.wifiProbes ?? []) sighted(wifi, 'wifi', probe.mac.toUpperCase());
    for (const read of p.plateReads ?? []) sighted(plates, 'plate', read.plate.replaceAll(' ', ''));
    if (r.kind === 'traffic-light') {
      const key = `${r.deviceId}|${windowOf(ts, WINDOW_SECONDS)}`;
      loops.set(key, (loops.get(key) ?? 0) + p.vehicleCount!);
    }
  }
  const out = new Map<string, number>();
  const release = (stream: string, start: number, measurement: string, tags: Record<string, string>, field: string, value: number, share: number) => {
    const key = `${measurement}|${PERSON_TAGS[measurement]!.map((t) => tags[t])
      .filter((v) => v !== undefined)
      .join('|')}|${start}|${field}`;
    out.set(key, noisyCount(noise, figureId(stream, start, measurement, tags, field), value, policy.kinds.lamppost.epsilonPerRelease * share));
  };
  const byWindow = <T extends Sighting>(list: readonly T[], seconds: number) => {
    const m = new Map<number, T[]>();
    for (const s of list) {
      const w = windowOf(s.ts, seconds);
      m.set(w, [...(m.get(w) ?? []), s]);
    }
    return m;
  };
  const mainCells = (list: readonly Sighting[]) => {
    const perPerson = new Map<string, Sighting[]>();
    for (const s of list) perPerson.set(s.person, [...(perPerson.get(s.person) ?? []), s]);
    const cells = new Map<string, number>();
    for (const seen of perPerson.values()) {
      const n = (d: string) => seen.filter((s) => s.device === d).length;
      const first = (d: string) => Math.min(...seen.filter((s) => s.device === d).map((s) => s.ts));
      const best = [...new Set(seen.map((s) => s.device))].sort((a, b) => n(b) - n(a) || first(a) - first(b) || a.localeCompare(b))[0]!;
      cells.set(best, (cells.get(best) ?? 0) + 1);
    }
    return cells;
  };
  const people = (stream: string, measurement: string, list: readonly Sighting[], share: number) => {
    for (const [start, inWindow] of byWindow(list, WINDOW_SECONDS)) {
      const districts = new Map<string, { total: number; hidden: number }>();
      for (const [device, n] of mainCells(inWindow)) {
        const d = districts.get(district(device)) ?? { total: 0, hidden: 0 };
        d.total += n;
        if (n >= K) release(stream, start, measurement, { scope: 'cell', district: district(device), device }, 'people', n, share);
        else d.hidden += n;
        districts.set(district(device), d);
      }
      for (const [name, d] of districts) {
        if (d.hidden >= K) release(stream, start, measurement, { scope: 'district', district: name }, 'people', d.total, share);
      }
    }
  };
  people('pedestrians', 'pedestrians', wifi, 1 / 2);
  people('vehicles', 'vehicles', plates, 1 / 3);

  // Trips: consecutive sightings of a plate at two different junctions within one epoch, the first arriving in each window.
  const trips = new Map<string, number>();
  for (const [, inEpoch] of byWindow(plates, EPOCH_SECONDS)) {
    const perPlate = new Map<string, Sighting[]>();
    for (const s of inEpoch) perPlate.set(s.person, [...(perPlate.get(s.person) ?? []), s]);
    for (const seen of perPlate.values()) {
      seen.sort((a, b) => a.ts - b.ts || a.device.localeCompare(b.device));
      const counted = new Set<number>();
      for (let i = 1; i < seen.length; i++) {
        const w = windowOf(seen[i]!.ts, WINDOW_SECONDS);
        if (seen[i]!.device === seen[i - 1]!.device || counted.has(w)) continue;
        counted.add(w);
        const key = `${seen[i - 1]!.device}|${seen[i]!.device}|${w}`;
        trips.set(key, (trips.get(key) ?? 0) + 1);
      }
    }
  }
  for (const [key, n] of trips) {
    const [from, to, start] = key.split('|') as [string, string, string];
    if (n >= K)
      release('travel_times', Number(start), 'travel_times', { from, from_district: district(from), to, to_district: district(to) }, 'trips', n, 1 / 2);
  }
  for (const [key, n] of loops) {
    const [device, start] = key.split('|') as [string, string];
    if (n >= K)
      release(
        'traffic_light.vehicle_count_sum',
        Number(start),
        'traffic_light',
        { scope: 'device', district: district(device), device },
        'vehicle_count_sum',
        n,
        1,
      );
  }
  return out;
}

describe('pipeline end to end on real Mosquitto, Kafka and InfluxDB', () => {
  const services: RunningService[] = [];
  const published: SimulatedReading[] = [];
  let firstPublish = 0;
  // For the dashboards' PromQL queries: the api (raw-record age, refused requests) and a
  // Prometheus scraping every service from the start.
  const requesterToken = randomBytes(24).toString('hex');
  let api: RunningService;
  let prometheus: RunningPrometheus;

  beforeAll(async () => {
    const policyFile = testPolicyFile();
    const run = Date.now();
    const pipeline = await startPipeline({
      infra,
      policyFile,
      groupPrefix: `e2e-${run}`,
      processor: { WINDOW_GRACE_SECONDS: '3', WINDOW_MAX_WAIT_SECONDS: '3', NOISE_KEY: NOISE_KEY.toString('hex') },
    });
    services.push(...pipeline.services);
    services.push(
      (api = await startService('api', {
        KAFKA_BROKERS: infra.kafkaBrokers.join(','),
        POLICY_FILE: policyFile,
        KAFKA_GROUP_ID: `e2e-api-${run}`,
        ...influxEnv(infra.influx, 'api'),
        AUDIT_LOG_FILE: join(mkdtempSync(join(tmpdir(), 'lethe-e2e-audit-')), 'audit.jsonl'),
        REQUESTER_TOKENS: JSON.stringify({ version: 1, tokens: { 'hk-police-force': createHash('sha256').update(requesterToken).digest('hex') } }),
        WATCH_INTERVAL_SECONDS: '1',
      })),
    );
    prometheus = await startPrometheus({ targets: Object.fromEntries(services.map((s) => [s.name, s.port])) });
    await prometheus.waitForTargetsUp();
  });

  afterAll(async () => {
    await prometheus?.stop();
    for (const s of services.reverse()) await s.stop();
  });

  it('publishes a deterministic rush-hour scenario and finds exactly the expected aggregates in InfluxDB', async () => {
    const fleet = loadFleet(DEFAULT_FLEET_PATH);
    // Each 1 s tick carries five seconds' worth of traffic and cars drive 100× faster, so every
    // person-derived stream (travel times too) reaches k within a test of seconds.
    const city = createCity({ devices: fleet.devices, scenario: loadScenario('rush-hour'), seed: 'e2e', tickSeconds: 5, travelTimeScale: 0.01 });
    const publisher = createFleetPublisher({ url: infra.mqttUrl, fleetSecret: infra.fleetSecret, clientIdPrefix: `e2e-${Date.now()}` });
    // Start just after an epoch boundary: trips cannot be timed across epochs.
    await new Promise((r) => setTimeout(r, EPOCH_SECONDS * 1000 - (Date.now() % (EPOCH_SECONDS * 1000)) + 200));
    firstPublish = Date.now();
    const summary = await runSimulation({ city, publisher, tickSeconds: 1, ticks: TICKS, onPublished: (r) => published.push(r) });
    await publisher.close();
    expect(summary.failed).toBe(0);
    expect(published).toHaveLength(TICKS * fleet.devices.length);

    const expected = expectedReadings(published, (id) => fleet.get(id)!.district);
    const person = expectedPersonFigures(published, (id) => fleet.get(id)!.district);
    for (const m of ['pedestrians', 'vehicles', 'travel_times', 'traffic_light']) {
      expect(
        [...person.keys()].some((k) => k.startsWith(`${m}|`)),
        `the scenario releases ${m}`,
      ).toBe(true);
    }

    const queryApi = new InfluxDB({ url: infra.influx.url, token: infra.influx.adminToken }).getQueryApi(infra.influx.org);
    const query = `from(bucket: "${infra.influx.bucket}")
      |> range(start: ${new Date(windowOf(firstPublish, WINDOW_SECONDS)).toISOString()})
      |> filter(fn: (r) => r.window == "${WINDOW_SECONDS}s")`;
    type Row = { _measurement: string; _time: string; _field: string; _value: number; [tag: string]: string | number };
    let env = new Map<string, Record<string, number>>();
    let released = new Map<string, number>();
    const deadline = Date.now() + 60_000;
    const lastWindow = windowOf(Date.parse((published.at(-1)!.payload as { ts: string }).ts), WINDOW_SECONDS);
    let privacy = new Map<string, Map<number, Set<string>>>();
    for (;;) {
      env = new Map();
      released = new Map();
      privacy = new Map();
      let privacyForLast = false;
      for (const row of await queryApi.collectRows<Row>(query)) {
        const time = Date.parse(row._time);
        if (row._measurement === 'privacy') {
          privacyForLast ||= time === lastWindow;
          const stream = String(row.stream);
          if (!privacy.has(stream)) privacy.set(stream, new Map());
          const fields = privacy.get(stream)!.get(time) ?? new Set<string>();
          privacy.get(stream)!.set(time, fields.add(row._field));
          continue;
        }
        const tags = PERSON_TAGS[row._measurement];
        if (tags && (row._measurement !== 'traffic_light' || row._field === 'vehicle_count_sum')) {
          if (['people', 'trips', 'vehicle_count_sum'].includes(row._field))
            released.set(
              `${row._measurement}|${tags
                .map((t) => row[t])
                .filter((v) => v !== undefined)
                .join('|')}|${time}|${row._field}`,
              row._value,
            );
          continue;
        }
        const key = row.scope === 'district' ? `${row._measurement}|district:${row.district}|${time}` : `${row._measurement}|${row.device}|${time}`;
        env.set(key, { ...env.get(key), [row._field]: row._value });
      }
      if (([...expected.keys()].every((k) => env.has(k)) && privacyForLast) || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 1000));
    }

    const missing = [...expected.keys()].filter((k) => !env.has(k));
    expect(missing, `series-windows missing from InfluxDB (of ${expected.size})`).toEqual([]);
    for (const [key, e] of expected) {
      const fields = env.get(key)!;
      const [measurement] = key.split('|');
      expect(fields.readings, key).toBe(e.readings);
      const district = key.includes('|district:');
      if (measurement === 'lamppost') {
        expect(fields.pm25_mean, key).toBeCloseTo(e.sums.pm25! / e.readings, 9);
        // Presence-dependent (the lamp brightens with the phones near it): never per device, a noisy mean per district (P9).
        if (district) expect(fields.dimming_pct_mean, key).toBeGreaterThanOrEqual(0);
        else
          for (const f of ['dimming_pct_mean', 'energy_wh_mean', 'energy_wh_sum', 'lux_mean', 'noise_dba_mean'])
            expect(fields, `${key}: ${f} is presence-dependent`).not.toHaveProperty(f);
      }
      if (measurement === 'traffic_light') {
        expect(fields, `${key}: occupancy is dropped (one waiting vehicle moves it to 100 %)`).not.toHaveProperty('occupancy_pct_mean');
        if (district) expect(fields.queue_length_mean, key).toBeGreaterThanOrEqual(0);
        else expect(fields, `${key}: queue length is presence-dependent`).not.toHaveProperty('queue_length_mean');
        expect(fields, `${key}: a person-derived count never leaves un-noised`).not.toHaveProperty('vehicle_count_sum');
      }
      if (measurement === 'sewer') {
        expect(fields.level_cm_max, key).toBe(e.max.levelCm);
        expect(fields.overflow_count_true, key).toBe(e.trues.overflow);
      }
    }
    // P9: every window of every per-window person-derived stream has its privacy record, whatever
    // was seen in it, and the record holds only what the schedule and the released figures say.
    const windows = Array.from(
      { length: (lastWindow - windowOf(firstPublish, WINDOW_SECONDS)) / (WINDOW_SECONDS * 1000) + 1 },
      (_, i) => windowOf(firstPublish, WINDOW_SECONDS) + i * WINDOW_SECONDS * 1000,
    );
    for (const stream of ['pedestrians', 'vehicles', 'travel_times', 'traffic_light.vehicle_count_sum', 'lamppost.presence', 'traffic_light.presence']) {
      const got = privacy.get(stream) ?? new Map<number, Set<string>>();
      expect(
        windows.filter((w) => !got.has(w)),
        `${stream}: windows without a privacy record`,
      ).toEqual([]);
      for (const fields of got.values())
        expect([...fields].sort(), stream).toEqual(['epsilon_budget_today', 'epsilon_spent_today', 'epsilon_this_release', 'released']);
    }
    // Person-derived figures: exactly the series the k and differencing rules allow, each
    // equal to its true value plus the noise the processor's key derives for it.
    expect(new Map([...released].sort()), 'released person-derived figures').toEqual(new Map([...person].sort()));
  });

  it('answers every query of the provisioned Grafana dashboards with data, using the read-only token', async () => {
    const queryApi = new InfluxDB({ url: infra.influx.url, token: infra.influx.readerToken }).getQueryApi(infra.influx.org);
    const context = {
      start: new Date(firstPublish - 60_000),
      stop: new Date(Date.now() + 60_000),
      windowPeriod: `${WINDOW_SECONDS}s`,
      variables: { window: `${WINDOW_SECONDS}s`, district: '.*' },
    };
    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThan(5);
    const empty: string[] = [];
    for (const q of queries) {
      const rows = await queryApi.collectRows(asGrafanaSendsIt(q.flux, context));
      if (rows.length === 0) empty.push(`${q.dashboard}: ${q.title}`);
    }
    expect(empty, 'dashboard queries that returned no data').toEqual([]);
  });

  it("answers every PromQL query of the provisioned Grafana dashboards with data from the services' metrics", async () => {
    // Refused requests for individual-level data, for the privacy dashboard: two rounds a few
    // scrapes apart, so the refusal counters exist before they move and increase() sees them.
    for (let round = 0; round < 2; round++) {
      expect((await fetch(`http://127.0.0.1:${api.port}/v1/sightings`)).status).toBe(403);
      const res = await fetch(`http://127.0.0.1:${api.port}/v1/data-requests`, {
        method: 'POST',
        headers: { authorization: `Bearer ${requesterToken}`, 'content-type': 'application/json' },
        body: plateMovementsRequest(Date.now() - 86_400_000),
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { decision: string }).decision).toBe('refused');
      await prometheus.waitForScrapes(3);
    }
    const stop = new Date();
    const context = {
      start: new Date(firstPublish - 60_000),
      stop,
      intervalSeconds: 2,
      scrapeIntervalSeconds: prometheus.scrapeIntervalSeconds,
      variables: { service: '.*' },
    };
    const queries = dashboardPromQueries();
    expect(queries.length).toBeGreaterThan(20);
    const empty: string[] = [];
    for (const q of queries) {
      const variable = labelValuesQuery(q.expr);
      if (variable) {
        const values = await prometheus.labelValues(variable.label, variable.match);
        if (!['gateway', 'processor', 'writer', 'api'].every((s) => values.includes(s))) empty.push(`${q.dashboard}: ${q.title} (${values.join(', ')})`);
        continue;
      }
      const expr = asGrafanaSendsPromQL(q.expr, context);
      const series = q.instant ? await prometheus.query(expr, stop) : await prometheus.queryRange(expr, context.start, stop, context.intervalSeconds);
      // NaN (a quantile over no observations) is not data.
      const samples = series.flatMap((s) => s.values ?? (s.value ? [s.value] : []));
      if (!samples.some(([, value]) => Number.isFinite(Number(value)))) empty.push(`${q.dashboard}: ${q.title}`);
    }
    expect(empty, 'dashboard PromQL queries that returned no data').toEqual([]);
  });

  it('never writes a raw MAC or plate to any service log', () => {
    const logs = services.map((s) => s.output()).join('\n');
    const identifiers = new Set<string>();
    for (const r of published) {
      const p = r.payload as Partial<LamppostReadingInput & TrafficLightReadingInput>;
      for (const probe of p.wifiProbes ?? []) identifiers.add(probe.mac);
      for (const read of p.plateReads ?? []) identifiers.add(read.plate);
    }
    expect(identifiers.size).toBeGreaterThan(100);
    const leaked = [...identifiers].filter((id) => logs.includes(id));
    expect(leaked).toEqual([]);
  });
});
