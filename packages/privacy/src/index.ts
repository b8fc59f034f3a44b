export { createAggregator, measurementOf } from './aggregator.ts';
export type { AddOutcome } from './aggregator.ts';
export { figureId, noisyCount } from './anonymizer.ts';
export { DWELL_BUCKETS, dwellBuckets, histogram, TRAVEL_BINS } from './bins.ts';
export type { ReleaseReport } from './anonymizer.ts';
export { createPartialStage, partialKey, partialSeries, seriesOf, SOURCE_KIND } from './partials.ts';
export type { PartialInput, PartialStage } from './partials.ts';
export { createReleaser } from './releaser.ts';
export type { Releaser, Releases } from './releaser.ts';
export {
  decideDataRequest,
  effectiveLevel,
  INDIVIDUAL_DATA,
  OPEN_DATA_MEASUREMENTS,
  OTHER_PURPOSES,
  REFUSAL_REASONS,
  REQUEST_LEVELS,
  requestPurposes,
  SUBJECT_TYPES,
  type DataRequest,
  type DataRequestDecision,
  type OpenDataMeasurement,
  type RefusalReason,
  type RequestLevel,
  type SubjectType,
} from './data-requests.ts';
export { createBudgetLedger, utcDay } from './ledger.ts';
export type { LedgerEntry } from './ledger.ts';
export { createNoiseSource, discreteLaplaceStdDev } from './noise.ts';
export type { NoiseSource } from './noise.ts';
export { createPersonWindows } from './person-windows.ts';
export { ManualClock, systemClock } from './clock.ts';
export type { Clock } from './clock.ts';
export { formatDuration, parseDuration } from './duration.ts';
export { createIngestStage, SIGHTING_FIELDS } from './ingest.ts';
export type { IngestResult, IngestStage, OutRecord } from './ingest.ts';
export { createInMemoryKeyProvider, epochOf } from './key-provider.ts';
export type { InMemoryKeyProviderOptions, KeySource, PseudonymKeyProvider } from './key-provider.ts';
export { createKeyRatchet, foundRatchet } from './key-ratchet.ts';
export type { KeyRatchet, RatchetState } from './key-ratchet.ts';
export { createKeyringLimiter, DEFAULT_IDENTIFIERS_PER_READING, keyringBudgets } from './keyring-budget.ts';
export type { KeyringBudgets, KeyringLimiter } from './keyring-budget.ts';
export { createRemoteKeyProvider, KeyServiceError } from './remote-key-provider.ts';
export { DEFAULT_POLICY_PATH, loadPolicy, parsePolicy, PolicyError } from './policy.ts';
export type { Policy } from './policy.ts';
export { createPseudonymizer, normalizeIdentifier } from './pseudonymizer.ts';
export { createKindKeyProviders, createPseudonymizers, destroyedKeyData } from './pseudonym-keys.ts';
export type { KindKeyProviderOptions } from './pseudonym-keys.ts';
export { sightingSlot, slotStart } from './sighting-time.ts';
export { mixEnd } from './write-mix.ts';
export {
  buildRegister,
  REPLICATION_STATES,
  unknownReplication,
  withReplication,
  type Register,
  type RegisterDuration,
  type RegisterMeasurement,
  type RegisterPersonalData,
  type RegisterProcessing,
  type RegisterReplication,
  type RegisterSensor,
  type RegisterTopic,
} from './register.ts';
export { aggregateRetentionSeconds, DEFAULT_INPUT_PARTITIONS, isPersonalTopic, topicLifetimeMs, topicSpecs } from './topic-configs.ts';
export { claimHolds, createClaimLog, noiseKeyFingerprint } from './release-claims.ts';
export type { ClaimLog, ClaimVerdict, ReleaseClaim } from './release-claims.ts';
export { rawDataLimit } from './raw-data-limit.ts';
export { snakeCase, windowStart } from './windows.ts';
