import { describe, expect, it } from 'vitest';
import { sightingSlot, slotStart } from '../src/sighting-time.ts';

describe('sighting slots', () => {
  it('are the target length when it divides the window, and shrink to a divisor of the window otherwise', () => {
    expect(sightingSlot('wifi', 60_000)).toBe(60_000);
    expect(sightingSlot('plate', 60_000)).toBe(10_000);
    // A slot never straddles a window: one cell per person per window still holds.
    expect(sightingSlot('wifi', 5_000)).toBe(5_000);
    expect(sightingSlot('wifi', 45_000)).toBe(15_000);
    expect(sightingSlot('plate', 4_000)).toBe(2_000);
    expect(sightingSlot('wifi', 120_000)).toBe(60_000);
  });

  it('start at a multiple of their length', () => {
    expect(slotStart(119_999, 60_000)).toBe(60_000);
    expect(slotStart(120_000, 60_000)).toBe(120_000);
  });
});
