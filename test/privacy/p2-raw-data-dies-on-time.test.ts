// P2 — raw data dies on time, measured on disk, on every copy. Personal topics are created
// exactly as the services create them (topicSpecs of a policy, the cluster's default replication),
// here from a copy of the policy with a 30 s TTL and 5 s segments under temporary names, so the
// run takes minutes, not hours. Records stamped with their event time (as the gateway stamps them)
// are produced continuously, and every second each broker's own segment files are parsed for the
// oldest record they still hold. Its age must never exceed TTL + the bound stated in
// packages/privacy/src/topic-configs.ts:
//   bound = segment.ms (a segment spans up to segment.ms and is deleted only when its newest
//           record is past retention)
//         + log.retention.check.interval.ms (retention is enforced by a periodic check)
//         + log.segment.delete.delay.ms (a deleted segment lingers as *.deleted this long)
//         + segment.jitter.ms (0) + slack (scheduling; P2_SLACK_MS, personal-records.ts)
// all read from the running brokers, not assumed. The test also requires that segments were
// really removed from each broker's disk and that the oldest age fell after passing the TTL, so it
// cannot pass by never reaching the point where retention matters.
// It runs twice: on the shared broker (project `privacy`) and on a three-broker KRaft cluster
// (project `privacy-cluster`), where the topics must have 3 replicas and min.insync.replicas 2 and
// each broker's copy of each partition is watched on its own: a replica outliving the TTL breaks
// P2 as much as a leader. A broker that is down cannot delete: p2-a-broker-that-was-down.cluster.test.ts.
import { createBatchingProducer, createKafka, ensureTopics, type Admin, type Kafka, type Producer } from '@lethe/kafka';
import { createLogger } from '@lethe/observability';
import { loadPolicy } from '@lethe/privacy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../support/wait.ts';
import { everyCopy, kafkaUnderTest, type KafkaUnderTest } from './kafka-under-test.ts';
import { segmentsOnDisk } from './kafka-log-segments.ts';
import { P2_SLACK_MS, personalTopicSpecs, produceContinuously, seconds, statedBound } from './personal-records.ts';
import { policyCopy, shortWindows } from '../support/policy-copy.ts';

const logger = createLogger({ service: 'test', level: 'silent' });

const TTL = '30s';
const SEGMENT = '5s';
/** How long records are produced and the disk is watched. */
const RUN_MS = 100_000;
const SAMPLE_EVERY_MS = 1000;

/** One broker's copy of one topic (all its partitions there), watched on disk. */
interface CopyWatch {
  topic: string;
  node: string;
  dirs: string[];
  maxAgeMs: number;
  /** Samples where the oldest record's age fell after having passed the TTL: a deletion took effect. */
  ageDrops: number;
  /** Segment files seen and later gone from disk altogether. */
  seen: Set<string>;
  removed: Set<string>;
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
  const { specs, topics } = personalTopicSpecs(policy, `p2-${run}`);
  let target: KafkaUnderTest;
  let kafka: Kafka;
  let admin: Admin;
  let producer: Producer;

  beforeAll(async () => {
    target = await kafkaUnderTest();
    kafka = createKafka({ brokers: target.infra.kafkaBrokers, clientId: 'p2-raw-data', logger });
    admin = kafka.admin();
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await admin.connect();
    await producer.connect();
    expect((await ensureTopics(admin, specs, logger)).sort()).toEqual(specs.map((s) => s.topic).sort());
  }, 300_000);

  afterAll(async () => {
    await producer?.disconnect();
    await admin?.deleteTopics({ topics: specs.map((s) => s.topic) });
    await admin?.disconnect();
  });

