import { describe, expect, it } from 'vitest';
import { windowsOnTimeSoFar } from '../window-visibility.ts';

// Windows of 5 s closing 5 s after their end (the grace), as the poller records them.
const w = (windowStart: number, seenAfterCloseMs?: number) => ({
  windowStart,
  closesAt: windowStart + 10_000,
  ...(seenAfterCloseMs === undefined ? {} : { completeAt: windowStart + 10_000 + seenAfterCloseMs }),
});

describe('whether a step’s windows were visible in time, told while the pipeline runs', () => {
  it('is on time once every window was seen within 2 s and has settled', () => {
    const ws = [w(0, 1200), w(5000, 1500), w(10_000, 1800)];
    // The last one was seen 1.8 s after closing (at 21.8 s); it may still be filling for 3 s.
    expect(windowsOnTimeSoFar(ws, 23_000)).toBeUndefined();
    expect(windowsOnTimeSoFar(ws, 24_800)).toBe(true);
  });

  it('waits for a window not seen yet until it is late, and then it is late', () => {
    const ws = [w(0, 1200), w(5000)];
    expect(windowsOnTimeSoFar(ws, 16_000)).toBeUndefined();
    expect(windowsOnTimeSoFar(ws, 17_000)).toBe(false);
  });

  it('is late at once when a window was seen late, without waiting for it to settle', () => {
    expect(windowsOnTimeSoFar([w(0, 1000), w(5000, 2500)], 17_600)).toBe(false);
  });

  it('answers with what it has when told not to wait for settling, and a step without windows is on time', () => {
    expect(windowsOnTimeSoFar([w(0, 1500)], 11_600, 0)).toBe(true);
    expect(windowsOnTimeSoFar([], 0)).toBe(true);
  });
});
