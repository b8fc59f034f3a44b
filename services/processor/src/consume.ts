// How both stages read Kafka. The consumer hands every assignment of its group to the runner
// (which restores its partitions from their committed offsets and metadata), reads its topics
// from their start when the group has committed nothing, and neither resolves nor commits an
// offset on its own: kafkajs would otherwise commit a batch as soon as it was handed over, before
// the partials or aggregates it became are in Kafka. The runners commit (processor.ts, releaser.ts).
import { subscribeRetrying, type Consumer, type EachBatchPayload } from '@lethe/kafka';
import type { Logger } from '@lethe/observability';

export interface BatchRunner {
  eachBatch(payload: EachBatchPayload): Promise<void>;
  /** A new assignment of the group (topic → partitions). */
  assigned(assignment: Record<string, number[]>): void;
}

export async function startConsuming(
  consumer: Pick<Consumer, 'connect' | 'on' | 'events' | 'subscribe' | 'run'>,
  topics: string[],
  runner: BatchRunner,
  options: { partitionsConsumedConcurrently?: number; logger?: Logger } = {},
): Promise<void> {
  await consumer.connect();
  // Before joining: the first assignment must reach the runner too.
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => runner.assigned(payload.memberAssignment));
  await subscribeRetrying(consumer, { topics, fromBeginning: true }, { logger: options.logger });
  await consumer.run({
    partitionsConsumedConcurrently: options.partitionsConsumedConcurrently,
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: runner.eachBatch,
  });
}
