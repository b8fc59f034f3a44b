import { describe, expect, it } from 'vitest';
import { createSequenceGaps, MAX_SEQUENCE_JUMP } from '../src/sequence-gaps.ts';

describe('sequence gaps', () => {
  it('counts the numbers a device skipped, and nothing for the next reading, a duplicate or a replay', () => {
    const gaps = createSequenceGaps();
    expect(gaps.observe('LP-0001', 7)).toBe(0);
    expect(gaps.observe('LP-0001', 8)).toBe(0);
    expect(gaps.observe('LP-0001', 8)).toBe(0);
    expect(gaps.observe('LP-0001', 12)).toBe(3);
    expect(gaps.observe('LP-0001', 10)).toBe(0);
    expect(gaps.observe('LP-0001', 13)).toBe(0);
    expect(gaps.observe('SW-0001', 100)).toBe(0);
  });

  it('starts again after a device reset or an implausible jump instead of counting it as lost readings', () => {
    const gaps = createSequenceGaps();
    gaps.observe('TL-0001', 500);
    expect(gaps.observe('TL-0001', 0)).toBe(0);
    expect(gaps.observe('TL-0001', 2)).toBe(1);
    expect(gaps.observe('TL-0001', 2 + MAX_SEQUENCE_JUMP + 1)).toBe(0);
    expect(gaps.observe('TL-0001', 5)).toBe(0);
    expect(gaps.observe('TL-0001', 6)).toBe(0);
    expect(gaps.devices()).toBe(1);
  });
});
