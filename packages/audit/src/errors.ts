// Every way the audit log refuses, as a closed list of codes: callers branch on `code`, never
// on message text. Messages say what to do next.

export const AUDIT_ERROR_CODES = [
  /** The event breaks the shape of an audit event (unknown type, nested data, a too long string, …). */
  'INVALID_EVENT',
  /** A key or value of the event looks like personal data (a MAC address, a licence plate). */
  'PERSONAL_DATA',
  /** The stored chain does not verify; nothing more is appended until an operator has looked. */
  'BROKEN_CHAIN',
  /** The file's last line is incomplete (an append cut short by a crash). */
  'TORN_RECORD',
  /** A stored line is not a record. */
  'MALFORMED_RECORD',
  /** An earlier write or fsync failed: the file's end is unknown, so the log takes no more appends. */
  'LOG_FAILED',
  /** The log was closed. */
  'LOG_CLOSED',
] as const;
export type AuditErrorCode = (typeof AUDIT_ERROR_CODES)[number];

export class AuditError extends Error {
  readonly code: AuditErrorCode;
  constructor(code: AuditErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AuditError';
    this.code = code;
  }
}

export function isAuditError(err: unknown, code?: AuditErrorCode): err is AuditError {
  return err instanceof AuditError && (code === undefined || err.code === code);
}