  it(
    'keeps no per-person record on any broker’s disk longer than TTL + the stated bound, and really deletes expired ones',
    async () => {
      // Every broker's copy of every partition (one per partition on a single broker, three in
      // the cluster), with the replication the cluster gives the services' topics.
      await everyCopy(
        target,
        admin,
        specs.map((s) => s.topic),
      );
      const { ttlMs, segmentMs, checkIntervalMs, deleteDelayMs, jitterMs, boundMs } = await statedBound(admin, specs, policy);
      expect([ttlMs, segmentMs]).toEqual([30_000, 5_000]);

      // Produce per-person records continuously, each stamped with its event time as the gateway does.
      const batching = createBatchingProducer({ producer });
      const production = produceContinuously((records) => batching.send(records), topics, { epochMs: ttlMs });

      const watches: CopyWatch[] = specs.flatMap((spec) =>
        [...target.logDirs].map(([node, dirs]) => ({
          topic: spec.topic,
          node,
          dirs,
          maxAgeMs: 0,
          ageDrops: 0,
          seen: new Set<string>(),
          removed: new Set<string>(),
          lastNewestLagMs: Infinity,
          lastRecords: 0,
        })),
      );
      const started = Date.now();
      while (Date.now() - started < RUN_MS && production.error === undefined) {
        for (const watch of watches) {
          const segments = segmentsOnDisk(watch.dirs, watch.topic);
          const now = Date.now(); // after reading: errs on the side of older ages
          const present = new Set(segments.map((seg) => `${seg.partition}/${seg.baseOffset}`));
          for (const segment of watch.seen) if (!present.has(segment)) watch.removed.add(segment);
          for (const segment of present) watch.seen.add(segment);
          const withRecords = segments.filter((seg) => seg.oldest !== undefined);
          if (withRecords.length === 0) continue;
          const ageMs = now - Math.min(...withRecords.map((seg) => seg.oldest!));
          watch.maxAgeMs = Math.max(watch.maxAgeMs, ageMs);
          if (watch.previousAgeMs !== undefined && watch.previousAgeMs > ttlMs && ageMs < watch.previousAgeMs - SAMPLE_EVERY_MS) watch.ageDrops++;
          watch.previousAgeMs = ageMs;
          watch.lastNewestLagMs = now - Math.max(...withRecords.map((seg) => seg.newest!));
          watch.lastRecords = withRecords.reduce((n, seg) => n + seg.records, 0);
        }
        await sleep(SAMPLE_EVERY_MS);
      }
      await production.stop();

      for (const w of watches) {
        console.log(
          `P2 ${w.topic} on ${target.label}, ${w.node}: oldest record on disk reached ${seconds(w.maxAgeMs)} (TTL ${seconds(ttlMs)}, allowed TTL + bound = ${seconds(ttlMs + boundMs)}; ` +
            `bound = segment.ms ${seconds(segmentMs)} + retention check ${seconds(checkIntervalMs)} + delete delay ${seconds(deleteDelayMs)} + jitter ${seconds(jitterMs)} + slack ${seconds(P2_SLACK_MS)}); ` +
            `${w.removed.size} of ${w.seen.size} segments removed from disk, oldest age fell ${w.ageDrops} times after passing the TTL; ` +
            `${w.lastRecords} records on disk at the end, newest ${seconds(w.lastNewestLagMs)} old; ${production.produced} records produced in ${seconds(RUN_MS)}`,
        );
      }

      for (const w of watches) {
        const copy = `${w.topic} on ${w.node}`;
        // The parser saw the data being produced (so an empty reading cannot pass for deletion).
        expect(w.lastRecords, `${copy}: records on disk`).toBeGreaterThan(0);
        expect(w.lastNewestLagMs, `${copy}: newest record on disk is current`).toBeLessThan(5000);
        // Retention mattered and acted: data passed the TTL, then whole segments left the disk.
        expect(w.maxAgeMs, `${copy}: data outlived the TTL at some point`).toBeGreaterThan(ttlMs);
        expect(w.ageDrops, `${copy}: deletions observed`).toBeGreaterThan(0);
        expect(w.removed.size, `${copy}: segments removed from disk`).toBeGreaterThan(0);
        // The guarantee.
        expect(w.maxAgeMs, `${copy}: oldest record age vs TTL + bound`).toBeLessThanOrEqual(ttlMs + boundMs);
      }
    },
    RUN_MS + 120_000,
  );
});
