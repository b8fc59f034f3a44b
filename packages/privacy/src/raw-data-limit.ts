// The longest a per-person record may stay on disk after its timestamp: the policy's TTL plus
// the bound stated in topic-configs.ts (guarantee P2). The register publishes it, and the api's
// scheduled check of the personal topics compares every record on disk against it. Both come
// from the configuration, never from the data: the public figure about raw data is "every
// record is younger than this", not how old the oldest one is (P9: an age, or "empty", says
// whether anyone was seen).
import type { Policy } from './policy.ts';
import { SIGHTING_SLOT_MS } from './sighting-time.ts';

/** Broker settings the bound relies on (infra/local/kafka.sh, docker-compose.yml). */
export const BROKER_RETENTION_CHECK_MS = 10_000;
export const BROKER_SEGMENT_DELETE_DELAY_MS = 1000;
/** Scheduling slack (P2 measured at most 3.3 s over the first three terms). */
export const RAW_DATA_SLACK_MS = 5000;

export interface RawDataLimit {
  ttlMs: number;
  /** The stated bound on top of the TTL. */
  boundMs: number;
  /** ttlMs + boundMs: no per-person record stays on disk longer after its timestamp. */
  limitMs: number;
}

/**
 * The terms, all from the configuration: segment.ms, the broker's retention check and delete
 * delay, the policy's max lateness and max future skew (a record stamped late or ahead dies
 * with the newer records of its segment), the sighting slot (a sighting is stamped with the
 * start of its slot, up to a slot before it is written: sighting-time.ts) and scheduling slack.
 */
export function rawDataLimit(policy: Pick<Policy, 'rawData'>): RawDataLimit {
  const { ttl, segment, maxLateness, maxFutureSkew } = policy.rawData;
  const slot = Math.max(...Object.values(SIGHTING_SLOT_MS));
  const boundMs = segment + BROKER_RETENTION_CHECK_MS + BROKER_SEGMENT_DELETE_DELAY_MS + maxLateness + maxFutureSkew + slot + RAW_DATA_SLACK_MS;
  return { ttlMs: ttl, boundMs, limitMs: ttl + boundMs };
}
