import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.ts';
import { createInMemoryKeyProvider } from '../src/key-provider.ts';
import { createPseudonymizer } from '../src/pseudonymizer.ts';

const EPOCH = 15 * 60_000;

function setup() {
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 8, 0, 0));
  const destroyed: number[] = [];
  const provider = createInMemoryKeyProvider({ epochMs: EPOCH, graceMs: 60_000, clock, onDestroy: (e) => destroyed.push(e) });
  return { clock, provider, destroyed, pseudonymizer: createPseudonymizer(provider, EPOCH) };
}

describe('epoch pseudonyms', () => {
  it('give the same identifier the same pseudonym within an epoch, whatever its spelling', async () => {
    const { clock, pseudonymizer } = setup();
    const a = await pseudonymizer.pseudonymize('wifi', clock.now(), ['02:1a:2b:3c:4d:5e', '02-1A-2B-3C-4D-5E']);
    const b = await pseudonymizer.pseudonymize('plate', clock.now(), ['AB 1234', 'AB1234']);
    expect(a!.pseudonyms[0]).toBe(a!.pseudonyms[1]);
    expect(b!.pseudonyms[0]).toBe(b!.pseudonyms[1]);
    expect(a!.pseudonyms[0]!.toUpperCase()).not.toContain('1A2B3C4D5E');
    expect(a!.pseudonyms[0]).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('give unlinkable pseudonyms in the next epoch', async () => {
    const { clock, pseudonymizer } = setup();
    const first = await pseudonymizer.pseudonymize('wifi', clock.now(), ['02:1A:2B:3C:4D:5E']);
    clock.advance(EPOCH);
    const second = await pseudonymizer.pseudonymize('wifi', clock.now(), ['02:1A:2B:3C:4D:5E']);
    expect(second!.epoch).toBe(first!.epoch + 1);
    expect(second!.pseudonyms[0]).not.toBe(first!.pseudonyms[0]);
  });

  it('destroy an epoch key after its grace period, after which its pseudonyms cannot be recomputed', async () => {
    const { clock, provider, pseudonymizer, destroyed } = setup();
    const ts = clock.now();
    const before = await pseudonymizer.pseudonymize('wifi', ts, ['02:1A:2B:3C:4D:5E']);
    clock.advance(EPOCH + 30_000);
    expect(await pseudonymizer.pseudonymize('wifi', ts, ['02:1A:2B:3C:4D:5E'])).toEqual(before);
    clock.advance(60_000);
    expect(provider.rotate()).toEqual([before!.epoch]);
    expect(destroyed).toEqual([before!.epoch]);
    expect(await pseudonymizer.pseudonymize('wifi', ts, ['02:1A:2B:3C:4D:5E'])).toBeUndefined();
    expect(provider.liveEpochs()).not.toContain(before!.epoch);
  });
});
