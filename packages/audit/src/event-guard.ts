// The gate every event passes before it is chained: the shape of an audit event (the same zod
// schema as the Kafka record, without its version) and a guard against personal data.
//
// The guard is a net, not a proof. Events are written by our own code with fixed, non-personal
// fields (a kind, an epoch, a reason code, a policy hash); the guard catches a mistake such as
// passing a raw sighting's MAC or plate into `data`, and it keeps free text short. It refuses
// (throws) instead of redacting, so the mistake is seen at once and nothing is half-recorded:
//   - a key or string value containing a MAC address (colon, dash or dotted notation), the
//     pattern of packages/schemas/src/readings.ts widened to match inside a string;
//   - a key or string value that is entirely a licence plate (PLATE_PATTERN of readings.ts)
//     with at least one letter and one digit, so codes like EXPIRED or OUT_OF_PURPOSE pass;
//   - strings longer than AUDIT_MAX_STRING (200) characters, more than 32 keys, nested values.
// Error messages never repeat the offending value: it may be the very thing we refuse to store.
import { AUDIT_MAX_STRING, AuditEventRecordSchema, MAC_PATTERN, PLATE_PATTERN } from '@lethe/schemas';
import { AuditError } from './errors.ts';
import type { AuditEvent } from './types.ts';

/** Most keys an event's data may have. */
export const AUDIT_MAX_DATA_KEYS = 32;

const EventSchema = AuditEventRecordSchema.omit({ v: true }).strict();
const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
// MAC_PATTERN without its anchors, with dashes too, plus the dotted form (0200.5e10.0001).
const MAC_INSIDE = new RegExp(`${MAC_PATTERN.source.replace(/^\^|\$$/g, '').replaceAll(':', '[:-]')}|[0-9A-Fa-f]{4}\\.[0-9A-Fa-f]{4}\\.[0-9A-Fa-f]{4}`);

/** What a string looks like, if it looks like personal data. */
export function personalDataKind(text: string): 'a MAC address' | 'a licence plate' | undefined {
  if (MAC_INSIDE.test(text)) return 'a MAC address';
  if (PLATE_PATTERN.test(text) && /[A-Z]/.test(text) && /[0-9]/.test(text)) return 'a licence plate';
  return undefined;
}

/** A readable name for a data key that is safe to print (the key itself may be the problem). */
const keyName = (key: string, index: number) => (IDENTIFIER.test(key) && !personalDataKind(key) ? `data.${key}` : `data key #${index + 1}`);

/**
 * Returns a copy of the event that is safe to chain, or throws an AuditError with code
 * PERSONAL_DATA or INVALID_EVENT. The copy is what gets recorded, so changing the caller's
 * object afterwards changes nothing.
 */
export function checkAuditEvent(event: unknown): AuditEvent {
  const data = typeof event === 'object' && event !== null ? (event as { data?: unknown }).data : undefined;
  // Personal data first, before any message could mention a key or value.
  if (typeof data === 'object' && data !== null) {
    Object.entries(data).forEach(([key, value], index) => {
      const inKey = personalDataKind(key);
      if (inKey) throw new AuditError('PERSONAL_DATA', `${keyName(key, index)}: the key looks like ${inKey}; audit events must never hold personal data`);
      for (const text of Array.isArray(value) ? value : [value]) {
        const inValue = typeof text === 'string' ? personalDataKind(text) : undefined;
        if (inValue)
          throw new AuditError('PERSONAL_DATA', `${keyName(key, index)}: the value looks like ${inValue}; audit events must never hold personal data`);
      }
    });
  }
  const parsed = EventSchema.safeParse(event);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const [first, second] = issue.path;
      const where =
        first === 'data' && typeof second === 'string' ? keyName(second, Object.keys(data as object).indexOf(second)) : issue.path.join('.') || '(event)';
      return `${where}: ${issue.message}`;
    });
    throw new AuditError('INVALID_EVENT', `Not a valid audit event: ${problems.join('; ')} (strings at most ${AUDIT_MAX_STRING} characters, values flat)`);
  }
  const keys = Object.keys(parsed.data.data);
  if (keys.length > AUDIT_MAX_DATA_KEYS) {
    throw new AuditError('INVALID_EVENT', `Not a valid audit event: data has ${keys.length} keys, at most ${AUDIT_MAX_DATA_KEYS}; record facts, not documents`);
  }
  const { type, actor, at } = parsed.data;
  const copy: AuditEvent['data'] = {};
  for (const [key, value] of Object.entries(parsed.data.data)) copy[key] = Array.isArray(value) ? [...value] : value;
  return { type, actor, at, data: copy };
}
