// The accountability log's public shape (guarantee P8). Records are append-only and hash-
// chained: each carries the hash of the one before, so altering, removing or reordering any
// record breaks every link after it, and `verify` names the first broken one. Records hold
// what happened (a policy change, a key destroyed, data deleted by retention, a refused
// request, an export) but never personal data and never key material.
import { AUDIT_EVENT_TYPES, type AuditEventType } from '@lethe/schemas';

/** What can be recorded. Closed list: a new kind of event is a reviewed change. Defined in
 * @lethe/schemas, next to the Kafka record that carries events to the log. */
export { AUDIT_EVENT_TYPES, type AuditEventType };

/** An event before it is chained. `data` is small, flat and free of personal data. */
export interface AuditEvent {
  type: AuditEventType;
  /** The component that saw it happen: gateway, processor, writer, api. */
  actor: string;
  /** When it happened (ms since the epoch). */
  at: number;
  /** Keys are identifiers; `source` is reserved for the Kafka position (see appendFromTopic). */
  data: Record<string, string | number | boolean | null | string[]>;
}

/** A chained record as stored: the event, its position, the previous hash and its own. */
export interface AuditRecord extends AuditEvent {
  /** 0, 1, 2, … without gaps. */
  seq: number;
  /** Hex SHA-256 of the previous record (64 zeros for the first). */
  prev: string;
  /** Hex SHA-256 over the canonical JSON of every other field of this record. */
  hash: string;
}

/** The newest record's position and hash: publish it, and truncation becomes detectable. */
export interface AuditHead {
  seq: number;
  hash: string;
}

/** Why verification stopped. Closed list, so callers (the CLI, the api) can act on it. */
export const BREAK_REASONS = [
  /** The record was edited: its hash does not match its content, or its stored line is not the one the log wrote. */
  'altered',
  /** Records before this one are missing (its seq jumps and its prev matches nothing before it). */
  'removed',
  /** This record is not where it was written: a record it should follow comes later, or it repeats. */
  'reordered',
  /** Its prev is not the previous record's hash, its seq is right: the record before it was replaced, or this one forged. */
  'unlinked',
  /** It links correctly but its seq is not previous + 1. */
  'out-of-sequence',
  /** Not a record: not JSON, or missing, extra or mistyped fields. */
  'malformed',
  /** The last line is incomplete: an append was cut short (a crash); it was never acknowledged. */
  'torn',
  /** The chain is intact but ends before a published head: records were cut off the end (or, given a hash alone, the log was rewritten). */
  'truncated',
  /** The chain is intact but the record at a published head's seq has another hash: the log was rewritten. */
  'rewritten',
] as const;
export type BreakReason = (typeof BREAK_REASONS)[number];

export type VerifyResult =
  | { ok: true; records: number; head: string }
  /** `index` is the position in the file (0-based) of the first record that does not link. */
  | { ok: false; records: number; index: number; seq: number | null; reason: BreakReason; problem: string };

export interface AuditLog {
  /** Chains and durably stores the event (fsync) before resolving. */
  append(event: AuditEvent): Promise<AuditRecord>;
  /** Every record, oldest first. */
  records(): Promise<AuditRecord[]>;
  /** Hash of the newest record: publish it, and truncation of the tail becomes detectable too. */
  head(): Promise<AuditHead | undefined>;
  /** Verifies what is stored now (for a file log: what is on disk, not what was written). */
  verify(): Promise<VerifyResult>;
}
