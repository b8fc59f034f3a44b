// The Kafka a privacy test runs against, and where every copy of its records is on disk: the
// broker of the shared test servers (project `privacy`), or a three-broker KRaft cluster of
// infra/local (project `privacy-cluster`; LETHE_KAFKA_NODES=3: replication factor 3,
// min.insync.replicas 2, no unclean leader election), started by the first test file that asks
// and shared by the project's files (test/support/kafka-cluster-setup.ts). A replica is a full
// copy of a topic's records, so P1 searches and P2 times each broker's log directories.
import { describeTopicReplication, type Admin, type TopicReplication } from '@lethe/kafka';
import { expect, inject } from 'vitest';
import type { TestInfra } from '../support/global-setup.ts';
import { CLUSTER_NODES, startKafkaCluster, waitForBrokers } from '../support/kafka-cluster.ts';
import { waitFor } from '../support/wait.ts';
import { kafkaNodeLogDirs, partitionDirs } from './kafka-log-segments.ts';

export interface KafkaUnderTest {
  /** For messages: "the shared broker" or "a three-broker cluster". */
  label: string;
  /** The test servers, with Kafka the one under test. */
  infra: TestInfra;
  /** Each broker's log directories ("node 1" → its log.dirs), a broker that is down included. */
  logDirs: Map<string, string[]>;
  /** The cluster: its infra/local run directory (logs, configs, pid files) and variables (kafka.sh start-node N, …). */
  cluster?: { localDir: string; env: Record<string, string>; nodes: number };
  /** The replication the services' topics must get (the cluster's defaults); unknown for the shared broker, whatever it is. */
  replication?: { replicationFactor: number; minInsyncReplicas: number };
}

export async function kafkaUnderTest(): Promise<KafkaUnderTest> {
  const infra = inject('infra');
  const shared = inject('kafkaCluster');
  if (!shared) {
    // LETHE_TEST_KAFKA_LOG_DIRS: the log.dirs of brokers this run did not start (comma-separated).
    const explicit = process.env.LETHE_TEST_KAFKA_LOG_DIRS;
    const logDirs = explicit
      ? new Map([['LETHE_TEST_KAFKA_LOG_DIRS', explicit.split(',')]])
      : new Map([...kafkaNodeLogDirs()].map(([node, dirs]) => [`node ${node}`, dirs]));
    return { label: 'the shared broker', infra, logDirs };
  }
  const cluster = await startKafkaCluster(shared.localDir, { reuse: true });
  // A node just started (or restarted after a test stopped it) is a broker once the controller unfences it.
  await waitForBrokers(cluster.brokers, 120_000);
  return {
    label: 'a three-broker cluster',
    infra: { ...infra, kafkaBrokers: cluster.brokers },
    logDirs: new Map([...kafkaNodeLogDirs({ localDir: shared.localDir, nodes: CLUSTER_NODES })].map(([node, dirs]) => [`node ${node}`, dirs])),
    cluster: { localDir: shared.localDir, env: cluster.env, nodes: CLUSTER_NODES },
    replication: { replicationFactor: 3, minInsyncReplicas: 2 },
  };
}

/**
 * The topics' replication as the cluster reports it, once every copy of every partition has its
 * directory in the brokers' log directories (every copy is where the tests look). A broker learns
 * of a new topic from the controller's metadata log a moment after it is created and answers
 * UNKNOWN_TOPIC_OR_PARTITION until then, so this also waits until every broker knows the topics.
 * On the cluster the topics must have the replication the services' topics get there.
 */
export async function everyCopy(target: KafkaUnderTest, admin: Admin, topics: readonly string[]): Promise<Record<string, TopicReplication>> {
  let replication: Record<string, TopicReplication> = {};
  await waitFor(
    `the replication of ${topics.join(', ')}`,
    async () => {
      replication = await describeTopicReplication(admin, topics);
      return true;
    },
    60_000,
  );
  const allDirs = [...target.logDirs.values()].flat();
  for (const topic of topics) {
    const { partitions, replicationFactor, minInsyncReplicas } = replication[topic]!;
    if (target.replication) expect({ replicationFactor, minInsyncReplicas }, `${topic} on ${target.label}`).toEqual(target.replication);
    await waitFor(
      `every replica of every partition of ${topic} (${partitions} × ${replicationFactor}) in ${allDirs.join(',')} — are those the log.dirs of the brokers at ${target.infra.kafkaBrokers.join(',')}? Set LETHE_TEST_KAFKA_LOG_DIRS if not`,
      () => partitionDirs(allDirs, topic).length === partitions * replicationFactor,
      60_000,
    );
  }
  return replication;
}
