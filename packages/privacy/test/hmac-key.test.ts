import { createHmac, randomBytes, randomInt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createHmacKey } from '../src/hmac-key.ts';

describe('createHmacKey', () => {
  it('computes the standard HMAC-SHA-256 for keys of every length and messages of any size', () => {
    const messages = ['', 'wifi:02:1A:2B:3C:4D:5E', 'plate:HK1234', 'x'.repeat(127), 'y'.repeat(129), 'z'.repeat(5000), 'Ünïcödé 車牌 🚗'];
    for (let i = 0; i < 200; i++) messages.push(randomBytes(randomInt(0, 300)).toString('latin1'));
    for (const keyLength of [0, 1, 16, 32, 63, 64, 65, 200]) {
      const key = randomBytes(keyLength);
      const hmac = createHmacKey(key);
      // In an order that makes the buffer grow, then shrink, then grow again.
      for (const m of [...messages, ...messages.slice().reverse()])
        expect(hmac.digest(m).equals(createHmac('sha256', key).update(m, 'utf8').digest()), `key ${keyLength} B, message ${m.length} chars`).toBe(true);
    }
  });

  it('pads every length right: each message length around the block boundaries, in 1-, 2-, 3- and 4-byte characters', () => {
    // The inner hash's padding moves to a second (third) block at 56 (120) bytes of message, as
    // 64 bytes of padded key come first; characters of several bytes cross those edges mid-character.
    const key = randomBytes(32);
    const hmac = createHmacKey(key);
    for (const unit of ['a', 'é', '車', '🚗', '\ud800']) {
      for (let n = 0; n <= 140; n++) {
        const m = unit.repeat(n);
        expect(hmac.digest(m).equals(createHmac('sha256', key).update(m, 'utf8').digest()), `${n} × ${JSON.stringify(unit)}`).toBe(true);
      }
    }
  });

  it('leaves the caller’s key as it was, and refuses to work once destroyed', () => {
    const key = randomBytes(32);
    const copy = Buffer.from(key);
    const hmac = createHmacKey(key);
    hmac.digest('wifi:02:1A:2B:3C:4D:5E');
    expect(key.equals(copy)).toBe(true);
    hmac.destroy();
    expect(() => hmac.digest('wifi:02:1A:2B:3C:4D:5E')).toThrow(/destroyed/);
  });
});
