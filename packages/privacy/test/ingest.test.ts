import { createFleet, parseSightings, SightingsRecordSchema, TOPICS, type ReadingRecord, type SightingRecord } from '@lethe/schemas';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.ts';
import { createIngestStage } from '../src/ingest.ts';
import { DEFAULT_POLICY_PATH, loadPolicy } from '../src/policy.ts';
import { createKindKeyProviders, createPseudonymizers } from '../src/pseudonym-keys.ts';

const NOW = Date.UTC(2026, 0, 1, 8, 0, 0);
const MAC = '02:AA:BB:CC:DD:EE';
const PLATE = 'XY 9876';

function stage(sightingsPartition?: (pseudonym: string) => number) {
  const policy = loadPolicy(DEFAULT_POLICY_PATH);
  const clock = new ManualClock(NOW);
  const fleet = createFleet([
    { id: 'LP-0001', kind: 'lamppost', district: 'wan-chai', lat: 22.28, lon: 114.18 },
    { id: 'TL-0001', kind: 'traffic-light', district: 'wan-chai', lat: 22.28, lon: 114.18 },
  ]);
  return createIngestStage({
    policy,
    fleet,
    clock,
    pseudonymizers: createPseudonymizers(policy, createKindKeyProviders(policy, { clock })),
    ...(sightingsPartition ? { sightingsPartition } : {}),
  });
}

/** The sightings in a result's records, in their order. */
const sightingsIn = (records: ReadonlyArray<{ topic: string; value: string }>): SightingRecord[] =>
  records.filter((r) => r.topic === TOPICS.sightings).flatMap((r) => parseSightings(r.value)!);

const lamppost = (extra: Record<string, unknown> = {}) => ({
  deviceId: 'LP-0001',
  seq: 7,
  ts: new Date(NOW).toISOString(),
  pm25: 12,
  pm10: 20,
  no2: 30,
  noiseDba: 60,
  lux: 100,
  temperatureC: 25,
  humidityPct: 70,
  dimmingPct: 0,
  energyWh: 0,
  wifiProbes: [{ mac: MAC, rssi: -60, ssids: ['HomeNet'] }],
  ...extra,
});
const buf = (v: unknown) => Buffer.from(JSON.stringify(v));
/** A stand-in for Kafka's partitioner (the gateway passes @lethe/kafka's partitionOf). */
const partitionOf = (pseudonym: string, partitions: number) => pseudonym.charCodeAt(0) % partitions;

