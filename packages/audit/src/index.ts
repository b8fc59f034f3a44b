// @lethe/audit — the accountability log (guarantee P8), pure and transport-free.
//
// An append-only, hash-chained log of what an auditor must be able to see: policy loaded or
// changed, pseudonym keys destroyed (never key material), retention deletions, refused and
// answered requests, exports. Each record holds the SHA-256 of the record before it, so
// altering, removing or reordering any record breaks a link that `verifyChain` (and
// `lethe audit verify <file>`) names; cutting records off the end is found by comparing with a
// head published earlier (`verifyAgainstHead`, `lethe audit verify <file> --head <hash>`).
// Events never hold personal data: `checkAuditEvent` refuses MAC addresses, licence plates
// and long strings before anything is chained.
//
// Wiring: the api owns the durable log (openFileAuditLog, services/api/src/main.ts) and stores
// the events other services publish on lethe.audit.v1 exactly once, resuming after the last
// topic offset the log holds (services/api/src/audit-topic-consumer.ts); the api's own events
// are appended directly, and its head is published so that truncation can be detected.
// The one-process demo and tests use createMemoryAuditLog() with the same AuditLog contract.
export { canonicalJson } from './canonical-json.ts';
export { chainRecord, GENESIS_HASH, recordHash, verifyAgainstHead, verifyChain } from './chain.ts';
export type { HashedContent } from './chain.ts';
export { AUDIT_ERROR_CODES, AuditError, isAuditError } from './errors.ts';
export type { AuditErrorCode } from './errors.ts';
export { AUDIT_MAX_DATA_KEYS, checkAuditEvent, personalDataKind } from './event-guard.ts';
export { openFileAuditLog } from './file-audit-log.ts';
export type { AuditFileSystem, FileAuditLog, FileAuditLogOptions, TornTailRepair } from './file-audit-log.ts';
export { formatRecordLine, verifyJsonLines } from './json-lines.ts';
export { appendFromTopic, formatSource, lastSourceOffset, parseSource, SOURCE_KEY, toAuditEventRecord } from './kafka-source.ts';
export type { SourcePosition } from './kafka-source.ts';
export { createMemoryAuditLog } from './memory-audit-log.ts';
export type { MemoryAuditLogOptions } from './memory-audit-log.ts';
export { AUDIT_EVENT_TYPES, BREAK_REASONS } from './types.ts';
export type { AuditEvent, AuditEventType, AuditHead, AuditLog, AuditRecord, BreakReason, VerifyResult } from './types.ts';
