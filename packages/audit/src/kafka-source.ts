// Transport-free glue for a Kafka consumer of lethe.audit.v1 that stores events in an audit log
// exactly once. Each stored record carries its Kafka position in `data.source`
// ("lethe.audit.v1/0@1234"); the log, not the consumer group's committed offset, is the truth
// after a restart, because the append (fsync) and the offset commit cannot be one atomic step.
import type { AuditEventRecord } from '@lethe/schemas';
import { AuditError } from './errors.ts';
import { checkAuditEvent } from './event-guard.ts';
import type { AuditEvent, AuditLog, AuditRecord } from './types.ts';

/** The data key that holds an event's Kafka position. Producers must not set it. */
export const SOURCE_KEY = 'source';

export interface SourcePosition {
  topic: string;
  partition: number;
  /** As kafkajs gives it (a string), or a number or bigint. */
  offset: string | number | bigint;
}

const SOURCE = /^([A-Za-z0-9._-]+)\/(\d+)@(\d+)$/;

/** "lethe.audit.v1/0@1234" */
export function formatSource({ topic, partition, offset }: SourcePosition): string {
  const text = `${topic}/${partition}@${BigInt(offset)}`;
  if (!SOURCE.test(text))
    throw new AuditError('INVALID_EVENT', `Not a Kafka position: topic ${JSON.stringify(topic)}, partition ${partition}, offset ${offset}`);
  return text;
}

export function parseSource(source: string): { topic: string; partition: number; offset: string } | undefined {
  const match = SOURCE.exec(source);
  return match ? { topic: match[1]!, partition: Number(match[2]), offset: match[3]! } : undefined;
}

/**
 * The Kafka record a producer puts on lethe.audit.v1 for an event, checked by the same guard
 * as the log (AuditError INVALID_EVENT or PERSONAL_DATA), so a bad event fails where it is made.
 */
export function toAuditEventRecord(event: AuditEvent): AuditEventRecord {
  const checked = checkAuditEvent(event);
  if (SOURCE_KEY in checked.data) throw new AuditError('INVALID_EVENT', `data.${SOURCE_KEY} is reserved for the Kafka position the audit log adds`);
  return { v: 1, ...checked };
}

/**
 * Appends the value of one lethe.audit.v1 record (the parsed JSON) with its Kafka position.
 * Throws AuditError INVALID_EVENT or PERSONAL_DATA for a value that is not a storable event:
 * skip it (count it, log its position, never its content) rather than retry it forever.
 */
export async function appendFromTopic(log: AuditLog, value: unknown, position: SourcePosition): Promise<AuditRecord> {
  const source = formatSource(position);
  if (typeof value !== 'object' || value === null || (value as { v?: unknown }).v !== 1) {
    throw new AuditError('INVALID_EVENT', `The record at ${source} is not a version 1 audit event`);
  }
  // Fields other than these are dropped, as consumers of the other topics drop unknown keys;
  // checkAuditEvent applies AuditEventRecordSchema and the personal-data guard.
  const { type, actor, at, data } = value as Partial<AuditEventRecord>;
  const event = checkAuditEvent({ type, actor, at, data });
  if (SOURCE_KEY in event.data)
    throw new AuditError('INVALID_EVENT', `The record at ${source} sets data.${SOURCE_KEY}, which is reserved for its Kafka position`);
  return log.append({ ...event, data: { ...event.data, [SOURCE_KEY]: source } });
}

/**
 * The highest offset of topic/partition stored in the records, or undefined if none is. A
 * consumer resumes at this + 1, and skips anything at or below it that Kafka delivers again.
 */
export function lastSourceOffset(records: readonly AuditRecord[], topic: string, partition: number): string | undefined {
  let last: bigint | undefined;
  for (const record of records) {
    const value = record.data[SOURCE_KEY];
    const source = typeof value === 'string' ? parseSource(value) : undefined;
    if (source?.topic === topic && source.partition === partition && (last === undefined || BigInt(source.offset) > last)) last = BigInt(source.offset);
  }
  return last?.toString();
}
