// P9, continuity linkage by write order (docs/privacy.md). Pseudonyms change for everyone at an
// epoch boundary, and the gateway writes a sighting record when a phone is first heard in its
// slot. So on a quiet street the records of the first slot of an epoch come in the order the
// phones were first heard: the phones that were already there at the boundary first, newcomers
// later. An insider reading `lethe.sightings.v1` (offsets within a partition, or arrival times
// when tailing it) used that to pair pseudonyms across the boundary about 35 points above chance.
//
// The mix: the records of every reading taken in the first slot of an epoch are held by the
// gateway and written together at the slot's end, in random order. Within the slot they are
// then exchangeable, which is all the attacker had to tell them apart (their `ts` is the slot's
// start already). Held means not acknowledged to Mosquitto either, so nothing is lost if the
// gateway dies meanwhile: Mosquitto delivers the readings again.
//
// Every reading of the slot is held, of every kind (not only those with sightings): a reading
// written meanwhile would carry the processor's event time past the slot, and it could close the
// window before the held records arrive. The slot never spans more than a window, so the window
// they belong to is still open when they are written.
import type { Policy } from './policy.ts';
import { SIGHTING_SLOT_MS, sightingSlot } from './sighting-time.ts';

/** The longest sighting slot of a kind's window: what the mix holds after each of its epoch boundaries. */
export function mixHoldMs(windowMs: number): number {
  return Math.max(...Object.keys(SIGHTING_SLOT_MS).map((source) => sightingSlot(source as keyof typeof SIGHTING_SLOT_MS, windowMs)));
}

/**
 * When the records of a reading taken at `ts` are written: the end of the mix it falls in (the
 * first slot of an epoch of any kind that has pseudonyms), or undefined if it falls in none.
 */
export function mixEnd(policy: Policy, ts: number): number | undefined {
  let end: number | undefined;
  for (const kind of Object.values(policy.kinds)) {
    if (!Object.values(kind.fields).some((f) => f.treatment === 'pseudonymize')) continue;
    const start = Math.floor(ts / kind.epoch) * kind.epoch;
    const hold = mixHoldMs(kind.window);
    if (ts - start < hold) end = Math.max(end ?? 0, start + hold);
  }
  return end;
}
