import { describe, expect, it } from 'vitest';
import { OffsetTracker } from '../src/offset-tracker.ts';

describe('the processor offset tracker', () => {
  it('commits no further than the first record of a window that has not been emitted', () => {
    const t = new OffsetTracker();
    t.processed('r', 0, '10', 60_000);
    t.processed('r', 0, '11', 120_000);
    t.processed('r', 0, '12', 60_000);
    expect(t.committable(0)).toEqual([{ topic: 'r', partition: 0, offset: '10' }]);
    expect(t.committable(60_000)).toEqual([{ topic: 'r', partition: 0, offset: '11' }]);
    expect(t.committable(120_000)).toEqual([{ topic: 'r', partition: 0, offset: '13' }]);
  });

  it('does not repeat a commit that changes nothing', () => {
    const t = new OffsetTracker();
    t.processed('r', 1, '5');
    const offsets = t.committable(0);
    expect(offsets).toEqual([{ topic: 'r', partition: 1, offset: '6' }]);
    t.markCommitted(offsets);
    expect(t.committable(0)).toEqual([]);
  });
});
