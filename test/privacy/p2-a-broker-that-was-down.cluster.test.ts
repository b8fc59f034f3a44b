// P2 on a broker that was down while records expired and came back later. A replica is a full
// copy of a topic's records, so P2 holds only if it holds on every broker — including one that
// was stopped: a stopped broker cannot delete anything, and its copy outlives the TTL for as long
// as it is down. What it does once back is Kafka's (3.9.1; read in its source):
//   - A partition written to while it was down: the leader has deleted past the end of the
//     returning broker's copy, so the follower's first fetch (from its log end offset) is below
//     the leader's log start offset; the leader answers OFFSET_OUT_OF_RANGE and the follower
//     truncates its copy fully (AbstractFetcherThread.fetchOffsetAndTruncate →
//     truncateFullyAndStartAt): the segments are renamed *.deleted and removed after
//     file.delete.delay.ms.
//   - A partition that went quiet: the leader's log start offset is the follower's end, nothing to
//     truncate. The follower takes the leader's log start offset from its first fetch response
//     (ReplicaFetcherThread.processPartitionData → maybeIncrementLogStartOffset), and its own
//     retention task deletes the files; that task first runs log.initial.task.delay.ms (Kafka's
//     default 30 s; neither infra/local nor docker-compose.yml sets it) after the broker's log
//     manager started, then every log.retention.check.interval.ms.
// Stated bound, from the broker's start-up line to its expired copy gone from its disk:
//   log.initial.task.delay.ms + log.retention.check.interval.ms (a first check that runs before
//   the broker's first fetch sees its old high watermark and may leave the last segment) +
//   file.delete.delay.ms + RESTART_SLACK_MS.
// Before it serves them again: a replica serves reads from its log start offset on (UnifiedLog.read
// refuses lower offsets; consumers' fetches of version 11 and later are answered by followers too,
// and a leader answers everyone), and it can become leader only from the in-sync replicas. The test
// asks the returned broker itself for its log start offset (ListOffsets with the debugging replica
// id, answered by followers) from its first answer on, and requires that when it is seen back in
// a partition's in-sync replicas, its log start offset is past every record it held while down.
//
// Steps: the policy's personal topics, from a copy with a 15 s TTL and 3 s segments, created as
// the services create them (3 replicas, min.insync.replicas 2); records produced continuously on
// all three; the rejected-messages topic goes quiet (refusals are rare) before one broker that
// leads neither single-partition topic is SIGKILLed (no clean shutdown) while it holds copies; the
// others go on. The brokers that are up keep P2 (oldest record ≤ TTL + the P2 bound) and delete
// every record older than the kill; the stopped one still holds its copy past the TTL; then it is
// restarted, and its disk, its log start offsets and the in-sync replicas are watched until its
// copy of every record older than the kill is gone. Runs in the `privacy-cluster` project only, on
// its shared cluster (the node is back and in sync at the end). Limits are for a machine three
// times slower than this one; the measured durations are printed.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createBatchingProducer, createKafka, ensureTopics, PRODUCER_OPTIONS, type Admin, type Producer } from '@lethe/kafka';
import { createLogger } from '@lethe/observability';
import { loadPolicy } from '@lethe/privacy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionLeader, replicaOffsets, waitForBrokers, waitForFullIsr } from '../support/kafka-cluster.ts';
import { runLocalScript } from '../support/native-servers.ts';
import { policyCopy, shortWindows } from '../support/policy-copy.ts';
import { sleep, waitFor } from '../support/wait.ts';
import { segmentsOnDisk, type SegmentOnDisk } from './kafka-log-segments.ts';
import { everyCopy, kafkaUnderTest, type KafkaUnderTest } from './kafka-under-test.ts';
import { PRODUCE_EVERY_MS, personalTopicSpecs, produceContinuously, seconds, statedBound, type Production } from './personal-records.ts';

const logger = createLogger({ service: 'test', level: 'silent' });

const TTL = '15s';
const SEGMENT = '3s';
/** Production before the broker is stopped: each copy holds a few segments of each topic. */
const BEFORE_STOP_MS = 4_000;
const SAMPLE_EVERY_MS = 250;
/** Scheduling slack for the returning broker (JVM warm-up, log recovery after SIGKILL on a slow machine). */
const RESTART_SLACK_MS = 10_000;
/** Kafka 3.9's log.initial.task.delay.ms (ServerLogConfigs.LOG_INITIAL_TASK_DELAY_MS_DEFAULT), unless the node's config sets it. */
const KAFKA_INITIAL_TASK_DELAY_MS = 30_000;

