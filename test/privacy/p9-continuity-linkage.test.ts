// P9 — No side channel: continuity linkage across a pseudonym epoch, on the real gateway and Kafka.
// The simulated city at its quietest (Hong Kong, 03:00) is published through Mosquitto to the real
// gateway across several epoch boundaries; an insider reads `lethe.sightings.v1` as any consumer
// can — values, Kafka timestamps, partitions, offsets, and the moment each record arrives — and
// pairs the pseudonyms seen at each lamppost just before a boundary with those seen just after
// (test/support/continuity-linkage.ts). To know which pairs are right, the gateway takes its keys
// from a key service this test runs (the keyring's HTTP contract, remote-key-provider.ts), so the
// test can compute every phone's pseudonym as the gateway did.
//
// Time is compressed six-fold so a run crosses 16 boundaries in three minutes: the policy's
// windows and epochs are 10 s (sighting slots, sighting-time.ts, are then the whole 10 s window, as
// the shipped 60 s slot is the whole 60 s window), devices read every 5/6 s instead of every 5 s, and
// the attacker looks 10 s either side of a boundary instead of 60 s. Every duration the attack
// depends on scales alike, so the figures are those of the shipped configuration; the pure-code
// measurement at full scale is test/unit/continuity-linkage.test.ts. (The write mix holds the
// first slot of each epoch, which here is the whole 10 s epoch: every record is written at the end
// of its epoch, shuffled; with the shipped policy it is the first minute of 15.)
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { createKafka } from '@lethe/kafka';
import { createLogger } from '@lethe/observability';
import { createInMemoryKeyProvider, createPseudonymizer, type PseudonymKeyProvider } from '@lethe/privacy';
import { DEFAULT_FLEET_PATH, loadFleet, sightingsOf, SightingsTopicRecordSchema, TOPICS, type LamppostReadingInput } from '@lethe/schemas';
import { createCity, createFleetPublisher, loadScenario } from '@lethe/simulator';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { continuityAttack, describeFigures, seededRandom, type ObservedSighting } from '../support/continuity-linkage.ts';
import { policyCopy } from '../support/policy-copy.ts';
import { freePort, startService, type RunningService } from '../support/services.ts';

const infra = inject('infra');
const SCALE = 6;
const EPOCH_MS = 60_000 / SCALE;
const TICK_MS = 5_000 / SCALE;
/**
 * About 450 phones seen on both sides of a boundary: the advantage's sampling error is then about
 * 2.5 points (runs of 10 boundaries, about 300 phones, spread from −4.8 to +8.1 points).
 */
const BOUNDARIES = 16;
/**
 * Stated in docs/privacy.md (P9): what a record says, and the order in which records are written
 * (offsets, arrival times; hidden by the gateway's write mix), give the insider at most this
 * advantage over chance.
 */
const MAX_ADVANTAGE = 0.1;
const TOKEN = 'p9-continuity-linkage-gateway-token-0123456789';

