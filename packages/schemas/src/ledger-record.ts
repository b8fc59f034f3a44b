// The release ledger on lethe.ledger.v1: one record per release by the processor's releaser,
// written (and acknowledged) before the release's aggregates are sent. Every releaser reads the
// whole topic at start and follows it, whatever its consumer group or noise key, so a window
// claimed under one noise key is never released again under another
// (packages/privacy/src/release-claims.ts). No personal data: series ids, window ends, ε sums.
import { z } from 'zod';

const epochMs = z.number().int().nonnegative();

/** ε spent by one person-derived stream on one UTC day, as the releaser's ledger holds it. */
export const LedgerEntrySchema = z.object({
  stream: z.string().min(1).max(100),
  day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  spent: z.number().nonnegative(),
  budget: z.number().nonnegative(),
  releases: z.number().int().nonnegative(),
  refused: z.number().int().nonnegative(),
  /** Start of the last window charged (ms); -1 before any. */
  lastWindowStart: z.number().int().min(-1),
  exhaustedFrom: epochMs.optional(),
});

export const ReleaseClaimRecordSchema = z.object({
  v: z.literal(1),
  /** Fingerprint of the noise key and the policy the release's figures were drawn under: an HMAC under the key, which reveals nothing about it. */
  fingerprint: z.string().regex(/^[0-9a-f]{32}$/),
  /** When the claim was written (ms). */
  at: epochMs,
  /** Per series (`sightings:wifi`, `readings:lamppost`, …), the end of the last window this release covers (ms). */
  releasedUpTo: z.record(z.string().min(1).max(100), epochMs),
  /** The releaser's ε ledger after this release: entries of today and yesterday (UTC). */
  ledger: z.array(LedgerEntrySchema).max(1000),
});
export type ReleaseClaimRecord = z.infer<typeof ReleaseClaimRecordSchema>;
