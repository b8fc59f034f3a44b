// The audit log in memory: the same contract as the file log without durability, for the
// one-process demo and for tests of code that writes audit events.
import { chainRecord, freezeRecord, verifyChain } from './chain.ts';
import { AuditError } from './errors.ts';
import { checkAuditEvent } from './event-guard.ts';
import { createSerialQueue } from './serial-queue.ts';
import type { AuditHead, AuditLog, AuditRecord } from './types.ts';

export interface MemoryAuditLogOptions {
  /** Records to continue from (e.g. a copy of a file); refused unless they verify. */
  records?: readonly AuditRecord[];
}

export function createMemoryAuditLog({ records: initial = [] }: MemoryAuditLogOptions = {}): AuditLog {
  const initialResult = verifyChain(initial);
  if (!initialResult.ok) {
    throw new AuditError(
      'BROKEN_CHAIN',
      `Cannot continue a broken chain: record #${initialResult.index} (seq ${initialResult.seq ?? 'unknown'}): ${initialResult.problem}`,
    );
  }
  const stored: AuditRecord[] = initial.map((r) => freezeRecord(structuredClone(r)));
  const queue = createSerialQueue();
  const head = (): AuditHead | undefined => {
    const last = stored.at(-1);
    return last && { seq: last.seq, hash: last.hash };
  };

  return {
    async append(event) {
      const checked = checkAuditEvent(event);
      return queue(() => {
        const record = chainRecord(head(), checked);
        stored.push(record);
        return record;
      });
    },
    records: () => queue(() => [...stored]),
    head: async () => head(),
    verify: () => queue(() => verifyChain(stored)),
  };
}
