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

describe('the releaser offset tracker', () => {
  it('holds a partial until its own series has released its window, whatever other series did', () => {
    const t = new OffsetTracker();
    t.processed('p', 0, '0', 900_000, 'dwell:wifi');
    t.processed('p', 0, '1', 60_000, 'sightings:wifi');
    t.processed('p', 0, '2', 60_000, 'readings:sewer');
    const upTo: Record<string, number> = { 'sightings:wifi': 60_000, 'readings:sewer': 60_000, 'dwell:wifi': 0 };
    expect(t.committable(({ series }) => upTo[series]!)).toEqual([{ topic: 'p', partition: 0, offset: '0' }]);
    upTo['dwell:wifi'] = 900_000;
    expect(t.committable(({ series }) => upTo[series]!)).toEqual([{ topic: 'p', partition: 0, offset: '3' }]);
  });

  it('can commit an offset that did not move, so its metadata can', () => {
    const t = new OffsetTracker();
    t.startAt('p', 0, '42');
    expect(t.committable(0)).toEqual([]);
    expect(t.committable(0, { unchanged: true })).toEqual([{ topic: 'p', partition: 0, offset: '42' }]);
  });
});
