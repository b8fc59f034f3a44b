// The forward-only key ratchet (key-ratchet.ts) and the in-memory provider fed by it: instances
// with the same state agree on every key, a handed-over state yields nothing for an earlier epoch,
// and the provider forgets each epoch as its key is destroyed.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createInMemoryKeyProvider, type KeySource } from '../src/key-provider.ts';
import { createKeyRatchet, foundRatchet } from '../src/key-ratchet.ts';

const hex = (b: Buffer | undefined) => b?.toString('hex');

describe('the key ratchet', () => {
  it('gives two instances with the same state the same key for every epoch, and another chain other keys', () => {
    const state = foundRatchet(100);
    const a = createKeyRatchet(state);
    const b = createKeyRatchet(state);
    const other = createKeyRatchet(foundRatchet(100));
    for (const epoch of [100, 101, 105]) {
      expect(hex(a.key(epoch))).toBe(hex(b.key(epoch)));
      expect(hex(a.key(epoch))).not.toBe(hex(other.key(epoch)));
    }
    expect(new Set([100, 101, 102].map((e) => hex(a.key(e)))).size, 'a key per epoch').toBe(3);
  });

  it('hands over only what it still has: the receiver computes the keys from the handed epoch on, none before it', () => {
    const a = createKeyRatchet(foundRatchet(100));
    const early = hex(a.key(100));
    const later = [101, 102, 103].map((e) => hex(a.key(e)));
    a.forget(100);
    expect(a.key(100), 'a forgotten epoch').toBeUndefined();
    const handed = a.state();
    expect(handed.epoch).toBe(101);
    const b = createKeyRatchet(handed);
    expect([101, 102, 103].map((e) => hex(b.key(e)))).toEqual(later);
    expect(b.key(100)).toBeUndefined();
    expect(handed.secret.toString('hex'), 'the handed secret is not the old epoch’s key').not.toBe(early);
  });

  it('copies the state it starts from and the states it hands out, and zeroes its secret when destroyed', () => {
    const state = foundRatchet(7);
    const before = hex(createKeyRatchet(state).key(7));
    const r = createKeyRatchet(state);
    state.secret.fill(0);
    expect(hex(r.key(7)), 'unaffected by the caller zeroing its copy').toBe(before);
    const out = r.state();
    out.secret.fill(0);
    expect(hex(r.key(7))).toBe(before);
    r.destroy();
    expect(r.key(7)).toBeUndefined();
    expect(() => r.state()).toThrow(/destroyed/);
  });

  it('refuses malformed states and epochs far ahead', () => {
    expect(() => createKeyRatchet({ epoch: -1, secret: Buffer.alloc(32) })).toThrow(/epoch/);
    expect(() => createKeyRatchet({ epoch: 1, secret: Buffer.alloc(16) })).toThrow(/32 bytes/);
    expect(() => createKeyRatchet(foundRatchet(1)).key(5_000)).toThrow(/ahead/);
  });
});

describe('the in-memory key provider with a key source', () => {
  const EPOCH = 1_000;
  const GRACE = 200;

  it('takes its keys from the source, tells it to forget each destroyed epoch and those past the grace, and destroys it with the keys', async () => {
    let now = 10 * EPOCH;
    const calls: string[] = [];
    const state = foundRatchet(9);
    const twin = createKeyRatchet(state);
    const ratchet = createKeyRatchet(state);
    const source: KeySource = {
      key: (e) => (calls.push(`key ${e}`), ratchet.key(e)),
      forget: (e) => (calls.push(`forget ${e}`), ratchet.forget(e)),
      destroy: () => (calls.push('destroy'), ratchet.destroy()),
    };
    const provider = createInMemoryKeyProvider({ epochMs: EPOCH, graceMs: GRACE, clock: { now: () => now }, keySource: source });
    const mac = await provider.hmac(10, ['x']);
    expect(hex(mac![0]), 'the HMAC under the chain’s key of epoch 10').toBe(createHmac('sha256', twin.key(10)!).update('x').digest('hex'));
    expect(hex((await provider.hmac(9, ['x']))![0]), 'epoch 9, still in its grace').toBe(createHmac('sha256', twin.key(9)!).update('x').digest('hex'));
    // Past epoch 9's grace: its key is destroyed and the chain forgets it.
    now = 10 * EPOCH + GRACE + 1;
    expect(provider.rotate()).toEqual([9]);
    expect(calls).toContain('forget 9');
    expect(ratchet.key(9)).toBeUndefined();
    // Epoch 11 never had a key here; once past its grace the chain forgets it all the same.
    now = 12 * EPOCH + GRACE + 1;
    provider.rotate();
    expect(calls).toContain('forget 11');
    expect(await provider.hmac(11, ['x'])).toBeUndefined();
    expect(ratchet.key(11), 'the chain cannot make epoch 11’s key any more').toBeUndefined();
    expect(hex(ratchet.key(12))).toBe(hex(twin.key(12)));
    provider.destroyAll();
    expect(calls.at(-1)).toBe('destroy');
    expect(ratchet.key(13)).toBeUndefined();
  });
});
