export { createAggregator, measurementOf } from './aggregator.ts';
export type { AddOutcome, Aggregator, AggregatorOptions, ClosedWindows } from './aggregator.ts';
export { createAnonymizer, figureId, noisyCount } from './anonymizer.ts';
export { DWELL_BUCKETS, dwellBuckets, histogram, histogramStats, SPEED_BINS, TRAVEL_BINS } from './bins.ts';
export type {
  Anonymizer,
  DistrictSums,
  EpochCounts,
  PresenceField,
  PersonStream,
  Release,
  ReleaseReport,
  StreamBudget,
  SuppressionReason,
  WindowCounts,
} from './anonymizer.ts';
export { createPartialStage, DWELL_SOURCES, partialKey, partialSeries, seriesOf, SOURCE_KIND } from './partials.ts';
export type { PartialInput, PartialSeries, PartialStage, PartialStageOptions } from './partials.ts';
export { mergeDevices, mergeDwell, mergeSightings } from './merge.ts';
export { createReleaser, presenceFields } from './releaser.ts';
export type { PartialOutcome, ReleasedWindow, Releaser, ReleaserOptions, Releases } from './releaser.ts';
export {
  decideDataRequest,
  effectiveLevel,
  INDIVIDUAL_DATA,
  isIndividualData,
  isOpenDataMeasurement,
  OPEN_DATA_MEASUREMENTS,
  OTHER_PURPOSES,
  policyPurposes,
  REFUSAL_REASONS,
  REQUEST_LEVELS,
  requestPurposes,
  SUBJECT_TYPES,
  type DataRequest,
  type DataRequestDecision,
  type DataRequestSubject,
  type DecideOptions,
  type IndividualData,
  type OpenDataMeasurement,
  type RefusalDetail,
  type RefusalReason,
  type RequestLevel,
  type SubjectType,
} from './data-requests.ts';
export { createBudgetLedger, utcDay } from './ledger.ts';
export type { BudgetLedger, ChargeOutcome, LedgerEntry } from './ledger.ts';
export { createNoiseSource, discreteLaplace, discreteLaplaceBound, discreteLaplaceStdDev } from './noise.ts';
export type { NoiseSource, UniformStream } from './noise.ts';
export { createPersonWindows } from './person-windows.ts';
export type { CellFigure, DwellFigure, EpochFigures, PersonWindowFigures, PersonWindows, TripFigure, Visit } from './person-windows.ts';
export { ManualClock, systemClock } from './clock.ts';
export type { Clock } from './clock.ts';
export { formatDuration, parseDuration } from './duration.ts';
export { createIngestStage, SIGHTING_FIELDS } from './ingest.ts';
export type { IngestOptions, IngestResult, IngestStage, OutRecord } from './ingest.ts';
export { createInMemoryKeyProvider, epochOf } from './key-provider.ts';
export type { InMemoryKeyProviderOptions, PseudonymKeyProvider } from './key-provider.ts';
export {
  coverageOfSpace,
  createKeyringLimiter,
  createTokenBucket,
  DEFAULT_HEADROOM,
  DEFAULT_IDENTIFIERS_PER_READING,
  identifierCap,
  keyringBudgets,
} from './keyring-budget.ts';
export type { KeyringBudgetOptions, KeyringBudgets, KeyringLimiter, KindBudget, LimitOutcome, TakeResult, TokenBucket } from './keyring-budget.ts';
export { createRemoteKeyProvider, KeyServiceError } from './remote-key-provider.ts';
export type { RemoteKeyProviderOptions } from './remote-key-provider.ts';
export { AGGREGATIONS, DEFAULT_POLICY_PATH, FIELD_CLASSES, loadPolicy, parsePolicy, PEOPLE_UNITS, PolicyError, PolicySchema, TREATMENTS } from './policy.ts';
export type { FieldClass, FieldPolicy, KindPolicy, Policy } from './policy.ts';
export { createPseudonymizer, normalizeIdentifier } from './pseudonymizer.ts';
export type { Pseudonymizer } from './pseudonymizer.ts';
export { createKindKeyProviders, createPseudonymizers, destroyedKeyData } from './pseudonym-keys.ts';
export type { KindKeyProviderOptions } from './pseudonym-keys.ts';
export { describeStructure, redactedExcerpt } from './redact.ts';
export { SIGHTING_SLOT_MS, sightingSlot, slotStart } from './sighting-time.ts';
export { mixEnd, mixHoldMs } from './write-mix.ts';
export {
  buildRegister,
  type Register,
  type RegisterDuration,
  type RegisterMeasurement,
  type RegisterPersonalData,
  type RegisterProcessing,
  type RegisterSensor,
  type RegisterTopic,
} from './register.ts';
export {
  aggregateRetentionSeconds,
  DEFAULT_INPUT_PARTITIONS,
  FILE_DELETE_DELAY_MS,
  isPersonalTopic,
  RETENTION_CHECK_INTERVAL_MS,
  topicLifetimeMs,
  topicSpecs,
} from './topic-configs.ts';
export { claimHolds, createClaimLog, noiseKeyFingerprint } from './release-claims.ts';
export type { ClaimLog, ClaimVerdict, ReleaseClaim, SeriesClaims } from './release-claims.ts';
export { rawDataLimit } from './raw-data-limit.ts';
export type { RawDataLimit } from './raw-data-limit.ts';
export type { TopicPartitions, TopicSpec, TopicSpecOptions } from './topic-configs.ts';
export { snakeCase, windowStart } from './windows.ts';