describe('the gateway ingest stage', () => {
  it('forwards a minimized reading and a pseudonymous sighting, and no raw identifier', async () => {
    const result = await stage().ingest('lethe/v1/lamppost/LP-0001/reading', buf(lamppost({ ownerName: 'Alice' })));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const [reading, sighting] = result.records;
    expect(reading!.topic).toBe(TOPICS.readings);
    const r = JSON.parse(reading!.value) as ReadingRecord;
    expect(r).toMatchObject({ deviceId: 'LP-0001', district: 'wan-chai', seq: 7, ts: NOW });
    expect(r.values).not.toHaveProperty('ownerName');
    expect(sighting!.topic).toBe(TOPICS.sightings);
    const [s] = sightingsIn([sighting!]);
    expect(s!.source).toBe('wifi');
    expect(sighting!.key).toBe(s!.pseudonym);
    const everything = result.records.map((x) => x.key + x.value).join();
    for (const secret of [MAC, MAC.replaceAll(':', ''), 'HomeNet', '-60', 'Alice']) expect(everything).not.toContain(secret);
  });

  it('keeps a late reading but not its sightings, which would outlive the TTL on disk by their lateness', async () => {
    const late = new Date(NOW - 61_000).toISOString();
    const result = await stage().ingest(
      'lethe/v1/lamppost/LP-0001/reading',
      buf(lamppost({ ts: late, wifiProbes: [{ mac: MAC }, { mac: '02:AA:BB:CC:DD:EF' }] })),
    );
    if (!result.ok) throw new Error(result.rejected.detail);
    expect(result.records.map((r) => r.topic)).toEqual([TOPICS.readings]);
    expect(result.droppedSightings).toEqual({ late: 2, keyDestroyed: 0 });
    const onTime = await stage().ingest('lethe/v1/lamppost/LP-0001/reading', buf(lamppost({ ts: new Date(NOW - 59_000).toISOString() })));
    expect(onTime.ok && onTime.sightings).toBe(1);
  });

  it('stamps a sighting and its Kafka record with the start of its slot, and says nothing of the reading it came in (P9)', async () => {
    // 37 s into a minute: Wi-Fi slots are the 60 s window, plate slots 10 s.
    const at = NOW - 23_000;
    const ingest = stage();
    const probe = await ingest.ingest('lethe/v1/lamppost/LP-0001/reading', buf(lamppost({ seq: 41, ts: new Date(at).toISOString() })));
    const read = await ingest.ingest(
      'lethe/v1/traffic-light/TL-0001/reading',
      buf({
        deviceId: 'TL-0001',
        seq: 42,
        ts: new Date(at).toISOString(),
        phase: 'green',
        vehicleCount: 3,
        occupancyPct: 10,
        queueLength: 0,
        meanSpeedKmh: 40,
        plateReads: [{ plate: PLATE, speedKmh: 42 }],
      }),
    );
    if (!probe.ok || !read.ok) throw new Error('refused');
    for (const [result, slot] of [
      [probe, NOW - 60_000],
      [read, NOW - 30_000],
    ] as const) {
      const out = result.records.find((r) => r.topic === TOPICS.sightings)!;
      expect(out.timestamp).toBe(slot);
      const record = JSON.parse(out.value) as { ts: number; sightings: Array<Record<string, unknown>> };
      expect(record.ts).toBe(slot);
      expect(Object.keys(record).sort()).toEqual(['deviceId', 'district', 'epoch', 'kind', 'sightings', 'source', 'ts', 'v'].sort());
      expect(Object.keys(record.sightings[0]!).sort()).toEqual(['pseudonym', ...(result === read ? ['speedKmh'] : [])].sort());
    }
  });

  it('writes one record per pseudonym, device and slot, folds later sightings into it, and writes it again for a redelivered reading', async () => {
    const ingest = stage();
    const other = '02:AA:BB:CC:DD:01';
    const at = (seq: number, ms: number, macs: string[]) =>
      ingest.ingest(
        'lethe/v1/lamppost/LP-0001/reading',
        buf(lamppost({ seq, ts: new Date(NOW + ms).toISOString(), wifiProbes: macs.map((mac) => ({ mac })) })),
      );
    const sightings = (r: Awaited<ReturnType<typeof at>>) => (r.ok ? sightingsIn(r.records).map((x) => x.pseudonym) : []);
    const first = await at(1, -55_000, [MAC, MAC.toLowerCase()]);
    expect(sightings(first)).toHaveLength(1);
    expect(first.ok && first.mergedSightings).toBe(1);
    // Later in the slot: the phone already has its record; a new phone gets one.
    const later = await at(2, -10_000, [MAC, other]);
    expect(sightings(later)).toHaveLength(1);
    expect(sightings(later)[0]).not.toBe(sightings(first)[0]);
    // The first reading again (its Kafka send may have failed): its record is written again, the processor counts it once.
    expect(sightings(await at(1, -55_000, [MAC]))).toEqual(sightings(first));
    // The next slot (here also the next epoch, so another pseudonym): a record again.
    expect(sightings(await at(3, 5_000, [MAC]))).toHaveLength(1);
  });

  it("writes the sightings of a reading in an order that is not the device's", async () => {
    const macs = Array.from({ length: 40 }, (_, i) =>
      `02:AA:BB:CC:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`.toUpperCase(),
    );
    const ingest = stage();
    const orders = new Set<string>();
    // A reading, its redelivery, and a reading in the next slot: each writes the same 40 pseudonyms.
    for (const [seq, ms] of [
      [0, -30_000],
      [0, -30_000],
      [1, 5_000],
    ] as const) {
      const result = await ingest.ingest(
        'lethe/v1/lamppost/LP-0001/reading',
        buf(lamppost({ seq, ts: new Date(NOW + ms).toISOString(), wifiProbes: macs.map((mac) => ({ mac })) })),
      );
      if (!result.ok) throw new Error(result.rejected.detail);
      orders.add(
        sightingsIn(result.records)
          .map((x) => x.pseudonym)
          .join(),
      );
    }
    // In the device's order they would be one order; shuffled, two alike have a chance of 3 in 40!.
    expect(orders.size).toBe(3);
  });

  it("writes a reading's sightings as one record per partition, each on the partition of every pseudonym in it", async () => {
    const macs = Array.from({ length: 40 }, (_, i) => `02:AA:BB:CC:00:${i.toString(16).padStart(2, '0')}`.toUpperCase());
    const result = await stage((p) => partitionOf(p, 3)).ingest(
      'lethe/v1/lamppost/LP-0001/reading',
      buf(lamppost({ wifiProbes: macs.map((mac) => ({ mac })) })),
    );
    if (!result.ok) throw new Error(result.rejected.detail);
    const records = result.records.filter((r) => r.topic === TOPICS.sightings);
    // 40 pseudonyms over 3 partitions: all three hold some (a chance of 3 × (2/3)^40 that one holds none).
    expect(records.map((r) => r.partition).sort()).toEqual([0, 1, 2]);
    for (const r of records) {
      const bundle = SightingsRecordSchema.parse(JSON.parse(r.value));
      expect(bundle.sightings.every((s) => partitionOf(s.pseudonym, 3) === r.partition)).toBe(true);
      expect(r.timestamp).toBe(bundle.ts);
    }
    expect(sightingsIn(records)).toHaveLength(40);
    expect(result.sightings).toBe(40);
    // One records per reading and partition: 1 + 3 here, against 1 + 40 with a record per sighting.
    expect(result.records).toHaveLength(4);
  });

  it('drops the ANPR image reference and keeps only the plate pseudonym and speed', async () => {
    const reading = {
      deviceId: 'TL-0001',
      seq: 1,
      ts: new Date(NOW).toISOString(),
      phase: 'green',
      vehicleCount: 3,
      occupancyPct: 10,
      queueLength: 0,
      meanSpeedKmh: 40,
      plateReads: [{ plate: PLATE, speedKmh: 42, imageRef: 'cam/1.jpg' }],
    };
    const result = await stage().ingest('lethe/v1/traffic-light/TL-0001/reading', buf(reading));
    if (!result.ok) throw new Error(result.rejected.detail);
    const [sighting] = sightingsIn(result.records);
    expect(sighting!.speedKmh).toBe(42);
    expect(result.records.map((x) => x.value).join()).not.toMatch(/XY ?9876|cam\/1/);
  });

  it.each([
    ['INVALID_TOPIC', 'lethe/v1/lamppost/AA:BB:CC:DD:EE:FF/reading', buf(lamppost())],
    ['NOT_JSON', 'lethe/v1/lamppost/LP-0001/reading', Buffer.from(`{"mac":"${MAC}"`)],
    ['UNKNOWN_DEVICE', 'lethe/v1/lamppost/LP-0999/reading', buf(lamppost({ deviceId: 'LP-0999' }))],
    ['TOPIC_DEVICE_MISMATCH', 'lethe/v1/sewer/LP-0001/reading', buf(lamppost())],
    ['SCHEMA_VIOLATION', 'lethe/v1/lamppost/LP-0001/reading', buf(lamppost({ wifiProbes: [{ mac: `${MAC}X` }] }))],
    ['TIMESTAMP_IN_FUTURE', 'lethe/v1/lamppost/LP-0001/reading', buf(lamppost({ ts: new Date(NOW + 3_600_000).toISOString() }))],
    ['TIMESTAMP_TOO_OLD', 'lethe/v1/lamppost/LP-0001/reading', buf(lamppost({ ts: new Date(NOW - 3_600_000).toISOString() }))],
    ['OVERSIZED', 'lethe/v1/lamppost/LP-0001/reading', Buffer.alloc(70_000, 32)],
  ])('refuses %s with a reason and an excerpt that repeats no value', async (reason, topic, payload) => {
    const result = await stage().ingest(topic, payload);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.rejected.reason).toBe(reason);
    expect(result.record.topic).toBe(TOPICS.rejected);
    expect(result.record.value).not.toContain(MAC);
    expect(result.record.value).not.toContain('AA:BB:CC:DD:EE:FF');
  });
});