/** A record stamped at or before `cutoff` on these segments, per partition: its count. */
function recordsUpTo(segments: readonly SegmentOnDisk[], cutoff: number): Map<number, number> {
  const byPartition = new Map<number, number>();
  for (const s of segments) if (s.oldest !== undefined && s.oldest <= cutoff) byPartition.set(s.partition, (byPartition.get(s.partition) ?? 0) + s.records);
  return byPartition;
}

describe('P2 on a broker that was down while records expired', () => {
  const run = Date.now();
  const policy = loadPolicy(
    policyCopy((doc) => {
      doc.rawData = { ttl: TTL, segment: SEGMENT, maxLateness: '5s', maxFutureSkew: '5s' };
      shortWindows(doc, '5s', TTL);
    }),
  );
  const { specs, topics } = personalTopicSpecs(policy, `p2-down-${run}`);
  let target: KafkaUnderTest;
  let admin: Admin;
  let producer: Producer | undefined;
  let production: Production | undefined;
  let down: number | undefined;
  let restarted = false;

  beforeAll(async () => {
    target = await kafkaUnderTest();
    if (!target.cluster) throw new Error('this test runs on a cluster: `vitest run --project privacy-cluster` (vitest.config.ts)');
    admin = createKafka({ brokers: target.infra.kafkaBrokers, clientId: 'p2-down', logger }).admin();
    await admin.connect();
    await ensureTopics(admin, specs, logger);
  }, 300_000);

  afterAll(async () => {
    await production?.stop().catch(() => undefined);
    await producer?.disconnect();
    // Whatever happened, the node is back for the project's other files.
    if (target?.cluster && down !== undefined && !restarted) await runLocalScript('kafka.sh', ['start-node', String(down)], target.cluster.env);
    await admin?.deleteTopics({ topics: specs.map((s) => s.topic) }).catch(() => undefined);
    await admin?.disconnect();
  }, 300_000);

  it('keeps P2 on the brokers that are up, and the one that was down deletes its expired copy within the stated bound of its return, unreadable before it can lead', async () => {
    const cluster = target.cluster!;
    // 3 replicas (one on each broker), min.insync.replicas 2, no unclean leader election.
    const replication = await everyCopy(
      target,
      admin,
      specs.map((s) => s.topic),
    );
    for (const spec of specs) expect(replication[spec.topic]!.uncleanLeaderElection, spec.topic).toBe(false);
    const bound = await statedBound(admin, specs, policy);
    const { ttlMs, checkIntervalMs, deleteDelayMs, boundMs } = bound;
    expect([ttlMs, bound.segmentMs]).toEqual([15_000, 3_000]);
    const partitionsOf = new Map(specs.map((s) => [s.topic, Array.from({ length: s.numPartitions }, (_, p) => p)]));
    const nodes = Array.from({ length: cluster.nodes }, (_, i) => i + 1);
    const dirsOf = (node: number) => target.logDirs.get(`node ${node}`)!;
    const onDisk = (node: number, topic: string) => segmentsOnDisk(dirsOf(node), topic);

    // Records on all three copies of every partition.
    producer = createKafka({ brokers: target.infra.kafkaBrokers, clientId: 'p2-down-producer', logger }).producer(PRODUCER_OPTIONS);
    await producer.connect();
    const batching = createBatchingProducer({ producer });
    production = produceContinuously((records) => batching.send(records), topics, { epochMs: ttlMs });
    await sleep(BEFORE_STOP_MS);

    // The rejected-messages topic goes quiet; every copy gets all of it.
    production.quiet(topics.rejected);
    const producing = production;
    await sleep(2 * PRODUCE_EVERY_MS);
    const rejectedEnd = Number((await admin.fetchTopicOffsets(topics.rejected))[0]!.high);
    await waitFor(
      `every copy of ${topics.rejected} to hold its ${rejectedEnd} records`,
      () => nodes.every((n) => onDisk(n, topics.rejected).reduce((sum, s) => sum + s.records, 0) === rejectedEnd),
      30_000,
    );

    // One broker goes down: one that leads neither single-partition topic (it may lead a sightings
    // partition, which moves). SIGKILL: no controlled shutdown, no flush.
    const leaders = await Promise.all([topics.rejected, topics.partials].map((t) => partitionLeader(admin, t, 0)));
    const node = nodes.find((n) => !leaders.includes(n))!;
    down = node;
    const up = nodes.filter((n) => n !== node);
    await runLocalScript('kafka.sh', ['kill-node', String(node)], cluster.env);
    const stoppedAt = Date.now();
    // What the stopped broker holds: every record stamped before it stopped, up to these offsets.
    const expiredEnd = new Map<string, number>();
    let heldRecords = 0;
    for (const [topic, partitions] of partitionsOf) {
      const segments = onDisk(node, topic);
      heldRecords += segments.reduce((n, s) => n + s.records, 0);
      for (const p of partitions) expiredEnd.set(`${topic}/${p}`, Math.max(0, ...segments.filter((s) => s.partition === p).map((s) => s.nextOffset ?? 0)));
    }
    expect(
      [...expiredEnd.values()].every((end) => end > 0),
      `node ${node} holds records of every partition: ${JSON.stringify(Object.fromEntries(expiredEnd))}`,
    ).toBe(true);

    // The brokers that are up: P2 on their copies, and every record stamped before the stop deleted.
    let maxAgeUp = 0;
    const upDeletedMs = await waitFor(
      `nodes ${up.join(' and ')} to delete every record stamped before node ${node} stopped`,
      () => {
        let left = 0;
        for (const n of up) {
          for (const topic of partitionsOf.keys()) {
            const segments = onDisk(n, topic);
            const now = Date.now();
            const oldest = Math.min(...segments.map((s) => s.oldest ?? Infinity));
            if (Number.isFinite(oldest)) maxAgeUp = Math.max(maxAgeUp, now - oldest);
            left += [...recordsUpTo(segments, stoppedAt).values()].reduce((a, b) => a + b, 0);
          }
        }
        if (producing.error !== undefined) throw new Error(`production failed: ${String(producing.error)}`);
        return left === 0;
      },
      3 * (ttlMs + boundMs),
      { everyMs: SAMPLE_EVERY_MS },
    );
    expect(maxAgeUp, `oldest record age on nodes ${up.join(' and ')} while node ${node} was down, vs TTL + bound`).toBeLessThanOrEqual(ttlMs + boundMs);

    // The stopped broker still holds its copy, past the TTL: the copy P2 has to cover too.
    const stale = [...partitionsOf.keys()].flatMap((topic) => onDisk(node, topic));
    const staleOldest = Math.min(...stale.map((s) => s.oldest ?? Infinity));
    expect(
      stale.reduce((n, s) => n + s.records, 0),
      `node ${node} (down) still holds every record it had`,
    ).toBe(heldRecords);
    expect(Date.now() - staleOldest, `node ${node}'s oldest record is past the TTL`).toBeGreaterThan(ttlMs);
    // Fenced by the controller (its session timed out), it is out of every in-sync replica set.
    await waitFor(
      `node ${node} out of the in-sync replicas of every partition`,
      async () => (await admin.fetchTopicMetadata({ topics: [...partitionsOf.keys()] })).topics.every((t) => t.partitions.every((p) => !p.isr.includes(node))),
      60_000,
    );
    const downForMs = Date.now() - stoppedAt;

    // Back. Its log start offsets, the in-sync replicas and its disk are watched from the start command on.
    const properties = readFileSync(join(cluster.localDir, `kafka-cluster/node-${node}/server.properties`), 'utf8');
    const initialDelayMs = Number(/^log\.initial\.task\.delay\.ms=(\d+)$/m.exec(properties)?.[1] ?? KAFKA_INITIAL_TASK_DELAY_MS);
    const restartBoundMs = initialDelayMs + checkIntervalMs + deleteDelayMs + RESTART_SLACK_MS;
    const nodeLog = join(cluster.localDir, 'logs', `kafka-${node}.log`);
    const logFrom = existsSync(nodeLog) ? statSync(nodeLog).size : 0;
    const downBroker = target.infra.kafkaBrokers[node - 1]!;
    const upAdmin = createKafka({ brokers: up.map((n) => target.infra.kafkaBrokers[n - 1]!), clientId: 'p2-down-isr', logger }).admin();
    await upAdmin.connect();
    const keys = [...expiredEnd.keys()];
    const firstAnswer = new Map<string, { atMs: number; logStart: number }>();
    const atIsr = new Map<string, { atMs: number; logStart: number; expiredOnDisk: number }>();
    const gone = new Map<string, number>();
    const started = performance.now();
    let readyMs: number | undefined;
    let startError: unknown;
    const starting = runLocalScript('kafka.sh', ['start-node', String(node)], cluster.env).then(
      () => void (readyMs = performance.now() - started),
      (err: unknown) => void (startError = err),
    );
    restarted = true;
    const logStarts = async () => {
      const result = new Map<string, number>();
      for (const [topic, partitions] of partitionsOf) {
        const answer = await replicaOffsets(downBroker, topic, partitions, 'earliest', 2_000).catch(() => new Map());
        for (const [p, { error, offset }] of answer) if (error === 0) result.set(`${topic}/${p}`, offset);
      }
      return result;
    };
    try {
      await waitFor(
        `node ${node}, back, to be in sync again and rid of every record stamped before it stopped`,
        async () => {
          if (startError !== undefined) throw startError;
          const t = performance.now() - started;
          for (const [key, logStart] of await logStarts()) if (!firstAnswer.has(key)) firstAnswer.set(key, { atMs: t, logStart });
          const { topics: metadata } = await upAdmin.fetchTopicMetadata({ topics: [...partitionsOf.keys()] });
          const expiredOnDisk = new Map<string, number>();
          for (const topic of partitionsOf.keys()) for (const [p, n] of recordsUpTo(onDisk(node, topic), stoppedAt)) expiredOnDisk.set(`${topic}/${p}`, n);
          const newlyInIsr = metadata
            .flatMap((m) => m.partitions.filter((p) => p.isr.includes(node)).map((p) => `${m.name}/${p.partitionId}`))
            .filter((k) => !atIsr.has(k));
          if (newlyInIsr.length > 0) {
            // Asked after the metadata said so: a log start offset still short of the expired
            // records now was short of them when the broker rejoined (it only grows).
            const now = await logStarts();
            const answeredMs = performance.now() - started;
            for (const [key, logStart] of now) if (!firstAnswer.has(key)) firstAnswer.set(key, { atMs: answeredMs, logStart });
            for (const key of newlyInIsr) atIsr.set(key, { atMs: t, logStart: now.get(key) ?? -1, expiredOnDisk: expiredOnDisk.get(key) ?? 0 });
          }
          for (const key of keys) if (!gone.has(key) && !expiredOnDisk.has(key)) gone.set(key, t);
          return keys.every((k) => gone.has(k) && atIsr.has(k));
        },
        restartBoundMs + 180_000,
        { everyMs: SAMPLE_EVERY_MS },
      );
    } finally {
      await starting;
      await upAdmin.disconnect();
    }
    const ready = readyMs!;
    // Which way each partition went, as the returning broker logged it.
    const log = existsSync(nodeLog) ? readFileSync(nodeLog).subarray(logFrom).toString('utf8') : '';
    const truncated = new Set(keys.filter((k) => log.includes(`Truncate fully and reset fetch offset for partition ${k.replace(/\/(\d+)$/, '-$1')} `)));

    // The cluster whole again before the project's next test file (internal topics included).
    const isrMs = await waitForFullIsr(admin, 180_000);
    await waitForBrokers(target.infra.kafkaBrokers, 60_000);

    const rel = (ms: number) => `${ms >= ready ? '+' : '−'}${seconds(Math.abs(ms - ready))}`;
    console.log(
      `P2, a broker that was down: node ${node} SIGKILLed holding ${heldRecords} records (oldest ${seconds(stoppedAt - staleOldest)} old then); ` +
        `nodes ${up.join(' and ')} deleted every record older than the stop ${seconds(upDeletedMs)} after it, their oldest record reached ${seconds(maxAgeUp)} ` +
        `(TTL + bound ${seconds(ttlMs + boundMs)}); node ${node} down ${seconds(downForMs)}, its oldest record ${seconds(Date.now() - staleOldest)} old by now; ` +
        `restart took ${seconds(ready)} (start command → "Kafka Server started"), then everything in sync after ${seconds(isrMs)} more.\n` +
        `  per partition, relative to its start-up line (bound: log.initial.task.delay.ms ${seconds(initialDelayMs)} + check ${seconds(checkIntervalMs)} + delete delay ${seconds(deleteDelayMs)} + slack ${seconds(RESTART_SLACK_MS)} = ${seconds(restartBoundMs)}):\n` +
        keys
          .map((k) => {
            const first = firstAnswer.get(k);
            const isr = atIsr.get(k)!;
            return (
              `    ${k}: held offsets < ${expiredEnd.get(k)}; ${truncated.has(k) ? 'truncated fully at its first fetch' : 'deleted by its retention task'}; ` +
              `expired copy gone from disk ${rel(gone.get(k)!)}; first answer ${first ? `${rel(first.atMs)} with log start ${first.logStart}` : 'none'}; ` +
              `in the ISR ${rel(isr.atMs)} with log start ${isr.logStart}, ${isr.expiredOnDisk} expired records still on disk then`
            );
          })
          .join('\n'),
    );

    for (const key of keys) {
      const isr = atIsr.get(key)!;
      expect(
        isr.logStart,
        `${key}: node ${node}'s log start offset when it was back in the in-sync replicas vs the end of what it held while down`,
      ).toBeGreaterThanOrEqual(expiredEnd.get(key)!);
      expect(gone.get(key)! - ready, `${key}: node ${node} back (its start-up line) → its expired copy gone from disk, vs the bound`).toBeLessThanOrEqual(
        restartBoundMs,
      );
    }
  }, 600_000);
});
