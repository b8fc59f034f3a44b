// P3 — No long-term linkage. Pseudonyms are stable within an epoch and unlinkable across
// epochs; after rotation nobody can recompute an old pseudonym (forward security).
// The first part runs the real gateway with a 5 s epoch: the same phones are published in
// two epochs through Mosquitto, and everything Kafka stored is joined on pseudonym to try
// to link them. The second part checks the key material itself with the same provider the
// gateway uses.
import { createHmac, randomBytes } from 'node:crypto';
import { createInMemoryKeyProvider, createPseudonymizer, ManualClock, normalizeIdentifier } from '@lethe/privacy';
import { readingTopic, sightingsOf, SightingsTopicRecordSchema, TOPICS, type ReadingRecord, type SightingRecord } from '@lethe/schemas';
import { createFleetPublisher } from '@lethe/simulator';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { lamppostReading } from '../bad-input/catalogue.ts';
import { startService, type RunningService } from '../support/services.ts';
import { readTopic } from '../support/topic-reader.ts';
import { policyCopy, shortWindows } from '../support/policy-copy.ts';

const infra = inject('infra');
const EPOCH_MS = 5_000;
const DEVICE = 'LP-0001';
const PHONES = 20;

function shortEpochPolicy(): string {
  return policyCopy((doc) => {
    // A key dies 1 s after its 5 s epoch.
    doc.rawData.keyGrace = '1s';
    // 1 s windows give 1 s sighting slots (sighting-time.ts): two readings 1 s apart in one epoch are two records.
    shortWindows(doc, '1s', '5s');
  });
}

const mac = (i: number, salt: string) => `0A:${salt}:00:00:00:${i.toString(16).padStart(2, '0').toUpperCase()}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const reading = (seq: number, ts: number, macs: readonly string[]) => lamppostReading(DEVICE, seq, ts, macs);

describe('P3: no long-term linkage, on the real gateway and Kafka', () => {
  let gateway: RunningService;
  const salt = randomBytes(1).toString('hex').toUpperCase();
  const macs = Array.from({ length: PHONES }, (_, i) => mac(i, salt));
  // Sequence numbers of this run only, far from the simulator's.
  const base = 1_000_000_000 + Math.floor(Math.random() * 1_000_000) * 10;
  const sent: Record<'a1' | 'a2' | 'b1' | 'late', { seq: number; ts: number }> = {} as never;

  beforeAll(async () => {
    gateway = await startService('gateway', {
      KAFKA_BROKERS: infra.kafkaBrokers.join(','),
      POLICY_FILE: shortEpochPolicy(),
      MQTT_URL: infra.mqttUrl,
      MQTT_USERNAME: 'lethe-gateway',
      MQTT_PASSWORD: infra.gatewayPassword,
    });
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  it('gives a phone one pseudonym within an epoch, another in the next, and none once the epoch key is destroyed', async () => {
    // Sightings carry no sequence number (P9): this run's are the device's stamped from now on.
    const since = Date.now();
    // A record holds a reading's sightings for its partition: read as lists, flattened below.
    const sightingsTopic = await readTopic<SightingRecord[]>(infra.kafkaBrokers, TOPICS.sightings, (v) => {
      const parsed = SightingsTopicRecordSchema.safeParse(v);
      return parsed.success && parsed.data.deviceId === DEVICE && parsed.data.ts >= since ? sightingsOf(parsed.data) : undefined;
    });
    const sightings = {
      until: (done: (s: SightingRecord[]) => boolean, ms: number) => sightingsTopic.until((r) => done(r.flat()), ms),
      stop: () => sightingsTopic.stop(),
      get records() {
        return sightingsTopic.records.flat();
      },
    };
    const readings = await readTopic<ReadingRecord>(infra.kafkaBrokers, TOPICS.readings, (v) => {
      const r = v as ReadingRecord;
      return r?.deviceId === DEVICE && r.seq >= base && r.seq < base + 10 ? r : undefined;
    });
    const publisher = createFleetPublisher({ url: infra.mqttUrl, fleetSecret: infra.fleetSecret, clientIdPrefix: `p3-${Date.now()}` });
    const topic = readingTopic('lamppost', DEVICE);
    try {
      // Start just after an epoch boundary so two readings 1 s apart share the epoch.
      await sleep(EPOCH_MS - (Date.now() % EPOCH_MS) + 200);
      const epochA = Math.floor(Date.now() / EPOCH_MS);
      sent.a1 = { seq: base, ts: Date.now() };
      await publisher.publish(DEVICE, topic, reading(sent.a1.seq, sent.a1.ts, macs));
      await sleep(1000);
      sent.a2 = { seq: base + 1, ts: Date.now() };
      await publisher.publish(DEVICE, topic, reading(sent.a2.seq, sent.a2.ts, macs));
      await sleep((epochA + 1) * EPOCH_MS - Date.now() + 200);
      sent.b1 = { seq: base + 2, ts: Date.now() };
      await publisher.publish(DEVICE, topic, reading(sent.b1.seq, sent.b1.ts, macs));
      // Past the 1 s grace (+1 s rotation tick): epoch A's key is gone. A reading stamped in
      // epoch A (well within the raw-data TTL) can no longer be pseudonymized.
      await sleep(3_000);
      sent.late = { seq: base + 3, ts: epochA * EPOCH_MS + 100 };
      await publisher.publish(DEVICE, topic, reading(sent.late.seq, sent.late.ts, macs));

      await readings.until((r) => r.length >= 4, 30_000);
      await sightings.until((s) => s.length >= 3 * PHONES, 30_000);
      await sleep(1_000);
    } finally {
      await publisher.close();
      await sightings.stop();
      await readings.stop();
    }

    // Each reading is in its own 1 s slot: its sightings are the records stamped with that slot.
    const of = (ts: number) => sightings.records.filter((s) => s.ts === Math.floor(ts / 1000) * 1000);
    const [a1, a2, b1] = [of(sent.a1.ts), of(sent.a2.ts), of(sent.b1.ts)];
    expect([a1.length, a2.length, b1.length]).toEqual([PHONES, PHONES, PHONES]);
    const pseudonyms = (records: SightingRecord[]) => new Set(records.map((s) => s.pseudonym));
    expect(pseudonyms(a1).size).toBe(PHONES);
    expect(pseudonyms(a2), 'the same phones within an epoch').toEqual(pseudonyms(a1));
    expect(
      [...pseudonyms(b1)].filter((p) => pseudonyms(a1).has(p)),
      'the same phones across epochs',
    ).toEqual([]);
    for (const s of b1) expect(s.epoch).toBe(a1[0]!.epoch + 1);
    // Linkage attack on everything Kafka holds for these phones: join epochs on pseudonym.
    const epochOf = new Map<string, Set<number>>();
    for (const s of sightings.records) epochOf.set(s.pseudonym, (epochOf.get(s.pseudonym) ?? new Set()).add(s.epoch));
    expect([...epochOf.values()].filter((epochs) => epochs.size > 1)).toEqual([]);
    expect(new Set(sightings.records.map((s) => s.pseudonym)).size).toBe(2 * PHONES);

    // The late reading reached Kafka (minimized) but its sightings were not kept at all.
    expect(readings.records.map((r) => r.seq).sort()).toEqual([sent.a1.seq, sent.a2.seq, sent.b1.seq, sent.late.seq]);
    // (it is stamped in a1's slot, so it would show as records beyond the three readings' 3 × PHONES).
    expect(sightings.records).toHaveLength(3 * PHONES);
    expect(gateway.output()).toMatch(/"kind":"lamppost","epoch":\d+,"msg":"pseudonym key destroyed"/);
    const metrics = await (await fetch(`http://127.0.0.1:${gateway.port}/metrics`)).text();
    expect(Number(/^lethe_gateway_pseudonym_keys_destroyed_total\S* (\d+)/m.exec(metrics)?.[1])).toBeGreaterThan(0);
  });
});

