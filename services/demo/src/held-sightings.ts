// What the demo holds about people, for the register's "oldest record about a person" figure.
// In the real stack that is the oldest record in the personal Kafka topics; here sightings go
// straight into the aggregator, which keeps per-pseudonym state until its epoch closes. So the
// oldest sighting held is the oldest one of an epoch the aggregator has not closed yet, and an
// epoch's sightings are gone when it closes (reported as a deletion). Refused messages are only
// counted, never kept, so the rejected "topic" is always empty.
import type { RawDataAges, RawRecordAge } from '@lethe/api';
import { TOPICS } from '@lethe/schemas';

interface EpochHold {
  end: number;
  oldest: number;
  records: number;
}

export interface HeldSightings extends RawDataAges {
  /** A sighting stamped `ts` the aggregator took, in its kind's epoch [start, end). */
  took(kind: string, epochStart: number, epochEnd: number, ts: number): void;
  /** Forgets the epochs that ended at or before `closedUpTo`; returns how many sightings went with them. */
  release(closedUpTo: number): { epochs: number; records: number; oldestRemainingAt: number | null };
}

export function createHeldSightings(now: () => number = Date.now): HeldSightings {
  const epochs = new Map<string, EpochHold>();
  const oldest = () => Math.min(...[...epochs.values()].map((e) => e.oldest));

  return {
    took(kind, epochStart, epochEnd, ts) {
      const id = `${kind}|${epochStart}`;
      const hold = epochs.get(id);
      if (!hold) epochs.set(id, { end: epochEnd, oldest: ts, records: 1 });
      else {
        hold.oldest = Math.min(hold.oldest, ts);
        hold.records++;
      }
    },
    release(closedUpTo) {
      let released = 0;
      let records = 0;
      for (const [id, hold] of epochs) {
        if (hold.end > closedUpTo) continue;
        epochs.delete(id);
        released++;
        records += hold.records;
      }
      return { epochs: released, records, oldestRemainingAt: epochs.size === 0 ? null : oldest() };
    },
    current(): RawRecordAge[] {
      const at = now();
      return [
        { topic: TOPICS.rejected, partition: 0, oldestRecordAt: null, observedAt: at },
        { topic: TOPICS.sightings, partition: 0, oldestRecordAt: epochs.size === 0 ? null : oldest(), observedAt: at },
      ];
    },
  };
}
