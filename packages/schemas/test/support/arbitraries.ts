// fast-check arbitraries shared by the property tests (packages/*/test/property/,
// services/api/test/property/) and the fuzz corpus seeds (test/fuzz/), which import them as
// @lethe/schemas/arbitraries: valid device readings, and hostile JSON text that mixes
// prototype-pollution keys, field names the schemas know, numbers JSON.parse turns into
// Infinity, odd Unicode and deep nesting.
import type { DeviceKind } from '../../src/device-kinds.ts';
import type { ReadingInput } from '../../src/readings.ts';
import fc from 'fast-check';

const PREFIX: Record<DeviceKind, string> = { lamppost: 'LP', 'traffic-light': 'TL', sewer: 'SW' };

/** A MAC address in the spellings devices use (either case). */
export const macAddress = (): fc.Arbitrary<string> =>
  fc.tuple(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 6, maxLength: 6 }), fc.boolean()).map(([bytes, lower]) => {
    const mac = bytes.map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');
    return lower ? mac.toLowerCase() : mac;
  });

/** A licence plate as cameras report it. */
export const licencePlate = (): fc.Arbitrary<string> => fc.stringMatching(/^[A-Z0-9]{1,3} ?[A-Z0-9]{1,5}$/);

export const deviceIdOf = (kind: DeviceKind): fc.Arbitrary<string> =>
  fc.integer({ min: 0, max: 9999 }).map((n) => `${PREFIX[kind]}-${String(n).padStart(4, '0')}`);

const inRange = (min: number, max: number) => fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
/** Integers and halves in a range: exact in binary, so sums and means can be compared exactly. */
export const exactInRange = (min: number, max: number): fc.Arbitrary<number> => fc.integer({ min: min * 2, max: max * 2 }).map((n) => n / 2);

export interface ValidReadingOptions {
  /** Time of the reading (ms); arbitrary ISO strings with offsets by default. */
  ts?: fc.Arbitrary<number>;
  deviceId?: fc.Arbitrary<string>;
  maxProbes?: number;
}

/** An ISO 8601 time with a random offset that denotes exactly `ms`. */
export const isoTimeOf = (ms: number, offsetMinutes: number): string => {
  if (offsetMinutes === 0) return new Date(ms).toISOString();
  const local = new Date(ms + offsetMinutes * 60_000).toISOString().slice(0, -1);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
};

/** A reading that the kind's schema must accept, as a device would publish it. */
export function validReading(kind: DeviceKind, options: ValidReadingOptions = {}): fc.Arbitrary<ReadingInput> {
  const ts = fc
    .tuple(options.ts ?? fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2099, 11, 31) }), fc.constantFrom(0, 0, 60, -300, 480, 345, -720))
    .map(([ms, offset]) => isoTimeOf(ms, offset));
  const common = { deviceId: options.deviceId ?? deviceIdOf(kind), seq: fc.maxSafeNat(), ts };
  const maxProbes = options.maxProbes ?? 8;
  if (kind === 'lamppost') {
    const probe = fc.record(
      { mac: macAddress(), rssi: inRange(-120, 0), ssids: fc.array(fc.string({ maxLength: 32 }), { maxLength: 3 }) },
      { requiredKeys: ['mac'] },
    );
    return fc.record({
      ...common,
      pm25: inRange(0, 1000),
      pm10: inRange(0, 2000),
      no2: inRange(0, 2000),
      noiseDba: inRange(0, 160),
      lux: inRange(0, 200_000),
      temperatureC: inRange(-40, 70),
      humidityPct: inRange(0, 100),
      dimmingPct: inRange(0, 100),
      energyWh: inRange(0, 10_000),
      wifiProbes: fc.array(probe, { maxLength: maxProbes }),
    });
  }
  if (kind === 'traffic-light') {
    const read = fc.record(
      { plate: licencePlate(), speedKmh: inRange(0, 250), imageRef: fc.string({ maxLength: 200 }) },
      { requiredKeys: ['plate', 'speedKmh'] },
    );
    return fc.record({
      ...common,
      phase: fc.constantFrom('red' as const, 'amber' as const, 'green' as const, 'flashing' as const),
      vehicleCount: fc.integer({ min: 0, max: 10_000 }),
      occupancyPct: inRange(0, 100),
      queueLength: fc.integer({ min: 0, max: 1000 }),
      meanSpeedKmh: inRange(0, 250),
      plateReads: fc.array(read, { maxLength: maxProbes }),
    });
  }
  return fc.record({
    ...common,
    levelCm: inRange(0, 1000),
    flowLps: inRange(0, 100_000),
    h2sPpm: inRange(0, 1000),
    temperatureC: inRange(-10, 60),
    overflow: fc.boolean(),
  });
}

/** Keys an attacker would try, keys the schemas and the policy know, and anything. */
export const hostileKey = (): fc.Arbitrary<string> =>
  fc.oneof(
    fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf'),
    fc.constantFrom(
      'deviceId',
      'seq',
      'ts',
      'mac',
      'plate',
      'wifiProbes',
      'plateReads',
      'speedKmh',
      'imageRef',
      'ssids',
      'rssi',
      'pm25',
      'levelCm',
      'overflow',
      'phase',
      'v',
      'kind',
      'values',
      'tags',
      'fields',
      'data',
    ),
    fc.string(),
    fc.string({ unit: 'binary' }),
  );

const hostileLeaf = (): fc.Arbitrary<string> =>
  fc.oneof(
    fc.constantFrom('null', 'true', 'false', '0', '-0', '1e999', '-1e999', '1e308', '5e-324', '9007199254740993', '-1', '1.5', '1E2', '0.1'),
    fc.integer().map(String),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
    fc.string().map((s) => JSON.stringify(s)),
    fc.string({ unit: 'binary' }).map((s) => JSON.stringify(s)),
    fc.constantFrom('"LP-0001"', '"TL-0001"', '"SW-0001"', '"2026-01-01T08:00:00Z"', '"\\ud800"', '"\\u0000"', '"\\u202e"', '"green"', '"wifi"'),
    macAddress().map((m) => JSON.stringify(m)),
    licencePlate().map((p) => JSON.stringify(p)),
  );

/** JSON text (always valid JSON) built to hurt parsers: see the file header. */
export function hostileJsonText(maxDepth = 5): fc.Arbitrary<string> {
  const { node } = fc.letrec<{ node: string; array: string; object: string }>((tie) => ({
    node: fc.oneof({ depthSize: 'small', maxDepth }, hostileLeaf(), tie('array'), tie('object')),
    array: fc.array(tie('node'), { maxLength: 5 }).map((items) => `[${items.join(',')}]`),
    object: fc
      .array(fc.tuple(hostileKey(), tie('node')), { maxLength: 8 })
      .map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
  }));
  const nested = fc.integer({ min: 100, max: 20_000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`);
  return fc.oneof({ weight: 10, arbitrary: node }, { weight: 1, arbitrary: nested });
}
