// The open-data query: parameters of GET /v1/aggregates, checked against the catalogue.
// Four outcomes: a query; 400 with every problem listed (a parameter is malformed — the OpenAPI
// validator finds these first, this is the same rule for direct callers); 404 when the query is
// well-formed but names a figure the open data does not have (a field of another measurement,
// a district or device the city does not have, a scope the measurement is not published at);
// or 403 when a parameter asks for individual-level data (a plate, a MAC, a pseudonym, people
// per device). A schema-valid query is never 400: a range that ends before it starts is empty,
// one longer than the retention starts at the retention, a window that is not a whole multiple
// of the stored window is rounded up to one, and `aggregate` without `window` has nothing to
// combine. Problems never repeat what the caller sent — only parameter names the api defines
// and the values it allows — so a plate typed into the wrong parameter is not echoed back.
import { formatDuration, parseDuration } from '@lethe/privacy';
import { WINDOW_AGGREGATES, type AggregateQuery } from './aggregate-store.ts';
import type { Catalogue } from './catalogue.ts';
import { identifyingParams } from './identifying-params.ts';

export const AGGREGATE_PARAMS = ['measurement', 'scope', 'district', 'device', 'field', 'start', 'stop', 'window', 'aggregate', 'limit', 'cursor'] as const;
export const DEFAULT_LIMIT = 1000;
export const MAX_LIMIT = 10_000;
/** Default time range when `start` is not given. */
export const DEFAULT_RANGE_MS = 3_600_000;

const RELATIVE = /^-(\d{1,6})(s|m|h|d)$/;

export type ParsedAggregatesQuery =
  | { ok: true; query: AggregateQuery }
  | { ok: false; status: 400 | 404; problems: string[] }
  | { ok: false; status: 403; params: string[]; explanation: string };

