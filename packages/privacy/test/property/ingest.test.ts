// Property tests of the gateway's ingest stage (fast-check, fixed seeds, bounded runs): for any
// topic and any bytes it answers — forwarded records or one refusal with a known reason — and
// never repeats an identifier or a string of the input in a refusal; every valid reading of a
// fleet device is forwarded, stamped with its instant, minimized and pseudonymized; every
// timestamp the schema accepts is read as the instant it says.
import {
  createIngestStage,
  createKindKeyProviders,
  createPseudonymizers,
  DEFAULT_POLICY_PATH,
  loadPolicy,
  ManualClock,
  sightingSlot,
  slotStart,
  type IngestResult,
} from '../../src/index.ts';
import {
  DEFAULT_FLEET_PATH,
  DEVICE_KINDS,
  loadFleet,
  READING_SCHEMAS,
  ReadingRecordSchema,
  readingTopic,
  REJECT_REASONS,
  RejectedRecordSchema,
  sightingsOf,
  SightingsRecordSchema,
  TOPICS,
  type DeviceKind,
  type LamppostReadingInput,
  type TrafficLightReadingInput,
} from '@lethe/schemas';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hostileJsonText, hostileKey, isoTimeOf, validReading } from '@lethe/schemas/arbitraries';
import { readingTime } from '../../src/ingest.ts';

const RUNS = { seed: 0x1e7e, numRuns: 300 } as const;
const NOW = Date.UTC(2026, 0, 1, 8, 7, 30);
const policy = loadPolicy(DEFAULT_POLICY_PATH);
const fleet = loadFleet(DEFAULT_FLEET_PATH);
const clock = new ManualClock(NOW);
const stage = createIngestStage({
  policy,
  fleet,
  clock,
  pseudonymizers: createPseudonymizers(policy, createKindKeyProviders(policy, { clock })),
});
const devicesOf = (kind: DeviceKind) => fleet.devices.filter((d) => d.kind === kind).map((d) => d.id);

// Canaries: a MAC, a plate and a text no output may contain, in any spelling.
const MAC = '0A:CA:FE:5E:C2:E7';
const PLATE = 'CZ9 QX5K7';
const TEXT = 'CANARY-PROPERTY-7Q';
const LEAK = [/0A[:.-]?CA[:.-]?FE[:.-]?5E[:.-]?C2[:.-]?E7/i, /CZ9 ?QX5K7/i, /CANARY-PROPERTY/i];
const leaks = (text: string) => LEAK.filter((re) => re.test(text)).map(String);

/** Topics: ours (right and wrong kinds, known and unknown devices), near misses, and anything. */
const topic = fc.oneof(
  fc.tuple(fc.constantFrom(...DEVICE_KINDS), fc.constantFrom('LP-0001', 'TL-0001', 'SW-0001', 'LP-0999', 'XX-0001')).map(([k, d]) => readingTopic(k, d)),
  fc.constantFrom(
    `lethe/v1/${MAC}/LP-0001/reading`,
    `lethe/v1/lamppost/${TEXT}/reading`,
    'lethe/v1/lamppost/LP-0001/reading/',
    'lethe/v1//LP-0001/reading',
    '',
  ),
  fc.string(),
  fc.string({ unit: 'binary' }),
);

/** JSON whose keys and strings are sometimes canaries. */
const jsonWithCanaries = fc.tuple(hostileJsonText(), fc.nat()).map(([text, n]) => {
  let i = n;
  return text.replace(/"(?:[^"\\]|\\.)*"/g, (s) => (i++ % 3 === 0 ? JSON.stringify([MAC, PLATE, TEXT, MAC.toLowerCase(), PLATE.replace(' ', '')][i % 5]) : s));
});

/** A valid reading with canaries where a device could put them: identifiers, unknown keys, dropped fields. */
const readingWithCanaries = fc.constantFrom(...DEVICE_KINDS).chain((kind) =>
  fc
    .tuple(
      validReading(kind, { deviceId: fc.constantFrom(...devicesOf(kind)), ts: fc.integer({ min: NOW - 20 * 60_000, max: NOW + 120_000 }) }),
      hostileKey(),
      fc.jsonValue(),
    )
    .map(([reading, key, value]) => {
      const r = { ...reading, [key === '__proto__' ? TEXT : key]: value, [TEXT]: TEXT } as Record<string, unknown>;
      if (kind === 'lamppost') r.wifiProbes = [{ mac: MAC, ssids: [TEXT, PLATE] }];
      if (kind === 'traffic-light') r.plateReads = [{ plate: PLATE, speedKmh: 40, imageRef: TEXT }];
      return { topic: readingTopic(kind, reading.deviceId), text: JSON.stringify(r) };
    }),
);

