import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createTimeSlice } from '../src/time-slice.ts';

describe('the ingest time slice', () => {
  it('runs work at once within the budget, defers it to the next turn past it, and starts a fresh slice there', async () => {
    let clock = 0;
    const slice = createTimeSlice(5, () => clock);
    const ran: string[] = [];

    slice.run(() => ran.push('a')); // the turn's slice starts at 0
    clock = 4;
    slice.run(() => ran.push('b')); // 4 ms in: still within
    expect(ran).toEqual(['a', 'b']);

    clock = 5;
    slice.run(() => ran.push('c')); // 5 ms in: the budget is spent
    slice.run(() => ran.push('d')); // and stays spent for the rest of the turn
    expect(ran).toEqual(['a', 'b']);

    await nextTurn();
    // The deferred work ran in order in the next turn, each in a slice that started afresh.
    expect(ran).toEqual(['a', 'b', 'c', 'd']);
    clock = 7;
    slice.run(() => ran.push('e')); // a new turn: a new slice, whatever the clock says
    expect(ran).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('defers nothing in a turn that stays within the budget, however many turns there are', async () => {
    let clock = 0;
    const slice = createTimeSlice(5, () => clock);
    let ran = 0;
    for (let turn = 0; turn < 10; turn++) {
      for (let i = 0; i < 4; i++) {
        slice.run(() => ran++);
        clock += 1;
      }
      expect(ran).toBe((turn + 1) * 4);
      await nextTurn();
    }
  });
});
