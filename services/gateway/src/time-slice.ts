// Bounds how long the gateway ingests readings without letting the rest of its event loop run.
// mqtt.js hands a connection's packets over one after another on process.nextTick, so a backlog
// (the gateway descheduled for a moment while the processor closes a window on the same cores)
// was ingested in one turn of the event loop: 100–400 ms of CPU measured at half the bench's
// maximum rate. Throughout it the producer's linger timer could not fire and Kafka's replies
// could not be read, so the first readings of the backlog waited for the last to be ingested
// before going to Kafka, and their PUBACKs for the turn after. With a slice, Kafka sends and
// acknowledgements go on between slices, and a reading waits for its own slice only.
export interface TimeSlice {
  /** Calls `next` now, or in the next turn of the event loop if this turn has already run for the budget. */
  run(next: () => void): void;
}

export function createTimeSlice(budgetMs: number, now: () => number = () => performance.now()): TimeSlice {
  /** When the current turn's slice began; reset by an immediate queued at its start (the turn's check phase). */
  let started: number | undefined;
  const end = () => {
    started = undefined;
  };
  return {
    run(next) {
      const t = now();
      if (started === undefined) {
        started = t;
        setImmediate(end);
      } else if (t - started >= budgetMs) {
        // Queued after `end`, so the slice it begins starts afresh.
        setImmediate(next);
        return;
      }
      next();
    },
  };
}
