// The whole pipeline on real servers: the simulator publishes a deterministic scenario
// through Mosquitto as the devices; gateway, processor and writer run as real processes; the
// aggregates that land in InfluxDB must equal figures computed independently from the
// published readings (exactly for counts, to float precision for means).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InfluxDB } from '@influxdata/influxdb-client';
import { DEFAULT_POLICY_PATH } from '@lethe/privacy';
import { DEFAULT_FLEET_PATH, loadFleet, type LamppostReadingInput, type SewerReadingInput, type TrafficLightReadingInput } from '@lethe/schemas';
import { createCity, createFleetPublisher, loadScenario, runSimulation, type SimulatedReading } from '@lethe/simulator';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { startService, type RunningService } from '../support/services.ts';

const WINDOW_SECONDS = 5;
const infra = inject('infra');

/** The shipped policy with short windows, so the test sees windows close in seconds. */
function testPolicyFile(): string {
  const policy = parse(readFileSync(DEFAULT_POLICY_PATH, 'utf8')) as { kinds: Record<string, { window: string }> };
  for (const kind of Object.values(policy.kinds)) kind.window = `${WINDOW_SECONDS}s`;
  const path = join(mkdtempSync(join(tmpdir(), 'lethe-e2e-')), 'policy.yaml');
  writeFileSync(path, stringify(policy));
  return path;
}

interface Expected {
  readings: number;
  sums: Record<string, number>;
  max: Record<string, number>;
  trues: Record<string, number>;
  distinct: Set<string>;
  sightings: number;
}

/** Reference model, independent of the pipeline's code: group the published readings by window. */
function expectedFigures(published: readonly SimulatedReading[]): Map<string, Expected> {
  const out = new Map<string, Expected>();
  const get = (measurement: string, device: string, ts: string) => {
    const start = Math.floor(Date.parse(ts) / (WINDOW_SECONDS * 1000)) * WINDOW_SECONDS * 1000;
    const key = `${measurement}|${device}|${start}`;
    let e = out.get(key);
    if (!e) out.set(key, (e = { readings: 0, sums: {}, max: {}, trues: {}, distinct: new Set(), sightings: 0 }));
    return e;
  };
  const add = (e: Expected, name: string, value: number) => {
    e.sums[name] = (e.sums[name] ?? 0) + value;
    e.max[name] = Math.max(e.max[name] ?? -Infinity, value);
  };
  for (const r of published) {
    if (r.kind === 'lamppost') {
      const p = r.payload as LamppostReadingInput;
      const e = get('lamppost', r.deviceId, p.ts);
      e.readings++;
      add(e, 'pm25', p.pm25);
      add(e, 'energyWh', p.energyWh);
      if (p.wifiProbes && p.wifiProbes.length > 0) {
        const s = get('pedestrians', r.deviceId, p.ts);
        for (const probe of p.wifiProbes) s.distinct.add(probe.mac.toUpperCase());
        s.sightings += p.wifiProbes.length;
      }
    } else if (r.kind === 'traffic-light') {
      const p = r.payload as TrafficLightReadingInput;
      const e = get('traffic_light', r.deviceId, p.ts);
      e.readings++;
      add(e, 'vehicleCount', p.vehicleCount);
      if (p.plateReads && p.plateReads.length > 0) {
        const s = get('vehicles', r.deviceId, p.ts);
        for (const read of p.plateReads) s.distinct.add(read.plate.replaceAll(' ', ''));
        s.sightings += p.plateReads.length;
      }
    } else {
      const p = r.payload as SewerReadingInput;
      const e = get('sewer', r.deviceId, p.ts);
      e.readings++;
      add(e, 'levelCm', p.levelCm);
      e.trues.overflow = (e.trues.overflow ?? 0) + (p.overflow ? 1 : 0);
    }
  }
  return out;
}

