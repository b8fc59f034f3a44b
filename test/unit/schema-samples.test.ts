// Real payloads against the published JSON Schemas (packages/schemas/json-schema/): what the
// simulated devices publish in every scenario, and the Kafka records the gateway's ingest stage
// makes of them. Both zod and a JSON Schema validator must accept them, and must agree on
// damaged copies of them. (Hand-written cases live in packages/schemas/test/json-schemas.test.ts;
// this file is here because the simulator and the privacy package depend on @lethe/schemas.)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createFleet,
  DEFAULT_FLEET_PATH,
  JSON_SCHEMA_DIR,
  jsonSchemaSources,
  KAFKA_RECORD_SOURCES,
  loadFleet,
  MQTT_PAYLOAD_SOURCES,
  TOPICS,
  type TopicKey,
} from '@lethe/schemas';
import { createIngestStage, createKindKeyProviders, createPseudonymizers, DEFAULT_POLICY_PATH, loadPolicy, ManualClock } from '@lethe/privacy';
import { createCity, loadScenarios, type SimulatedReading } from '@lethe/simulator';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';

const START = Date.UTC(2026, 10, 23, 0, 0, 0);
const TICKS = 20;

function validators(): Map<string, ValidateFunction> {
  const ajv = new Ajv2020({ allErrors: true, allowUnionTypes: true });
  addFormats.default(ajv);
  return new Map(jsonSchemaSources().map((s) => [s.file, ajv.compile(JSON.parse(readFileSync(join(JSON_SCHEMA_DIR, s.file), 'utf8')) as object)]));
}

/** Every reading the simulated fleet publishes in TICKS ten-second ticks of each scenario, as it goes over the wire. */
function simulatedReadings(): Array<{ scenario: string; at: number; reading: SimulatedReading; wire: unknown }> {
  const fleet = loadFleet(DEFAULT_FLEET_PATH);
  const out = [];
  for (const [name, scenario] of Object.entries(loadScenarios())) {
    const city = createCity({ devices: fleet.devices, scenario, seed: `schemas-${name}`, tickSeconds: 10 });
    for (let i = 0; i < TICKS; i++) {
      const at = START + i * 10_000;
      for (const reading of city.tick(new Date(at))) out.push({ scenario: name, at, reading, wire: JSON.parse(JSON.stringify(reading.payload)) as unknown });
    }
  }
  return out;
}

const check = (validate: ValidateFunction, schema: z.ZodType, payload: unknown) => ({ json: validate(payload), zod: schema.safeParse(payload).success });

describe('payloads published by the simulated devices', () => {
  const samples = simulatedReadings();
  const validate = validators();

  it('cover every device kind, Wi-Fi probes, plate reads and an overflow', () => {
    const kinds = new Set(samples.map((s) => s.reading.kind));
    expect([...kinds].sort()).toEqual(Object.keys(MQTT_PAYLOAD_SOURCES).sort());
    const wire = samples.map((s) => s.wire as { wifiProbes?: unknown[]; plateReads?: unknown[]; overflow?: boolean });
    expect(wire.some((w) => (w.wifiProbes?.length ?? 0) > 0)).toBe(true);
    expect(wire.some((w) => (w.plateReads?.length ?? 0) > 0)).toBe(true);
    expect(wire.some((w) => w.overflow === true)).toBe(true);
  });

  it('are valid by the JSON Schema and by zod', () => {
    const failures = [];
    for (const { scenario, reading, wire } of samples) {
      const source = MQTT_PAYLOAD_SOURCES[reading.kind];
      const v = validate.get(source.file)!;
      const result = check(v, source.schema, wire);
      if (!result.json || !result.zod) failures.push({ scenario, topic: reading.topic, ...result, errors: v.errors });
    }
    expect(failures).toEqual([]);
  });

  it('damaged copies are judged alike by the JSON Schema and zod', () => {
    // One sample per kind, with its identifiers where it has any; each damage applied to it.
    const bases = Object.keys(MQTT_PAYLOAD_SOURCES).map((kind) => {
      const ofKind = samples.filter((s) => s.reading.kind === kind);
      const rich = ofKind.find((s) => JSON.stringify(s.wire).includes('"mac"') || JSON.stringify(s.wire).includes('"plate"'));
      return (rich ?? ofKind[0])!;
    });
    let refused = 0;
    for (const { reading, wire } of bases) {
      const source = MQTT_PAYLOAD_SOURCES[reading.kind];
      const v = validate.get(source.file)!;
      for (const [damage, payload] of damagedCopies(wire as Record<string, unknown>)) {
        const result = check(v, source.schema, payload);
        expect(result.json, `${reading.kind}: ${damage} (zod says ${result.zod ? 'valid' : 'invalid'})`).toBe(result.zod);
        if (!result.zod) refused++;
      }
    }
    expect(refused).toBeGreaterThan(30);
  });
});

