// The processor's two stages composed in one process, transport-free: minimized readings and
// pseudonymous sightings go into stage 1 (partials.ts: tumbling windows, per-person state for
// one epoch at most, additive partials out), whose partials go straight into stage 2
// (releaser.ts: merge, then k-anonymity, differencing protection, differential privacy and the
// ε ledger). The processor service runs the same stages across Kafka, one stage 1 per input
// partition and one releaser for all; the demo, the benchmarks and the privacy tests use this.
// Records older than the raw-data TTL are refused, and per-pseudonym state never outlives its
// pseudonym epoch (person-windows.ts).
import { TOPICS, type DeviceKind, type ReadingRecord, type SightingRecord } from '@lethe/schemas';
import { systemClock, type Clock } from './clock.ts';
import type { BudgetLedger } from './ledger.ts';
import type { NoiseSource } from './noise.ts';
import { createPartialStage, partialSeries, type AddOutcome } from './partials.ts';
import type { Policy } from './policy.ts';
import { createReleaser, measurementOf, type ClosedWindows } from './releaser.ts';
import { windowStart } from './windows.ts';

export type { AddOutcome } from './partials.ts';
export type { ClosedWindows } from './releaser.ts';
export { measurementOf };

export interface AggregatorOptions {
  policy: Policy;
  /** Keyed source of the differential-privacy noise. */
  noise: NoiseSource;
  /** The ε ledger; restored from the last committed state by the caller. */
  ledger: BudgetLedger;
  clock?: Clock;
  /** How long after its end a window waits for stragglers before it is closed. */
  graceMs?: number;
}

export interface Aggregator {
  addReading(record: ReadingRecord): AddOutcome;
  addSighting(record: SightingRecord): AddOutcome;
  /** Closes every window whose end + grace has passed and returns its releases. */
  closeDue(now?: number): ClosedWindows;
  /** All windows ending at or before this time have been emitted; their records are late. */
  readonly closedUpTo: number;
  /** Used after a restart: windows up to this time were emitted by the previous run. */
  restoreClosedUpTo(ms: number): void;
  /** End of the window (or epoch) that holds a record, i.e. when it stops being needed. */
  heldUntil(kind: DeviceKind, ts: number, sighting: boolean): number;
  openWindows(): number;
  /** Number of pseudonyms held in memory (per-person state). */
  pseudonymsHeld(): number;
}

export function createAggregator({ policy, noise, ledger, clock = systemClock, graceMs = 5_000 }: AggregatorOptions): Aggregator {
  const readings = createPartialStage({ policy, clock, input: { type: 'readings', topic: TOPICS.readings, partition: 0 } });
  const sightings = createPartialStage({ policy, clock, input: { type: 'sightings', topic: TOPICS.sightings, partition: 0 } });
  const releaser = createReleaser({ policy, noise, ledger, partitions: { readings: 1, sightings: 1 } });
  let closedUpTo = 0;

  return {
    addReading: (record) => readings.addReading(record),
    addSighting: (record) => sightings.addSighting(record),

    closeDue(now = clock.now()) {
      const cutoff = now - graceMs;
      for (const partial of [...readings.closeDue(cutoff), ...sightings.closeDue(cutoff)]) releaser.add(partial);
      closedUpTo = Math.max(closedUpTo, cutoff);
      const { records, reports } = releaser.release();
      return { records, reports };
    },

    get closedUpTo() {
      return closedUpTo;
    },
    restoreClosedUpTo(ms) {
      closedUpTo = Math.max(closedUpTo, ms);
      readings.restore(ms);
      sightings.restore(ms);
      releaser.restore(Object.fromEntries(partialSeries(policy).map((s) => [s.id, windowStart(ms, s.size)])));
    },
    heldUntil: (kind, ts, sighting) => (sighting ? sightings : readings).heldUntil(kind, ts, sighting),
    openWindows: () => readings.openWindows() + sightings.openWindows(),
    pseudonymsHeld: () => sightings.pseudonymsHeld(),
  };
}
