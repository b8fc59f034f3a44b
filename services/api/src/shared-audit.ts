// Several api instances behind one audit trail (AUDIT_SHARED). Each instance's file log is a copy
// of the audit topic, chained in the topic's order: the topic has one partition, so every
// instance chains the same events in the same order and its file ends with the same head. An
// instance therefore writes none of its own events to its file directly: it puts each one on the
// topic (acks=all, so it is replicated before it counts), waits until its own consumer has
// chained it, and only then answers. "Audited before the answer" stays true, and so does "the
// transparency report counts this request" (read-your-writes).
//
// Every instance checks retention and would attest the same period of the same topic. The
// attestation after the first one of a topic and period is not chained (`isRepeat`); every
// instance skips the same ones, since they all read the same order, so the copies stay identical.
import { toAuditEventRecord, type AuditEvent, type AuditLog, type AuditRecord } from '@lethe/audit';
import type { Producer } from '@lethe/kafka';

export interface SharedAuditOptions {
  /** This instance's copy (the file log); `append` of the result goes through the topic instead. */
  log: AuditLog;
  producer: Pick<Producer, 'send'>;
  topic: string;
  /** How long an event may take from the topic into this copy before append fails (default 30 s). */
  timeoutMs?: number;
}

export interface SharedAudit {
  /** The log the routes and the watch use. */
  log: AuditLog;
  /** The audit-topic consumer's report of a handled position: the record it chained, or the earlier one a repeat matched. */
  handled(partition: number, offset: string, record: AuditRecord | undefined): void;
}

const RECENT = 1_000;

/** The key of a retention attestation: one per topic and period in the chain. */
function attestationKey(type: string, data: Readonly<Record<string, unknown>>): string | undefined {
  return type === 'retention.deleted' ? `${String(data.topic)}|${String(data.periodStart)}` : undefined;
}

/**
 * Tells the audit-topic consumer which events repeat an attestation already chained, and
 * returns the record they repeat. Seeded with the log's records.
 */
export function attestationRepeats(records: readonly AuditRecord[]) {
  const chained = new Map<string, AuditRecord>();
  for (const r of records) {
    const key = attestationKey(r.type, r.data);
    if (key !== undefined && !chained.has(key)) chained.set(key, r);
  }
  return {
    repeatOf: (type: string, data: Readonly<Record<string, unknown>>) => {
      const key = attestationKey(type, data);
      return key === undefined ? undefined : chained.get(key);
    },
    chained: (record: AuditRecord) => {
      const key = attestationKey(record.type, record.data);
      if (key !== undefined && !chained.has(key)) chained.set(key, record);
    },
  };
}

export function createSharedAudit({ log, producer, topic, timeoutMs = 30_000 }: SharedAuditOptions): SharedAudit {
  /** Positions handled lately (the consumer may get there before the producer's answer does). */
  const recent = new Map<string, AuditRecord | undefined>();
  const waiting = new Map<string, (record: AuditRecord | undefined) => void>();
  // One send at a time: the idempotent producer keeps sequence numbers in order only so
  // (patches/kafkajs@2.2.4.patch); the api's events are few.
  let sending: Promise<unknown> = Promise.resolve();

  async function append(event: AuditEvent): Promise<AuditRecord> {
    const value = JSON.stringify(toAuditEventRecord(event));
    const send = sending.then(() => producer.send({ topic, acks: -1, messages: [{ key: 'api', value }] }));
    sending = send.catch(() => undefined);
    const [meta] = await send;
    const position = `${meta!.partition}@${meta!.baseOffset}`;
    const record = recent.has(position)
      ? recent.get(position)
      : await new Promise<AuditRecord | undefined>((resolve, reject) => {
          const timer = setTimeout(() => {
            waiting.delete(position);
            reject(new Error(`the audit event is on ${topic} (${position}) but not in this instance's log after ${timeoutMs} ms`));
          }, timeoutMs);
          waiting.set(position, (r) => {
            clearTimeout(timer);
            resolve(r);
          });
        });
    if (!record) throw new Error(`the audit event at ${topic} ${position} was not chained`);
    return record;
  }

  return {
    log: { ...log, append },
    handled(partition, offset, record) {
      const position = `${partition}@${offset}`;
      recent.set(position, record);
      if (recent.size > RECENT) recent.delete(recent.keys().next().value!);
      waiting.get(position)?.(record);
      waiting.delete(position);
    },
  };
}
