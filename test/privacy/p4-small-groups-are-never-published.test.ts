// P4 — Small groups are never published. Counts of fewer than k people are suppressed, and
// no suppressed figure can be recovered by subtracting published figures: a district total
// minus its published cells, or a longer period minus its windows.
// Checked on thousands of random windows (fixed seed) run through the processor's own
// aggregation stage, with the noise switched to its worst case for an attacker: none.
import { createAggregator, createBudgetLedger, createNoiseSource, DEFAULT_POLICY_PATH, loadPolicy, ManualClock, parsePolicy } from '@lethe/privacy';
import { createRandom } from '@lethe/simulator';
import type { AggregateRecord, SightingRecord } from '@lethe/schemas';
import { describe, expect, it } from 'vitest';

const shipped = loadPolicy(DEFAULT_POLICY_PATH);
const K = shipped.kinds.lamppost.k;
const T0 = Date.UTC(2026, 0, 1, 8, 0, 0);
const WINDOW = shipped.kinds.lamppost.window;
const DISTRICTS = ['north', 'south', 'east'];
const CELLS = DISTRICTS.flatMap((d, i) => [1, 2, 3].map((j) => ({ device: `LP-${String(i * 3 + j).padStart(4, '0')}`, district: d })));

/**
 * The shipped policy with an enormous ε: noise is ~0, the worst case for the attacker's
 * subtraction (with real noise the attack is only harder). k and the rules are unchanged.
 */
const noiselessPolicy = parsePolicy({
  ...JSON.parse(JSON.stringify({ ...shipped, aggregates: { retention: '30d' }, rawData: { ttl: '15m', segment: '1m', maxLateness: '60s' } })),
  kinds: Object.fromEntries(
    Object.entries(shipped.kinds).map(([kind, p]) => [
      kind,
      { ...p, window: `${p.window / 1000}s`, epoch: `${p.epoch / 1000}s`, epsilonPerRelease: 1e9, epsilonPerDay: 1e15 },
    ]),
  ),
});

/** Random crowds: per window, each cell gets 0–12 people (many below k), some seen at two cells. */
function simulate(windows: number, seed: string) {
  const random = createRandom(seed);
  const clock = new ManualClock(T0);
  const aggregator = createAggregator({
    policy: noiselessPolicy,
    clock,
    graceMs: 0,
    noise: createNoiseSource(Buffer.alloc(32, 3)),
    ledger: createBudgetLedger(),
  });
  const truth = new Map<string, number>();
  const released: AggregateRecord[] = [];
  for (let w = 0; w < windows; w++) {
    const start = T0 + w * WINDOW;
    clock.set(start);
    for (const cell of CELLS) {
      const n = random.int(0, 12);
      truth.set(`${start}|${cell.device}`, n);
      for (let p = 0; p < n; p++) {
        const pseudonym = `w${w}-${cell.device}-${p}`.padEnd(22, 'x');
        const sighting: SightingRecord = {
          v: 1,
          source: 'wifi',
          pseudonym,
          epoch: 0,
          kind: 'lamppost',
          deviceId: cell.device,
          district: cell.district,
          ts: start + 1_000,
        };
        aggregator.addSighting(sighting);
        // Seen once more at the neighbouring cell: still counted in one cell only (where seen most).
        if (p % 4 === 0) aggregator.addSighting({ ...sighting, ts: start + 2_000, deviceId: CELLS[(CELLS.indexOf(cell) + 1) % CELLS.length]!.device });
      }
    }
    released.push(...aggregator.closeDue(start + WINDOW).records.filter((r) => r.measurement === 'pedestrians'));
  }
  return { truth, released };
}

describe('P4: small groups are never published', () => {
  const { truth, released } = simulate(2_000, 'p4');
  const cells = released.filter((r) => r.tags.scope === 'cell');
  const districts = released.filter((r) => r.tags.scope === 'district');

  it('publishes no cell of fewer than k people, and publishes the others', () => {
    expect(cells.length).toBeGreaterThan(1000);
    for (const r of cells) {
      const n = truth.get(`${r.windowStart}|${r.tags.device}`)!;
      expect(n, `${r.tags.device} @ ${r.windowStart}`).toBeGreaterThanOrEqual(K);
      // Noise ~0 here, and a person seen at two cells counts only where first seen (a tie).
      expect(r.fields.people, `${r.tags.device} @ ${r.windowStart}`).toBe(n);
    }
    expect(cells.length).toBe([...truth.values()].filter((n) => n >= K).length);
    console.log(
      `P4: ${truth.size} cell-windows (${[...truth.values()].filter((n) => n > 0 && n < K).length} with 1..k-1 people), ${cells.length} cells and ${districts.length} district totals released`,
    );
  });

  it('defeats the subtraction attack: a district total minus its published cells never reveals 1..k-1 people', () => {
    let attempts = 0;
    const byWindow = Map.groupBy(released, (r) => `${r.windowStart}|${r.tags.district}`);
    for (const [key, group] of byWindow) {
      const total = group.find((r) => r.tags.scope === 'district');
      if (!total) continue;
      const published = group.filter((r) => r.tags.scope === 'cell').reduce((sum, r) => sum + r.fields.people!, 0);
      const hidden = total.fields.people! - published;
      attempts++;
      // Not even 0: a released total would then tell "nobody in the suppressed cells" from "someone" (P9).
      expect(hidden, `${key}: district − cells`).toBeGreaterThanOrEqual(K);
    }
    expect(attempts).toBeGreaterThan(500);
    // The attack would have worked without the differencing rule: some districts do have a
    // suppressed cell of 1..k-1 people, and those districts are exactly the ones withheld.
    const withheld = [...new Set(cells.map((r) => r.windowStart))].length * DISTRICTS.length - districts.length;
    expect(withheld).toBeGreaterThan(100);
  });

  it('never publishes overlapping windows for a series, so a longer period minus its windows has nothing to expose', () => {
    const series = Map.groupBy(released, (r) => `${r.measurement}|${JSON.stringify(r.tags)}`);
    for (const [key, records] of series) {
      const sorted = records.map((r) => [r.windowStart, r.windowEnd] as const).sort((a, b) => a[0] - b[0]);
      for (let i = 0; i < sorted.length; i++) {
        expect(sorted[i]![1] - sorted[i]![0], key).toBe(WINDOW);
        if (i > 0) expect(sorted[i]![0], key).toBeGreaterThanOrEqual(sorted[i - 1]![1]);
      }
    }
  });
});