describe('P3: forward security of the epoch keys', () => {
  const EPOCH = 15 * 60_000;

  it('zeroes and drops a key after its epoch and grace, and refuses to pseudonymize for that epoch again', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 8, 0, 0));
    const issued: Buffer[] = [];
    const provider = createInMemoryKeyProvider({ epochMs: EPOCH, graceMs: 60_000, clock, generateKey: () => issued[issued.push(randomBytes(32)) - 1]! });
    const pseudonymizer = createPseudonymizer(provider, EPOCH);
    const phones = Array.from({ length: 1000 }, (_, i) => mac(i % 256, (i >> 8).toString(16).padStart(2, '0').toUpperCase()));
    const old = await pseudonymizer.pseudonymize('wifi', clock.now(), phones);
    const oldEpoch = old!.epoch;
    expect(issued).toHaveLength(1);
    expect(issued[0]!.equals(Buffer.alloc(32))).toBe(false);

    clock.advance(EPOCH + 60_001);
    const current = await pseudonymizer.pseudonymize('wifi', clock.now(), phones);
    expect(provider.liveEpochs()).not.toContain(oldEpoch);
    expect(issued[0]!.equals(Buffer.alloc(32)), 'the old key buffer is zeroed').toBe(true);
    expect(await pseudonymizer.pseudonymize('wifi', clock.now() - EPOCH - 60_001, phones)).toBeUndefined();
    expect(await provider.hmac(oldEpoch, ['anything'])).toBeUndefined();

    // An insider with the current key (issued[1]) and every stored pseudonym, who also knows
    // all the phones' MACs, tries to recompute or match old pseudonyms: no match.
    const currentKey = issued[1]!;
    const recomputed = new Set(
      phones.map((m) =>
        createHmac('sha256', currentKey)
          .update(`wifi:${normalizeIdentifier('wifi', m)}`)
          .digest()
          .subarray(0, 16)
          .toString('base64url'),
      ),
    );
    expect(old!.pseudonyms.filter((p) => recomputed.has(p))).toEqual([]);
    expect(
      current!.pseudonyms.every((p) => recomputed.has(p)),
      'the attack recomputes current pseudonyms, so it is a real attack',
    ).toBe(true);
    expect(new Set([...old!.pseudonyms, ...current!.pseudonyms]).size).toBe(2 * phones.length);

    provider.destroyAll();
    expect(issued.every((k) => k.equals(Buffer.alloc(32)))).toBe(true);
  });
});
