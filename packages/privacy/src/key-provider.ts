// Where pseudonym keys live. A key exists for one epoch; once the epoch (plus a grace
// period for records still in flight) is over, the key is zeroed and dropped, and from then
// on nobody — the operator included — can recompute that epoch's pseudonyms (forward
// security). The in-memory provider is right for one gateway; N gateways need a shared
// provider with the same contract (see docs: a Vault transit HMAC key per epoch, deleted at
// rotation), plugged in through this interface.
import { randomBytes } from 'node:crypto';
import { systemClock, type Clock } from './clock.ts';
import { createHmacKey, type HmacKey } from './hmac-key.ts';

export interface PseudonymKeyProvider {
  /** HMAC-SHA-256 of each message under the epoch's key, or undefined if that key no longer (or not yet) exists. */
  hmac(epoch: number, messages: readonly string[]): Promise<Buffer[] | undefined>;
  /** Destroys keys whose epoch is over; returns the epochs destroyed. */
  rotate(): number[];
  /** Epochs whose keys currently exist (for metrics and tests; never the keys). */
  liveEpochs(): number[];
  /** Zeroes and drops every key, e.g. at shutdown. */
  destroyAll(): void;
}

export interface InMemoryKeyProviderOptions {
  epochMs: number;
  /** How long after its epoch ends a key may still be used for late records. */
  graceMs: number;
  clock?: Clock;
  /** Told about every destroyed epoch, e.g. to write the audit log. */
  onDestroy?: (epoch: number) => void;
  /** Makes a fresh 32-byte key; injected by tests that check the key is zeroed at rotation. */
  generateKey?: () => Buffer;
  /**
   * Keys from a shared source instead of `generateKey`: a forward-only ratchet (key-ratchet.ts),
   * so several keyring instances hold the same keys. Told to forget each epoch as its key is
   * destroyed, and to destroy itself with the keys.
   */
  keySource?: KeySource;
}

export interface KeySource {
  /** The epoch's key, a buffer the provider owns; undefined when the source has forgotten that epoch. */
  key(epoch: number): Buffer | undefined;
  /** Nothing may be derivable for this epoch, or any earlier one, from now on. */
  forget(epoch: number): void;
  destroy(): void;
}

export function epochOf(ts: number, epochMs: number): number {
  return Math.floor(ts / epochMs);
}

export function createInMemoryKeyProvider({
  epochMs,
  graceMs,
  clock = systemClock,
  onDestroy,
  generateKey = () => randomBytes(32),
  keySource,
}: InMemoryKeyProviderOptions): PseudonymKeyProvider {
  const keys = new Map<number, Buffer>();
  // The key's padded copies for HMAC (hmac-key.ts), zeroed with the key at rotation. (Node's
  // createHmac with a Buffer key makes a KeyObject per call, ~11 µs; with one KeyObject per epoch
  // ~2.2 µs, but its native copy of the key cannot be zeroed from JavaScript.)
  const hmacKeys = new Map<number, HmacKey>();

  /** The oldest epoch whose key may exist now. */
  const oldestUsable = () => epochOf(clock.now() - graceMs, epochMs);
  /** The range of epochs for which a key may exist now. */
  function usable(epoch: number): boolean {
    return epoch >= oldestUsable() && epoch <= epochOf(clock.now(), epochMs) + 1;
  }

  /** Destroyed by a call to hmac, to be told at the next rotation. */
  const untold: number[] = [];

  function destroy(keep: (epoch: number) => boolean, tell: boolean): number[] {
    const destroyed: number[] = [];
    for (const [epoch, key] of keys) {
      if (!keep(epoch)) {
        key.fill(0);
        keys.delete(epoch);
        hmacKeys.get(epoch)?.destroy();
        hmacKeys.delete(epoch);
        keySource?.forget(epoch);
        destroyed.push(epoch);
        if (tell) onDestroy?.(epoch);
        else untold.push(epoch);
      }
    }
    return destroyed;
  }
  function keyOf(epoch: number): HmacKey | undefined {
    let key = hmacKeys.get(epoch);
    if (!key) {
      const raw = keySource ? keySource.key(epoch) : generateKey();
      if (!raw) return undefined;
      keys.set(epoch, raw);
      hmacKeys.set(epoch, (key = createHmacKey(raw)));
    }
    return key;
  }
  // Rotation also makes the current epoch's key if nobody has been seen yet: with keys made on
  // first use only, "a key of this kind was destroyed for this epoch" (audit log, register,
  // metrics) would say that someone was seen in it (P9). So every epoch has one.
  // A key past its grace is destroyed at once when a reading asks for it, but told (audit event,
  // metric) only at the next rotation, like the others: when a destruction is told must not say
  // that a sighting arrived in the second after the grace.
  function tellUntold(): number[] {
    const told = untold.splice(0);
    for (const epoch of told) onDestroy?.(epoch);
    return told;
  }
  const rotate = () => {
    const destroyed = [...tellUntold(), ...destroy(usable, true)];
    // Also the epochs this process never made a key for (a ratchet received from a peer starts
    // at the peer's oldest live epoch).
    keySource?.forget(oldestUsable() - 1);
    keyOf(epochOf(clock.now(), epochMs));
    return destroyed;
  };

  return {
    async hmac(epoch, messages) {
      destroy(usable, false);
      if (!usable(epoch)) return undefined;
      const key = keyOf(epoch);
      if (!key) return undefined;
      return messages.map((m) => key.digest(m));
    },
    rotate,
    liveEpochs: () => [...keys.keys()].sort((a, b) => a - b),
    destroyAll: () => {
      tellUntold();
      destroy(() => false, true);
      keySource?.destroy();
    },
  };
}
