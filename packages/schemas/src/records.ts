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

/** One sighting of a pseudonymous phone or vehicle at a device; personal data. */
export const SightingRecordSchema = z.object({
  v: z.literal(1),
  source: z.enum(SIGHTING_SOURCES),
  pseudonym: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/),
  epoch: z.number().int().nonnegative(),
  kind: z.enum(DEVICE_KINDS),
  deviceId,
  district: z.string().min(1),
  seq: z.number().int().nonnegative(),
  index: z.number().int().nonnegative(),
  ts: epochMs,
  speedKmh: z.number().min(0).max(250).optional(),
});
export type SightingRecord = z.infer<typeof SightingRecordSchema>;

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
