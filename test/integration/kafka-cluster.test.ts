// A three-broker KRaft cluster from infra/local (up.sh with LETHE_KAFKA_NODES=3), in its own run
// directory on free loopback ports, never the shared servers (issue 14, items 1 and 2):
//   1. Lethe's topics, created as the services create them (ensureTopics, the broker's default
//      replication), have 3 replicas, min.insync.replicas 2 and no unclean leader election.
//   2. Through the batching producer with Lethe's producer options (idempotent, acks=all), the
//      leader of a sightings-like partition is SIGKILLed mid-stream: every acknowledged record
//      is in the topic exactly once.
// P1 and P2 on every copy, and a broker that was down while records expired, are privacy tests
// (test/privacy, project `privacy-cluster`).
// Timeouts are sized for a machine three times slower than the one this was written on; the
// measured durations are printed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CONSUMER_TIMEOUTS,
  createBatchingProducer,
  createKafka,
  describeTopicReplication,
  ensureTopics,
  PRODUCER_OPTIONS,
  type Admin,
  type BatchingProducer,
  type Kafka,
  type OutgoingRecord,
  type Producer,
} from '@lethe/kafka';
import { createLogger } from '@lethe/observability';
import { DEFAULT_POLICY_PATH, loadPolicy, topicSpecs } from '@lethe/privacy';
import { TOPICS } from '@lethe/schemas';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { clusterEnv, freePortBlock, isAlive, nodePid as nodePidIn, partitionLeader } from '../support/kafka-cluster.ts';
import { runLocalScript, startNativeServers } from '../support/native-servers.ts';
import { sleep, waitFor } from '../support/wait.ts';
import { kafkaNodeLogDirs, partitionDirs } from '../privacy/kafka-log-segments.ts';

const { ConfigResourceTypes } = kafkajs;
const logger = createLogger({ service: 'test', level: 'silent' });
const NODES = 3;

/** Records produced in each leader-kill test, CHUNK per send every TICK_MS (about 300 a second). */
const TOTAL = 7_500;
const CHUNK = 15;
const TICK_MS = 50;
/** The leader is killed once this many records have been handed to the producer. */
const KILL_AT = 2_400;

/** log.retention.check.interval.ms (kafka-cluster.sh), read back below. */
const CHECK_INTERVAL_MS = 10_000;

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

