import { describe, expect, it } from 'vitest';
import { createBudgetLedger } from '../src/ledger.ts';

const DAY = Date.UTC(2026, 0, 1);
const MIN = 60_000;

describe('the privacy-budget ledger', () => {
  it('grants releases until the day budget is spent, then refuses every later window that day', () => {
    const ledger = createBudgetLedger();
    const outcomes = Array.from({ length: 5 }, (_, i) => ledger.charge('pedestrians', DAY + i * MIN, 0.1, 0.3));
    expect(outcomes).toEqual(['granted', 'granted', 'granted', 'exhausted', 'exhausted']);
    expect(ledger.entries('2026-01-01')).toEqual([expect.objectContaining({ stream: 'pedestrians', spent: expect.closeTo(0.3, 9), releases: 3, refused: 2, exhaustedFrom: DAY + 3 * MIN })]);
    expect(ledger.charge('pedestrians', DAY + 86_400_000, 0.1, 0.3)).toBe('granted');
  });

  it('charges a replayed window nothing and keeps its original outcome', () => {
    const ledger = createBudgetLedger();
    ledger.charge('vehicles', DAY, 1, 1);
    ledger.charge('vehicles', DAY + MIN, 1, 1);
    expect(ledger.charge('vehicles', DAY, 1, 1)).toBe('replay');
    expect(ledger.charge('vehicles', DAY + MIN, 1, 1)).toBe('exhausted');
    expect(ledger.entries()[0]).toMatchObject({ spent: 1, releases: 1 });
  });

  it('restores from saved entries so a restart cannot reset the budget', () => {
    const first = createBudgetLedger();
    for (let i = 0; i < 3; i++) first.charge('dwell', DAY + i * MIN, 1, 3);
    const second = createBudgetLedger();
    second.restore(JSON.parse(JSON.stringify(first.entries())));
    expect(second.charge('dwell', DAY + 3 * MIN, 1, 3)).toBe('exhausted');
  });
});