/**
 * Messages: mostly on the sender's own topic (so the deeper checks are reached) — valid readings
 * with canaries, their byte flips and truncations, hostile JSON — and any topic with any bytes.
 */
const message: fc.Arbitrary<[string, Buffer]> = fc.oneof(
  { weight: 3, arbitrary: readingWithCanaries.map(({ topic: t, text }): [string, Buffer] => [t, Buffer.from(text)]) },
  {
    weight: 2,
    arbitrary: fc.tuple(readingWithCanaries, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([{ topic: t, text }, at, byte]): [string, Buffer] => {
      const b = Buffer.from(text);
      b[at % b.length] = byte;
      return [t, b];
    }),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(readingWithCanaries, fc.nat())
      .map(([{ topic: t, text }, cut]): [string, Buffer] => [t, Buffer.from(text).subarray(0, cut % (text.length + 1))]),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom(...DEVICE_KINDS.map((k) => readingTopic(k, devicesOf(k)[0]!))), jsonWithCanaries)
      .map(([t, text]): [string, Buffer] => [t, Buffer.from(text)]),
  },
  {
    weight: 2,
    arbitrary: fc.tuple(
      topic,
      fc.oneof(
        jsonWithCanaries.map((t) => Buffer.from(t)),
        readingWithCanaries.map(({ text }) => Buffer.from(text)),
        fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.concat([Buffer.from(b), Buffer.from(MAC)])),
      ),
    ),
  },
);

function checkAnswer(result: IngestResult): void {
  if (result.ok) {
    expect(result.records.length).toBeGreaterThan(0);
    for (const r of result.records) {
      expect([TOPICS.readings, TOPICS.sightings]).toContain(r.topic);
      expect(leaks(r.key + r.value)).toEqual([]);
      (r.topic === TOPICS.readings ? ReadingRecordSchema : SightingsRecordSchema).parse(JSON.parse(r.value));
    }
  } else {
    expect(REJECT_REASONS).toContain(result.rejected.reason);
    expect(result.record.topic).toBe(TOPICS.rejected);
    expect(RejectedRecordSchema.parse(JSON.parse(result.record.value))).toEqual(result.rejected);
    expect(leaks(result.record.value)).toEqual([]);
  }
}

describe('the ingest stage, for any input', () => {
  it('answers every topic and payload with records or a refusal with a known reason, repeating no identifier or string of the input', async () => {
    const prototype = Object.getOwnPropertyNames(Object.prototype).sort();
    await fc.assert(
      fc.asyncProperty(message, async ([t, p]) => {
        checkAnswer(await stage.ingest(t, p));
        expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototype);
      }),
      { ...RUNS, numRuns: 1000 },
    );
  });

  it('gives the same answer to the same message', async () => {
    await fc.assert(
      fc.asyncProperty(message, async ([t, p]) => {
        expect(await stage.ingest(t, Buffer.from(p))).toEqual(await stage.ingest(t, Buffer.from(p)));
      }),
      RUNS,
    );
  });
});

