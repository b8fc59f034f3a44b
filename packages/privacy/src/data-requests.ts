// The surveillance intermediary's decision on a data request (guarantee P6). Lethe answers
// requests for anonymous aggregates that serve a purpose of the policy, with links into the
// open data; it refuses every request for individual-level or raw data, and says why, with
// every reason that applies:
//   OUT_OF_PURPOSE  the policy's purposes never include tracking or identifying a person, and
//                   a request whose purpose is not in the policy is refused whatever it asks;
//   NOT_COLLECTED   the data asked for is a field the gateway drops (camera images, SSIDs,
//                   signal strength…), a raw message, or a raw identifier (a plate, a MAC):
//                   identifiers are pseudonymized before anything is stored. Said exactly:
//                   no record holds the identifier, but until the current epoch's key is
//                   destroyed (epoch end + key grace) whoever holds that key (the gateway, or
//                   the keyring serving several) could recompute its pseudonym and find the
//                   epoch's records; after that nothing links it to any record;
//   EXPIRED         part of the time range is older than the raw-data TTL (for aggregates:
//                   the whole range is older than the aggregates' retention);
//   UNLINKABLE      the range reaches beyond the current pseudonym epoch: earlier keys are
//                   destroyed (later ones do not exist yet), so pseudonyms can neither be tied
//                   to an identifier nor to each other across epochs.
// Pure: the caller passes the clock. A requested plate or MAC is never part of the input —
// only the kind of identifier — so nothing here can echo one.
import { DEVICE_KINDS, type DeviceKind } from '@lethe/schemas';
import { formatDuration } from './duration.ts';
import type { Policy } from './policy.ts';

