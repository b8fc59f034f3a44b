// HMAC-SHA-256 (RFC 2104) under one epoch's pseudonym key, for the gateway's hot path: eight
// identifiers per reading, 23 % of the gateway's CPU profile when node:crypto computed them (the
// gateway alone, saturated, 2026-12-06; 12 % since). Every HMAC under one key begins by hashing
// the same two padded-key blocks, K ⊕ ipad and K ⊕ opad; node:crypto cannot start from a saved
// hash state, so it hashed both again per identifier (four compressions, two calls into C++, two
// Buffers). Here the state after each padded-key block is computed once per key, and an
// identifier of up to 55 bytes costs two compressions in JavaScript (sha256-block.ts), with no
// allocation but the digest. The output is the standard HMAC (tests compare it with createHmac),
// so a remote key service with the Vault transit contract computes the same pseudonyms.
// The saved states are key material: destroy() zeroes them, as the key's own Buffer is zeroed at
// rotation. The scratch that held an identifier's bytes is zeroed after each digest.
import { hash } from 'node:crypto';
import { compressBlocks, compressWords, SHA256_IV, wipeSchedule } from './sha256-block.ts';

const BLOCK = 64;
const DIGEST = 32;

export interface HmacKey {
  /** HMAC-SHA-256 of the UTF-8 bytes of `message`. */
  digest(message: string): Buffer;
  /** Zeroes the saved key states; digest() throws from then on. */
  destroy(): void;
}

const utf8 = new TextEncoder();

export function createHmacKey(key: Buffer): HmacKey {
  // A key longer than the block is hashed first (RFC 2104 §2); the epoch keys are 32 bytes.
  const k = key.length > BLOCK ? hash('sha256', key, 'buffer') : key;
  const innerStart = stateAfterPaddedKey(k, 0x36);
  const outerStart = stateAfterPaddedKey(k, 0x5c);
  if (k !== key) k.fill(0);

  // The message and its padding (FIPS 180-4 §5.1.1), grown for a longer message.
  let scratch = new Uint8Array(4 * BLOCK);
  const state = new Int32Array(8);
  // The outer hash's one block after the padded key: the inner digest, then its padding.
  const outerBlock = new Int32Array(16);
  outerBlock[8] = 0x80000000 | 0;
  outerBlock[15] = (BLOCK + DIGEST) * 8;
  let live = true;

  return {
    digest(message) {
      if (!live) throw new Error('the HMAC key was destroyed');
      // UTF-8 takes at most 3 bytes per UTF-16 unit; 9 more for the 0x80 and the bit length.
      const room = Math.ceil((3 * message.length + 9) / BLOCK) * BLOCK;
      if (room > scratch.length) {
        scratch.fill(0);
        scratch = new Uint8Array(room);
      }
      const { written } = utf8.encodeInto(message, scratch);
      const blocks = Math.ceil((written + 9) / BLOCK);
      const end = blocks * BLOCK;
      scratch[written] = 0x80;
      scratch.fill(0, written + 1, end - 8);
      // The bit length of K ⊕ ipad and the message, as 64 bits big-endian.
      const bits = (BLOCK + written) * 8;
      const high = Math.floor(bits / 2 ** 32);
      const low = bits >>> 0;
      scratch[end - 8] = high >>> 24;
      scratch[end - 7] = high >>> 16;
      scratch[end - 6] = high >>> 8;
      scratch[end - 5] = high;
      scratch[end - 4] = low >>> 24;
      scratch[end - 3] = low >>> 16;
      scratch[end - 2] = low >>> 8;
      scratch[end - 1] = low;

      state.set(innerStart);
      compressBlocks(state, scratch, blocks);
      scratch.fill(0, 0, end);
      for (let i = 0; i < 8; i++) outerBlock[i] = state[i]!;
      state.set(outerStart);
      compressWords(state, outerBlock);
      wipeSchedule();

      const out = Buffer.allocUnsafe(DIGEST);
      for (let i = 0; i < 8; i++) {
        const word = state[i]!;
        out[4 * i] = word >>> 24;
        out[4 * i + 1] = word >>> 16;
        out[4 * i + 2] = word >>> 8;
        out[4 * i + 3] = word;
      }
      return out;
    },
    destroy() {
      live = false;
      innerStart.fill(0);
      outerStart.fill(0);
      scratch.fill(0);
      state.fill(0);
      outerBlock.fill(0, 0, 8);
    },
  };
}

/** The SHA-256 state after the one block K ⊕ pad (K zero-padded to the block). */
function stateAfterPaddedKey(k: Uint8Array, pad: number): Int32Array {
  const block = new Uint8Array(BLOCK).fill(pad);
  for (let i = 0; i < k.length; i++) block[i]! ^= k[i]!;
  const state = Int32Array.from(SHA256_IV);
  compressBlocks(state, block, 1);
  block.fill(0);
  wipeSchedule();
  return state;
}
