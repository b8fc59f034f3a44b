// Records on Kafka between the services. They are validated again by every consumer: a
// topic is a trust boundary too.
import { z } from 'zod';
import { DEVICE_KINDS, DEVICE_ID_PATTERN } from './device-kinds.ts';

const epochMs = z.number().int().nonnegative();
const deviceId = z.string().regex(DEVICE_ID_PATTERN);

/** A minimized reading: environmental and aggregate person-derived values only. */
export const ReadingRecordSchema = z.object({
  v: z.literal(1),
  kind: z.enum(DEVICE_KINDS),
  deviceId,
  district: z.string().min(1),
  seq: z.number().int().nonnegative(),
  ts: epochMs,
  values: z.record(z.string(), z.union([z.number(), z.boolean(), z.string()])),
});
export type ReadingRecord = z.infer<typeof ReadingRecordSchema>;

export const SIGHTING_SOURCES = ['wifi', 'plate'] as const;
export type SightingSource = (typeof SIGHTING_SOURCES)[number];

/**
 * A pseudonymous phone or vehicle seen at a device in one time slot; personal data. One record per
 * pseudonym, device and slot, stamped with the slot's start (packages/privacy/src/sighting-time.ts):
 * no sequence number or exact time, which would order sightings across a pseudonym epoch's
 * boundary and link the pseudonyms on either side (P9). The pseudonym, device and slot identify it.
 */
export const SightingRecordSchema = z.object({
  v: z.literal(1),
  source: z.enum(SIGHTING_SOURCES),
  pseudonym: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/),
  epoch: z.number().int().nonnegative(),
  kind: z.enum(DEVICE_KINDS),
  deviceId,
  district: z.string().min(1),
  /** Start of the slot the sighting was in (ms). */
  ts: epochMs,
  speedKmh: z.number().min(0).max(250).optional(),
});
export type SightingRecord = z.infer<typeof SightingRecordSchema>;

/**
 * What the gateway writes on the sightings topic: the sightings of one reading that go to one
 * partition (the partition Kafka's default partitioner gives each pseudonym, so every sighting of
 * a person still lands on one partition), in random order. One record per reading and partition
 * rather than one per sighting: each Kafka record costs the gateway, the broker and the processor
 * the same whatever it holds, and a reading brought 8 sightings on average (bench/results). What
 * the sightings share — source, epoch, device, slot — is written once. A record says no more than
 * its sightings did apart: they were already stamped with the same device and slot.
 */
export const SightingsRecordSchema = z.object({
  v: z.literal(2),
  source: z.enum(SIGHTING_SOURCES),
  epoch: SightingRecordSchema.shape.epoch,
  kind: z.enum(DEVICE_KINDS),
  deviceId,
  district: z.string().min(1),
  /** Start of the slot the sightings were in (ms). */
  ts: epochMs,
  sightings: z
    .array(z.object({ pseudonym: SightingRecordSchema.shape.pseudonym, speedKmh: SightingRecordSchema.shape.speedKmh }))
    .min(1)
    .max(500),
});
export type SightingsRecord = z.infer<typeof SightingsRecordSchema>;

/** The sightings a record of the sightings topic holds: a bundle (v2), or one sighting as gateways before it wrote them (v1). */
export const SightingsTopicRecordSchema = z.union([SightingsRecordSchema, SightingRecordSchema]);

/** The sightings of a parsed sightings-topic record, one SightingRecord each, in the record's order. */
export function sightingsOf(record: z.infer<typeof SightingsTopicRecordSchema>): SightingRecord[] {
  if (record.v === 1) return [record];
  const { source, epoch, kind, deviceId, district, ts } = record;
  return record.sightings.map(({ pseudonym, speedKmh }) => ({
    v: 1,
    source,
    pseudonym,
    epoch,
    kind,
    deviceId,
    district,
    ts,
    ...(speedKmh === undefined ? {} : { speedKmh }),
  }));
}

/** The sightings in a sightings-topic record's value, or undefined when it is not one. */
export function parseSightings(value: Buffer | string | null | undefined): SightingRecord[] | undefined {
  let json: unknown;
  try {
    json = JSON.parse(value?.toString() ?? '');
  } catch {
    return undefined;
  }
  const parsed = SightingsTopicRecordSchema.safeParse(json);
  return parsed.success ? sightingsOf(parsed.data) : undefined;
}

/** An anonymous aggregate over one tumbling window; becomes one InfluxDB point. */
export const AggregateRecordSchema = z.object({
  v: z.literal(1),
  measurement: z.string().regex(/^[a-z][a-z0-9_]*$/),
  tags: z.record(z.string(), z.string()),
  fields: z.record(z.string(), z.number()),
  windowStart: epochMs,
  windowEnd: epochMs,
});
export type AggregateRecord = z.infer<typeof AggregateRecordSchema>;

/** Environmental accumulator of one numeric field over a window: enough to merge and to summarize. */
const NumericAccumulatorSchema = z.object({ sum: z.number(), n: z.number().int().positive(), min: z.number(), max: z.number() });
const count = z.number().int().nonnegative();
/** Histogram bins (counts of people per bin); the bin layout is the anonymizer's (SPEED_BINS, TRAVEL_BINS, DWELL_BUCKETS). */
const bins = z.array(count).min(1).max(64);