export const REFUSAL_REASONS = ['NOT_COLLECTED', 'EXPIRED', 'UNLINKABLE', 'OUT_OF_PURPOSE'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** Whom or what a request is about. `plate`, `mac` and `pseudonym` always mean one person. */
export const SUBJECT_TYPES = ['plate', 'mac', 'pseudonym', 'device', 'district', 'city'] as const;
export type SubjectType = (typeof SUBJECT_TYPES)[number];

export const REQUEST_LEVELS = ['individual', 'aggregate'] as const;
export type RequestLevel = (typeof REQUEST_LEVELS)[number];

/**
 * Individual-level or raw data a request can name, and the policy fields that hold it
 * (`kind:field`). A category whose fields the gateway drops, or only keeps pseudonymized,
 * was never collected in the form asked for.
 */
export const INDIVIDUAL_DATA = {
  /** Where a person or vehicle went: per-person sightings, kept under epoch pseudonyms for the TTL. */
  movements: { fields: [], raw: false },
  /** Records of people at a device: the same pseudonymous sightings. */
  sightings: { fields: [], raw: false },
  /** Who someone is: the raw plate or MAC behind a sighting. */
  identity: { fields: ['traffic-light:plateReads.plate', 'lamppost:wifiProbes.mac'], raw: false },
  /** Sensor messages as the devices sent them, before minimization. */
  'raw-readings': { fields: [], raw: true },
  /** Camera images of vehicles. */
  images: { fields: ['traffic-light:plateReads.imageRef'], raw: false },
  /** Names of the Wi-Fi networks a phone asks for. */
  'wifi-networks': { fields: ['lamppost:wifiProbes.ssids'], raw: false },
  /** Radio signal strength of a phone. */
  'signal-strength': { fields: ['lamppost:wifiProbes.rssi'], raw: false },
  /** One vehicle's speed at a plate read. */
  'vehicle-speeds': { fields: ['traffic-light:plateReads.speedKmh'], raw: false },
  /** Mean speeds reported by the loops. */
  'loop-speeds': { fields: ['traffic-light:meanSpeedKmh'], raw: false },
} as const satisfies Record<string, { fields: readonly string[]; raw: boolean }>;
export type IndividualData = keyof typeof INDIVIDUAL_DATA;

/**
 * Measurements of the open data and the kind of sensor each comes from: every kind's own
 * readings, and the person-derived figures the anonymizer releases.
 */
export const OPEN_DATA_MEASUREMENTS = {
  lamppost: { kind: 'lamppost', personDerived: false },
  traffic_light: { kind: 'traffic-light', personDerived: false },
  sewer: { kind: 'sewer', personDerived: false },
  pedestrians: { kind: 'lamppost', personDerived: true },
  dwell: { kind: 'lamppost', personDerived: true },
  vehicles: { kind: 'traffic-light', personDerived: true },
  travel_times: { kind: 'traffic-light', personDerived: true },
} as const satisfies Record<string, { kind: DeviceKind; personDerived: boolean }>;
export type OpenDataMeasurement = keyof typeof OPEN_DATA_MEASUREMENTS;

/**
 * Purposes a requester may state besides the policy's own. A closed list, so what the audit log
 * and the transparency report show is one of these words and never free text (which could carry
 * an identifier). None of them is a purpose of the policy.
 */
export const OTHER_PURPOSES = [
  'criminal-investigation',
  'immigration-enforcement',
  'national-security',
  'civil-litigation',
  'insurance',
  'marketing',
  'journalism',
  'research',
  'other',
] as const;

export type DataRequestSubject =
  | { type: 'plate' | 'mac' | 'pseudonym' | 'city' }
  | { type: 'district'; district: string }
  | { type: 'device'; deviceId: string; kind: DeviceKind; district: string };

export interface DataRequest {
  subject: DataRequestSubject;
  /** What the requester says it wants; a person's identifier or individual data makes it individual whatever it says. */
  level: RequestLevel;
  /** Names from INDIVIDUAL_DATA or OPEN_DATA_MEASUREMENTS; empty: everything about the subject. */
  data: readonly string[];
  /** A purpose of the policy or one of OTHER_PURPOSES. */
  purpose: string;
  /** Time range, ms since the epoch, [from, to). */
  from: number;
  to: number;
}

export interface RefusalDetail {
  reason: RefusalReason;
  explanation: string;
}

export type DataRequestDecision =
  | { decision: 'refused'; level: RequestLevel; reasons: RefusalReason[]; details: RefusalDetail[] }
  | { decision: 'answered'; level: 'aggregate'; from: 'open-data'; links: string[]; notes: string[] };

export interface DecideOptions {
  policy: Policy;
  now: number;
  /**
   * How long after its epoch a pseudonym key still exists for late records (default: the
   * policy's `rawData.keyGrace`): during it the previous epoch is not yet unlinkable.
   */
  keyGraceMs?: number;
  /** Path of the open-data endpoint the links point to. */
  aggregatesPath?: string;
}

const PERSON_SUBJECTS: ReadonlySet<SubjectType> = new Set(['plate', 'mac', 'pseudonym']);
/** The policy field holding the raw identifier a subject type names. */
const SUBJECT_IDENTIFIER: Partial<Record<SubjectType, { kind: DeviceKind; field: string }>> = {
  plate: { kind: 'traffic-light', field: 'plateReads.plate' },
  mac: { kind: 'lamppost', field: 'wifiProbes.mac' },
};

export function isIndividualData(name: string): name is IndividualData {
  return Object.hasOwn(INDIVIDUAL_DATA, name);
}

export function isOpenDataMeasurement(name: string): name is OpenDataMeasurement {
  return Object.hasOwn(OPEN_DATA_MEASUREMENTS, name);
}

/** Every purpose of the policy, over all kinds of sensor. */
export function policyPurposes(policy: Policy): string[] {
  return [...new Set(DEVICE_KINDS.flatMap((k) => policy.kinds[k].purposes))].sort();
}

/** Purposes a request may state: the policy's and OTHER_PURPOSES. */
export function requestPurposes(policy: Policy): string[] {
  return [...new Set([...policyPurposes(policy), ...OTHER_PURPOSES])];
}

/** Individual when the subject is a person or any individual data is asked for, whatever the requester says. */
export function effectiveLevel(request: Pick<DataRequest, 'subject' | 'level' | 'data'>): RequestLevel {
  if (request.level === 'individual' || PERSON_SUBJECTS.has(request.subject.type) || request.data.some(isIndividualData)) return 'individual';
  return 'aggregate';
}

/** Kinds whose per-person records the request concerns: those with pseudonymized fields, narrowed by the subject. */
function personalKinds(policy: Policy, subject: DataRequestSubject): DeviceKind[] {
  const withPseudonyms = DEVICE_KINDS.filter((k) => Object.values(policy.kinds[k].fields).some((f) => f.treatment === 'pseudonymize'));
  const identifier = SUBJECT_IDENTIFIER[subject.type];
  if (identifier) return [identifier.kind];
  if (subject.type === 'device') return withPseudonyms.filter((k) => k === subject.kind);
  return withPseudonyms;
}

function fieldTreatment(policy: Policy, ref: string): string | undefined {
  const [kind, field] = ref.split(':') as [DeviceKind, string];
  return policy.kinds[kind]?.fields[field]?.treatment;
}

/** A time as the refusal texts show it: UTC, to the second. */
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function refuseIndividual(request: DataRequest, { policy, now, keyGraceMs = policy.rawData.keyGrace }: DecideOptions): RefusalDetail[] {
  const details: RefusalDetail[] = [];
  const purposes = policyPurposes(policy);
  const ttl = formatDuration(policy.rawData.ttl);

  details.push({
    reason: 'OUT_OF_PURPOSE',
    explanation: purposes.includes(request.purpose)
      ? `Individual-level data serves none of the policy's purposes (${purposes.join(', ')}): they are met with anonymous aggregates, and tracking or identifying a person is not among them.`
      : `The stated purpose is not one of the policy's (${purposes.join(', ')}), and tracking or identifying a person is none of them.`,
  });

  const notCollected: string[] = [];
  const identifier = SUBJECT_IDENTIFIER[request.subject.type];
  if (identifier && fieldTreatment(policy, `${identifier.kind}:${identifier.field}`) !== 'keep') {
    const what = request.subject.type === 'plate' ? 'licence plate' : 'MAC address';
    const epoch = policy.kinds[identifier.kind].epoch;
    const current = Math.floor(now / epoch) * epoch;
    // The previous epoch's key may still be alive, for late records.
    const oldestKey = now - current < keyGraceMs ? current - epoch : current;
    notCollected.push(
      `a raw ${what} is replaced by a pseudonym at the gateway and never stored, so no record holds it. ` +
        `What can and cannot be found by it, and when: pseudonyms change every ${formatDuration(epoch)}, and each period's key is destroyed ${formatDuration(keyGraceMs)} after the period ends (for records still in flight). ` +
        `Until then (for records made since ${iso(oldestKey)}, until ${iso(current + epoch + keyGraceMs)} at the latest), whoever holds that key — the gateway, or the keyring that serves several gateways — could recompute this ${what}'s pseudonym and find that period's records, as an insider could; Lethe does not do that for anyone. ` +
        `Once a period's key is destroyed, nothing links the ${what} to any record of that period`,
    );
  }
  const kinds = personalKinds(policy, request.subject);
  if (request.subject.type === 'device' && kinds.length === 0) {
    notCollected.push(`a ${request.subject.kind} sensor sees no personal data`);
  }
  for (const name of request.data.filter(isIndividualData)) {
    const category = INDIVIDUAL_DATA[name];
    if (category.raw) notCollected.push('raw sensor messages are minimized at the gateway and never stored as sent');
    else if (category.fields.length > 0 && category.fields.every((f) => fieldTreatment(policy, f) !== 'keep')) {
      notCollected.push(
        `${name} ${category.fields.every((f) => fieldTreatment(policy, f) === 'drop') ? 'are dropped at the gateway and never forwarded or stored' : 'are never stored in raw form'}`,
      );
    }
  }
  if (notCollected.length > 0) details.push({ reason: 'NOT_COLLECTED', explanation: `Lethe never collected this: ${[...new Set(notCollected)].join('; ')}.` });

  if (request.from < now - policy.rawData.ttl) {
    details.push({
      reason: 'EXPIRED',
      explanation: `Per-person records are deleted ${ttl} after they are made; part of the time range is older than that, and nothing of it is left.`,
    });
  }

  for (const kind of kinds) {
    const epoch = policy.kinds[kind].epoch;
    const current = Math.floor(now / epoch) * epoch;
    // The previous epoch's key survives its epoch by the grace period, for late records.
    const linkableFrom = now - current < keyGraceMs ? current - epoch : current;
    if (request.from < linkableFrom || request.to > current + epoch) {
      details.push({
        reason: 'UNLINKABLE',
        explanation:
          `Pseudonyms change every ${formatDuration(epoch)} and each period's key is destroyed ${formatDuration(keyGraceMs)} after the period ends. ` +
          `The time range reaches ${request.from < linkableFrom ? `before ${iso(linkableFrom)}, whose keys are destroyed: no one can tie those records to an identifier or to each other any more` : ''}` +
          `${request.from < linkableFrom && request.to > current + epoch ? ', and ' : ''}` +
          `${request.to > current + epoch ? `past ${iso(current + epoch)}, whose keys do not exist yet and will give every identifier new pseudonyms` : ''}.`,
      });
      break;
    }
  }
  return details;
}

/** Decides a data request: refused with every reason that applies, or answered with open-data links. */
export function decideDataRequest(request: DataRequest, options: DecideOptions): DataRequestDecision {
  const { policy, now, aggregatesPath = '/v1/aggregates' } = options;
  const level = effectiveLevel(request);
  const refused = (details: RefusalDetail[]): DataRequestDecision => {
    const ordered = REFUSAL_REASONS.flatMap((r) => details.filter((d) => d.reason === r));
    return { decision: 'refused', level, reasons: ordered.map((d) => d.reason), details: ordered };
  };
  if (level === 'individual') return refused(refuseIndividual(request, options));

  const purposes = policyPurposes(policy);
  const notes: string[] = [];
  if (!purposes.includes(request.purpose)) {
    return refused([{ reason: 'OUT_OF_PURPOSE', explanation: `The stated purpose is not one of the policy's (${purposes.join(', ')}).` }]);
  }
  const { subject } = request;
  // Measurements asked for, or every one the subject has.
  const asked = request.data.filter(isOpenDataMeasurement);
  const candidates: OpenDataMeasurement[] =
    asked.length > 0
      ? asked
      : (Object.keys(OPEN_DATA_MEASUREMENTS) as OpenDataMeasurement[]).filter(
          (m) => subject.type !== 'device' || OPEN_DATA_MEASUREMENTS[m].kind === subject.kind,
        );
  const serving = candidates.filter((m) => policy.kinds[OPEN_DATA_MEASUREMENTS[m].kind].purposes.includes(request.purpose));
  const outside = candidates.filter((m) => !serving.includes(m));
  if (serving.length === 0 || (asked.length > 0 && outside.length > 0)) {
    return refused([
      {
        reason: 'OUT_OF_PURPOSE',
        explanation: `The stated purpose is not a purpose of the sensors behind ${(serving.length === 0 ? candidates : outside).join(', ')}.`,
      },
    ]);
  }

  const retentionStart = now - policy.aggregates.retention;
  if (request.to <= retentionStart) {
    return refused([
      { reason: 'EXPIRED', explanation: `Aggregates are kept for ${formatDuration(policy.aggregates.retention)}; the whole time range is older than that.` },
    ]);
  }
  const start = Math.max(request.from, retentionStart);
  if (start > request.from)
    notes.push(`Aggregates are kept for ${formatDuration(policy.aggregates.retention)}: the links start at ${new Date(start).toISOString()}.`);

  const links = serving.map((measurement) => {
    const q = new URLSearchParams({ measurement });
    const personDerived = OPEN_DATA_MEASUREMENTS[measurement].personDerived;
    if (subject.type === 'device') {
      // Environmental readings are published per device; person-derived figures per cell of the device's district.
      if (personDerived) {
        if (measurement !== 'travel_times') q.set('scope', 'cell');
        q.set('district', subject.district);
      } else q.set('device', subject.deviceId);
    } else {
      // Dwell times are published per cell only (a district's would need its own k and noise).
      if (measurement !== 'travel_times') q.set('scope', measurement === 'dwell' ? 'cell' : 'district');
      if (subject.type === 'district') q.set('district', subject.district);
    }
    q.set('start', new Date(start).toISOString());
    q.set('stop', new Date(request.to).toISOString());
    return `${aggregatesPath}?${q.toString()}`;
  });
  if (subject.type === 'device' && serving.some((m) => OPEN_DATA_MEASUREMENTS[m].personDerived)) {
    notes.push('Figures about people are published per cell and district, not queried per device.');
  }
  return { decision: 'answered', level: 'aggregate', from: 'open-data', links, notes };
}