/** The keyring's contract (remote-key-provider.ts) over keys this test holds. */
async function startKeyService(providers: Map<string, PseudonymKeyProvider>): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      void (async () => {
        const { kind, epoch, messages } = JSON.parse(body) as { kind: string; epoch: number; messages: string[] };
        const hmacs = req.headers.authorization === `Bearer ${TOKEN}` ? await providers.get(kind)?.hmac(epoch, messages) : undefined;
        res.writeHead(hmacs ? 200 : 410, { 'content-type': 'application/json' });
        res.end(JSON.stringify(hmacs ? { epoch, hmacs: hmacs.map((h) => h.toString('base64')) } : { error: 'EPOCH_UNAVAILABLE' }));
      })();
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${port}`, server };
}

describe('P9: continuity linkage across a pseudonym epoch, on the real gateway and Kafka', () => {
  let gateway: RunningService;
  let keys: Server;
  // Keys kept for the whole run (no rotation here), so the truth can be computed at the end.
  const providers = new Map<string, PseudonymKeyProvider>(
    ['lamppost', 'traffic-light', 'sewer'].map((kind) => [kind, createInMemoryKeyProvider({ epochMs: EPOCH_MS, graceMs: 600_000 })]),
  );

  beforeAll(async () => {
    const service = await startKeyService(providers);
    keys = service.server;
    gateway = await startService('gateway', {
      KAFKA_BROKERS: infra.kafkaBrokers.join(','),
      POLICY_FILE: policyCopy((doc) => {
        for (const kind of Object.values(doc.kinds)) {
          kind.window = `${EPOCH_MS / 1000}s`;
          kind.epoch = `${EPOCH_MS / 1000}s`;
        }
      }),
      MQTT_URL: infra.mqttUrl,
      MQTT_USERNAME: 'lethe-gateway',
      MQTT_PASSWORD: infra.gatewayPassword,
      KEYRING_URL: service.url,
      KEYRING_TOKEN: TOKEN,
    });
  });
  afterAll(async () => {
    await gateway?.stop();
    keys?.close();
    for (const provider of providers.values()) provider.destroyAll();
  });

  // Paced by the wall clock: BOUNDARIES + 1 epochs of 10 s, then up to a minute for the last records.
  it('gives an insider reading lethe.sightings.v1 at Hong Kong 03:00 no more than chance from what the records say', { timeout: 420_000 }, async () => {
    const fleet = loadFleet(DEFAULT_FLEET_PATH);
    const lampposts = fleet.devices.filter((d) => d.kind === 'lamppost');
    const city = createCity({ devices: lampposts, scenario: { ...loadScenario('normal-day'), hour: 3 }, seed: `p9-${Date.now()}`, tickSeconds: 5 });
    const since = Date.now();
    /** The first tick's time, once known: earlier records on the topic are other runs'. */
    let from = Infinity;
    const seen: Array<ObservedSighting & { arrivedAt: number }> = [];
    const kafka = createKafka({ brokers: infra.kafkaBrokers, clientId: 'p9-insider', logger: createLogger({ service: 'test', level: 'silent' }) });
    const insider = kafka.consumer({ groupId: `p9-insider-${since}`, allowAutoTopicCreation: false, maxWaitTimeInMs: 100 });
    await insider.connect();
    await insider.subscribe({ topic: TOPICS.sightings, fromBeginning: true });
    await insider.run({
      eachMessage: async ({ partition, message }) => {
        const parsed = SightingsTopicRecordSchema.safeParse(JSON.parse(message.value?.toString('utf8') ?? 'null'));
        if (!parsed.success || parsed.data.ts < from || parsed.data.kind !== 'lamppost') return;
        // The sightings of a record share its partition and offset.
        for (const sighting of sightingsOf(parsed.data))
          seen.push({ ...sighting, kafkaTimestamp: Number(message.timestamp), partition, offset: Number(message.offset), arrivedAt: Date.now() });
      },
    });

    // Per epoch, the phones published (hashed: the test keeps no MAC in its records), and the sighting records to expect.
    const macsByEpoch = new Map<number, Set<string>>();
    const expected = new Set<string>();
    const publisher = createFleetPublisher({ url: infra.mqttUrl, fleetSecret: infra.fleetSecret, clientIdPrefix: `p9-${since}` });
    try {
      // From the next boundary, BOUNDARIES + 1 epochs; before it, an epoch of readings not
      // published, so the street has filled to its night-time level when the first one starts.
      const start = (Math.floor(Date.now() / EPOCH_MS) + 1) * EPOCH_MS;
      const perEpoch = Math.round(EPOCH_MS / TICK_MS);
      for (let i = perEpoch; i > 0; i--) city.tick(new Date(start - Math.round(i * TICK_MS)));
      from = start;
      const ticks = (BOUNDARIES + 1) * perEpoch;
      for (let i = 0; i < ticks; i++) {
        const at = start + Math.round(i * TICK_MS);
        await new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())));
        const readings = city.tick(new Date(at));
        await Promise.all(readings.map((r) => publisher.publish(r.deviceId, r.topic, r.payload)));
        const epoch = Math.floor(at / EPOCH_MS);
        for (const r of readings) {
          for (const probe of (r.payload as LamppostReadingInput).wifiProbes ?? []) {
            (macsByEpoch.get(epoch) ?? macsByEpoch.set(epoch, new Set()).get(epoch)!).add(probe.mac);
            // The slot is the whole window here, and the window the epoch.
            expected.add(`${r.deviceId}|${createHash('sha256').update(probe.mac).digest('hex')}|${epoch}`);
          }
        }
      }
      const deadline = Date.now() + 60_000;
      while (seen.length < expected.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    } finally {
      await publisher.close();
      await insider.disconnect();
    }
    expect(seen.length, 'every sighting record, one per phone, lamppost and slot').toBe(expected.size);

    // The truth: each published phone's pseudonym in each epoch, as the gateway computed it.
    const truth = new Map<string, string>();
    const pseudonymizer = createPseudonymizer(providers.get('lamppost')!, EPOCH_MS);
    for (const [epoch, macs] of macsByEpoch) {
      const list = [...macs];
      const named = (await pseudonymizer.pseudonymize('wifi', epoch * EPOCH_MS, list))!;
      named.pseudonyms.forEach((p, i) => truth.set(p, createHash('sha256').update(list[i]!).digest('hex')));
    }
    const records = seen;
    const attack = (observed: ObservedSighting[], useOffsets: boolean) =>
      continuityAttack(observed, (p) => truth.get(p), { epochMs: EPOCH_MS, lookMs: EPOCH_MS, useOffsets, slotMs: EPOCH_MS, random: seededRandom(0x9) });
    const content = attack(records, false);
    const offsets = attack(records, true);
    // An insider tailing the topic live also knows when each record was written. (Looking two
    // epochs either side: the write mix delivers an epoch's first slot, here all of it, at its end.)
    const live = continuityAttack(
      records.map((s) => ({ ...s, ts: s.arrivedAt, kafkaTimestamp: s.arrivedAt })),
      (p) => truth.get(p),
      { epochMs: EPOCH_MS, lookMs: 2 * EPOCH_MS, useOffsets: false, slotMs: EPOCH_MS, random: seededRandom(0x9) },
    );
    console.log(
      [
        `continuity linkage on the real gateway, Hong Kong 03:00, ${BOUNDARIES} boundaries (time compressed ${SCALE}×), ${records.length} sighting records:`,
        describeFigures('  from the records and Kafka timestamps', content),
        describeFigures('  with partitions and offsets too', offsets),
        describeFigures('  tailing the topic live (arrival times)', live),
      ].join('\n'),
    );
    expect(content.targets, 'phones seen at a lamppost on both sides of a boundary').toBeGreaterThanOrEqual(150);
    expect(offsets.targets).toBe(content.targets);
    expect(live.targets, 'phones the live attacker aims at').toBeGreaterThanOrEqual(150);
    expect(content.advantage).toBeLessThan(MAX_ADVANTAGE);
    expect(offsets.advantage).toBeLessThan(MAX_ADVANTAGE);
    expect(live.advantage).toBeLessThan(MAX_ADVANTAGE);
    // No raw identifier went through: the records hold pseudonyms only.
    for (const s of records) expect(truth.has(s.pseudonym), 'every pseudonym is one the key service computed').toBe(true);
  });
});
