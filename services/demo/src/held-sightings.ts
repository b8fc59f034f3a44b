// What the demo holds about people, for the scheduled retention check (the register's "records
// about people are deleted on time"). In the real stack the api checks the personal Kafka
// topics; here sightings go straight into the aggregator, which keeps per-pseudonym state until
// its epoch closes. So the oldest sighting held is the oldest one of an epoch the aggregator has
// not closed yet, and an epoch's sightings are gone when it closes. Refused messages are only
// counted, never kept, so the rejected "topic" always passes. Only the check's outcome leaves
// (P9): how many sightings are held, or since when, would say who was there.
import { TOPICS } from '@lethe/schemas';

interface EpochHold {
  end: number;
  oldest: number;
}

export interface HeldSightings {
  /** A sighting stamped `ts` the aggregator took, in its kind's epoch [start, end). */
  took(kind: string, epochStart: number, epochEnd: number, ts: number): void;
  /** Forgets the epochs that ended at or before `closedUpTo`. */
  release(closedUpTo: number): void;
  /** The topics the checks name (as in the real stack). */
  readonly topics: readonly string[];
  /** True when every sighting held for `topic` is younger than limitMs at `at` (none held is). */
  check(topic: string, at: number, limitMs: number): boolean;
}

export function createHeldSightings(): HeldSightings {
  const epochs = new Map<string, EpochHold>();
  const oldest = () => Math.min(...[...epochs.values()].map((e) => e.oldest));

  return {
    took(kind, epochStart, epochEnd, ts) {
      const id = `${kind}|${epochStart}`;
      const hold = epochs.get(id);
      if (!hold) epochs.set(id, { end: epochEnd, oldest: ts });
      else hold.oldest = Math.min(hold.oldest, ts);
    },
    release(closedUpTo) {
      for (const [id, hold] of epochs) if (hold.end <= closedUpTo) epochs.delete(id);
    },
    topics: [TOPICS.rejected, TOPICS.sightings],
    check(topic, at, limitMs) {
      return topic !== TOPICS.sightings || epochs.size === 0 || at - oldest() <= limitMs;
    },
  };
}