describe('pipeline end to end on real Mosquitto, Kafka and InfluxDB', () => {
  const services: RunningService[] = [];
  const published: SimulatedReading[] = [];
  let firstPublish = 0;

  beforeAll(async () => {
    const policyFile = testPolicyFile();
    const run = Date.now();
    const kafka = { KAFKA_BROKERS: infra.kafkaBrokers.join(','), POLICY_FILE: policyFile };
    services.push(await startService('writer', {
      ...kafka,
      KAFKA_GROUP_ID: `e2e-writer-${run}`,
      INFLUX_URL: infra.influx.url,
      INFLUX_ORG: infra.influx.org,
      INFLUX_BUCKET: infra.influx.bucket,
      INFLUX_TOKEN: infra.influx.writerToken,
    }));
    services.push(await startService('processor', { ...kafka, KAFKA_GROUP_ID: `e2e-processor-${run}`, WINDOW_GRACE_SECONDS: '1', TICK_MS: '200' }));
    services.push(await startService('gateway', {
      ...kafka,
      MQTT_URL: infra.mqttUrl,
      MQTT_USERNAME: 'lethe-gateway',
      MQTT_PASSWORD: infra.gatewayPassword,
      // The production client ids: persistent sessions of other ids would stay in the shared
      // subscription group after the process ends and take their share of messages.
    }));
  });

  afterAll(async () => {
    for (const s of services.reverse()) await s.stop();
  });

  it('publishes a deterministic rush-hour scenario and finds exactly the expected aggregates in InfluxDB', async () => {
    const fleet = loadFleet(DEFAULT_FLEET_PATH);
    const city = createCity({ devices: fleet.devices, scenario: loadScenario('rush-hour'), seed: 'e2e', tickSeconds: 1 });
    const publisher = createFleetPublisher({ url: infra.mqttUrl, fleetSecret: infra.fleetSecret, clientIdPrefix: `e2e-${Date.now()}` });
    firstPublish = Date.now();
    const summary = await runSimulation({ city, publisher, tickSeconds: 1, ticks: 8, onPublished: (r) => published.push(r) });
    await publisher.close();
    expect(summary.failed).toBe(0);
    expect(published).toHaveLength(8 * fleet.devices.length);

    const expected = expectedFigures(published);
    expect([...expected.keys()].some((k) => k.startsWith('pedestrians|'))).toBe(true);
    expect([...expected.keys()].some((k) => k.startsWith('vehicles|'))).toBe(true);

    const queryApi = new InfluxDB({ url: infra.influx.url, token: infra.influx.adminToken }).getQueryApi(infra.influx.org);
    const query = `from(bucket: "${infra.influx.bucket}")
      |> range(start: ${new Date(firstPublish - 60_000).toISOString()})
      |> filter(fn: (r) => r.window == "${WINDOW_SECONDS}s")`;
    let actual = new Map<string, Record<string, number>>();
    const deadline = Date.now() + 60_000;
    for (;;) {
      actual = new Map();
      for (const row of await queryApi.collectRows<{ _measurement: string; device: string; _time: string; _field: string; _value: number }>(query)) {
        const key = `${row._measurement}|${row.device}|${Date.parse(row._time)}`;
        actual.set(key, { ...actual.get(key), [row._field]: row._value });
      }
      if ([...expected.keys()].every((k) => actual.has(k)) || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 1000));
    }

    const missing = [...expected.keys()].filter((k) => !actual.has(k));
    expect(missing, `series-windows missing from InfluxDB (of ${expected.size})`).toEqual([]);
    for (const [key, e] of expected) {
      const fields = actual.get(key)!;
      const [measurement] = key.split('|');
      if (measurement === 'pedestrians' || measurement === 'vehicles') {
        expect(fields.distinct, key).toBe(e.distinct.size);
        expect(fields.sightings, key).toBe(e.sightings);
      } else {
        expect(fields.readings, key).toBe(e.readings);
      }
      if (measurement === 'lamppost') {
        expect(fields.pm25_mean, key).toBeCloseTo(e.sums.pm25! / e.readings, 9);
        expect(fields.energy_wh_sum, key).toBeCloseTo(e.sums.energyWh!, 9);
      }
      if (measurement === 'traffic_light') expect(fields.vehicle_count_sum, key).toBe(e.sums.vehicleCount);
      if (measurement === 'sewer') {
        expect(fields.level_cm_max, key).toBe(e.max.levelCm);
        expect(fields.overflow_count_true, key).toBe(e.trues.overflow);
      }
    }
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
