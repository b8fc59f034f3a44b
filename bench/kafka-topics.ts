// Topics the bench makes for itself, and the end offsets it counts records with.
import type { Admin } from '@lethe/kafka';

export interface BenchTopic {
  topic: string;
  partitions: number;
  configs: Record<string, string>;
}

/** Creates the topic if it is missing (configs of an existing one are left alone). */
export async function ensureTopic(admin: Admin, t: BenchTopic): Promise<void> {
  const existing = new Set(await admin.listTopics());
  if (existing.has(t.topic)) return;
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      {
        topic: t.topic,
        numPartitions: t.partitions,
        replicationFactor: -1,
        configEntries: Object.entries(t.configs).map(([name, value]) => ({ name, value })),
      },
    ],
  });
}

/** Sum of the high watermarks of a topic's partitions (0 if it does not exist). */
export async function endOffsets(admin: Admin, topic: string): Promise<number> {
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
  } catch {
    return 0;
  }
}

/** Commits a consumer group's offsets at the current end of a topic, so a new group starts there instead of at the beginning. */
export async function startGroupAtEnd(admin: Admin, groupId: string, topic: string): Promise<void> {
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.setOffsets({ groupId, topic, partitions: offsets.map((p) => ({ partition: p.partition, offset: p.high })) });
}

/** Short retention for the bench's throwaway topics: they only need to outlive the run. */
export const SCRATCH_CONFIGS = { 'cleanup.policy': 'delete', 'retention.ms': String(30 * 60_000), 'segment.ms': String(60_000) };
