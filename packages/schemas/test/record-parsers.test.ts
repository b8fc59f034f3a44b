// The processor trusts the compiled record parsers (record-parsers.ts) for every record Ajv
// accepts, so they must parse exactly what zod's parse gives — the same records refused, the
// same fields kept, unknown keys dropped — on hand-made records and on random damage to every
// field of a reading, a sightings bundle and a single sighting.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileRecordParsers } from '../src/record-parsers.ts';
import { ReadingRecordSchema, sightingsOf, SightingsTopicRecordSchema } from '../src/records.ts';

const parsers = compileRecordParsers();
const byZod = {
  reading: (json: unknown) => {
    const parsed = ReadingRecordSchema.safeParse(json);
    return parsed.success ? parsed.data : undefined;
  },
  sightings: (json: unknown) => {
    const parsed = SightingsTopicRecordSchema.safeParse(json);
    return parsed.success ? sightingsOf(parsed.data) : undefined;
  },
};

const READING = {
  v: 1,
  kind: 'lamppost',
  deviceId: 'LP-0001',
  district: 'Harbour',
  seq: 7,
  ts: 1_764_900_000_000,
  values: { pm25: 12, overflow: false, phase: 'red' },
};
const pseudonym = 'a1B2c3D4e5F6g7H8i9J0kL';
const BUNDLE = {
  v: 2,
  source: 'wifi',
  epoch: 1_960_000,
  kind: 'lamppost',
  deviceId: 'LP-0001',
  district: 'Harbour',
  ts: 1_764_900_000_000,
  sightings: [{ pseudonym }, { pseudonym: `${pseudonym}x`, speedKmh: 31.5 }],
};
const SIGHTING = {
  v: 1,
  source: 'plate',
  pseudonym,
  epoch: 1_960_000,
  kind: 'traffic-light',
  deviceId: 'TL-0002',
  district: 'Old Town',
  ts: 1_764_900_000_000,
  speedKmh: 44,
};
const SAMPLES = { reading: READING, sightings: BUNDLE, sighting: SIGHTING } as const;
const parserOf = (sample: keyof typeof SAMPLES) => (sample === 'reading' ? 'reading' : 'sightings');

describe('the compiled parsers of the readings and sightings records', () => {
  it('parse valid records as zod does, dropping unknown keys', () => {
    for (const [sample, record] of Object.entries(SAMPLES) as Array<[keyof typeof SAMPLES, Record<string, unknown>]>) {
      const p = parserOf(sample);
      const withExtra = { ...record, extra: { nested: [1] }, mac: '02:1A:2B:3C:4D:5E' };
      expect(parsers[p](withExtra), sample).toEqual(byZod[p](withExtra));
      expect(parsers[p](withExtra), sample).toBeDefined();
      expect(JSON.stringify(parsers[p](withExtra)), sample).not.toMatch(/extra|mac/);
    }
    expect(parsers.sightings(BUNDLE)).toHaveLength(2);
  });

  it('refuse what zod refuses', () => {
    for (const bad of [null, 'x', [], { ...READING, v: 2 }, { ...READING, ts: -1 }, { ...READING, values: { a: null } }, { ...READING, seq: 1.5 }])
      expect(parsers.reading(bad), JSON.stringify(bad)).toBeUndefined();
    for (const bad of [
      { ...BUNDLE, sightings: [] },
      { ...BUNDLE, v: 1 },
      { ...SIGHTING, speedKmh: 251 },
      { ...SIGHTING, pseudonym: 'short' },
    ])
      expect(parsers.sightings(bad), JSON.stringify(bad)).toBeUndefined();
  });

  it('judge and parse random damage to any field as zod does', () => {
    const anyValue = fc.oneof(
      fc.jsonValue(),
      fc.double(),
      fc.integer({ min: -1000, max: 2_000_000_000_000 }),
      fc.string({ unit: 'binary', maxLength: 40 }),
      // Copied per draw: a damage may put a drawn list inside another drawn list.
      fc.constantFrom(1, 2, 'wifi', 'plate', 'sewer', 'LP-0001', 'LP-1', pseudonym, [], [{ pseudonym }], {}).map((v) => structuredClone(v)),
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...(Object.keys(SAMPLES) as Array<keyof typeof SAMPLES>)),
        fc.array(fc.tuple(fc.nat(), anyValue, fc.boolean()), { maxLength: 3 }),
        fc.option(fc.tuple(fc.nat(), fc.nat(), anyValue)),
        (sample, damages, inner) => {
          const record = structuredClone(SAMPLES[sample]) as Record<string, unknown>;
          const fields = Object.keys(SAMPLES[sample]);
          for (const [i, value, remove] of damages) {
            const field = fields[i % fields.length]!;
            if (remove) delete record[field];
            else record[field] = value;
          }
          const list = record.sightings ?? record.values;
          if (inner && list !== null && typeof list === 'object') {
            const [i, j, value] = inner;
            const items = Array.isArray(list) ? list : [list];
            const item = items[i % Math.max(1, items.length)] as unknown;
            if (item !== null && typeof item === 'object' && !Array.isArray(item)) {
              const keys = Object.keys(item);
              if (keys.length > 0) (item as Record<string, unknown>)[keys[j % keys.length]!] = value;
            }
          }
          const p = parserOf(sample);
          expect(parsers[p](record), JSON.stringify(record)).toEqual(byZod[p](record));
        },
      ),
      { numRuns: 3000 },
    );
  });
});
