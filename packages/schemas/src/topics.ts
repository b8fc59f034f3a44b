// Kafka topics between the services. Names use dots and carry a version; the retention of
// the ones that carry per-person records is derived from the privacy policy (see
// packages/privacy/src/topic-configs.ts), never set here.
export const TOPICS = {
  /** Minimized readings without any personal data, keyed by device id. */
  readings: 'lethe.readings.v1',
  /** Pseudonymized sightings of people's devices and vehicles, keyed by pseudonym. Personal data: short TTL. */
  sightings: 'lethe.sightings.v1',
  /**
   * Stage 1 → stage 2 of the processor: per input partition and window, the additive figures
   * (counts, histograms, sums) that the releaser merges before k-anonymity and noise. One
   * partition, so one releaser sees every window and keeps the global ε ledger. Person-derived
   * below k: short TTL.
   */
  partials: 'lethe.partials.v1',
  /** Anonymous aggregates, keyed by series; the only thing that leaves the stream processor. */
  aggregates: 'lethe.aggregates.v1',
  /** Messages the gateway refused, with a reason and a redacted excerpt. May hold personal data: short TTL. */
  rejected: 'lethe.rejected.v1',
  /** Audit events (policy loaded, key destroyed, …) on their way to the hash-chained audit log. No personal data: long retention. */
  audit: 'lethe.audit.v1',
  /**
   * The releaser's claims: per release, how far each series was released under which noise key,
   * and the ε spent; read by every releaser whatever its consumer group, so the ledger cannot be
   * reset (packages/privacy/src/release-claims.ts). Named with the INPUT topics' prefix: it
   * guards the input data. No personal data.
   */
  ledger: 'lethe.ledger.v1',
} as const;

export type TopicName = (typeof TOPICS)[keyof typeof TOPICS];

/** Topics that may carry per-person records (even pseudonymized) and so live only for the raw-data TTL. */
export const PERSONAL_TOPICS: readonly TopicName[] = [TOPICS.sightings, TOPICS.partials, TOPICS.rejected];

export type TopicNames = { readonly [K in keyof typeof TOPICS]: string };

/**
 * The topic names with a prefix, for a pipeline that shares a Kafka cluster with another one
 * (a test run, a staging copy). No prefix: the names above.
 */
export function topicNames(prefix = ''): TopicNames {
  return Object.fromEntries(Object.entries(TOPICS).map(([key, name]) => [key, `${prefix}${name}`])) as unknown as TopicNames;
}
