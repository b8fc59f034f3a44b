// Each topic's replication as the Kafka cluster holds it, for the register (RegisterReplication in
// @lethe/privacy says why it is read from the brokers and not derived from the policy). Read once
// when the api starts and then at every scheduled check of the personal-topic watch (it runs this
// before the retention checks of each slot), so the api has one schedule of Kafka reads, not two.
//
// Only the latest read is kept, in memory: a topic the latest read did not describe is stated as
// unknown with the reason (no such topic yet, or the read failed), never with a default or an
// earlier reading. The read needs Describe and DescribeConfigs on the topics
// (scripts/kafka-acls.ts): metadata and configs, never a record. Nothing in it depends on the
// data (P9): the replica count and the configs are the same whoever was seen.
import { describeTopicReplication, type Admin } from '@lethe/kafka';
import type { Logger } from '@lethe/observability';
import { unknownReplication, type RegisterReplication } from '@lethe/privacy';

/** The admin calls the read uses (kafkajs Admin has them). */
export type ReplicationAdmin = Pick<Admin, 'listTopics' | 'fetchTopicMetadata' | 'describeConfigs'>;

export interface TopicReplicationReaderOptions {
  admin: ReplicationAdmin;
  /** The topics the register lists. */
  topics: readonly string[];
  logger: Logger;
}

export interface TopicReplicationReader {
  /** Reads every topic's replication from the cluster. Never rejects: a failed read is stated as `read-failed`. */
  refresh(): Promise<void>;
  /** A topic's replication as of the latest read (`not-read` before the first). */
  of(topic: string): RegisterReplication;
}

const errorFields = (err: unknown) => ({ name: (err as Error).name, message: (err as Error).message });

export function createTopicReplicationReader({ admin, topics, logger }: TopicReplicationReaderOptions): TopicReplicationReader {
  const log = logger.child({ component: 'topic-replication' });
  let latest = new Map<string, RegisterReplication>();
  let logged = '';
  let running: Promise<void> | undefined;

  async function read(): Promise<Map<string, RegisterReplication>> {
    try {
      // A topic the cluster has not got would fail the whole metadata request: ask only for those it lists.
      const existing = new Set(await admin.listTopics());
      const present = topics.filter((t) => existing.has(t));
      const described = present.length === 0 ? {} : await describeTopicReplication(admin, present);
      return new Map(
        topics.map((topic): [string, RegisterReplication] => {
          const r = described[topic];
          return [
            topic,
            r
              ? { state: 'read', replicas: r.replicationFactor, minInsyncReplicas: r.minInsyncReplicas, uncleanLeaderElection: r.uncleanLeaderElection }
              : unknownReplication('no-such-topic'),
          ];
        }),
      );
    } catch (err) {
      log.warn({ err: errorFields(err) }, 'could not read the topics’ replication from the cluster; the register states it as unknown');
      return new Map(topics.map((topic) => [topic, unknownReplication('read-failed')]));
    }
  }

  async function refresh(): Promise<void> {
    latest = await read();
    // Logged when it changes, not at every check.
    const summary = JSON.stringify(Object.fromEntries(latest));
    if (summary !== logged) {
      logged = summary;
      log.info({ replication: Object.fromEntries(latest) }, 'topic replication as the register states it');
    }
  }

  return {
    refresh: () => (running ??= refresh().finally(() => (running = undefined))),
    of: (topic) => ({ ...(latest.get(topic) ?? unknownReplication('not-read')) }),
  };
}
