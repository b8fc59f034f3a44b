// Creates missing topics and brings the configs of existing ones in line, so a change in the
// policy (say a shorter TTL) reaches the running broker at the next service start.
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

/** Returns the names of the topics it created or whose configs it changed. */
export async function ensureTopics(admin: Admin, specs: readonly TopicSpec[], logger: Logger): Promise<string[]> {
  const changed: string[] = [];
  const existing = new Set(await admin.listTopics());
  const missing = specs.filter((s) => !existing.has(s.topic));
  if (missing.length > 0) {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((s) => ({
        topic: s.topic,
        numPartitions: s.numPartitions,
        replicationFactor: -1,
        configEntries: Object.entries(s.configs).map(([name, value]) => ({ name, value })),
      })),
    });
    for (const s of missing) logger.info({ topic: s.topic, configs: s.configs }, 'created topic');
    changed.push(...missing.map((s) => s.topic));
  }

  const present = specs.filter((s) => existing.has(s.topic));
  if (present.length === 0) return changed;
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: present.map((s) => ({ type: ConfigResourceTypes.TOPIC, name: s.topic, configNames: Object.keys(s.configs) })),
  });
  for (const spec of present) {
    const actual = described.resources.find((r) => r.resourceName === spec.topic);
    const drift = Object.entries(spec.configs).filter(
      ([name, value]) => actual?.configEntries.find((e) => e.configName === name)?.configValue !== value,
    );
    if (drift.length === 0) continue;
    // alterConfigs (not incremental) replaces the topic's whole dynamic config; we set every
    // config we manage, so nothing the policy governs is lost.
    await admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: spec.topic, configEntries: Object.entries(spec.configs).map(([name, value]) => ({ name, value })) }],
    });
    logger.info({ topic: spec.topic, changed: Object.fromEntries(drift) }, 'updated topic configs to match the policy');
    changed.push(spec.topic);
  }
  return changed;
}

/** Reads back the configs of topics, for checks that the broker enforces what the policy says. */
export async function describeTopicConfigs(admin: Admin, topics: readonly string[]): Promise<Record<string, Record<string, string>>> {
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: topics.map((name) => ({ type: ConfigResourceTypes.TOPIC, name })),
  });
  return Object.fromEntries(
    described.resources.map((r) => [r.resourceName, Object.fromEntries(r.configEntries.map((e) => [e.configName, e.configValue]))]),
  );
}
