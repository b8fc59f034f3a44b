// The patched kafkajs send path (patches/kafkajs@2.2.4.patch) against a fake cluster whose
// partition leaders move, with kafkajs's own sequence bookkeeping (its EosManager) and retrier.
// Upstream 2.2.4 fails all but the second: a retry skips the broker that took over the dead
// leader's partitions because it already answered, a failed send hands its sequence numbers to
// the next one (which the broker may then take for a duplicate and drop), and a partition the
// metadata does not know is left out. test/integration/kafka-cluster.test.ts kills a real
// leader mid-stream.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
type Factory = (options: Record<string, unknown>) => any; // eslint-disable-line @typescript-eslint/no-explicit-any
const createSendMessages = require('kafkajs/src/producer/sendMessages.js') as Factory;
const createEosManager = require('kafkajs/src/producer/eosManager/index.js') as Factory;
const createRetry = require('kafkajs/src/retry/index.js') as Factory;
const { KafkaJSConnectionError, KafkaJSProtocolError } = require('kafkajs/src/errors.js') as Record<
  'KafkaJSConnectionError' | 'KafkaJSProtocolError',
  new (...args: unknown[]) => Error
>;
const { createErrorFromCode } = require('kafkajs/src/protocol/error.js') as { createErrorFromCode(code: number): Error };

const NOT_LEADER_OR_FOLLOWER = 6;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

interface Produced {
  node: number;
  producerId: number;
  partition: number;
  firstSequence: number;
  keys: string[];
}

/** Two brokers; `leaders[p]` is partition p's leader, and a metadata refresh applies `onRefresh`. */
function fakeCluster(leaders: number[], fail: (node: number, attempt: number) => Error | undefined) {
  const produced: Produced[] = [];
  const attempts = new Map<number, number>();
  let producerIds = 0;
  let onRefresh: (() => void) | undefined;
  const broker = (node: number) => ({
    nodeId: node,
    initProducerId: async () => ({ producerId: ++producerIds, producerEpoch: 0 }),
    produce: async ({
      producerId,
      topicData,
    }: {
      producerId: number;
      topicData: Array<{ topic: string; partitions: Array<{ partition: number; firstSequence: number; messages: Array<{ key: string }> }> }>;
    }) => {
      const attempt = (attempts.get(node) ?? 0) + 1;
      attempts.set(node, attempt);
      const error = fail(node, attempt);
      if (error) throw error;
      for (const { partitions } of topicData) {
        for (const p of partitions)
          produced.push({ node, producerId, partition: p.partition, firstSequence: p.firstSequence, keys: p.messages.map((m: { key: string }) => m.key) });
      }
      return {
        topics: topicData.map(({ topic, partitions }) => ({
          topicName: topic,
          partitions: partitions.map((p) => ({ partition: p.partition, errorCode: 0, baseOffset: '0', logAppendTime: '-1', logStartOffset: '0' })),
        })),
      };
    },
  });
  const brokers = new Map([1, 2].map((n) => [n, broker(n)]));
  const cluster = {
    retry: { retries: 5, initialRetryTime: 1, maxRetryTime: 5 },
    targetTopics: new Set<string>(),
    isConnected: () => true,
    addMultipleTargetTopics: async () => undefined,
    refreshMetadataIfNecessary: async () => undefined,
    refreshMetadata: async () => onRefresh?.(),
    removeBroker: () => undefined,
    findControllerBroker: async () => brokers.get(1),
    findBroker: async ({ nodeId }: { nodeId: string }) => brokers.get(Number(nodeId)),
    findTopicPartitionMetadata: () => leaders.map((leader, partitionId) => ({ partitionId, leader })),
    findLeaderForPartitions: (_topic: string, partitions: string[]) => {
      const result: Record<number, number[]> = {};
      for (const p of partitions.map(Number)) if (leaders[p] !== undefined) (result[leaders[p]] ??= []).push(p);
      return result;
    },
  };
  return { cluster, produced, setOnRefresh: (f: () => void) => (onRefresh = f), producerIds: () => producerIds };
}

