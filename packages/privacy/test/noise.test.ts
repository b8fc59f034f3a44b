import { describe, expect, it } from 'vitest';
import { createNoiseSource, discreteLaplace, discreteLaplaceBound, discreteLaplaceStdDev } from '../src/noise.ts';

const source = createNoiseSource(Buffer.from('a fixed test key, 32 bytes long!'));

describe('deterministic discrete Laplace noise', () => {
  it('gives the same noise for the same figure id and independent noise for others', () => {
    const a = Array.from({ length: 20 }, (_, i) => discreteLaplace(source.stream(`fig-${i}`), 1, 1));
    const b = Array.from({ length: 20 }, (_, i) => discreteLaplace(source.stream(`fig-${i}`), 1, 1));
    const other = Array.from({ length: 20 }, (_, i) => discreteLaplace(createNoiseSource(Buffer.alloc(32, 1)).stream(`fig-${i}`), 1, 1));
    expect(a).toEqual(b);
    expect(other).not.toEqual(a);
  });

  it('has mean 0, the stated spread and the exact two-sided geometric shape (50,000 draws, fixed key)', () => {
    const epsilon = 0.5;
    const n = 50_000;
    const draws = Array.from({ length: n }, (_, i) => discreteLaplace(source.stream(`d-${i}`), epsilon, 1));
    const mean = draws.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(draws.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
    const expectedSd = discreteLaplaceStdDev(epsilon, 1);
    expect(Math.abs(mean)).toBeLessThan((4 * expectedSd) / Math.sqrt(n));
    expect(sd / expectedSd).toBeGreaterThan(0.97);
    expect(sd / expectedSd).toBeLessThan(1.03);
    // P(Z = 0) = (1 − α)/(1 + α), P(Z = 1)/P(Z = 0) = α.
    const alpha = Math.exp(-epsilon);
    const p0 = draws.filter((d) => d === 0).length / n;
    expect(p0).toBeCloseTo((1 - alpha) / (1 + alpha), 2);
    expect(draws.filter((d) => d === 1).length / draws.filter((d) => d === 0).length).toBeCloseTo(alpha, 1);
    const bound = discreteLaplaceBound(epsilon, 1, 1e-3);
    expect(draws.filter((d) => Math.abs(d) >= bound).length / n).toBeLessThan(2e-3);
  });

  it('refuses a short key and a non-positive ε', () => {
    expect(() => createNoiseSource(Buffer.alloc(8))).toThrow(/at least 16 bytes/);
    expect(() => discreteLaplace(source.stream('x'), 0, 1)).toThrow(/ε > 0/);
  });
});
