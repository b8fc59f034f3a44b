// The body of POST /v1/data-requests, checked against the vocabulary of @lethe/privacy and the
// catalogue. A person's identifier (a plate, a MAC, a pseudonym) may be sent — a requester will
// naturally name whom it asks about — but it is dropped here, unread: the request that goes on
// to the decision, the audit log, the metrics and the response holds only the identifier's
// kind. Problems name the api's own fields and allowed values, never what was sent.
import { INDIVIDUAL_DATA, OPEN_DATA_MEASUREMENTS, REQUEST_LEVELS, requestPurposes, SUBJECT_TYPES, type DataRequest, type Policy } from '@lethe/privacy';
import { z } from 'zod';
import type { Catalogue } from './catalogue.ts';
import { identifyingParams, valueCategory } from './identifying-params.ts';

export const DATA_REQUEST_FIELDS = ['subject', 'level', 'data', 'purpose', 'from', 'to'] as const;
export const DATA_NAMES = [...Object.keys(INDIVIDUAL_DATA), ...Object.keys(OPEN_DATA_MEASUREMENTS)];
const MAX_DATA = 20;

/** 400: the body is not a data request; 404: it names a district or device the city does not have. */
export type ParsedDataRequest = { ok: true; request: DataRequest } | { ok: false; status: 400 | 404; problems: string[] };

const isoTime = z.iso.datetime({ offset: true });

export function parseDataRequest(body: unknown, policy: Policy, catalogue: Catalogue): ParsedDataRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, status: 400, problems: [`(body): must be a JSON object with ${DATA_REQUEST_FIELDS.join(', ')}`] };
  }
  const input = body as Record<string, unknown>;
  const problems: string[] = [];
  /** Subjects the city does not have: the request is well-formed, its subject is not found. */
  const notFound: string[] = [];
  const unknown = Object.keys(input).filter((k) => !(DATA_REQUEST_FIELDS as readonly string[]).includes(k));
  if (unknown.length > 0)
    problems.push(`(body): ${unknown.length} unknown field${unknown.length > 1 ? 's' : ''}; the fields are ${DATA_REQUEST_FIELDS.join(', ')}`);

  let subject: DataRequest['subject'] | undefined;
  const s = input.subject;
  if (typeof s !== 'object' || s === null || Array.isArray(s))
    problems.push(`subject: is required, an object like {"type": "district", "id": "wan-chai"}; type is one of ${SUBJECT_TYPES.join(', ')}`);
  else {
    const { type, id, value, ...rest } = s as Record<string, unknown>;
    if (Object.keys(rest).length > 0)
      problems.push('subject: unknown fields; a subject has type, and id (device or district) or value (plate, mac, pseudonym)');
    if (typeof type !== 'string' || !(SUBJECT_TYPES as readonly string[]).includes(type))
      problems.push(`subject.type: must be one of ${SUBJECT_TYPES.join(', ')}`);
    else if (type === 'plate' || type === 'mac' || type === 'pseudonym') {
      // The identifier is not read, only checked to be a short string: it goes nowhere.
      if (id !== undefined) problems.push(`subject.id: a ${type} is given as subject.value`);
      if (value !== undefined && (typeof value !== 'string' || value.length > 200)) problems.push('subject.value: must be a string of at most 200 characters');
      subject = { type };
    } else if (type === 'city') {
      if (id !== undefined || value !== undefined) problems.push('subject: the city has no id');
      subject = { type };
    } else if (value !== undefined) problems.push(`subject.value: a ${type} is given as subject.id`);
    else if (type === 'district') {
      if (typeof id !== 'string') problems.push('subject.id: must be a district id like wan-chai (see /register)');
      else if (!catalogue.districts.some((d) => d.id === id)) notFound.push('subject.id: is not a district of the city (see /register)');
      else subject = { type, district: id };
    } else {
      const device = typeof id === 'string' ? catalogue.devices.get(id) : undefined;
      if (typeof id !== 'string' || !/^(LP|TL|SW)-\d{4}$/.test(id)) problems.push('subject.id: must be a device id of the fleet, like LP-0001');
      else if (!device) notFound.push('subject.id: is not a device of the fleet');
      else subject = { type: 'device', deviceId: id as string, kind: device.kind, district: device.district };
    }
  }

  const level = input.level;
  if (typeof level !== 'string' || !(REQUEST_LEVELS as readonly string[]).includes(level))
    problems.push(`level: is required, one of ${REQUEST_LEVELS.join(', ')}`);

  let data: string[] = [];
  if (input.data !== undefined) {
    if (!Array.isArray(input.data) || input.data.length > MAX_DATA) problems.push(`data: must be a list of at most ${MAX_DATA} names`);
    else {
      const bad = input.data.filter((d) => typeof d !== 'string' || !DATA_NAMES.includes(d)).length;
      if (bad > 0) problems.push(`data: ${bad} unknown name${bad > 1 ? 's' : ''}; names are ${DATA_NAMES.join(', ')}`);
      else data = [...new Set(input.data as string[])];
    }
  }

  const purposes = requestPurposes(policy);
  if (typeof input.purpose !== 'string' || !purposes.includes(input.purpose)) problems.push(`purpose: is required, one of ${purposes.join(', ')}`);

  const from = typeof input.from === 'string' && isoTime.safeParse(input.from).success ? Date.parse(input.from) : undefined;
  const to = typeof input.to === 'string' && isoTime.safeParse(input.to).success ? Date.parse(input.to) : undefined;
  if (from === undefined) problems.push('from: is required, an ISO 8601 time with offset like 2025-06-01T10:00:00Z');
  if (to === undefined) problems.push('to: is required, an ISO 8601 time with offset like 2025-06-01T11:00:00Z');
  // A range that ends before it starts is empty, not invalid: the schema cannot compare the two,
  // so the request is decided as it is (an answer's links then return no rows).

  if (problems.length > 0) return { ok: false, status: 400, problems };
  if (notFound.length > 0) return { ok: false, status: 404, problems: notFound };
  if (!subject || from === undefined || to === undefined) return { ok: false, status: 400, problems };
  return { ok: true, request: { subject, level: level as DataRequest['level'], data, purpose: input.purpose as string, from, to } };
}

