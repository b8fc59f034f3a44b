// Events and chains for the tests: what the gateway and the api really record.
import { chainRecord } from '../src/chain.ts';
import type { AuditEvent, AuditRecord } from '../src/types.ts';

export const T0 = Date.UTC(2026, 10, 23, 0, 30);

/** The i-th of a plausible mix of events, one minute apart. */
export function event(i: number): AuditEvent {
  const at = T0 + i * 60_000;
  switch (i % 3) {
    case 0:
      return {
        type: 'key.destroyed',
        actor: 'gateway',
        at,
        data: { kind: 'lamppost', epoch: 1_994_882 + i, epochStart: new Date(at - 960_000).toISOString(), epochEnd: new Date(at - 60_000).toISOString() },
      };
    case 1:
      return { type: 'request.refused', actor: 'api', at, data: { reason: 'UNLINKABLE', purposes: ['law-enforcement'], requester: 'police-hk' } };
    default:
      return {
        type: 'policy.loaded',
        actor: 'gateway',
        at,
        data: { policyId: 'lethe-reference-city', version: 1, sha256: 'ab'.repeat(32), note: null, dryRun: false },
      };
  }
}

export function chainOf(n: number): AuditRecord[] {
  const records: AuditRecord[] = [];
  for (let i = 0; i < n; i++) records.push(chainRecord(records.at(-1), event(i)));
  return records;
}

/** A mutable deep copy, as an attacker holding the file would have. */
export const copy = (records: readonly AuditRecord[]): AuditRecord[] => structuredClone(records as AuditRecord[]);
