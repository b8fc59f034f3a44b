// Turns direct identifiers into epoch pseudonyms. The identifier is normalised first (a MAC
// in any case, a plate with or without its space are the same person's device or vehicle),
// and the source is part of the HMAC input so a MAC and a plate can never collide.
import type { SightingSource } from '@lethe/schemas';
import { epochOf, type PseudonymKeyProvider } from './key-provider.ts';

export function normalizeIdentifier(source: SightingSource, raw: string): string {
  return source === 'wifi' ? raw.toUpperCase().replaceAll('-', ':') : raw.toUpperCase().replaceAll(' ', '');
}

export interface Pseudonymizer {
  readonly epochMs: number;
  /** Pseudonyms for identifiers seen at `ts`, or undefined when that epoch's key is gone. */
  pseudonymize(source: SightingSource, ts: number, identifiers: readonly string[]): Promise<{ epoch: number; pseudonyms: string[] } | undefined>;
}

/** 128 bits of the HMAC, base64url: collisions are negligible at city scale. */
const PSEUDONYM_BYTES = 16;

export function createPseudonymizer(provider: PseudonymKeyProvider, epochMs: number): Pseudonymizer {
  return {
    epochMs,
    async pseudonymize(source, ts, identifiers) {
      const epoch = epochOf(ts, epochMs);
      const macs = await provider.hmac(
        epoch,
        identifiers.map((id) => `${source}:${normalizeIdentifier(source, id)}`),
      );
      if (!macs) return undefined;
      return { epoch, pseudonyms: macs.map((m) => m.toString('base64url', 0, PSEUDONYM_BYTES)) };
    },
  };
}
