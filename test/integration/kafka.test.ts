// kafkajs against the pinned Kafka broker (3.9.x: kafkajs speaks protocol versions Kafka 4
// removed), and the policy-derived topic configs as the broker actually holds them.
import { createBatchingProducer, createKafka, describeTopicConfigs, ensureTopics } from '@lethe/kafka';
import { createLogger } from '@lethe/observability';
import { DEFAULT_POLICY_PATH, loadPolicy, topicSpecs } from '@lethe/privacy';
import { PERSONAL_TOPICS } from '@lethe/schemas';
import { describe, expect, inject, it } from 'vitest';

const infra = inject('infra');
const logger = createLogger({ service: 'test', level: 'silent' });

describe('Kafka', () => {
  it('accepts batched, idempotent kafkajs sends on the pinned broker (Kafka 3.9.1 from infra/local)', async () => {
    const kafka = createKafka({ brokers: infra.kafkaBrokers, clientId: 'smoke', logger });
    const admin = kafka.admin();
    await admin.connect();
    const topic = `smoke.${Date.now()}`;
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] });
    expect((await admin.describeCluster()).brokers).toHaveLength(1);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const batching = createBatchingProducer({ producer });
    await Promise.all(Array.from({ length: 100 }, (_, i) => batching.send([{ topic, key: String(i), value: `v${i}` }])));
    const offsets = await admin.fetchTopicOffsets(topic);
    expect(offsets[0]!.high).toBe('100');
    await producer.disconnect();
    await admin.deleteTopics({ topics: [topic] });
    await admin.disconnect();
  });

  it('holds the retention the policy sets for every topic, and personal topics roll small segments', async () => {
    const policy = loadPolicy(DEFAULT_POLICY_PATH);
    const kafka = createKafka({ brokers: infra.kafkaBrokers, clientId: 'policy-check', logger });
    const admin = kafka.admin();
    await admin.connect();
    const specs = topicSpecs(policy);
    await ensureTopics(admin, specs, logger);
    const actual = await describeTopicConfigs(
      admin,
      specs.map((s) => s.topic),
    );
    for (const spec of specs) {
      for (const [name, value] of Object.entries(spec.configs)) expect(actual[spec.topic]![name], `${spec.topic} ${name}`).toBe(value);
    }
    for (const topic of PERSONAL_TOPICS) {
      expect(Number(actual[topic]!['retention.ms'])).toBe(policy.rawData.ttl);
      expect(Number(actual[topic]!['segment.ms'])).toBeLessThanOrEqual(policy.rawData.ttl);
    }
    await admin.disconnect();
  });

  it('adds partitions to a topic that has fewer than asked for, and never removes any', async () => {
    const kafka = createKafka({ brokers: infra.kafkaBrokers, clientId: 'partitions-check', logger });
    const admin = kafka.admin();
    await admin.connect();
    const topic = `partitions.${Date.now()}`;
    const partitions = async () => (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions.length;
    try {
      expect(await ensureTopics(admin, [{ topic, numPartitions: 1, configs: {} }], logger)).toEqual([topic]);
      expect(await partitions()).toBe(1);
      expect(await ensureTopics(admin, [{ topic, numPartitions: 3, configs: {} }], logger)).toEqual([topic]);
      expect(await partitions()).toBe(3);
      expect(await ensureTopics(admin, [{ topic, numPartitions: 2, configs: {} }], logger), 'fewer than it has: nothing to do').toEqual([]);
      expect(await partitions()).toBe(3);
    } finally {
      await admin.deleteTopics({ topics: [topic] });
      await admin.disconnect();
    }
  });
});
