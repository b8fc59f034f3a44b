// The open-data query: parameters of GET /v1/aggregates, checked against the catalogue.
// Three outcomes: a query; 400 with every problem listed; or 403 when a parameter asks for
// individual-level data (a plate, a MAC, a pseudonym, people per device). Problems never repeat
// what the caller sent — only parameter names the api defines and the values it allows — so a
// plate typed into the wrong parameter is not echoed back.
import { parseDuration } from '@lethe/privacy';
import { z } from 'zod';
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
  | { ok: false; status: 400; problems: string[] }
  | { ok: false; status: 403; params: string[]; explanation: string };

/** `2025-06-01T10:00:00Z` or a duration before now like `-15m`; undefined if neither. */
function parseTime(value: string, now: number): number | undefined {
  const relative = RELATIVE.exec(value);
  if (relative) return now - parseDuration(`${relative[1]}${relative[2]}`);
  if (!z.iso.datetime({ offset: true }).safeParse(value).success) return undefined;
  return Date.parse(value);
}

interface Cursor {
  o: number;
}

export function encodeCursor(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset } satisfies Cursor)).toString('base64url');
}

function decodeCursor(value: string): number | undefined {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(value)) return undefined;
  try {
    const o = (JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as Partial<Cursor>).o;
    return Number.isInteger(o) && o! >= 0 && o! <= 10_000_000 ? o : undefined;
  } catch {
    return undefined;
  }
}

export function parseAggregatesQuery(input: Record<string, unknown>, catalogue: Catalogue, now: number): ParsedAggregatesQuery {
  const forbidden = identifyingParams(Object.keys(input));
  if (forbidden.length > 0) {
    return { ok: false, status: 403, params: forbidden, explanation: 'The open data holds anonymous aggregates only: nothing can be looked up by a licence plate, a MAC address, a pseudonym or any other identifier of a person.' };
  }
  const problems: string[] = [];
  const params: Record<string, string> = {};
  const unknown = Object.keys(input).filter((k) => !(AGGREGATE_PARAMS as readonly string[]).includes(k));
  if (unknown.length > 0) problems.push(`unknown parameter${unknown.length > 1 ? 's' : ''} (${unknown.length}); the parameters are ${AGGREGATE_PARAMS.join(', ')}`);
  for (const name of AGGREGATE_PARAMS) {
    const value = input[name];
    if (value === undefined) continue;
    if (typeof value !== 'string') problems.push(`${name}: give it once, as a single value`);
    else params[name] = value;
  }

  const measurementName = params.measurement === 'traffic-light' ? 'traffic_light' : params.measurement;
  const info = measurementName !== undefined && Object.hasOwn(catalogue.measurements, measurementName) ? catalogue.measurements[measurementName as keyof Catalogue['measurements']] : undefined;
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
    if (info.scopes.length === 0) problems.push(`scope: ${info.name} has no scope`);
    else if (!info.scopes.includes(params.scope)) problems.push(`scope: must be one of ${info.scopes.join(', ')} for ${info.name}`);
  }
  if (params.district !== undefined && !catalogue.districts.some((d) => d.id === params.district)) problems.push('district: must be a district id like wan-chai (see /register)');
  if (params.device !== undefined) {
    const device = catalogue.devices.get(params.device);
    if (!device) problems.push('device: must be a device id of the fleet, like LP-0001');
    else if (info && device.kind !== info.kind) problems.push(`device: is not a ${info.kind} device`);
  }
  if (params.field !== undefined && info && !info.fields.includes(params.field)) problems.push(`field: must be one of ${info.fields.join(', ')}`);

  const start = params.start === undefined ? now - DEFAULT_RANGE_MS : parseTime(params.start, now);
  const stop = params.stop === undefined ? now : parseTime(params.stop, now);
  if (start === undefined) problems.push('start: must be an ISO 8601 time with offset (2025-06-01T10:00:00Z) or a duration before now (-15m, -2h, -1d)');
  if (stop === undefined) problems.push('stop: must be an ISO 8601 time with offset (2025-06-01T10:00:00Z) or a duration before now (-15m, -2h, -1d)');
  if (start !== undefined && stop !== undefined) {
    if (start >= stop) problems.push('start: must be before stop');
    else if (stop - start > catalogue.retentionMs) problems.push(`start: the range may span at most the aggregates' retention (${catalogue.retentionMs / 86_400_000} days)`);
  }

  let window: AggregateQuery['window'];
  if (params.window !== undefined) {
    let ms: number | undefined;
    try {
      ms = /^\d{1,6}(s|m|h|d)$/.test(params.window) ? parseDuration(params.window) : undefined;
    } catch {
      ms = undefined;
    }
    if (ms === undefined) problems.push('window: must be a duration like 5m, 1h or 1d');
    else if (info && (ms < info.windowMs || ms % info.windowMs !== 0)) problems.push(`window: must be a whole multiple of ${info.name}'s stored window (${info.windowMs / 1000}s)`);
    else window = { text: params.window, ms };
  }
  const aggregate = params.aggregate ?? 'mean';
  if (!(WINDOW_AGGREGATES as readonly string[]).includes(aggregate)) problems.push(`aggregate: must be one of ${WINDOW_AGGREGATES.join(', ')}`);
  else if (params.aggregate !== undefined && params.window === undefined) problems.push('aggregate: only applies together with window');

  let limit = DEFAULT_LIMIT;
  if (params.limit !== undefined) {
    limit = /^\d{1,6}$/.test(params.limit) ? Number(params.limit) : NaN;
    if (!(limit >= 1 && limit <= MAX_LIMIT)) problems.push(`limit: must be a whole number from 1 to ${MAX_LIMIT}`);
  }
  const offset = params.cursor === undefined ? 0 : decodeCursor(params.cursor);
  if (offset === undefined) problems.push("cursor: is not a cursor this api made; use the page's `next` link as it is");

  if (problems.length > 0 || !info || start === undefined || stop === undefined || offset === undefined) return { ok: false, status: 400, problems };
  return {
    ok: true,
    query: {
      measurement: info.name,
      tags: info.tags,
      ...(params.scope === undefined ? {} : { scope: params.scope }),
      ...(params.district === undefined ? {} : { district: params.district }),
      ...(params.device === undefined ? {} : { device: params.device }),
      ...(params.field === undefined ? {} : { field: params.field }),
      start: new Date(start),
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