const partialBase = {
  v: z.literal(1),
  windowStart: epochMs,
  windowEnd: epochMs,
  /**
   * The partition speaks for windows from here to `windowEnd`: windows of this series ending after
   * `coversFrom` and before `windowStart` had no records in it. 0 on the first partial of a partition
   * that was read from the beginning.
   */
  coversFrom: epochMs,
  /** The input topic and partition this partial summarizes. */
  topic: z.string().min(1).max(249),
  partition: z.number().int().nonnegative(),
};

/** One device's readings in one window of one input partition. */
export const DevicePartialSchema = z.object({
  deviceId,
  district: z.string().min(1),
  readings: z.number().int().positive(),
  /** Environmental numeric fields. */
  numeric: z.record(z.string(), NumericAccumulatorSchema),
  /** Environmental boolean fields: readings where the flag was true. */
  trues: z.record(z.string(), count),
  /** Person-derived fields (counts such as a loop's vehicles), summed. Released only through k and noise. */
  counts: z.record(z.string(), z.number()),
});

/** People assigned to one cell (device) in a window; vehicles also bring their speed histogram. */
export const CellPartialSchema = z.object({ deviceId, district: z.string().min(1), people: z.number().int().positive(), speedBins: bins.optional() });
/** Trips between two junctions that arrived in a window, as a histogram of travel times. */
export const TripPartialSchema = z.object({ from: deviceId, fromDistrict: z.string().min(1), to: deviceId, toDistrict: z.string().min(1), durationBins: bins });
/** People per dwell-time bucket at the cell where each stayed longest, over one epoch. */
export const DwellPartialSchema = z.object({ deviceId, district: z.string().min(1), buckets: bins });

/**
 * Stage 1 of the processor: the additive, non-individual figures of one window (or, for dwell
 * times, one pseudonym epoch) of one series in one input partition. No pseudonym and no
 * per-person value, but person-derived figures below k, so personal data: short TTL. The
 * releaser merges the partials of every partition and only then applies k, differencing, noise
 * and the ε ledger.
 */
export const WindowPartialRecordSchema = z.discriminatedUnion('type', [
  z.object({ ...partialBase, type: z.literal('readings'), kind: z.enum(DEVICE_KINDS), devices: z.array(DevicePartialSchema) }),
  z.object({
    ...partialBase,
    type: z.literal('sightings'),
    source: z.enum(SIGHTING_SOURCES),
    cells: z.array(CellPartialSchema),
    trips: z.array(TripPartialSchema),
  }),
  z.object({ ...partialBase, type: z.literal('dwell'), source: z.enum(SIGHTING_SOURCES), cells: z.array(DwellPartialSchema) }),
]);
export type WindowPartialRecord = z.infer<typeof WindowPartialRecordSchema>;
export type DevicePartial = z.infer<typeof DevicePartialSchema>;
export type CellPartial = z.infer<typeof CellPartialSchema>;
export type TripPartial = z.infer<typeof TripPartialSchema>;
export type DwellPartial = z.infer<typeof DwellPartialSchema>;

export const REJECT_REASONS = [
  'INVALID_TOPIC',
  'OVERSIZED',
  'NOT_JSON',
  'SCHEMA_VIOLATION',
  'UNKNOWN_DEVICE',
  'TOPIC_DEVICE_MISMATCH',
  'TIMESTAMP_IN_FUTURE',
  'TIMESTAMP_TOO_OLD',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** A message the gateway refused. `excerpt` is structure only: no value of the input survives. */
export const RejectedRecordSchema = z.object({
  v: z.literal(1),
  reason: z.enum(REJECT_REASONS),
  detail: z.string().max(500),
  topic: z.string().max(200),
  excerpt: z.string().max(1000),
  bytes: z.number().int().nonnegative(),
  receivedAt: epochMs,
});
export type RejectedRecord = z.infer<typeof RejectedRecordSchema>;

/** What the audit log records (guarantee P8). Closed list: a new kind of event is a reviewed change. */
export const AUDIT_EVENT_TYPES = [
  'policy.loaded',
  'policy.changed',
  'key.destroyed',
  'retention.deleted',
  'request.received',
  'request.refused',
  'request.answered',
  'route.refused',
  'export',
] as const;
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/** Longest string an audit event may carry: events are facts, not documents. */
export const AUDIT_MAX_STRING = 200;

const auditString = z.string().max(AUDIT_MAX_STRING);

/**
 * An event for the audit log, before it is hash-chained (packages/audit chains it). `data` is
 * small and flat; it never holds personal data or key material — @lethe/audit also refuses
 * values that look like a MAC address or a licence plate. The key `source` is reserved for
 * the Kafka position the audit log adds when it stores the event.
 */
export const AuditEventRecordSchema = z.object({
  v: z.literal(1),
  type: z.enum(AUDIT_EVENT_TYPES),
  /** The component that saw it happen, e.g. gateway, processor, writer, api. */
  actor: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'must be a component name like gateway'),
  at: epochMs,
  data: z.record(
    z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, 'must be an identifier like epochStart'),
    z.union([auditString, z.number(), z.boolean(), z.null(), z.array(auditString).max(32)]),
  ),
});
export type AuditEventRecord = z.infer<typeof AuditEventRecordSchema>;