describe('the ingest stage, for valid readings', () => {
  const onTime = fc.integer({ min: NOW - policy.rawData.maxLateness + 1, max: NOW + 30_000 });
  const reading = fc.constantFrom(...DEVICE_KINDS).chain((kind) =>
    fc.tuple(fc.constant(kind), onTime, fc.constantFrom(0, 60, -300, 480), fc.stringMatching(/^\d{0,12}$/)).chain(([k, ms, offset, digits]) =>
      validReading(k, { deviceId: fc.constantFrom(...devicesOf(k)), ts: fc.constant(ms), maxProbes: 20 }).map((r) => {
        // Any precision after the seconds: the gateway reads it to the millisecond.
        const second = isoTimeOf(ms - (ms % 1000), offset).replace('.000', '');
        const fraction = String(ms % 1000).padStart(3, '0') + digits;
        const ts = second.replace(/(:\d\d)(Z|[+-]\d\d:\d\d)$/, `$1.${fraction}$2`);
        return { kind: k, ms, reading: { ...r, ts } };
      }),
    ),
  );

  it('forwards every one: minimized, stamped with its instant, one pseudonymous sighting per MAC or plate and slot, and no raw identifier', async () => {
    await fc.assert(
      fc.asyncProperty(reading, async ({ kind, ms, reading: r }) => {
        expect(READING_SCHEMAS[kind].safeParse(r).success).toBe(true);
        const result = await stage.ingest(readingTopic(kind, r.deviceId), Buffer.from(JSON.stringify(r)));
        if (!result.ok) throw new Error(`${result.rejected.reason}: ${result.rejected.detail} (${r.ts})`);
        const [first, ...rest] = result.records;
        const record = ReadingRecordSchema.parse(JSON.parse(first!.value));
        expect(record).toMatchObject({ kind, deviceId: r.deviceId, seq: r.seq, ts: ms, district: fleet.get(r.deviceId)!.district });
        for (const field of Object.keys(record.values)) expect(policy.kinds[kind].fields[field]?.treatment).toBe('keep');
        const identifiers =
          kind === 'lamppost'
            ? (r as LamppostReadingInput).wifiProbes!.map((p) => p.mac)
            : kind === 'traffic-light'
              ? (r as TrafficLightReadingInput).plateReads!.map((p) => p.plate)
              : [];
        // One sighting per identifier, except those folded into an earlier record of the same pseudonym, device and slot;
        // one record for all of them (this stage writes to one partition).
        const sightings = rest.flatMap((x) => sightingsOf(SightingsRecordSchema.parse(JSON.parse(x.value))));
        expect(sightings.length + result.mergedSightings).toBe(identifiers.length);
        expect(new Set(sightings.map((x) => x.pseudonym)).size).toBe(sightings.length);
        expect(rest.length).toBe(sightings.length > 0 ? 1 : 0);
        const out = result.records
          .map((x) => x.key + x.value)
          .join('\n')
          .toUpperCase();
        // Short plates ("A1") occur by chance in any text; six characters and more do not.
        for (const id of identifiers.map((x) => x.toUpperCase().replace(/[: ]/g, '')).filter((x) => x.length >= 6))
          expect(out.replace(/[: ]/g, '')).not.toContain(id);
        const slot = slotStart(ms, sightingSlot(kind === 'lamppost' ? 'wifi' : 'plate', policy.kinds[kind].window));
        for (const s of rest) {
          expect(SightingsRecordSchema.parse(JSON.parse(s.value))).toMatchObject({ deviceId: r.deviceId, ts: slot });
          expect(s.timestamp).toBe(slot);
        }
      }),
      RUNS,
    );
  });
});

// The schema's timestamps and how the ingest stage reads them (readingTime), side by side.
describe('reading schemas', () => {
  it('accept a timestamp only when the gateway reads the same instant from it', () => {
    const two = (min: number, max: number) => fc.integer({ min, max }).map((n) => String(n).padStart(2, '0'));
    const stamp = fc.record({
      year: fc.integer({ min: 0, max: 9999 }).map((n) => String(n).padStart(4, '0')),
      month: two(0, 13),
      day: two(0, 32),
      hour: two(0, 25),
      minute: two(0, 61),
      second: fc.option(two(0, 61), { nil: undefined }),
      fraction: fc.option(fc.stringMatching(/^\d{1,12}$/), { nil: undefined }),
      zone: fc.oneof(
        fc.constant('Z'),
        fc.constant('z'),
        fc.constant(''),
        fc.tuple(fc.constantFrom('+', '-'), two(0, 25), two(0, 61), fc.constantFrom(':', '')).map(([s, h, m, sep]) => `${s}${h}${sep}${m}`),
        fc.tuple(fc.constantFrom('+', '-'), two(0, 25)).map(([s, h]) => `${s}${h}`),
      ),
    });
    fc.assert(
      fc.property(stamp, (p) => {
        const text = `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}${p.second === undefined ? '' : `:${p.second}`}${p.second !== undefined && p.fraction !== undefined ? `.${p.fraction}` : ''}${p.zone}`;
        const accepted = READING_SCHEMAS.sewer.shape.ts.safeParse(text).success;
        if (!accepted) return;
        const zone = /^([+-])(\d\d):?(\d\d)$/.exec(p.zone);
        const offset = zone ? (zone[1] === '-' ? -1 : 1) * (Number(zone[2]) * 60 + Number(zone[3])) * 60_000 : 0;
        const date = new Date(0);
        date.setUTCFullYear(Number(p.year), Number(p.month) - 1, Number(p.day));
        date.setUTCHours(Number(p.hour), Number(p.minute), Number(p.second ?? 0), Number((p.fraction ?? '0').padEnd(3, '0').slice(0, 3)));
        expect(readingTime(text), text).toBe(date.getTime() - offset);
        // The calendar fields survive: no 30 February rolled over into March.
        expect(date.getUTCMonth() + 1, text).toBe(Number(p.month));
        expect(date.getUTCDate(), text).toBe(Number(p.day));
      }),
      { ...RUNS, numRuns: 2000 },
    );
  });
});
