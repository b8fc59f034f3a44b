import { describe, expect, it } from 'vitest';
import { resultsBase } from '../report.ts';

describe('resultsBase', () => {
  it("names a day's first results by the date, and later ones of the same day -2, -3, … instead of overwriting them", () => {
    const present = new Set<string>();
    const exists = (path: string) => present.has(path);
    expect(resultsBase('bench/results', '2026-12-06', exists)).toBe('bench/results/2026-12-06');
    present.add('bench/results/2026-12-06.md');
    expect(resultsBase('bench/results', '2026-12-06', exists)).toBe('bench/results/2026-12-06-2');
    // A JSON alone (a run whose Markdown was removed) still takes the name.
    present.add('bench/results/2026-12-06-2.json');
    expect(resultsBase('bench/results', '2026-12-06', exists)).toBe('bench/results/2026-12-06-3');
    expect(resultsBase('bench/results', '2026-12-06-quick', exists)).toBe('bench/results/2026-12-06-quick');
  });
});
