// Property tests of every parser in @lethe/schemas (fast-check, fixed seeds, bounded runs):
// the MQTT reading schemas, the reading topic, and the Kafka record schemas. Whatever the
// input, a parser answers (never throws), keeps only the keys it knows, and never touches
// Object.prototype; whatever a valid device or service would send, it accepts unchanged.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AggregateRecordSchema,
  AuditEventRecordSchema,
  DEVICE_KINDS,
  parseReadingTopic,
  READING_SCHEMAS,
  ReadingRecordSchema,
  readingTopic,
  REJECT_REASONS,
  RejectedRecordSchema,
  SightingRecordSchema,
  SightingsRecordSchema,
  type DeviceKind,
} from '../../src/index.ts';
import { hostileJsonText, validReading } from '../support/arbitraries.ts';

const RUNS = { seed: 0x1e7e, numRuns: 300 } as const;
const PROTOTYPE = Object.getOwnPropertyNames(Object.prototype).sort();
function prototypeUntouched(): void {
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(PROTOTYPE);
  expect('polluted' in {}).toBe(false);
}
/** Keys a service could write into a record's map (JSON drops a "__proto__" key, so no service can). */
const mapKey = () => fc.string().filter((k) => k !== '__proto__');
const sameAsJson = (value: unknown) => JSON.parse(JSON.stringify(value)) as unknown;

const RECORD_SCHEMAS = {
  reading: ReadingRecordSchema,
  sighting: SightingRecordSchema,
  sightings: SightingsRecordSchema,
  aggregate: AggregateRecordSchema,
  rejected: RejectedRecordSchema,
  audit: AuditEventRecordSchema,
} as const;

describe('reading schemas', () => {
  it('answer any JSON text, keep only their own keys and leave Object.prototype alone', () => {
    fc.assert(
      fc.property(fc.constantFrom(...DEVICE_KINDS), hostileJsonText(), (kind, text) => {
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch {
          return;
        }
        const schema = READING_SCHEMAS[kind];
        const result = schema.safeParse(value);
        if (result.success) {
          for (const key of Object.keys(result.data)) expect(Object.keys(schema.shape)).toContain(key);
          expect(Object.getPrototypeOf(result.data)).toBe(Object.prototype);
        } else {
          expect(result.error.issues.length).toBeGreaterThan(0);
        }
        prototypeUntouched();
      }),
      RUNS,
    );
  });

  it('accept every valid reading unchanged, with unknown keys stripped', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...DEVICE_KINDS).chain((kind) => fc.tuple(fc.constant(kind), validReading(kind))),
        fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 3 }),
        ([kind, reading], extra) => {
          const schema = READING_SCHEMAS[kind];
          const extras = Object.fromEntries(Object.entries(extra).filter(([k]) => !Object.hasOwn(schema.shape, k)));
          const result = schema.safeParse({ ...extras, ...reading });
          if (!result.success) throw new Error(`${kind}: ${JSON.stringify(result.error.issues)} for ${JSON.stringify(reading)}`);
          expect(sameAsJson(result.data)).toEqual(
            sameAsJson({ wifiProbes: kind === 'lamppost' ? [] : undefined, plateReads: kind === 'traffic-light' ? [] : undefined, ...reading }),
          );
          for (const key of Object.keys(extras)) expect(Object.hasOwn(result.data, key)).toBe(false);
        },
      ),
      RUNS,
    );
  });
});

describe('the reading topic', () => {
  it('round-trips every device topic', () => {
    fc.assert(
      fc.property(fc.constantFrom(...DEVICE_KINDS), fc.constantFrom('LP', 'TL', 'SW'), fc.integer({ min: 0, max: 9999 }), (kind: DeviceKind, prefix, n) => {
        const deviceId = `${prefix}-${String(n).padStart(4, '0')}`;
        expect(parseReadingTopic(readingTopic(kind, deviceId))).toEqual({ kind, deviceId });
      }),
      RUNS,
    );
  });

  it('parses a string only if it is exactly a reading topic, and answers anything else with undefined', () => {
    const near = fc
      .tuple(fc.constantFrom(...DEVICE_KINDS), fc.stringMatching(/^[A-Z]{2}-\d{4}$/), fc.nat(40), fc.string({ unit: 'binary', maxLength: 3 }), fc.nat(3))
      .map(([kind, id, at, insert, cut]) => {
        const topic = readingTopic(kind, id);
        const i = at % (topic.length + 1);
        return topic.slice(0, i) + insert + topic.slice(i + cut);
      });
    fc.assert(
      fc.property(fc.oneof(near, fc.string({ unit: 'binary' }), fc.string()), (topic) => {
        const parsed = parseReadingTopic(topic);
        if (parsed) expect(readingTopic(parsed.kind, parsed.deviceId)).toBe(topic);
      }),
      { ...RUNS, numRuns: 1000 },
    );
  });
});

