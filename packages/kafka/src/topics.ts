// Creates missing topics and brings the configs of existing ones in line, so a change in the
// policy (say a shorter TTL) reaches the running broker at the next service start. A topic with
// fewer partitions than asked for gets more (createPartitions); Kafka cannot remove partitions,
// so one with more keeps them.
import type { Admin } from 'kafkajs';
import kafkajs from 'kafkajs';
import type { Logger } from 'pino';

const { ConfigResourceTypes } = kafkajs;

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  /** Kafka topic configs, e.g. `retention.ms`. */
  configs: Record<string, string>;
}

/** Waits until the cluster's metadata gives every partition of the topics a leader (a broker may not know a new topic yet). */
async function waitForLeaders(admin: Admin, topics: readonly string[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let lastError: unknown;
    try {
      const { topics: metadata } = await admin.fetchTopicMetadata({ topics: [...topics] });
      const led = (topic: string) => metadata.find((t) => t.name === topic)?.partitions.every((p) => p.leader >= 0) === true;
      if (topics.every((t) => metadata.find((m) => m.name === t)?.partitions.length && led(t))) return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`topics ${topics.join(', ')}: not every partition has a leader after ${timeoutMs} ms`, { cause: lastError });
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Returns the names of the topics it created or whose configs or partitions it changed. */
export async function ensureTopics(admin: Admin, specs: readonly TopicSpec[], logger: Logger): Promise<string[]> {
  const changed: string[] = [];
  const existing = new Set(await admin.listTopics());
  const missing = specs.filter((s) => !existing.has(s.topic));
  if (missing.length > 0) {
    await admin.createTopics({
      // kafkajs's own wait gives up on the UNKNOWN_TOPIC_OR_PARTITION a broker answers until the
      // new topic's metadata has reached it, which happens in a cluster: waitForLeaders below retries.
      waitForLeaders: false,
      topics: missing.map((s) => ({
        topic: s.topic,
        numPartitions: s.numPartitions,
        replicationFactor: -1,
        configEntries: Object.entries(s.configs).map(([name, value]) => ({ name, value })),
      })),
    });
    await waitForLeaders(
      admin,
      missing.map((s) => s.topic),
    );
    for (const s of missing) logger.info({ topic: s.topic, configs: s.configs }, 'created topic');
    changed.push(...missing.map((s) => s.topic));
  }

  const present = specs.filter((s) => existing.has(s.topic));
  if (present.length === 0) return changed;
  const { topics: metadata } = await admin.fetchTopicMetadata({ topics: present.map((s) => s.topic) });
  const grow: Array<{ topic: string; count: number; from: number }> = [];
  for (const spec of present) {
    const current = metadata.find((t) => t.name === spec.topic)?.partitions.length ?? spec.numPartitions;
    if (current < spec.numPartitions) grow.push({ topic: spec.topic, count: spec.numPartitions, from: current });
    else if (current > spec.numPartitions)
      logger.info(
        { topic: spec.topic, partitions: current, asked: spec.numPartitions },
        'topic has more partitions than asked for; Kafka cannot remove them, keeping them',
      );
  }
  if (grow.length > 0) {
    await admin.createPartitions({ validateOnly: false, topicPartitions: grow.map(({ topic, count }) => ({ topic, count })) });
    // Keys map to partitions by hash modulo the count: records of one key (a pseudonym) written
    // before and after this land in different partitions, so grow partitions with the pipeline drained.
    for (const g of grow) logger.warn({ topic: g.topic, from: g.from, to: g.count }, 'added partitions to topic');
    changed.push(...grow.map((g) => g.topic).filter((t) => !changed.includes(t)));
  }
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: present.map((s) => ({ type: ConfigResourceTypes.TOPIC, name: s.topic, configNames: Object.keys(s.configs) })),
  });
  for (const spec of present) {
    const actual = described.resources.find((r) => r.resourceName === spec.topic);
    const drift = Object.entries(spec.configs).filter(([name, value]) => actual?.configEntries.find((e) => e.configName === name)?.configValue !== value);
    if (drift.length === 0) continue;
    // alterConfigs (not incremental) replaces the topic's whole dynamic config; we set every
    // config we manage, so nothing the policy governs is lost.
    await admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: spec.topic, configEntries: Object.entries(spec.configs).map(([name, value]) => ({ name, value })) }],
    });
    logger.info({ topic: spec.topic, changed: Object.fromEntries(drift) }, 'updated topic configs to match the policy');
    if (!changed.includes(spec.topic)) changed.push(spec.topic);
  }
  return changed;
}

/** Reads back the configs of topics, for checks that the broker enforces what the policy says. */
export async function describeTopicConfigs(admin: Admin, topics: readonly string[]): Promise<Record<string, Record<string, string>>> {
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: topics.map((name) => ({ type: ConfigResourceTypes.TOPIC, name })),
  });
  return Object.fromEntries(described.resources.map((r) => [r.resourceName, Object.fromEntries(r.configEntries.map((e) => [e.configName, e.configValue]))]));
}

/** How a topic is replicated, as the cluster holds it. */
export interface TopicReplication {
  partitions: number;
  /** Replicas of its least replicated partition. */
  replicationFactor: number;
  /** In-sync replicas of its least replicated partition, now. */
  inSyncReplicas: number;
  /** How many replicas must have a record before an acks=all producer is told it is written. */
  minInsyncReplicas: number;
  /** Whether a replica that missed records may become leader (and lose them). */
  uncleanLeaderElection: boolean;
}

/**
 * Reads back each topic's replication (partition metadata and effective configs) from the
 * cluster. Throws rather than fill in a figure the cluster did not give (a topic without
 * partition metadata, a config missing from the answer): what it returns is stated to the
 * public by the register.
 */
export async function describeTopicReplication(
  admin: Pick<Admin, 'fetchTopicMetadata' | 'describeConfigs'>,
  topics: readonly string[],
): Promise<Record<string, TopicReplication>> {
  const { topics: metadata } = await admin.fetchTopicMetadata({ topics: [...topics] });
  const configs = await admin.describeConfigs({
    includeSynonyms: false,
    resources: topics.map((name) => ({ type: ConfigResourceTypes.TOPIC, name, configNames: ['min.insync.replicas', 'unclean.leader.election.enable'] })),
  });
  return Object.fromEntries(
    topics.map((topic) => {
      const partitions = metadata.find((t) => t.name === topic)?.partitions ?? [];
      if (partitions.length === 0) throw new Error(`topic ${topic}: the cluster's metadata has no partitions for it`);
      const entries = configs.resources.find((r) => r.resourceName === topic)?.configEntries ?? [];
      const config = (name: string) => {
        const value = entries.find((e) => e.configName === name)?.configValue;
        if (value === undefined || value === null || value === '') throw new Error(`topic ${topic}: the cluster did not report ${name}`);
        return value;
      };
      const minInsyncReplicas = Number(config('min.insync.replicas'));
      if (!Number.isInteger(minInsyncReplicas) || minInsyncReplicas < 1) throw new Error(`topic ${topic}: min.insync.replicas is not a positive whole number`);
      const unclean = config('unclean.leader.election.enable');
      if (unclean !== 'true' && unclean !== 'false') throw new Error(`topic ${topic}: unclean.leader.election.enable is neither true nor false`);
      return [
        topic,
        {
          partitions: partitions.length,
          replicationFactor: Math.min(...partitions.map((p) => p.replicas.length)),
          inSyncReplicas: Math.min(...partitions.map((p) => p.isr.length)),
          minInsyncReplicas,
          uncleanLeaderElection: unclean === 'true',
        },
      ];
    }),
  );
}
