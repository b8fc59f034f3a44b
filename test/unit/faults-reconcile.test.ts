// The fault suite's sighting bookkeeping (test/faults/reconcile.ts) against the real ingest stage:
// sightings carry no sequence number (P9), so the suite expects one record per identifier, device
// and slot of every reading that arrived, and counts more copies as redeliveries.
import { createIngestStage, createKindKeyProviders, createPseudonymizers, DEFAULT_POLICY_PATH, loadPolicy, ManualClock } from '@lethe/privacy';
import { createFleet, TOPICS, type AggregateRecord } from '@lethe/schemas';
import { describe, expect, it } from 'vitest';
import { afterData, diffAggregates, differingRecords, reconcileSequences, sightingKeys, tallyByFault, type Published } from '../faults/reconcile.ts';
import type { DumpedRecord } from '../faults/topic-dump.ts';

const NOW = Date.UTC(2026, 0, 1, 8, 0, 0);
const policy = loadPolicy(DEFAULT_POLICY_PATH);

describe("the fault suite's sighting reconciliation", () => {
  it('expects one sighting record per identifier, device and slot of the readings that arrived, and counts redelivered copies', async () => {
    const clock = new ManualClock(NOW);
    const fleet = createFleet([{ id: 'LP-0001', kind: 'lamppost', district: 'wan-chai', lat: 22.28, lon: 114.18 }]);
    const stage = createIngestStage({
      policy,
      fleet,
      clock,
      pseudonymizers: createPseudonymizers(policy, createKindKeyProviders(policy, { clock })),
    });
    const reading = (seq: number, ms: number, macs: string[]) => ({
      deviceId: 'LP-0001',
      seq,
      ts: new Date(NOW + ms).toISOString(),
      pm25: 1,
      pm10: 1,
      no2: 1,
      noiseDba: 40,
      lux: 1,
      temperatureC: 20,
      humidityPct: 50,
      dimmingPct: 0,
      energyWh: 0,
      wifiProbes: macs.map((mac) => ({ mac })),
    });
    // Two readings in one slot sharing a phone, one in the next slot, one acknowledged but lost.
    const payloads = [
      reading(1, -50_000, ['02:00:00:00:00:01', '02:00:00:00:00:02']),
      reading(2, -40_000, ['02:00:00:00:00:01']),
      reading(3, 5_000, ['02:00:00:00:00:01']),
      reading(4, 6_000, ['02:00:00:00:00:03']),
    ];
    const published: Published[] = payloads.map((p) => ({
      deviceId: p.deviceId,
      seq: p.seq,
      ts: Date.parse(p.ts),
      sightings: sightingKeys(policy, p.deviceId, p),
    }));
    const readings: DumpedRecord[] = [];
    const sightings: DumpedRecord[] = [];
    // Reading 1 is delivered twice (a redelivery), reading 4 never reaches Kafka.
    for (const p of [payloads[0]!, payloads[1]!, payloads[0]!, payloads[2]!]) {
      const result = await stage.ingest('lethe/v1/lamppost/LP-0001/reading', Buffer.from(JSON.stringify(p)));
      if (!result.ok) throw new Error(result.rejected.detail);
      for (const r of result.records) (r.topic === TOPICS.sightings ? sightings : readings).push({ partition: 0, offset: '0', key: r.key, value: r.value });
    }
    const report = reconcileSequences(published, readings, sightings);
    expect(report.lost.map((l) => l.seq)).toEqual([4]);
    expect(report.duplicates).toBe(1);
    expect(report.redelivered).toEqual([{ deviceId: 'LP-0001', seq: 1, ts: NOW - 50_000, copies: 1 }]);
    // Slot 07:59: phones 1 and 2; slot 08:00: phone 1. Phone 3's reading was lost.
    expect(report.sightingsExpected).toBe(3);
    expect(report.sightingsOnTopic).toBe(3);
    // The redelivered reading 1 wrote its two records again.
    expect(report.sightingDuplicates).toBe(2);
  });
});

describe("the fault suite's aggregate comparison", () => {
  const record = (stream: string, windowStart: number, released: number): AggregateRecord => ({
    v: 1,
    measurement: 'privacy',
    tags: { stream },
    fields: { released },
    windowStart,
    windowEnd: windowStart + 5000,
  });

  it('sets apart the windows after the last reading, which each releaser reaches by the clock at its own pace', () => {
    const live = new Map([
      ['a', record('pedestrians', 0, 3)],
      ['b', record('pedestrians', 5000, 0)],
    ]);
    const ref = new Map([
      ['a', record('pedestrians', 0, 3)],
      ['b', record('pedestrians', 5000, 0)],
      ['c', record('pedestrians', 10_000, 0)],
    ]);
    // The last reading at 4.9 s: window 0 holds it, the windows from 5 s on are empty.
    const l = afterData(live, 4900);
    const r = afterData(ref, 4900);
    expect(diffAggregates(r.compared, l.compared)).toEqual([]);
    expect([...l.after, ...r.after].map((x) => x.windowStart)).toEqual([5000, 5000, 10_000]);
    // Without setting them apart, the comparison depends on when each set was read.
    expect(diffAggregates(ref, live)).toEqual(['missing c']);
  });

  it('still compares the window that holds the last reading', () => {
    const live = new Map([['a', record('pedestrians', 0, 2)]]);
    const ref = new Map([['a', record('pedestrians', 0, 3)]]);
    expect(diffAggregates(afterData(ref, 0).compared, afterData(live, 0).compared)).toHaveLength(1);
  });
});

describe("the fault suite's findings per fault", () => {
  it('gives each finding to the last fault whose span had begun by its time, and the rest to before the first fault', () => {
    const { byFault, before } = tallyByFault([1000, 5000], {
      lost: [500, 1000, 4999, 7000],
      countedTwice: [
        { id: 'a', windowStart: 2000, readings: 7, distinct: 5 },
        // Fewer than distinct is not a double count (it is a difference from the replay).
        { id: 'b', windowStart: 6000, readings: 4, distinct: 5 },
      ],
      differing: [{ windowStart: 6000 }],
      redelivered: [{ at: 900, copies: 2 }],
    });
    expect(before).toEqual({ lost: 1, countedTwice: 0, differing: 0, copies: 2 });
    expect(byFault).toEqual([
      { lost: 2, countedTwice: 2, differing: 0, copies: 0 },
      { lost: 1, countedTwice: 0, differing: 1, copies: 0 },
    ]);
  });

  it('lists the records that differ from the replay with their windows: missing, different and extra', () => {
    const rec = (windowStart: number, released: number): AggregateRecord => ({
      v: 1,
      measurement: 'privacy',
      tags: { stream: 'pedestrians' },
      fields: { released },
      windowStart,
      windowEnd: windowStart + 5000,
    });
    const replay = new Map([
      ['same', rec(0, 1)],
      ['changed', rec(5000, 1)],
      ['missing', rec(10_000, 1)],
    ]);
    const live = new Map([
      ['same', rec(0, 1)],
      ['changed', rec(5000, 2)],
      ['extra', rec(15_000, 1)],
    ]);
    expect(differingRecords(replay, live)).toEqual([
      { id: 'changed', windowStart: 5000 },
      { id: 'missing', windowStart: 10_000 },
      { id: 'extra', windowStart: 15_000 },
    ]);
  });
});