/** RFC 3339 date-time (the schema's `format: date-time`), leap second allowed. */
const DATE_TIME = /^(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(\.\d+)?([Zz]|[+-]\d\d:\d\d)$/;

/** `2025-06-01T10:00:00Z` or a duration before now like `-15m`; undefined if neither. */
export function parseTime(value: string, now: number): number | undefined {
  const relative = RELATIVE.exec(value);
  if (relative) return now - parseDuration(`${relative[1]}${relative[2]}`);
  if (!DATE_TIME.test(value)) return undefined;
  // A leap second (:60) is read as the last millisecond of its minute; JavaScript has none.
  const leap = /:60(\.\d+)?([Zz]|[+-]\d\d:\d\d)$/.test(value);
  const ms = Date.parse((leap ? value.replace(/:60(\.\d+)?(?=([Zz]|[+-]\d\d:\d\d)$)/, ':59.999') : value).toUpperCase().replace(' ', 'T'));
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * The page cursor is the row offset, in decimal, at most 8 digits (the schema's pattern): any
 * cursor the schema allows is a page, one past the end an empty one.
 */
export function encodeCursor(offset: number): string {
  return String(offset);
}

function decodeCursor(value: string): number | undefined {
  return /^\d{1,8}$/.test(value) ? Number(value) : undefined;
}

/** The longest unit that divides `ms` (5m, 2h, 90s): the document's window pattern has whole seconds at least. */
const windowText = (ms: number): string => formatDuration(Math.ceil(ms / 1000) * 1000);

export function parseAggregatesQuery(input: Record<string, unknown>, catalogue: Catalogue, now: number): ParsedAggregatesQuery {
  const forbidden = identifyingParams(Object.keys(input));
  if (forbidden.length > 0) {
    return {
      ok: false,
      status: 403,
      params: forbidden,
      explanation:
        'The open data holds anonymous aggregates only: nothing can be looked up by a licence plate, a MAC address, a pseudonym or any other identifier of a person.',
    };
  }
  const problems: string[] = [];
  const params: Record<string, string> = {};
  const unknown = Object.keys(input).filter((k) => !(AGGREGATE_PARAMS as readonly string[]).includes(k));
  if (unknown.length > 0)
    problems.push(`unknown parameter${unknown.length > 1 ? 's' : ''} (${unknown.length}); the parameters are ${AGGREGATE_PARAMS.join(', ')}`);
  for (const name of AGGREGATE_PARAMS) {
    const value = input[name];
    if (value === undefined) continue;
    // The validator may have read a number (limit) already.
    if (typeof value === 'number') params[name] = String(value);
    else if (typeof value !== 'string') problems.push(`${name}: give it once, as a single value`);
    else params[name] = value;
  }
  const notFound: string[] = [];

  const measurementName = params.measurement === 'traffic-light' ? 'traffic_light' : params.measurement;
  const info =
    measurementName !== undefined && Object.hasOwn(catalogue.measurements, measurementName)
      ? catalogue.measurements[measurementName as keyof Catalogue['measurements']]
      : undefined;
  if (params.measurement === undefined) problems.push(`measurement: is required, one of ${Object.keys(catalogue.measurements).join(', ')}`);
  else if (!info) problems.push(`measurement: must be one of ${Object.keys(catalogue.measurements).join(', ')}`);

  if (info && params.device !== undefined && info.personDerived) {
    return {
      ok: false,
      status: 403,
      params: ['device'],
      explanation: `${info.name} counts people: it is published per cell and per district, never looked up by device, so that no query can follow what one sensor saw of people.`,
    };
  }

  if (params.scope !== undefined && info) {
    if (!['device', 'district', 'cell'].includes(params.scope)) problems.push('scope: must be one of device, district, cell');
    else if (info.scopes.length === 0) notFound.push(`scope: ${info.name} has no scope`);
    else if (!info.scopes.includes(params.scope)) notFound.push(`scope: must be one of ${info.scopes.join(', ')} for ${info.name}`);
  }
  if (params.district !== undefined) {
    if (!/^[a-z][a-z-]*$/.test(params.district)) problems.push('district: must be a district id like wan-chai (see /register)');
    else if (!catalogue.districts.some((d) => d.id === params.district)) notFound.push('district: is not a district of the city (see /register)');
  }
  if (params.device !== undefined) {
    const device = catalogue.devices.get(params.device);
    if (!/^(LP|TL|SW)-\d{4}$/.test(params.device)) problems.push('device: must be a device id of the fleet, like LP-0001');
    else if (!device) notFound.push('device: is not a device of the fleet');
    else if (info && device.kind !== info.kind) notFound.push(`device: is not a ${info.kind} device`);
  }
  if (params.field !== undefined && info) {
    if (!/^[a-z0-9_]+$/.test(params.field)) problems.push(`field: must be one of ${info.fields.join(', ')}`);
    else if (!info.fields.includes(params.field)) notFound.push(`field: is not a field of ${info.name}; its fields are ${info.fields.join(', ')}`);
  }

  const start = params.start === undefined ? now - DEFAULT_RANGE_MS : parseTime(params.start, now);
  const stop = params.stop === undefined ? now : parseTime(params.stop, now);
  if (start === undefined) problems.push('start: must be an ISO 8601 time with offset (2025-06-01T10:00:00Z) or a duration before now (-15m, -2h, -1d)');
  if (stop === undefined) problems.push('stop: must be an ISO 8601 time with offset (2025-06-01T10:00:00Z) or a duration before now (-15m, -2h, -1d)');
  // Nothing older than the retention is kept: a longer range starts there.
  const from = start !== undefined && stop !== undefined && stop - start > catalogue.retentionMs ? stop - catalogue.retentionMs : start;

  let window: AggregateQuery['window'];
  if (params.window !== undefined) {
    let ms: number | undefined;
    try {
      ms = /^[1-9]\d{0,5}(s|m|h|d)$/.test(params.window) ? parseDuration(params.window) : undefined;
    } catch {
      ms = undefined;
    }
    if (ms === undefined) problems.push('window: must be a duration like 5m, 1h or 1d');
    else if (info) {
      // Rounded up to a whole multiple of the stored window; the answer's query.window says what was used.
      const whole = Math.max(1, Math.ceil(ms / info.windowMs)) * info.windowMs;
      window = { text: whole === ms ? params.window : windowText(whole), ms: whole };
    }
  }
  // Without window the stored figures are served as they are: aggregate has nothing to combine.
  const aggregate = params.aggregate ?? 'mean';
  if (!(WINDOW_AGGREGATES as readonly string[]).includes(aggregate)) problems.push(`aggregate: must be one of ${WINDOW_AGGREGATES.join(', ')}`);

  let limit = DEFAULT_LIMIT;
  if (params.limit !== undefined) {
    limit = /^\d{1,6}$/.test(params.limit) ? Number(params.limit) : NaN;
    if (!(limit >= 1 && limit <= MAX_LIMIT)) problems.push(`limit: must be a whole number from 1 to ${MAX_LIMIT}`);
  }
  const offset = params.cursor === undefined ? 0 : decodeCursor(params.cursor);
  if (offset === undefined) problems.push("cursor: is not a cursor this api made; use the page's `next` link as it is");

  if (problems.length > 0 || !info || from === undefined || stop === undefined || offset === undefined) return { ok: false, status: 400, problems };
  if (notFound.length > 0) return { ok: false, status: 404, problems: notFound };
  return {
    ok: true,
    query: {
      measurement: info.name,
      tags: info.tags,
      ...(params.scope === undefined ? {} : { scope: params.scope }),
      ...(params.district === undefined ? {} : { district: params.district }),
      ...(params.device === undefined ? {} : { device: params.device }),
      ...(params.field === undefined ? {} : { field: params.field }),
      start: new Date(from),
      stop: new Date(stop),
      ...(window === undefined ? {} : { window }),
      aggregate: aggregate as AggregateQuery['aggregate'],
      limit,
      offset,
    },
  };
}

/** The link to the page after this one: the same query with absolute times, so pages do not shift as time passes. */
export function nextPageLink(path: string, q: AggregateQuery): string {
  const params = new URLSearchParams({ measurement: q.measurement });
  if (q.scope) params.set('scope', q.scope);
  if (q.district) params.set('district', q.district);
  if (q.device) params.set('device', q.device);
  if (q.field) params.set('field', q.field);
  params.set('start', q.start.toISOString());
  params.set('stop', q.stop.toISOString());
  if (q.window) {
    params.set('window', q.window.text);
    params.set('aggregate', q.aggregate);
  }
  params.set('limit', String(q.limit));
  params.set('cursor', encodeCursor(q.offset + q.limit));
  return `${path}?${params.toString()}`;
}
