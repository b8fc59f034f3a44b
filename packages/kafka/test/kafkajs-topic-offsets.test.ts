// The patched kafkajs admin.fetchTopicOffsets (patches/kafkajs@2.2.4.patch): a topic created a
// moment ago may be in the client's metadata with no partitions yet. Upstream asked for no offsets
// and failed on the empty answer with a TypeError it did not retry, which ended a processor
// starting on a fresh three-broker cluster; patched, the metadata is refreshed and the call retried.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const createAdmin = require('kafkajs/src/admin/index.js') as (o: Record<string, unknown>) => { fetchTopicOffsets(topic: string): Promise<unknown> };
const { createLogger, LEVELS } = require('kafkajs/src/loggers/index.js') as {
  createLogger(o: { level: number; logCreator: () => () => void }): unknown;
  LEVELS: Record<string, number>;
};

function cluster(partitionsAfterRefreshes: number) {
  let refreshes = 0;
  return {
    get refreshes() {
      return refreshes;
    },
    addTargetTopic: async () => undefined,
    refreshMetadataIfNecessary: async () => undefined,
    refreshMetadata: async () => void refreshes++,
    findTopicPartitionMetadata: () => (refreshes >= partitionsAfterRefreshes ? [{ partitionId: 0 }, { partitionId: 1 }] : []),
    fetchTopicsOffset: async (request: Array<{ topic: string; fromBeginning: boolean; partitions: Array<{ partition: number }> }>) =>
      request.flatMap(({ topic, fromBeginning, partitions }) =>
        partitions.length === 0
          ? []
          : [{ topic, partitions: partitions.map(({ partition }) => ({ partition, offset: fromBeginning ? '0' : String(10 + partition) })) }],
      ),
  };
}

const logger = createLogger({ level: LEVELS.NOTHING!, logCreator: () => () => undefined });

describe('the patched kafkajs fetchTopicOffsets', () => {
  it('refreshes the metadata and retries while the topic has no partitions in it yet', async () => {
    const c = cluster(2);
    const admin = createAdmin({ logger, cluster: c, retry: { initialRetryTime: 1, retries: 5 } });
    await expect(admin.fetchTopicOffsets('fresh')).resolves.toEqual([
      { partition: 0, offset: '10', high: '10', low: '0' },
      { partition: 1, offset: '11', high: '11', low: '0' },
    ]);
    expect(c.refreshes).toBe(2);
  });

  it('gives up with a Kafka error, not a TypeError, when the partitions never appear', async () => {
    const admin = createAdmin({ logger, cluster: cluster(Infinity), retry: { initialRetryTime: 1, maxRetryTime: 5, retries: 2 } });
    await expect(admin.fetchTopicOffsets('never')).rejects.toThrow(/no partitions of never/);
  });
});
