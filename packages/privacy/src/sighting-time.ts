// How precisely the sightings topic says when a person was seen (P9, continuity linkage).
// Pseudonyms change for everyone at an epoch boundary, so on a quiet street the phone that stops
// being seen at a lamppost just before it and the one that starts being seen just after are the
// same phone; an exact time (or a sequence number, which orders readings just as well) lets anyone
// reading `lethe.sightings.v1` pair them. The gateway therefore stamps a sighting with the start of
// its slot on a coarse grid and writes one record per pseudonym, device and slot — the first —
// so neither the time nor the number of records tells when within the slot someone came or went.
//
// The grid is the coarsest the figures still work with: a slot never straddles a window (one cell
// per person per window) or an epoch. Pedestrian counts need the window, dwell times (<1m, 1–5m,
// 5–10m, ≥10m) are measured in whole slots, and travel times (30 s bins) need finer times than
// that, so plates get a finer grid than Wi-Fi probes (docs/privacy.md, P9, has the measured cost).
import type { SightingSource } from '@lethe/schemas';

/** Target slot length per source (ms); the slot actually used divides the window (`sightingSlot`). */
export const SIGHTING_SLOT_MS: Readonly<Record<SightingSource, number>> = { wifi: 60_000, plate: 10_000 };

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Slot length for a source and its kind's window: the target, shrunk to a divisor of the window (a test policy's 5 s window gets 5 s slots). */
export function sightingSlot(source: SightingSource, windowMs: number): number {
  return gcd(windowMs, SIGHTING_SLOT_MS[source]);
}

/** Start of the slot that holds `ts`. */
export function slotStart(ts: number, slotMs: number): number {
  return Math.floor(ts / slotMs) * slotMs;
}