describe('Kafka record schemas', () => {
  it('answer any JSON text, drop __proto__ keys and leave Object.prototype alone', () => {
    fc.assert(
      fc.property(fc.constantFrom(...(Object.keys(RECORD_SCHEMAS) as Array<keyof typeof RECORD_SCHEMAS>)), hostileJsonText(), (name, text) => {
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch {
          return;
        }
        const result = RECORD_SCHEMAS[name].safeParse(value);
        if (result.success) {
          const walk = (v: unknown): void => {
            if (v === null || typeof v !== 'object') return;
            if (!Array.isArray(v)) expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
            for (const x of Object.values(v)) walk(x);
          };
          walk(result.data);
          // A record that parses serializes to what parses to itself.
          expect(RECORD_SCHEMAS[name].parse(sameAsJson(result.data))).toEqual(result.data);
        }
        prototypeUntouched();
      }),
      RUNS,
    );
  });

  it('accept the records the services write, unchanged after a JSON round trip', () => {
    const id = fc.constantFrom('LP-0001', 'TL-0042', 'SW-9999');
    const ms = fc.integer({ min: 0, max: 4_102_444_800_000 });
    const reading = fc.record({
      v: fc.constant(1 as const),
      kind: fc.constantFrom(...DEVICE_KINDS),
      deviceId: id,
      district: fc.string({ minLength: 1 }),
      seq: fc.nat(),
      ts: ms,
      values: fc.dictionary(mapKey(), fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.string())),
    });
    const sighting = fc.record(
      {
        v: fc.constant(1 as const),
        source: fc.constantFrom('wifi' as const, 'plate' as const),
        pseudonym: fc.stringMatching(/^[A-Za-z0-9_-]{16,64}$/),
        epoch: fc.nat(),
        kind: fc.constantFrom(...DEVICE_KINDS),
        deviceId: id,
        district: fc.string({ minLength: 1 }),
        ts: ms,
        speedKmh: fc.double({ min: 0, max: 250, noNaN: true }),
      },
      { requiredKeys: ['v', 'source', 'pseudonym', 'epoch', 'kind', 'deviceId', 'district', 'ts'] },
    );
    const sightings = sighting.chain(({ pseudonym, speedKmh, ...shared }) =>
      fc
        .array(
          fc.record(
            { pseudonym: fc.stringMatching(/^[A-Za-z0-9_-]{16,64}$/), speedKmh: fc.double({ min: 0, max: 250, noNaN: true }) },
            { requiredKeys: ['pseudonym'] },
          ),
          { minLength: 0, maxLength: 20 },
        )
        .map((rest) => ({ ...shared, v: 2 as const, sightings: [{ pseudonym, ...(speedKmh === undefined ? {} : { speedKmh }) }, ...rest] })),
    );
    const aggregate = fc.record({
      v: fc.constant(1 as const),
      measurement: fc.stringMatching(/^[a-z][a-z0-9_]*$/),
      tags: fc.dictionary(mapKey(), fc.string()),
      fields: fc.dictionary(mapKey(), fc.double({ noNaN: true, noDefaultInfinity: true })),
      windowStart: ms,
      windowEnd: ms,
    });
    const rejected = fc.record({
      v: fc.constant(1 as const),
      reason: fc.constantFrom(...REJECT_REASONS),
      detail: fc.string({ maxLength: 500 }),
      topic: fc.string({ maxLength: 200 }),
      excerpt: fc.string({ maxLength: 1000 }),
      bytes: fc.nat(),
      receivedAt: ms,
    });
    fc.assert(
      fc.property(
        fc.oneof(
          reading.map((r) => ['reading', r] as const),
          sighting.map((r) => ['sighting', r] as const),
          sightings.map((r) => ['sightings', r] as const),
          aggregate.map((r) => ['aggregate', r] as const),
          rejected.map((r) => ['rejected', r] as const),
        ),
        ([name, record]) => {
          const wire = sameAsJson(record);
          const result = RECORD_SCHEMAS[name].safeParse(wire);
          if (!result.success) throw new Error(`${name}: ${JSON.stringify(result.error.issues)}`);
          expect(result.data).toEqual(wire);
        },
      ),
      RUNS,
    );
  });
});
