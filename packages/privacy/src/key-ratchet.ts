// A forward-only key ratchet, so that several keyring instances hold the same epoch keys
// without any of them storing a key, or anything a later reader could turn back into one.
//
// One chain per device kind: a 32-byte secret S_e per epoch e, with
//   S_{e+1} = HMAC-SHA-256(S_e, "lethe/ratchet/step")     K_e = HMAC-SHA-256(S_e, "lethe/ratchet/key")
// (HMAC as a PRF, the construction of Signal's KDF chains). Whoever holds S_e can compute the
// keys of epoch e and of every later epoch, and none of an earlier one: going back would mean
// inverting HMAC. An instance keeps only S_base, base being its oldest live epoch, and zeroes it
// as soon as that epoch's key is destroyed (`forget`), so from then on no instance holds anything
// from which that epoch's pseudonyms could be recomputed.
//
// The first instance founds the chain with a random secret (`foundRatchet`); every other one
// receives S_base from a running peer at start (services/keyring, /v1/ratchet) and both step
// forward alone: they agree on every key without talking again. Nothing is written to disk. If
// every instance stops, the chain is gone and the next one founds a new one (the current epoch's
// pseudonyms change, as with one instance). The price of sharing: a thief of one instance's
// memory, or of the peer token, learns the keys from its base epoch on (until every instance
// restarts at once), where a thief of a single in-memory keyring learns the same. docs/privacy.md
// (P3) argues the design.
import { createHmac, randomBytes } from 'node:crypto';

export interface RatchetState {
  /** The epoch whose secret this is: keys exist for it and every later epoch. */
  epoch: number;
  /** S_epoch, 32 bytes. */
  secret: Buffer;
}

export interface KeyRatchet {
  /** K_epoch, a fresh buffer the caller owns (and zeroes); undefined for an epoch already forgotten. */
  key(epoch: number): Buffer | undefined;
  /** Forgets every epoch up to and including this one: the secret moves forward, the old one is zeroed. */
  forget(epoch: number): void;
  /** A copy of the current state, to hand to a joining peer. */
  state(): RatchetState;
  /** Zeroes the secret; no key can be made afterwards. */
  destroy(): void;
}

const SECRET_BYTES = 32;
const STEP = 'lethe/ratchet/step';
const KEY = 'lethe/ratchet/key';
/** Steps one call may take: the key providers ask for at most the next epoch. */
const MAX_STEPS = 1_000;

const step = (secret: Buffer) => createHmac('sha256', secret).update(STEP).digest();

/** A new chain with a random secret, for the first instance. */
export function foundRatchet(epoch: number): RatchetState {
  return { epoch, secret: randomBytes(SECRET_BYTES) };
}

export function createKeyRatchet(initial: RatchetState): KeyRatchet {
  if (!Number.isSafeInteger(initial.epoch) || initial.epoch < 0) throw new Error('a ratchet state needs a non-negative integer epoch');
  if (initial.secret.length !== SECRET_BYTES) throw new Error(`a ratchet secret has ${SECRET_BYTES} bytes`);
  let base = initial.epoch;
  let secret: Buffer | undefined = Buffer.from(initial.secret);

  /** S_epoch for epoch >= base; intermediate secrets are zeroed on the way. */
  function secretOf(epoch: number): Buffer {
    if (epoch - base > MAX_STEPS) throw new Error(`epoch ${epoch} is more than ${MAX_STEPS} epochs ahead of the ratchet`);
    let s = Buffer.from(secret!);
    for (let e = base; e < epoch; e++) {
      const next = step(s);
      s.fill(0);
      s = next;
    }
    return s;
  }

  return {
    key(epoch) {
      if (!secret || epoch < base) return undefined;
      const s = secretOf(epoch);
      const k = createHmac('sha256', s).update(KEY).digest();
      s.fill(0);
      return k;
    },
    forget(epoch) {
      if (!secret || epoch < base) return;
      const next = secretOf(epoch + 1);
      secret.fill(0);
      secret = next;
      base = epoch + 1;
    },
    state() {
      if (!secret) throw new Error('the ratchet is destroyed');
      return { epoch: base, secret: Buffer.from(secret) };
    },
    destroy() {
      secret?.fill(0);
      secret = undefined;
    },
  };
}
