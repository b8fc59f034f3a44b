// The committed JSON Schemas are exactly what the zod schemas generate, every payload and record
// schema has one, and a JSON Schema validator accepts and refuses the same payloads as zod.
// Samples from the simulator are checked in test/unit/schema-samples.test.ts (the simulator
// depends on this package, so this package cannot depend on it).
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DEVICE_KINDS } from '../src/device-kinds.ts';
import { diffJsonSchemaFiles, JSON_SCHEMA_DIR, listJsonSchemaFiles } from '../src/json-schema-files.ts';
import { generateJsonSchemas, JSON_SCHEMA_ID_BASE, jsonSchemaSources, KAFKA_RECORD_SOURCES, MQTT_PAYLOAD_SOURCES } from '../src/json-schemas.ts';
import * as readings from '../src/readings.ts';
import * as records from '../src/records.ts';
import { TOPICS } from '../src/topics.ts';

const SCRIPT = new URL('../scripts/generate-json-schemas.ts', import.meta.url).pathname;

function createAjv(): Ajv2020 {
  // Strict mode (the default) also refuses keywords ajv does not know, so a schema that only
  // looks right fails here.
  const ajv = new Ajv2020({ allErrors: true, allowUnionTypes: true });
  addFormats.default(ajv);
  return ajv;
}

/** Validators of the committed files, by file name. */
function committedValidators() {
  const ajv = createAjv();
  return new Map(listJsonSchemaFiles().map((file) => [file, ajv.compile(JSON.parse(readFileSync(join(JSON_SCHEMA_DIR, file), 'utf8')) as object)]));
}

function runScript(...args: string[]) {
  return spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8' });
}

