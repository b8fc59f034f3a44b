// Notices readings a device numbered but the gateway never received. Every device counts its
// readings (seq, +1 per reading, back to 0 only when the device is reset), so a jump forward
// means the readings in between were lost before the gateway (radio, broker queue limits).
// Gaps are observed, not refused: the readings that did arrive are good.
//
// State is one number per device, and only devices that passed validation (the fleet) get
// one, so it is bounded by the fleet size. Counted when the jump is seen; a skipped number
// that arrives afterwards (reordered) is not subtracted — counters only go up, and one
// device's readings, seconds apart and each acknowledged in milliseconds, are rarely
// reordered. The count is per gateway instance: with several instances on one shared
// subscription each sees only part of a device's readings, so compare it across restarts
// of one instance, not across instances.

/** A jump this far (either way) is a reset or a corrupted counter, not that many lost readings: the count starts again from there. */
export const MAX_SEQUENCE_JUMP = 10_000;

export interface SequenceGaps {
  /** Records a device's reading and returns how many sequence numbers it skipped (0 for the next one, a duplicate, a replay or a reset). */
  observe(deviceId: string, seq: number): number;
  /** Devices with state (at most the fleet). */
  devices(): number;
}

export function createSequenceGaps(): SequenceGaps {
  const highest = new Map<string, number>();
  return {
    observe(deviceId, seq) {
      const last = highest.get(deviceId);
      if (last === undefined || seq === 0 || Math.abs(seq - last) > MAX_SEQUENCE_JUMP) {
        highest.set(deviceId, seq);
        return 0;
      }
      // A duplicate (QoS 1 redelivery), a replay or a late reading: no gap, and the high mark stays.
      if (seq <= last) return 0;
      highest.set(deviceId, seq);
      return seq - last - 1;
    },
    devices: () => highest.size,
  };
}
