// Reads a whole topic, up to the end offsets it had when the read began, with a throwaway
// consumer group. For reconciliation after the run, when nothing writes to the topic anymore.
import { createKafka, type Admin } from '@lethe/kafka';
import { createLogger } from '@lethe/observability';

export interface DumpedRecord {
  partition: number;
  offset: string;
  key: string;
  value: string;
}

/** The default limit: a full run's sightings topic (about 370,000 records) takes about 20 s here; for a machine three times slower, with room. */
export async function dumpTopic(brokers: string[], admin: Admin, topic: string, timeoutMs = 180_000): Promise<DumpedRecord[]> {
  const ends = await admin.fetchTopicOffsets(topic);
  const remaining = new Map(ends.filter((p) => BigInt(p.high) > BigInt(p.low)).map((p) => [p.partition, BigInt(p.high)]));
  const records: DumpedRecord[] = [];
  if (remaining.size === 0) return records;
  const kafka = createKafka({ brokers, clientId: 'faults-dump', logger: createLogger({ service: 'faults', level: 'silent' }) });
  const consumer = kafka.consumer({ groupId: `faults-dump-${topic}-${Date.now()}`, allowAutoTopicCreation: false, maxBytes: 16 * 1024 * 1024 });
  let finished!: () => void;
  const done = new Promise<void>((resolve) => (finished = resolve));
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      const end = remaining.get(batch.partition);
      if (end === undefined) return;
      for (const m of batch.messages) {
        if (BigInt(m.offset) >= end) break;
        records.push({ partition: batch.partition, offset: m.offset, key: m.key?.toString('utf8') ?? '', value: m.value?.toString('utf8') ?? '' });
      }
      if (BigInt(batch.lastOffset()) + 1n >= end) remaining.delete(batch.partition);
      if (remaining.size === 0) finished();
    },
  });
  const timer = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`reading ${topic}: ${[...remaining.keys()].length} partitions unfinished after ${timeoutMs} ms`)), timeoutMs).unref(),
  );
  try {
    await Promise.race([done, timer]);
  } finally {
    await consumer.disconnect();
  }
  return records;
}
