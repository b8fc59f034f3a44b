// P2 — raw data dies on time, measured on disk. Personal topics are created exactly as the
// services create them (topicSpecs of a policy), here from a copy of the policy with a 30 s
// TTL and 5 s segments under temporary names, so the run takes minutes, not hours. Records
// stamped with their event time (as the gateway stamps them) are produced continuously, and
// every second the broker's own segment files are parsed for the oldest record they still
// hold. Its age must never exceed TTL + the bound stated in
// packages/privacy/src/topic-configs.ts:
//   bound = segment.ms (a segment spans up to segment.ms and is deleted only when its newest
//           record is past retention)
//         + log.retention.check.interval.ms (retention is enforced by a periodic check)
//         + log.segment.delete.delay.ms (a deleted segment lingers as *.deleted this long)
//         + segment.jitter.ms (0) + slack (scheduling; SLACK_MS below)
// all read from the running broker, not assumed. The test also requires that segments were
// really removed from disk and that the oldest age fell after passing the TTL, so it cannot
// pass by never reaching the point where retention matters.
import { randomBytes } from 'node:crypto';
import { createBatchingProducer, createKafka, describeTopicConfigs, describeTopicReplication, ensureTopics, type OutgoingRecord } from '@lethe/kafka';
import { createLogger } from '@lethe/observability';
import { isPersonalTopic, loadPolicy, topicSpecs } from '@lethe/privacy';
import { TOPICS } from '@lethe/schemas';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { kafkaLogDirs, partitionDirs, segmentsOnDisk } from './kafka-log-segments.ts';
import { policyCopy, shortWindows } from '../support/policy-copy.ts';

const { ConfigResourceTypes } = kafkajs;
const infra = inject('infra');
const logger = createLogger({ service: 'test', level: 'silent' });

const TTL = '30s';
const SEGMENT = '5s';
/** How long records are produced and the disk is watched. */
const RUN_MS = 100_000;
const SAMPLE_EVERY_MS = 1000;
const PRODUCE_EVERY_MS = 100;
/** Scheduling slack on top of the broker's own delays (a loaded CI machine, JVM pauses). */
const SLACK_MS = 3000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface TopicWatch {
  topic: string;
  maxAgeMs: number;
  /** Samples where the oldest record's age fell after having passed the TTL: a deletion took effect. */
  ageDrops: number;
  /** Segment files seen and later gone from disk altogether. */
  seen: Set<number>;
  removed: Set<number>;
  lastNewestLagMs: number;
  lastRecords: number;
  previousAgeMs?: number;
}