/** Each top-level field removed, replaced by a value of every other JSON type, and the identifiers mangled. */
function* damagedCopies(payload: Record<string, unknown>): Generator<[string, unknown]> {
  const others: unknown[] = ['text', -1, 0.5, 1e9, true, null, [], {}];
  for (const key of Object.keys(payload)) {
    yield [`without ${key}`, Object.fromEntries(Object.entries(payload).filter(([k]) => k !== key))];
    for (const value of others) yield [`${key} = ${JSON.stringify(value)}`, { ...payload, [key]: value }];
  }
  const probes = payload.wifiProbes as Array<Record<string, unknown>> | undefined;
  if (probes?.[0]) {
    for (const mac of ['02:00:5E:10:00', '02-00-5E-10-00-01', '0200.5E10.0001', 'GG:00:5E:10:00:01', '']) {
      yield [`MAC ${mac}`, { ...payload, wifiProbes: [{ ...probes[0], mac }] }];
    }
  }
  const plates = payload.plateReads as Array<Record<string, unknown>> | undefined;
  if (plates?.[0]) {
    for (const plate of ['ab 1234', 'AB-1234', 'ABCD 123456', '']) yield [`plate ${plate}`, { ...payload, plateReads: [{ ...plates[0], plate }] }];
  }
}

describe('Kafka records the gateway makes of them', () => {
  it('are valid by the JSON Schema and by zod of their topic', async () => {
    const policy = loadPolicy(DEFAULT_POLICY_PATH);
    const fleet = loadFleet(DEFAULT_FLEET_PATH);
    const clock = new ManualClock(START);
    const stage = createIngestStage({
      policy,
      fleet: createFleet(fleet.devices),
      clock,
      pseudonymizers: createPseudonymizers(policy, createKindKeyProviders(policy, { clock })),
    });
    const validate = validators();
    const byTopic = new Map(Object.entries(TOPICS).map(([key, topic]) => [topic, KAFKA_RECORD_SOURCES[key as TopicKey]]));
    const seen = new Set<string>();
    const failures = [];

    const samples = simulatedReadings().filter((s) => s.scenario === 'rush-hour');
    // Plus two refusals, so the rejected-messages topic is covered too.
    const inputs = [
      ...samples.map((s) => ({ at: s.at, topic: s.reading.topic, payload: JSON.stringify(s.wire) })),
      { at: START, topic: 'lethe/v1/sewer/SW-0001/reading', payload: '{"deviceId":' },
      { at: START, topic: 'lethe/v1/lamppost/LP-0001/reading', payload: JSON.stringify({ ...(samples[0]!.wire as object), seq: -1 }) },
    ];
    for (const { at, topic, payload } of inputs) {
      clock.set(at);
      const result = await stage.ingest(topic, Buffer.from(payload));
      for (const record of result.ok ? result.records : [result.record]) {
        const source = byTopic.get(record.topic as (typeof TOPICS)[TopicKey]);
        expect(source, `record on unknown topic ${record.topic}`).toBeDefined();
        seen.add(record.topic);
        const v = validate.get(source!.file)!;
        const result = check(v, source!.schema, JSON.parse(record.value));
        if (!result.json || !result.zod) failures.push({ topic: record.topic, ...result, errors: v.errors });
      }
    }
    expect(failures).toEqual([]);
    expect([...seen].sort()).toEqual([TOPICS.readings, TOPICS.rejected, TOPICS.sightings].sort());
  });
});
