// The gateway trusts Ajv's compiled validators (reading-validators.ts) for every payload they
// accept, so they must never accept one zod refuses; and they should refuse none zod accepts, or
// the hot path loses its speed. Checked on hand-made payloads of every kind, on the edges where
// JSON Schema and JavaScript differ (UTF-16 lengths, numbers JSON.parse makes infinite), and on
// random damage to every field and every identifier.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEVICE_KINDS, type DeviceKind } from '../src/device-kinds.ts';
import { compileReadingValidators, READING_FIELDS } from '../src/reading-validators.ts';
import { READING_SCHEMAS } from '../src/readings.ts';

const validators = compileReadingValidators();
const ts = '2026-12-05T03:00:00.123+08:00';
const VALID: Record<DeviceKind, Record<string, unknown>> = {
  lamppost: {
    deviceId: 'LP-0001',
    seq: 7,
    ts,
    pm25: 12,
    pm10: 20,
    no2: 31.5,
    noiseDba: 55,
    lux: 0,
    temperatureC: -3,
    humidityPct: 60,
    dimmingPct: 40,
    energyWh: 12,
    wifiProbes: [{ mac: '02:1A:2B:3C:4D:5E', rssi: -60, ssids: ['home', ''] }, { mac: '02:1a:2b:3c:4d:5f' }],
  },
  'traffic-light': {
    deviceId: 'TL-0002',
    seq: 0,
    ts: '2026-12-05T03:00:00Z',
    phase: 'amber',
    vehicleCount: 12,
    occupancyPct: 30,
    queueLength: 4,
    meanSpeedKmh: 31,
    plateReads: [{ plate: 'AB 1234', speedKmh: 44, imageRef: 'cam/1.jpg' }],
  },
  sewer: { deviceId: 'SW-0003', seq: 9, ts, levelCm: 40, flowLps: 3.5, h2sPpm: 0.2, temperatureC: 12, overflow: false },
};

const agree = (kind: DeviceKind, json: unknown) => ({ ajv: validators[kind](json), zod: READING_SCHEMAS[kind].safeParse(json).success });

describe('the compiled reading validators', () => {
  it('accept a valid payload of every kind, with unknown keys, as zod does', () => {
    for (const kind of DEVICE_KINDS) {
      expect(agree(kind, VALID[kind])).toEqual({ ajv: true, zod: true });
      expect(agree(kind, { ...VALID[kind], firmware: '1.2', extra: { nested: [1] } })).toEqual({ ajv: true, zod: true });
    }
  });

  it('count string lengths in code points, as zod does (not in UTF-16 code units, as JavaScript does)', () => {
    const probe = (ssid: string) => ({ ...VALID.lamppost, wifiProbes: [{ mac: '02:1A:2B:3C:4D:5E', ssids: [ssid] }] });
    // An SSID may be 32 long: 17 astral characters are 34 code units but 17 code points.
    expect(agree('lamppost', probe('😀'.repeat(17)))).toEqual({ ajv: true, zod: true });
    expect(agree('lamppost', probe('😀'.repeat(33)))).toEqual({ ajv: false, zod: false });
    expect(agree('lamppost', probe('e\u0301'.repeat(17)))).toEqual({ ajv: false, zod: false });
    expect(agree('lamppost', probe('\ud800'.repeat(32)))).toEqual({ ajv: true, zod: true });
  });

  it('refuse numbers JSON.parse makes infinite, and a date-time zod refuses', () => {
    for (const kind of DEVICE_KINDS) {
      const json = JSON.parse(JSON.stringify(VALID[kind]).replace(/"seq":\d+/, '"seq":1e999')) as unknown;
      expect(agree(kind, json)).toEqual({ ajv: false, zod: false });
    }
    for (const bad of ['2026-02-30T00:00:00Z', '2026-12-05T24:00:00Z', '2026-12-05T03:00:60Z', '2026-12-05 03:00:00Z', '2026-12-05T03:00:00'])
      expect(agree('sewer', { ...VALID.sewer, ts: bad }), bad).toEqual({ ajv: false, zod: false });
  });

  it('judge random damage to any field, or to an identifier in a list, as zod does', () => {
    const kind = fc.constantFrom(...DEVICE_KINDS);
    const anyValue = fc.oneof(
      fc.jsonValue(),
      fc.double(),
      fc.integer({ min: -1000, max: 20_000 }),
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.constantFrom('LP-0001', 'TL-0002', 'red', 'green', 'AB 1234', '02:1A:2B:3C:4D:5E', ts, '2026-12-05T03:00:00.1234567890Z'),
    );
    fc.assert(
      fc.property(
        kind,
        fc.array(fc.tuple(fc.nat(), anyValue, fc.boolean()), { maxLength: 3 }),
        fc.option(fc.tuple(fc.nat(), fc.nat(), anyValue)),
        (k, damages, inner) => {
          const payload = structuredClone(VALID[k]);
          const fields = READING_FIELDS[k];
          for (const [i, value, remove] of damages) {
            const field = fields[i % fields.length]!;
            if (remove) delete payload[field];
            else payload[field] = value;
          }
          const list = payload.wifiProbes ?? payload.plateReads;
          if (inner && Array.isArray(list) && list.length > 0) {
            const [i, j, value] = inner;
            const item = list[i % list.length] as unknown;
            if (item !== null && typeof item === 'object' && !Array.isArray(item)) {
              const keys = Object.keys(item);
              if (keys.length > 0) (item as Record<string, unknown>)[keys[j % keys.length]!] = value;
            }
          }
          const { ajv, zod } = agree(k, payload);
          expect(ajv, JSON.stringify(payload)).toBe(zod);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('list the fields of each kind as zod parses them', () => {
    expect(READING_FIELDS.sewer).toEqual(['deviceId', 'seq', 'ts', 'levelCm', 'flowLps', 'h2sPpm', 'temperatureC', 'overflow']);
    expect(READING_FIELDS.lamppost).toContain('wifiProbes');
    expect(READING_FIELDS['traffic-light']).toContain('plateReads');
  });
});
