// What the processor keeps in its committed offsets' metadata, so a restart (or the instance
// that takes a partition over) continues exactly where the last commit left off:
//   stage 1, per input partition: up to when its windows were emitted as partials;
//   the releaser, on the partials partition: up to when each series was released, and the ε
//   ledger (today and yesterday), so a restart neither re-releases a window nor forgets ε spent.
//   (The same state, independent of the consumer group, is on the release ledger topic; the
//   releaser restores from the later of the two, see releaser.ts.)
// Kafka limits offset metadata to 4 KiB (offset.metadata.max.bytes).
import type { LedgerEntry } from '@lethe/privacy';

export const METADATA_LIMIT_BYTES = 4096;

export interface StageMetadata {
  closedUpTo: number;
}

export interface ReleaserMetadata {
  /** Per series (`readings:lamppost`, `sightings:wifi`, …), the end of the last window released. */
  releasedUpTo: Record<string, number>;
  /** Ledger entries of today and yesterday (UTC). */
  ledger: LedgerEntry[];
}

function parse(metadata: string | null | undefined): Record<string, unknown> {
  if (!metadata) return {};
  try {
    const value: unknown = JSON.parse(metadata);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export function encodeStageMetadata(metadata: StageMetadata): string {
  return JSON.stringify(metadata);
}

export function decodeStageMetadata(metadata: string | null | undefined): StageMetadata {
  const value = parse(metadata);
  return { closedUpTo: typeof value.closedUpTo === 'number' ? value.closedUpTo : 0 };
}

/**
 * JSON within Kafka's limit: entries of older days go first (yesterday's matter only around
 * midnight), then the oldest of today's; releasedUpTo always stays.
 */
export function encodeReleaserMetadata({ releasedUpTo, ledger }: ReleaserMetadata): string {
  const entries = [...ledger].sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : a.lastWindowStart - b.lastWindowStart));
  for (;;) {
    const text = JSON.stringify({ releasedUpTo, ledger: entries });
    if (Buffer.byteLength(text) <= METADATA_LIMIT_BYTES || entries.length === 0) return text;
    entries.shift();
  }
}

export function decodeReleaserMetadata(metadata: string | null | undefined): ReleaserMetadata {
  const value = parse(metadata);
  const releasedUpTo: Record<string, number> = {};
  if (typeof value.releasedUpTo === 'object' && value.releasedUpTo !== null) {
    for (const [series, end] of Object.entries(value.releasedUpTo)) if (typeof end === 'number') releasedUpTo[series] = end;
  }
  return { releasedUpTo, ledger: Array.isArray(value.ledger) ? (value.ledger as LedgerEntry[]) : [] };
}
