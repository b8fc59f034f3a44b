// @lethe/audit — the accountability log (guarantee P8), pure and transport-free.
//
// An append-only, hash-chained log of what an auditor must be able to see: policy loaded or
// changed, pseudonym keys destroyed (never key material), retention deletions, refused and
// answered requests, exports. Each record holds the SHA-256 of the record before it, so
// altering, removing or reordering any record breaks a link that `AuditLog.verify()` and
// `verifyJsonLines` (`lethe audit verify <file>`) name; cutting records off the end is found by
// comparing with a head published earlier (`lethe audit verify <file> --head <hash>`).
// Events never hold personal data: the guard every append runs (event-guard.ts) refuses MAC
// addresses, licence plates and long strings before anything is chained.
//
// Wiring: the api owns the durable log (openFileAuditLog, services/api/src/main.ts) and stores
// the events other services publish on lethe.audit.v1 exactly once, resuming after the last
// topic offset the log holds (services/api/src/audit-topic-consumer.ts); the api's own events
// are appended directly, and its head is published so that truncation can be detected.
// The one-process demo and tests use createMemoryAuditLog() with the same AuditLog contract.
export { isAuditError } from './errors.ts';
export { personalDataKind } from './event-guard.ts';
export { openFileAuditLog } from './file-audit-log.ts';
export { verifyJsonLines } from './json-lines.ts';
export { appendFromTopic, lastSourceOffset, toAuditEventRecord } from './kafka-source.ts';
export { createMemoryAuditLog } from './memory-audit-log.ts';
export type { AuditEvent, AuditHead, AuditLog, AuditRecord } from './types.ts';
