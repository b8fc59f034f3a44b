// The per-kind pseudonym keys and pseudonymizers, built in one place from the policy: each
// device kind has its own key per epoch (the kind's `epoch`), destroyed `rawData.keyGrace`
// after the epoch ends. The gateway, the keyring and the demo all build them here, so no
// service can run with another grace or epoch than the policy (and the register) states.
import { DEVICE_KINDS, type DeviceKind } from '@lethe/schemas';
import type { Clock } from './clock.ts';
import { createInMemoryKeyProvider, type KeySource, type PseudonymKeyProvider } from './key-provider.ts';
import type { Policy } from './policy.ts';
import { createPseudonymizer, type Pseudonymizer } from './pseudonymizer.ts';

export interface KindKeyProviderOptions {
  clock?: Clock;
  /** Told about every destroyed key (never the key): metrics, logs, the audit log. */
  onDestroy?: (kind: DeviceKind, epoch: number) => void;
  /** Makes a fresh 32-byte key; injected by tests that check keys are zeroed. */
  generateKey?: () => Buffer;
  /** Per kind, keys from a shared source (a ratchet, key-ratchet.ts) instead of fresh random ones. */
  keySources?: Readonly<Record<DeviceKind, KeySource>>;
}

/** One in-memory key provider per device kind, with the policy's epochs and key grace. */
export function createKindKeyProviders(
  policy: Policy,
  { clock, onDestroy, generateKey, keySources }: KindKeyProviderOptions = {},
): Record<DeviceKind, PseudonymKeyProvider> {
  return Object.fromEntries(
    DEVICE_KINDS.map((kind) => [
      kind,
      createInMemoryKeyProvider({
        epochMs: policy.kinds[kind].epoch,
        graceMs: policy.rawData.keyGrace,
        ...(clock ? { clock } : {}),
        ...(onDestroy ? { onDestroy: (epoch: number) => onDestroy(kind, epoch) } : {}),
        ...(generateKey ? { generateKey } : {}),
        ...(keySources ? { keySource: keySources[kind] } : {}),
      }),
    ]),
  ) as Record<DeviceKind, PseudonymKeyProvider>;
}

/**
 * What the audit log is told of a destroyed key (a key.destroyed event's data): its kind and
 * epoch, and the span of time the epoch covered; never the key.
 */
export function destroyedKeyData(policy: Policy, kind: DeviceKind, epoch: number): { kind: DeviceKind; epoch: number; epochStart: string; epochEnd: string } {
  const epochMs = policy.kinds[kind].epoch;
  return { kind, epoch, epochStart: new Date(epoch * epochMs).toISOString(), epochEnd: new Date((epoch + 1) * epochMs).toISOString() };
}

/** One pseudonymizer per device kind over the given key providers (in memory, or a shared key service). */
export function createPseudonymizers(policy: Policy, providers: Readonly<Record<DeviceKind, PseudonymKeyProvider>>): Record<DeviceKind, Pseudonymizer> {
  return Object.fromEntries(DEVICE_KINDS.map((kind) => [kind, createPseudonymizer(providers[kind], policy.kinds[kind].epoch)])) as Record<
    DeviceKind,
    Pseudonymizer
  >;
}
