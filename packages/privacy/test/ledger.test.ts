import { describe, expect, it } from 'vitest';
import { createBudgetLedger } from '../src/ledger.ts';

const DAY = Date.UTC(2026, 0, 1);
const MIN = 60_000;
const win = (i: number, from = DAY) => ({ start: from + i * MIN, end: from + (i + 1) * MIN });

describe('the privacy-budget ledger', () => {
  it('grants releases until the day budget is spent, then refuses every later window that day', () => {
    const ledger = createBudgetLedger();
    const outcomes = Array.from({ length: 5 }, (_, i) => ledger.charge('pedestrians', win(i), 0.1, 0.3).outcome);
    expect(outcomes).toEqual(['granted', 'granted', 'granted', 'exhausted', 'exhausted']);
    expect(ledger.entries('2026-01-01')).toEqual([
      expect.objectContaining({ stream: 'pedestrians', spent: expect.closeTo(0.3, 9), releases: 3, refused: 2, exhaustedFrom: DAY + 3 * MIN }),
    ]);
    expect(ledger.charge('pedestrians', win(0, DAY + 86_400_000), 0.1, 0.3).outcome).toBe('granted');
  });

  it('charges a replayed window nothing and keeps its original outcome', () => {
    const ledger = createBudgetLedger();
    ledger.charge('vehicles', win(0), 1, 1);
    ledger.charge('vehicles', win(1), 1, 1);
    expect(ledger.charge('vehicles', win(0), 1, 1)).toEqual({ outcome: 'replay', spentThrough: 1 });
    expect(ledger.charge('vehicles', win(1), 1, 1)).toEqual({ outcome: 'exhausted', spentThrough: 1 });
    expect(ledger.entries()[0]).toMatchObject({ spent: 1, releases: 1 });
  });

  it('restores from saved entries so a restart cannot reset the budget', () => {
    const first = createBudgetLedger();
    for (let i = 0; i < 3; i++) first.charge('dwell', win(i), 1, 3);
    const second = createBudgetLedger();
    second.restore(JSON.parse(JSON.stringify(first.entries())));
    expect(second.charge('dwell', win(3), 1, 3).outcome).toBe('exhausted');
  });

  it('states in a replay the ε spent through that window that the original release stated, also when restored from further ahead', () => {
    const original = createBudgetLedger();
    const stated = Array.from({ length: 40 }, (_, i) => original.charge('pedestrians', win(i), 0.1, 3).spentThrough);
    expect(stated.slice(0, 3)).toEqual([0.1, 0.2, 0.3]);
    expect(stated[29]).toBe(3);
    expect(stated[35]).toBe(3);
    // A releaser restored from the latest entries (a restart after claim and send, or a new group under the same key) replays every window.
    const restored = createBudgetLedger();
    restored.restore(JSON.parse(JSON.stringify(original.entries())));
    expect(Array.from({ length: 40 }, (_, i) => restored.charge('pedestrians', win(i), 0.1, 3).spentThrough)).toEqual(stated);
  });

  it('charges a window skipped between two charges, so the windows charged stay contiguous', () => {
    const ledger = createBudgetLedger();
    ledger.charge('vehicles', win(0), 1, 10);
    expect(ledger.charge('vehicles', win(3), 1, 10)).toEqual({ outcome: 'granted', spentThrough: 4 });
    expect(ledger.charge('vehicles', win(1), 1, 10)).toEqual({ outcome: 'replay', spentThrough: 2 });
    expect(ledger.charge('vehicles', win(5), 1, 4)).toEqual({ outcome: 'exhausted', spentThrough: 4 });
    expect(ledger.entries()[0]).toMatchObject({ spent: 4, releases: 4, refused: 2, exhaustedFrom: DAY + 4 * MIN });
  });
});