const PERSON_SUBJECTS = new Set(['plate', 'mac', 'pseudonym']);

/**
 * What makes a data-request body individual-looking, in the api's words: a subject that is a
 * person's identifier (`body:plate`), the individual level, individual-level data asked for
 * (`body:movements`), a field named after an identifier, or a value shaped like one. Read
 * before validation, from whatever was sent; only these closed words leave this function.
 */
export function individualBodyCategories(body: unknown): string[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return [];
  const input = body as Record<string, unknown>;
  const categories = new Set<string>();
  const subject =
    typeof input.subject === 'object' && input.subject !== null && !Array.isArray(input.subject) ? (input.subject as Record<string, unknown>) : {};
  if (typeof subject.type === 'string' && PERSON_SUBJECTS.has(subject.type)) categories.add(`body:${subject.type}`);
  if (input.level === 'individual') categories.add('body:individual');
  if (Array.isArray(input.data)) for (const d of input.data) if (typeof d === 'string' && Object.hasOwn(INDIVIDUAL_DATA, d)) categories.add(`body:${d}`);
  const keys = [
    ...Object.keys(input).filter((k) => !(DATA_REQUEST_FIELDS as readonly string[]).includes(k)),
    ...Object.keys(subject).filter((k) => !['type', 'id', 'value'].includes(k)),
  ];
  for (const name of identifyingParams(keys)) categories.add(`body:${name}`);
  for (const [key, value] of [...Object.entries(input), ...Object.entries(subject)]) {
    // subject.value is where a person's identifier belongs; it is counted by the subject's type above.
    if (key === 'value' || typeof value !== 'string') continue;
    const kind = valueCategory(value);
    if (kind) categories.add(`value:${kind}`);
  }
  return [...categories].sort();
}
