// Moves the other services' audit events (key.destroyed, policy.loaded, … on lethe.audit.v1)
// into the api's hash-chained log, each exactly once. Every stored event carries its Kafka
// position, and reading resumes right after the last stored position of each partition (a
// seek after start), so neither a crash between append and commit nor a lost consumer-group
// offset can store an event twice or skip one. Redelivered records are recognized by offset
// and skipped. A record that is not a storable event (malformed, or holding what looks like
// personal data) is counted and skipped by position — its content is never logged.
import { appendFromTopic, isAuditError, lastSourceOffset, type AuditLog, type AuditRecord } from '@lethe/audit';
import { CONSUMER_TIMEOUTS, exitOnConsumerCrash, subscribeRetrying, type Admin, type Consumer, type Kafka } from '@lethe/kafka';
import type { Logger } from '@lethe/observability';

export interface AuditTopicConsumerOptions {
  kafka: Pick<Kafka, 'consumer'>;
  admin: Pick<Admin, 'fetchTopicOffsets'>;
  log: AuditLog;
  topic: string;
  groupId: string;
  logger: Logger;
  onStored?: () => void;
  onSkipped?: () => void;
  /**
   * Events that repeat one already chained (shared-audit.ts: a retention attestation every api
   * instance makes), returning the record they repeat; they are not chained again.
   */
  repeats?: {
    repeatOf(type: string, data: Readonly<Record<string, unknown>>): AuditRecord | undefined;
    chained(record: AuditRecord): void;
  };
  onRepeat?: () => void;
  /** Every position handled: the record chained for it, the one it repeats, or undefined when skipped. */
  onHandled?: (partition: number, offset: string, record: AuditRecord | undefined) => void;
}

export interface AuditTopicConsumer {
  stop(): Promise<void>;
}

export async function startAuditTopicConsumer({
  kafka,
  admin,
  log,
  topic,
  groupId,
  logger,
  onStored,
  onSkipped,
  repeats,
  onRepeat,
  onHandled,
}: AuditTopicConsumerOptions): Promise<AuditTopicConsumer> {
  const child = logger.child({ component: 'audit-topic' });
  const records = await log.records();
  /** Last stored offset per partition (as a bigint), from the log itself. */
  const last = new Map<number, bigint>();
  const partitions = await admin.fetchTopicOffsets(topic);
  for (const p of partitions) {
    const stored = lastSourceOffset(records, topic, p.partition);
    if (stored !== undefined) last.set(p.partition, BigInt(stored));
  }

  const consumer: Consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, ...CONSUMER_TIMEOUTS });
  exitOnConsumerCrash(consumer, { name: 'audit topic', logger: child });
  await consumer.connect();
  await subscribeRetrying(consumer, { topics: [topic], fromBeginning: true }, { logger: child });
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale, commitOffsetsIfNecessary }) => {
      for (const message of batch.messages) {
        if (!isRunning() || isStale()) break;
        const offset = BigInt(message.offset);
        const done = last.get(batch.partition);
        if (done === undefined || offset > done) {
          let value: unknown;
          try {
            value = JSON.parse(message.value?.toString('utf8') ?? 'null');
          } catch {
            value = undefined;
          }
          const event = value as { type?: unknown; data?: unknown } | undefined;
          let record =
            typeof event?.type === 'string' && typeof event.data === 'object' && event.data !== null
              ? repeats?.repeatOf(event.type, event.data as Record<string, unknown>)
              : undefined;
          if (record) onRepeat?.();
          else
            try {
              record = await appendFromTopic(log, value, { topic: batch.topic, partition: batch.partition, offset: message.offset });
              repeats?.chained(record);
              onStored?.();
            } catch (err) {
              if (!isAuditError(err, 'INVALID_EVENT') && !isAuditError(err, 'PERSONAL_DATA')) throw err; // the log failed: retry the batch
              onSkipped?.();
              child.warn(
                { partition: batch.partition, offset: message.offset, code: err.code },
                'skipped a record of the audit topic that is not a storable event',
              );
            }
          last.set(batch.partition, offset);
          onHandled?.(batch.partition, message.offset, record);
        }
        resolveOffset(message.offset);
        await heartbeat();
      }
      // The commit only saves re-reading after a restart; the positions in the log decide. So a
      // refused commit (after a broker restart the group may have moved on) is not worth a
      // crash: thrown from here, kafkajs would stop this consumer for good.
      try {
        await commitOffsetsIfNecessary();
      } catch (err) {
        child.warn(
          { err: { message: (err as Error).message }, partition: batch.partition },
          'could not commit the audit topic offset; it is re-read and skipped by position',
        );
      }
    },
  });
  for (const p of partitions) {
    const done = last.get(p.partition);
    consumer.seek({ topic, partition: p.partition, offset: done === undefined ? p.low : String(done + 1n) });
  }
  child.info(
    {
      topic,
      resumeAt: Object.fromEntries(partitions.map((p) => [p.partition, last.has(p.partition) ? String(last.get(p.partition)! + 1n) : `earliest (${p.low})`])),
    },
    'consuming audit events',
  );
  return { stop: () => consumer.disconnect() };
}