describe('committed JSON Schemas', () => {
  it('equal a fresh generation from the zod schemas', () => {
    expect(diffJsonSchemaFiles(), 'packages/schemas/json-schema/ is stale: run pnpm gen:schemas and commit the result').toEqual({
      missing: [],
      changed: [],
      extra: [],
    });
  });

  it('are draft 2020-12 documents with an $id that ends in their file name, a title and a description', () => {
    for (const [file, document] of generateJsonSchemas()) {
      expect(document.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
      expect(document.$id).toBe(`${JSON_SCHEMA_ID_BASE}${file}`);
      expect(document.title.length).toBeGreaterThan(0);
      expect(document.description.length).toBeGreaterThan(20);
    }
  });

  it('compile in ajv strict mode', () => {
    expect([...committedValidators().keys()]).toEqual([...generateJsonSchemas().keys()].sort());
  });

  it('use only keywords that mean the same in draft-07, which AsyncAPI 3.0 payloads are built on', () => {
    const allowed = new Set([
      ...['$schema', '$id', 'title', 'description', 'default', 'examples', 'type', 'enum', 'const'],
      ...['properties', 'required', 'additionalProperties', 'propertyNames', 'items', 'minItems', 'maxItems'],
      ...['minLength', 'maxLength', 'pattern', 'format', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'],
      ...['anyOf', 'oneOf', 'allOf', 'not'],
    ]);
    const used = new Set<string>();
    const walk = (schema: unknown): void => {
      if (typeof schema !== 'object' || schema === null) return;
      for (const [key, value] of Object.entries(schema)) {
        used.add(key);
        if (key === 'properties') Object.values(value as object).forEach(walk);
        else if (['anyOf', 'oneOf', 'allOf'].includes(key)) (value as unknown[]).forEach(walk);
        else if (['items', 'additionalProperties', 'propertyNames', 'not'].includes(key)) {
          // `items` as an array is a tuple in draft-07 and invalid in 2020-12.
          expect(Array.isArray(value), `${key} must be a single schema`).toBe(false);
          walk(value);
        }
      }
    };
    for (const document of generateJsonSchemas().values()) walk(document);
    expect([...used].filter((k) => !allowed.has(k))).toEqual([]);
  });
});

describe('the registry of schemas', () => {
  it('has an MQTT payload schema for every device kind and a record schema for every Kafka topic', () => {
    expect(Object.keys(MQTT_PAYLOAD_SOURCES)).toEqual([...DEVICE_KINDS]);
    expect(Object.keys(KAFKA_RECORD_SOURCES)).toEqual(Object.keys(TOPICS));
  });

  it('covers every zod schema that readings.ts and records.ts export, as a document or inside one', () => {
    const sources = jsonSchemaSources();
    const documents = [...generateJsonSchemas().values()];
    const contains = (haystack: unknown, needle: unknown): boolean =>
      JSON.stringify(haystack) === JSON.stringify(needle) ||
      (typeof haystack === 'object' && haystack !== null && Object.values(haystack).some((v) => contains(v, needle)));
    const exported: Array<[string, z.ZodType]> = [];
    for (const [name, value] of Object.entries({ ...readings, ...records }) as Array<[string, unknown]>) {
      if (value instanceof z.ZodType) exported.push([name, value]);
    }
    expect(exported.length).toBeGreaterThanOrEqual(8);
    for (const [name, schema] of exported) {
      if (sources.some((s) => s.schema === schema)) continue;
      const { $schema: _, ...body } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' });
      expect(
        documents.some((d) => contains(d, body)),
        `${name} is exported but no generated JSON Schema contains it: register it in packages/schemas/src/json-schemas.ts`,
      ).toBe(true);
    }
  });

  it('gives each source its own file', () => {
    const files = jsonSchemaSources().map((s) => s.file);
    expect(new Set(files).size).toBe(files.length);
    for (const file of files) expect(file).toMatch(/^(mqtt|kafka)\/[a-z][a-z-]*\.schema\.json$/);
  });
});

const lamppost = {
  deviceId: 'LP-0001',
  seq: 0,
  ts: '2026-11-23T08:30:00.000+08:00',
  pm25: 18.4,
  pm10: 31.2,
  no2: 41,
  noiseDba: 63.5,
  lux: 12_000,
  temperatureC: 24.1,
  humidityPct: 71,
  dimmingPct: 0,
  energyWh: 0,
  wifiProbes: [{ mac: '02:00:5e:10:00:01', rssi: -67, ssids: ['home'] }],
};
const trafficLight = {
  deviceId: 'TL-0001',
  seq: 7,
  ts: '2026-11-23T00:30:00Z',
  phase: 'green',
  vehicleCount: 14,
  occupancyPct: 32.5,
  queueLength: 3,
  meanSpeedKmh: 38.2,
  plateReads: [{ plate: 'XX 1234', speedKmh: 41 }],
};
const sewer = { deviceId: 'SW-0001', seq: 1, ts: '2026-11-23T00:30:00Z', levelCm: 22.5, flowLps: 140, h2sPpm: 0.8, temperatureC: 19.5, overflow: false };
const sightings = {
  v: 2,
  source: 'plate',
  epoch: 1_994_882,
  kind: 'traffic-light',
  deviceId: 'TL-0001',
  district: 'central-western',
  ts: 1_795_393_800_000,
  sightings: [{ pseudonym: 'q3Vx1b0yKp8Tz4Lw2Hn6Rc', speedKmh: 41 }, { pseudonym: 'Zt7Lw2Hn6Rcq3Vx1b0yKp8' }],
};
const aggregate = { v: 1, measurement: 'lamppost', tags: { device: 'LP-0001' }, fields: { pm25_mean: 18.1 }, windowStart: 0, windowEnd: 60_000 };
const rejected = {
  v: 1,
  reason: 'NOT_JSON',
  detail: 'payload is not valid UTF-8 JSON',
  topic: 'lethe/v1/sewer/SW-0001/reading',
  excerpt: '<3 bytes, not JSON>',
  bytes: 3,
  receivedAt: 1,
};
const reading = { v: 1, kind: 'sewer', deviceId: 'SW-0001', district: 'islands', seq: 1, ts: 1, values: { levelCm: 22.5, overflow: false, phase: 'green' } };
const partialBase = { v: 1, windowStart: 60_000, windowEnd: 120_000, coversFrom: 0, topic: 'lethe.sightings.v1', partition: 2 };
const vehiclesPartial = {
  ...partialBase,
  type: 'sightings',
  source: 'plate',
  cells: [{ deviceId: 'TL-0001', district: 'north', people: 3, speedBins: [0, 1, 2] }],
  trips: [{ from: 'TL-0002', fromDistrict: 'north', to: 'TL-0001', toDistrict: 'north', durationBins: [0, 1] }],
};
const readingsPartial = {
  ...partialBase,
  type: 'readings',
  kind: 'sewer',
  devices: [
    { deviceId: 'SW-0001', district: 'islands', readings: 2, numeric: { levelCm: { sum: 45, n: 2, min: 22, max: 23 } }, trues: { overflow: 0 }, counts: {} },
  ],
};

const without = (o: object, key: string) => Object.fromEntries(Object.entries(o).filter(([k]) => k !== key));

// [case, file, payload, accepted]
const CASES: Array<[string, string, unknown, boolean]> = [
  ['a complete lamppost reading', 'mqtt/lamppost-reading', lamppost, true],
  ['a lamppost reading without wifiProbes (it defaults to none)', 'mqtt/lamppost-reading', without(lamppost, 'wifiProbes'), true],
  ['a reading with a property the schema does not know (parsing drops it)', 'mqtt/lamppost-reading', { ...lamppost, firmware: '1.2.3' }, true],
  ['a bad MAC', 'mqtt/lamppost-reading', { ...lamppost, wifiProbes: [{ mac: '02:00:5e:10:00' }] }, false],
  ['a probe without its MAC', 'mqtt/lamppost-reading', { ...lamppost, wifiProbes: [{ rssi: -50 }] }, false],
  ['a missing required field', 'mqtt/lamppost-reading', without(lamppost, 'pm25'), false],
  ['a number sent as a string', 'mqtt/lamppost-reading', { ...lamppost, pm25: '18.4' }, false],
  ['a value above its maximum', 'mqtt/lamppost-reading', { ...lamppost, humidityPct: 101 }, false],
  ['a too long SSID', 'mqtt/lamppost-reading', { ...lamppost, wifiProbes: [{ mac: '02:00:5e:10:00:01', ssids: ['x'.repeat(33)] }] }, false],
  ['a timestamp without offset', 'mqtt/lamppost-reading', { ...lamppost, ts: '2026-11-23T08:30:00' }, false],
  ['a timestamp that is not a date', 'mqtt/lamppost-reading', { ...lamppost, ts: '2026-02-30T08:30:00Z' }, false],
  ['a malformed device id', 'mqtt/lamppost-reading', { ...lamppost, deviceId: 'LP-1' }, false],
  ['a negative sequence number', 'mqtt/lamppost-reading', { ...lamppost, seq: -1 }, false],
  ['a fractional sequence number', 'mqtt/lamppost-reading', { ...lamppost, seq: 1.5 }, false],
  ['a payload that is not an object', 'mqtt/lamppost-reading', [lamppost], false],
  ['a complete traffic light reading', 'mqtt/traffic-light-reading', trafficLight, true],
  ['a lower-case plate', 'mqtt/traffic-light-reading', { ...trafficLight, plateReads: [{ plate: 'xx 1234', speedKmh: 41 }] }, false],
  ['an unknown phase', 'mqtt/traffic-light-reading', { ...trafficLight, phase: 'blue' }, false],
  ['a fractional vehicle count', 'mqtt/traffic-light-reading', { ...trafficLight, vehicleCount: 1.5 }, false],
  ['a complete sewer reading', 'mqtt/sewer-reading', sewer, true],
  ['an overflow flag sent as a string', 'mqtt/sewer-reading', { ...sewer, overflow: 'no' }, false],
  ['a minimized reading record', 'kafka/reading-record', reading, true],
  ['a reading record of an unknown version', 'kafka/reading-record', { ...reading, v: 2 }, false],
  ['a reading record with a nested value', 'kafka/reading-record', { ...reading, values: { levelCm: { mean: 1 } } }, false],
  ['a sightings record', 'kafka/sightings-record', sightings, true],
  ['a sighting whose pseudonym is too short to be one', 'kafka/sightings-record', { ...sightings, sightings: [{ pseudonym: 'AB1234' }] }, false],
  ['sightings from an unknown source', 'kafka/sightings-record', { ...sightings, source: 'bluetooth' }, false],
  ['a sightings record with no sighting', 'kafka/sightings-record', { ...sightings, sightings: [] }, false],
  [
    'a single sighting, as gateways before bundles wrote them',
    'kafka/sightings-record',
    { v: 1, source: 'wifi', pseudonym: 'q3Vx1b0yKp8Tz4Lw2Hn6Rc', epoch: 1, kind: 'lamppost', deviceId: 'LP-0001', district: 'wan-chai', ts: 0 },
    true,
  ],
  [
    'a single sighting that says v 2',
    'kafka/sightings-record',
    { v: 2, source: 'wifi', pseudonym: 'q3Vx1b0yKp8Tz4Lw2Hn6Rc', epoch: 1, kind: 'lamppost', deviceId: 'LP-0001', district: 'wan-chai', ts: 0 },
    false,
  ],
  ['a window partial of plate reads', 'kafka/window-partial-record', vehiclesPartial, true],
  ['a window partial of readings', 'kafka/window-partial-record', readingsPartial, true],
  ['an empty dwell partial', 'kafka/window-partial-record', { ...partialBase, type: 'dwell', source: 'wifi', cells: [] }, true],
  [
    'a partial that names a pseudonym instead of a cell',
    'kafka/window-partial-record',
    { ...vehiclesPartial, cells: [{ deviceId: 'q3Vx1b0yKp8Tz4Lw2Hn6Rc', district: 'north', people: 1 }] },
    false,
  ],
  [
    'a partial with a fractional count of people',
    'kafka/window-partial-record',
    { ...vehiclesPartial, cells: [{ deviceId: 'TL-0001', district: 'north', people: 1.5 }] },
    false,
  ],
  ['a partial of an unknown type', 'kafka/window-partial-record', { ...readingsPartial, type: 'people' }, false],
  ['a readings partial without its devices', 'kafka/window-partial-record', without(readingsPartial, 'devices'), false],
  ['an aggregate record', 'kafka/aggregate-record', aggregate, true],
  ['an aggregate with an upper-case measurement', 'kafka/aggregate-record', { ...aggregate, measurement: 'Lamppost' }, false],
  ['an aggregate with a text field', 'kafka/aggregate-record', { ...aggregate, fields: { pm25_mean: 'high' } }, false],
  ['a rejected record', 'kafka/rejected-record', rejected, true],
  ['a rejected record with an unknown reason', 'kafka/rejected-record', { ...rejected, reason: 'TOO_UGLY' }, false],
  ['a rejected record with an oversized excerpt', 'kafka/rejected-record', { ...rejected, excerpt: 'x'.repeat(1001) }, false],
];

describe('zod and the JSON Schemas', () => {
  const validators = committedValidators();
  const schemaOf = (file: string) => jsonSchemaSources().find((s) => s.file === `${file}.schema.json`)!.schema;

  it.each(CASES)('agree on %s (%s)', (_case, file, payload, accepted) => {
    const validate = validators.get(`${file}.schema.json`)!;
    expect(schemaOf(file).safeParse(payload).success, 'zod').toBe(accepted);
    expect(validate(payload), `JSON Schema: ${JSON.stringify(validate.errors)}`).toBe(accepted);
  });
});

describe('pnpm gen:schemas', () => {
  it('--check lists stale, missing and extra files and exits 1; a write run fixes them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lethe-json-schema-'));
    try {
      cpSync(JSON_SCHEMA_DIR, dir, { recursive: true });
      writeFileSync(join(dir, 'mqtt/sewer-reading.schema.json'), '{}\n');
      rmSync(join(dir, 'kafka/rejected-record.schema.json'));
      writeFileSync(join(dir, 'kafka/old-record.schema.json'), '{}\n');

      const check = runScript('--check', '--dir', dir);
      expect(check.status).toBe(1);
      expect(check.stderr).toMatch(/stale: .*mqtt\/sewer-reading\.schema\.json/);
      expect(check.stderr).toMatch(/missing: .*kafka\/rejected-record\.schema\.json/);
      expect(check.stderr).toMatch(/extra: .*kafka\/old-record\.schema\.json/);
      expect(check.stderr).toContain('run pnpm gen:schemas');

      const write = runScript('--dir', dir);
      expect(write.status, write.stderr).toBe(0);
      expect(write.stdout).toMatch(/updated +.*mqtt\/sewer-reading\.schema\.json/);
      expect(write.stdout).toMatch(/created +.*kafka\/rejected-record\.schema\.json/);
      expect(write.stdout).toMatch(/deleted +.*kafka\/old-record\.schema\.json/);
      expect(diffJsonSchemaFiles(dir)).toEqual({ missing: [], changed: [], extra: [] });
      expect(runScript('--check', '--dir', dir).status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