describe('a three-broker KRaft cluster (infra/local, LETHE_KAFKA_NODES=3)', () => {
  const localDir = mkdtempSync(join(tmpdir(), 'lethe-kafka-cluster-'));
  let env: Record<string, string> = { LETHE_LOCAL_DIR: localDir };
  let kafka: Kafka;
  let admin: Admin;
  let failed = false;
  const timings: Record<string, string> = {};

  /** The pid of a running node, from its pid file. */
  const nodePid = (node: number) => nodePidIn(localDir, node);
  const keepOnFailure = () => onTestFailed(() => void (failed = true));

  beforeAll(async () => {
    const port = await freePortBlock(2 * NODES);
    env = clusterEnv(localDir, port);
    const started = performance.now();
    try {
      const servers = await startNativeServers({ env, services: ['kafka'] });
      timings['cluster start (up.sh kafka, first start: format + 3 JVMs)'] = seconds(performance.now() - started);
      const brokers = servers.endpoints.KAFKA_BROKERS!.split(',');
      expect(brokers, 'KAFKA_BROKERS in endpoints.env').toEqual([0, 1, 2].map((i) => `127.0.0.1:${port + 2 * i}`));
      kafka = createKafka({ brokers, clientId: 'kafka-cluster-test', logger });
      admin = kafka.admin();
      await admin.connect();
      // Each node has logged its start; the metadata a broker answers with may not list the others yet.
      await waitFor('all three brokers in the cluster metadata', async () => (await admin.describeCluster()).brokers.length === NODES, 90_000);
    } catch (err) {
      failed = true;
      await runLocalScript('down.sh', ['kafka'], env).catch(() => undefined);
      throw new Error(
        'This test starts its own three-broker Kafka with `LETHE_KAFKA_NODES=3 infra/local/up.sh kafka` and it failed (see the cause).\n' +
          'It needs Java 17 and the Kafka jars: `bash infra/local/install-kafka.sh` (Maven Central), then `LETHE_KAFKA_NODES=3 bash infra/local/kafka.sh start` to see the error.',
        { cause: err },
      );
    }
  }, 300_000);

  afterAll(async () => {
    await admin?.disconnect().catch(() => undefined);
    // Every node, whatever happened above (kafka.sh stop covers each node with a pid file).
    await runLocalScript('down.sh', ['kafka'], env).catch((err: unknown) => console.error(String(err)));
    const left = [1, 2, 3].filter((n) => {
      try {
        return isAlive(nodePid(n));
      } catch {
        return false;
      }
    });
    console.log(
      `kafka cluster timings:\n${Object.entries(timings)
        .map(([k, v]) => `  ${k}: ${v}`)
        .join('\n')}`,
    );
    if (failed) console.log(`kept ${localDir} (logs/kafka-<node>.log) for a look at the failure`);
    else rmSync(localDir, { recursive: true, force: true });
    expect(left, 'nodes still running after down.sh').toEqual([]);
  }, 120_000);

  it('creates Lethe’s topics with 3 replicas, min.insync.replicas 2 and no unclean leader election', async () => {
    keepOnFailure();
    // Each broker learns that the others are unfenced from the metadata log: the one asked now may lag the one asked in beforeAll.
    let brokers: Array<{ nodeId: number }> = [];
    await waitFor(
      'nodes 1, 2 and 3 in the metadata of the broker asked',
      async () => (brokers = (await admin.describeCluster()).brokers).length === NODES,
      60_000,
    );
    expect(brokers.map((b) => b.nodeId).sort()).toEqual([1, 2, 3]);
    const brokerConfigs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: brokers.map((b) => ({
        type: ConfigResourceTypes.BROKER,
        name: String(b.nodeId),
        configNames: ['default.replication.factor', 'min.insync.replicas', 'unclean.leader.election.enable', 'log.retention.check.interval.ms'],
      })),
    });
    for (const r of brokerConfigs.resources) {
      const config = Object.fromEntries(r.configEntries.map((e) => [e.configName, e.configValue]));
      expect(config, `broker ${r.resourceName}`).toEqual({
        'default.replication.factor': '3',
        'min.insync.replicas': '2',
        'unclean.leader.election.enable': 'false',
        'log.retention.check.interval.ms': String(CHECK_INTERVAL_MS),
      });
    }

    const specs = topicSpecs(loadPolicy(DEFAULT_POLICY_PATH));
    await ensureTopics(admin, specs, logger);
    // Each broker learns of a new topic from the controller's metadata log a moment later; until
    // then it answers UNKNOWN_TOPIC_OR_PARTITION, so read back until every broker asked knows.
    let replication: Awaited<ReturnType<typeof describeTopicReplication>> = {};
    await waitFor(
      'the topics’ metadata on the broker asked',
      async () => {
        replication = await describeTopicReplication(
          admin,
          specs.map((s) => s.topic),
        );
        return true;
      },
      60_000,
    );
    for (const spec of specs) {
      expect(replication[spec.topic], spec.topic).toEqual({
        partitions: spec.numPartitions,
        replicationFactor: 3,
        inSyncReplicas: 3,
        minInsyncReplicas: 2,
        uncleanLeaderElection: false,
      });
    }
    // Each copy is on a broker of its own: every node makes a directory for each sightings
    // partition (as it applies the new topic's metadata).
    const nodeDirs = kafkaNodeLogDirs({ localDir, nodes: NODES });
    const partitions = specs.find((s) => s.topic === TOPICS.sightings)!.numPartitions;
    await waitFor(
      `a directory for each of the ${partitions} ${TOPICS.sightings} partitions on every node`,
      () => [...nodeDirs.values()].every((dirs) => partitionDirs(dirs, TOPICS.sightings).length === partitions),
      60_000,
    );
  }, 120_000);

  interface LeaderKillResult {
    killed: number;
    newLeader: number;
    acked: number;
    failures: string[];
    /** Acknowledged, not in the topic. */
    missing: number[];
    /** In the topic more than once. */
    twice: number[];
  }

  /**
   * Produces TOTAL records (CHUNK per `send` every TICK_MS) to a new topic configured like the
   * sightings topic, SIGKILLs the leader of its partition 0 after KILL_AT, waits for every send,
   * restarts the killed node (kafka.sh start-node) until it is back in every ISR, then reads the
   * topic from the beginning and reconciles it with what was acknowledged.
   */
  async function leaderKill(label: string, send: (producer: Producer, records: OutgoingRecord[]) => Promise<void>): Promise<LeaderKillResult> {
    const sightings = topicSpecs(loadPolicy(DEFAULT_POLICY_PATH)).find((s) => s.topic === TOPICS.sightings)!;
    const topic = `${TOPICS.sightings}.kill-${label}-${Date.now()}`;
    await ensureTopics(admin, [{ ...sightings, topic }], logger);
    const producer = kafka.producer(PRODUCER_OPTIONS);
    await producer.connect();
    const acked = new Set<number>();
    const failures: string[] = [];
    const sends: Promise<void>[] = [];
    let killedAt = 0;
    let firstAckAfterKill = 0;
    let longestAckMs = 0;
    let killed = 0;
    const leaderOf = (partition: number) => partitionLeader(admin, topic, partition);

    const produceStarted = performance.now();
    for (let seq = 0; seq < TOTAL; seq += CHUNK) {
      if (killed === 0 && seq >= KILL_AT) {
        killed = await leaderOf(0);
        const pid = nodePid(killed);
        process.kill(pid, 'SIGKILL');
        killedAt = performance.now();
        await waitFor(`node ${killed} (pid ${pid}) to die`, () => !isAlive(pid), 10_000);
      }
      const records: OutgoingRecord[] = Array.from({ length: Math.min(CHUNK, TOTAL - seq) }, (_, i) => ({
        topic,
        key: `pseudonym-${(seq + i) % 101}`,
        value: JSON.stringify({ seq: seq + i }),
        timestamp: Date.now(),
      }));
      const sentAt = performance.now();
      sends.push(
        send(producer, records).then(
          () => {
            const now = performance.now();
            longestAckMs = Math.max(longestAckMs, now - sentAt);
            if (killedAt > 0 && sentAt > killedAt && firstAckAfterKill === 0) firstAckAfterKill = now;
            for (const r of records) acked.add((JSON.parse(r.value) as { seq: number }).seq);
          },
          (err: unknown) => void failures.push(`records ${seq}…${seq + records.length - 1}: ${err instanceof Error ? err.message : String(err)}`),
        ),
      );
      await sleep(TICK_MS);
    }
    await Promise.all(sends);
    await producer.disconnect();
    expect(killed, 'a leader was killed').toBeGreaterThan(0);
    const newLeader = await leaderOf(0);
    timings[`${label}: production (${TOTAL} records)`] = seconds(performance.now() - produceStarted);
    timings[`${label}: leader kill → first acknowledgement of a record sent after it`] = seconds(firstAckAfterKill - killedAt);
    timings[`${label}: longest send → acknowledgement`] = seconds(longestAckMs);

    // The killed node back, and every partition replicated three times again.
    const restarted = performance.now();
    await runLocalScript('kafka.sh', ['start-node', String(killed)], env);
    timings[`${label}: restart of the killed node ${killed} (kafka.sh start-node)`] = seconds(performance.now() - restarted);
    const isr = await waitFor(
      `node ${killed} back in the ISR of every ${topic} partition`,
      async () => (await describeTopicReplication(admin, [topic]))[topic]!.inSyncReplicas === NODES,
      180_000,
    );
    timings[`${label}: restarted node → back in every ISR`] = seconds(isr);

    // Everything in the topic, read from the beginning up to the high watermarks.
    const high = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
    const next = new Map<number, number>();
    const seen = new Map<number, number>();
    const consumer = kafka.consumer({ groupId: `kafka-cluster-check-${label}-${Date.now()}`, ...CONSUMER_TIMEOUTS });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const seq = (JSON.parse(m.value!.toString()) as { seq: number }).seq;
          seen.set(seq, (seen.get(seq) ?? 0) + 1);
          next.set(batch.partition, Number(m.offset) + 1);
        }
      },
    });
    try {
      await waitFor('the consumer to reach the high watermark of every partition', () => [...high].every(([p, h]) => (next.get(p) ?? 0) >= h), 180_000);
    } finally {
      await consumer.disconnect();
    }
    const result = {
      killed,
      newLeader,
      acked: acked.size,
      failures,
      missing: [...acked].filter((seq) => !seen.has(seq)),
      twice: [...seen].filter(([, n]) => n > 1).map(([seq]) => seq),
    };
    console.log(
      `${label}: node ${killed} (leader of partition 0) killed after ${KILL_AT} records, node ${newLeader} leads it now; ${acked.size}/${TOTAL} acknowledged, ${seen.size} distinct in the topic, ${result.missing.length} acknowledged but missing (${result.missing.slice(0, 10).join(', ')}), ${result.twice.length} twice (${result.twice.slice(0, 10).join(', ')})`,
    );
    return result;
  }

  // kafkajs 2.2.4 as published fails this: 3–9 acknowledged records missing and up to 5 twice
  // per leader kill (a retry skipped the broker that took over the dead leader's partitions,
  // and took fresh sequence numbers). Lethe patches its send path (patches/kafkajs@2.2.4.patch,
  // unit-tested in packages/kafka/test/kafkajs-patch.test.ts) and keeps one batch in flight
  // per producer (batching-producer.ts).
  it('through the batching producer as the gateway uses it, a partition leader SIGKILLed mid-stream loses no acknowledged record and writes none twice', async () => {
    keepOnFailure();
    const batching = new Map<Producer, BatchingProducer>();
    const result = await leaderKill('batching', (producer, records) => {
      let b = batching.get(producer);
      if (!b) batching.set(producer, (b = createBatchingProducer({ producer })));
      return b.send(records);
    });
    expect(result.failures, 'sends Kafka did not acknowledge').toEqual([]);
    expect(
      { failures: result.failures.length, missing: result.missing, twice: result.twice },
      'sends not acknowledged, acknowledged records missing, records twice',
    ).toEqual({ failures: 0, missing: [], twice: [] });
  }, 600_000);

  it('the register states 3 replicas, min.insync.replicas 2 and no unclean leader election for each of Lethe’s topics, as the api reads them', async () => {
    keepOnFailure();
    const { buildRegister, withReplication } = await import('@lethe/privacy');
    const { createTopicReplicationReader } = await import('../../services/api/src/topic-replication.ts');
    const policy = loadPolicy(DEFAULT_POLICY_PATH);
    const specs = topicSpecs(policy);
    await ensureTopics(admin, specs, logger);
    // The api's reader, as it runs at the api's start and at every scheduled check; a broker may
    // not know a new topic for a moment, which the reader states as a failed read.
    const reader = createTopicReplicationReader({ admin, topics: specs.map((s) => s.topic), logger });
    await waitFor(
      'every topic’s replication read from the cluster',
      async () => {
        await reader.refresh();
        return specs.every((s) => reader.of(s.topic).state === 'read');
      },
      60_000,
    );
    const register = withReplication(buildRegister(policy), (topic) => reader.of(topic));
    for (const t of [...register.topics, ...register.sensors.flatMap((s) => s.storage.topics)]) {
      expect(t.replication, t.topic).toEqual({ state: 'read', replicas: 3, minInsyncReplicas: 2, uncleanLeaderElection: false });
    }
  }, 120_000);
});