describe('P2: raw data dies on time', () => {
  const run = Date.now();
  const policy = loadPolicy(
    policyCopy((doc) => {
      doc.rawData = { ttl: TTL, segment: SEGMENT, maxLateness: '10s' };
      // The policy requires epoch ≤ TTL and epoch a whole number of windows.
      shortWindows(doc, '10s', TTL);
    }),
  );
  // The personal topics, exactly as the services would configure them, under temporary names.
  const specs = topicSpecs(policy)
    .filter((s) => isPersonalTopic(s.topic))
    .map((s) => ({ ...s, topic: `${s.topic}.p2-${run}` }));
  const kafka = createKafka({ brokers: infra.kafkaBrokers, clientId: 'p2-raw-data', logger });
  const admin = kafka.admin();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });

  beforeAll(async () => {
    await admin.connect();
    await producer.connect();
    expect((await ensureTopics(admin, specs, logger)).sort()).toEqual(specs.map((s) => s.topic).sort());
  });

  afterAll(async () => {
    await producer.disconnect();
    await admin.deleteTopics({ topics: specs.map((s) => s.topic) });
    await admin.disconnect();
  });

  it(
    'keeps no per-person record on disk longer than TTL + the stated bound, and really deletes expired ones',
    async () => {
      const ttlMs = policy.rawData.ttl;
      const segmentMs = policy.rawData.segment;
      expect([ttlMs, segmentMs]).toEqual([30_000, 5_000]);

      // What the broker really enforces, read back rather than assumed.
      const topicConfigs = await describeTopicConfigs(
        admin,
        specs.map((s) => s.topic),
      );
      const { brokers } = await admin.describeCluster();
      const brokerConfigs = await admin.describeConfigs({
        includeSynonyms: false,
        resources: brokers.map((b) => ({ type: ConfigResourceTypes.BROKER, name: String(b.nodeId), configNames: ['log.retention.check.interval.ms'] })),
      });
      const checkIntervalMs = Math.max(
        ...brokerConfigs.resources.map((r) => Number(r.configEntries.find((e) => e.configName === 'log.retention.check.interval.ms')?.configValue)),
      );
      let deleteDelayMs = 0;
      let jitterMs = 0;
      for (const spec of specs) {
        const actual = topicConfigs[spec.topic]!;
        expect(actual['retention.ms'], spec.topic).toBe(String(ttlMs));
        expect(actual['segment.ms'], spec.topic).toBe(String(segmentMs));
        expect(actual['cleanup.policy'], spec.topic).toBe('delete');
        // Retention compares record timestamps: with CreateTime they are the producer's (event) times.
        expect(actual['message.timestamp.type'], spec.topic).toBe('CreateTime');
        deleteDelayMs = Math.max(deleteDelayMs, Number(actual['file.delete.delay.ms'])); // topic view of log.segment.delete.delay.ms
        jitterMs = Math.max(jitterMs, Number(actual['segment.jitter.ms']));
      }
      // The values topic-configs.ts states and infra/local/kafka.sh and docker-compose.yml set.
      expect(checkIntervalMs, 'log.retention.check.interval.ms').toBeLessThanOrEqual(10_000);
      expect(deleteDelayMs, 'log.segment.delete.delay.ms').toBeLessThanOrEqual(1000);
      expect(jitterMs, 'segment.jitter.ms').toBe(0);
      const boundMs = segmentMs + checkIntervalMs + deleteDelayMs + jitterMs + SLACK_MS;

      // Every broker's copy of every partition (one per partition on a single broker, three in a
      // cluster, LETHE_KAFKA_NODES=3): a replica outliving the TTL breaks P2 as much as a leader.
      const logDirs = kafkaLogDirs();
      const replication = await describeTopicReplication(
        admin,
        specs.map((s) => s.topic),
      );
      for (const spec of specs) {
        expect(
          partitionDirs(logDirs, spec.topic),
          `every replica of every partition of ${spec.topic} in ${logDirs.join(',')} — are those the log.dirs of the brokers at ${infra.kafkaBrokers.join(',')}? Set LETHE_TEST_KAFKA_LOG_DIRS if not`,
        ).toHaveLength(spec.numPartitions * replication[spec.topic]!.replicationFactor);
      }

      // Produce per-person records continuously, each stamped with its event time as the gateway does.
      const batching = createBatchingProducer({ producer });
      const [sightings, rejected, partials] = [TOPICS.sightings, TOPICS.rejected, TOPICS.partials].map(
        (name) => specs.find((s) => s.topic.startsWith(name))!.topic,
      ) as [string, string, string];
      let producing = true;
      let seq = 0;
      let produced = 0;
      const production = (async () => {
        while (producing) {
          const ts = Date.now();
          seq++;
          const records: OutgoingRecord[] = Array.from({ length: 5 }, (_, index) => ({
            topic: sightings,
            key: randomBytes(16).toString('hex'),
            value: JSON.stringify({
              v: 1,
              source: 'wifi',
              pseudonym: randomBytes(16).toString('hex'),
              epoch: Math.floor(ts / ttlMs),
              kind: 'lamppost',
              deviceId: 'LP-0001',
              district: 'central-and-western',
              seq,
              index,
              ts,
            }),
            timestamp: ts,
          }));
          records.push({
            topic: rejected,
            key: 'SCHEMA',
            value: JSON.stringify({
              v: 1,
              reason: 'SCHEMA',
              detail: 'p2 test',
              topic: 'lethe/v1/lamppost/LP-0001/reading',
              excerpt: '{}',
              bytes: 2,
              receivedAt: ts,
            }),
            timestamp: ts,
          });
          // The processor's stage 1 stamps a partial with the end of its window, as this one's.
          const window = { windowStart: ts - 10_000, windowEnd: ts, coversFrom: ts - 10_000 };
          records.push({
            topic: partials,
            key: `sightings:wifi|${window.windowStart}`,
            value: JSON.stringify({
              v: 1,
              type: 'sightings',
              source: 'wifi',
              ...window,
              topic: sightings,
              partition: 0,
              cells: [{ deviceId: 'LP-0001', district: 'central-and-western', people: 5 }],
              trips: [],
            }),
            timestamp: ts,
          });
          await batching.send(records);
          produced += records.length;
          await sleep(PRODUCE_EVERY_MS);
        }
      })();

      const watches: TopicWatch[] = specs.map((s) => ({
        topic: s.topic,
        maxAgeMs: 0,
        ageDrops: 0,
        seen: new Set(),
        removed: new Set(),
        lastNewestLagMs: Infinity,
        lastRecords: 0,
      }));
      const started = Date.now();
      let productionError: unknown;
      production.catch((err: unknown) => (productionError = err));
      while (Date.now() - started < RUN_MS && productionError === undefined) {
        for (const watch of watches) {
          const segments = segmentsOnDisk(logDirs, watch.topic);
          const now = Date.now(); // after reading: errs on the side of older ages
          const present = new Set(segments.map((s) => s.baseOffset));
          for (const offset of watch.seen) if (!present.has(offset)) watch.removed.add(offset);
          for (const offset of present) watch.seen.add(offset);
          const withRecords = segments.filter((s) => s.oldest !== undefined);
          if (withRecords.length === 0) continue;
          const ageMs = now - Math.min(...withRecords.map((s) => s.oldest!));
          watch.maxAgeMs = Math.max(watch.maxAgeMs, ageMs);
          if (watch.previousAgeMs !== undefined && watch.previousAgeMs > ttlMs && ageMs < watch.previousAgeMs - SAMPLE_EVERY_MS) watch.ageDrops++;
          watch.previousAgeMs = ageMs;
          watch.lastNewestLagMs = now - Math.max(...withRecords.map((s) => s.newest!));
          watch.lastRecords = withRecords.reduce((n, s) => n + s.records, 0);
        }
        await sleep(SAMPLE_EVERY_MS);
      }
      producing = false;
      await production;

      const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
      for (const w of watches) {
        console.log(
          `P2 ${w.topic}: oldest record on disk reached ${s(w.maxAgeMs)} (TTL ${s(ttlMs)}, allowed TTL + bound = ${s(ttlMs + boundMs)}; ` +
            `bound = segment.ms ${s(segmentMs)} + retention check ${s(checkIntervalMs)} + delete delay ${s(deleteDelayMs)} + jitter ${s(jitterMs)} + slack ${s(SLACK_MS)}); ` +
            `${w.removed.size} of ${w.seen.size} segments removed from disk, oldest age fell ${w.ageDrops} times after passing the TTL; ` +
            `${w.lastRecords} records on disk at the end, newest ${s(w.lastNewestLagMs)} old; ${produced} records produced in ${s(RUN_MS)}`,
        );
      }

      for (const w of watches) {
        // The parser saw the data being produced (so an empty reading cannot pass for deletion).
        expect(w.lastRecords, `${w.topic} records on disk`).toBeGreaterThan(0);
        expect(w.lastNewestLagMs, `${w.topic} newest record on disk is current`).toBeLessThan(5000);
        // Retention mattered and acted: data passed the TTL, then whole segments left the disk.
        expect(w.maxAgeMs, `${w.topic} data outlived the TTL at some point`).toBeGreaterThan(ttlMs);
        expect(w.ageDrops, `${w.topic} deletions observed`).toBeGreaterThan(0);
        expect(w.removed.size, `${w.topic} segments removed from disk`).toBeGreaterThan(0);
        // The guarantee.
        expect(w.maxAgeMs, `${w.topic} oldest record age vs TTL + bound`).toBeLessThanOrEqual(ttlMs + boundMs);
      }
    },
    RUN_MS + 60_000,
  );
});