async function idempotentSender(cluster: object) {
  const eosManager = createEosManager({ logger: quiet, cluster, transactional: false });
  await eosManager.initProducerId();
  const send = createSendMessages({
    logger: quiet,
    cluster,
    eosManager,
    retrier: createRetry({ retries: 5, initialRetryTime: 1, maxRetryTime: 5 }),
    partitioner: ({ message }: { message: { partition: number } }) => message.partition,
  });
  return (keys: Array<[string, number]>) =>
    send({ acks: -1, topicMessages: [{ topic: 't', messages: keys.map(([key, partition]) => ({ key, value: key, partition })) }] });
}

describe('the patched kafkajs send path', () => {
  it('sends a dead leader’s partitions to the broker that took them over, even when it already answered, with their first sequence numbers', async () => {
    // Partition 0 on broker 1, partition 1 on broker 2; broker 1 dies at its first request and
    // partition 0 moves to broker 2, which has already taken partition 1.
    const leaders = [1, 2];
    const { cluster, produced, setOnRefresh } = fakeCluster(leaders, (node) =>
      node === 1 ? new KafkaJSConnectionError('Connection error: ECONNREFUSED') : undefined,
    );
    setOnRefresh(() => (leaders[0] = 2));
    const send = await idempotentSender(cluster);
    await send([
      ['a', 0],
      ['b', 1],
    ]);
    const response = await send([
      ['c', 0],
      ['d', 1],
    ]);
    expect(response.map((r: { partition: number }) => r.partition).sort()).toEqual([0, 1]);
    const byPartition = (p: number) => produced.filter((x) => x.partition === p).map(({ keys, firstSequence }) => ({ keys, firstSequence }));
    expect(byPartition(0)).toEqual([
      { keys: ['a'], firstSequence: 0 },
      { keys: ['c'], firstSequence: 1 },
    ]);
    expect(byPartition(1)).toEqual([
      { keys: ['b'], firstSequence: 0 },
      { keys: ['d'], firstSequence: 1 },
    ]);
  });

  it('resends a refused request with the sequence numbers it first had, so the broker recognises what it already wrote', async () => {
    // Both partitions on broker 1, which answers NOT_LEADER_OR_FOLLOWER for the request once.
    const leaders = [1, 1];
    const { cluster, produced } = fakeCluster(leaders, (_node, attempt) =>
      attempt === 2 ? new KafkaJSProtocolError(createErrorFromCode(NOT_LEADER_OR_FOLLOWER)) : undefined,
    );
    const send = await idempotentSender(cluster);
    await send([['a', 0]]);
    await send([
      ['b', 0],
      ['c', 1],
    ]);
    await send([['d', 0]]);
    expect(produced.filter((x) => x.partition === 0).map(({ keys, firstSequence }) => [keys.join(), firstSequence])).toEqual([
      ['a', 0],
      ['b', 1],
      ['d', 2],
    ]);
    expect(produced.filter((x) => x.partition === 1).map(({ firstSequence }) => firstSequence)).toEqual([0]);
  });

  it('after a send that finally failed, takes a new producer id before the next send (its batches may or may not be written)', async () => {
    const leaders = [1];
    let down = true;
    const { cluster, produced, producerIds } = fakeCluster(leaders, () => (down ? new KafkaJSConnectionError('Connection error: ECONNREFUSED') : undefined));
    const send = await idempotentSender(cluster);
    await expect(send([['a', 0]])).rejects.toThrow();
    expect(producerIds()).toBe(1);
    down = false;
    await send([['b', 0]]);
    expect(producerIds()).toBe(2);
    expect(produced).toEqual([{ node: 1, producerId: 2, partition: 0, firstSequence: 0, keys: ['b'] }]);
  });

  it('refuses to resolve a send with a partition the metadata does not know, instead of leaving it out', async () => {
    const { cluster, produced } = fakeCluster([1], () => undefined);
    const send = await idempotentSender(cluster);
    await expect(
      send([
        ['a', 0],
        ['b', 5],
      ]),
    ).rejects.toThrow(/without metadata/);
    expect(produced.flatMap((p) => p.keys)).not.toContain('b');
  });
});
