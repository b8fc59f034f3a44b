// Reads a Kafka topic from the beginning with a throwaway consumer group and keeps the
// records a test is interested in, until it has seen what it waits for or time runs out.
import { createKafka } from '@lethe/kafka';
import { createLogger } from '@lethe/observability';

export interface TopicReader<T> {
  records: T[];
  /** Resolves once `done(records)` holds, or rejects after `timeoutMs`. */
  until(done: (records: readonly T[]) => boolean, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

export async function readTopic<T>(brokers: string[], topic: string, pick: (value: unknown) => T | undefined): Promise<TopicReader<T>> {
  const kafka = createKafka({ brokers, clientId: 'test-reader', logger: createLogger({ service: 'test', level: 'silent' }) });
  const consumer = kafka.consumer({ groupId: `test-reader-${topic}-${Date.now()}-${Math.random().toString(36).slice(2)}`, allowAutoTopicCreation: false });
  const records: T[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      try {
        const picked = pick(JSON.parse(message.value?.toString('utf8') ?? 'null'));
        if (picked !== undefined) records.push(picked);
      } catch {
        // not JSON: not a record this test is looking for
      }
    },
  });
  return {
    records,
    async until(done, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (!done(records)) {
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms reading ${topic} (${records.length} matching records so far)`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    stop: () => consumer.disconnect(),
  };
}
