// The api's audit events, built in one place so their fields are fixed and free of personal
// data: request ids the api makes, requester types and ids from seeds/requesters.yaml (not for
// residents: a resident's account is personal), subject types (never a plate or a MAC — the api
// does not even keep the value), reason codes, route patterns, parameter names, and query
// values that were checked against the catalogue.
import type { AuditEvent } from '@lethe/audit';
import type { DataRequest, DataRequestDecision } from '@lethe/privacy';
import type { AggregateQuery } from './aggregate-store.ts';
import type { Requester } from './requesters.ts';

export const ACTOR = 'api';

type Data = AuditEvent['data'];

function requesterData(requester: Requester): Data {
  return { requesterType: requester.type, requester: requester.type === 'resident' ? null : requester.id };
}

function subjectData(request: DataRequest): Data {
  const { subject } = request;
  return {
    subjectType: subject.type,
    // Devices and districts are places and infrastructure; a person's identifier is never here.
    subjectId: subject.type === 'device' ? subject.deviceId : subject.type === 'district' ? subject.district : null,
  };
}

export function requestReceived(at: number, requestId: string, requester: Requester, request: DataRequest, level: string): AuditEvent {
  return {
    type: 'request.received',
    actor: ACTOR,
    at,
    data: {
      requestId,
      ...requesterData(requester),
      ...subjectData(request),
      level,
      statedLevel: request.level,
      data: [...request.data],
      purpose: request.purpose,
      from: new Date(request.from).toISOString(),
      to: new Date(request.to).toISOString(),
    },
  };
}

export function requestDecided(at: number, requestId: string, requester: Requester, decision: DataRequestDecision): AuditEvent {
  return decision.decision === 'refused'
    ? { type: 'request.refused', actor: ACTOR, at, data: { requestId, ...requesterData(requester), level: decision.level, reasons: [...decision.reasons] } }
    : { type: 'request.answered', actor: ACTOR, at, data: { requestId, ...requesterData(requester), level: decision.level, from: decision.from, links: decision.links.length } };
}

export function routeRefused(at: number, route: string, method: string, params: readonly string[]): AuditEvent {
  return { type: 'route.refused', actor: ACTOR, at, data: { route, method, params: [...params] } };
}

export function exported(at: number, route: string, q: AggregateQuery, rows: number): AuditEvent {
  return {
    type: 'export',
    actor: ACTOR,
    at,
    data: {
      route,
      measurement: q.measurement,
      scope: q.scope ?? null,
      district: q.district ?? null,
      device: q.device ?? null,
      field: q.field ?? null,
      start: q.start.toISOString(),
      stop: q.stop.toISOString(),
      window: q.window?.text ?? null,
      aggregate: q.window ? q.aggregate : null,
      limit: q.limit,
      offset: q.offset,
      rows,
    },
  };
}

export interface RetentionObservation {
  topic: string;
  partition: number;
  /** Low watermark before and after: offsets [fromOffset, toOffset) were deleted. */
  fromOffset: number;
  toOffset: number;
  /** Timestamp of the oldest record left, if any. */
  oldestRemainingAt: number | null;
}

export function retentionDeleted(at: number, o: RetentionObservation): AuditEvent {
  return {
    type: 'retention.deleted',
    actor: ACTOR,
    at,
    data: {
      topic: o.topic,
      partition: o.partition,
      fromOffset: o.fromOffset,
      toOffset: o.toOffset,
      records: o.toOffset - o.fromOffset,
      oldestRemainingAt: o.oldestRemainingAt === null ? null : new Date(o.oldestRemainingAt).toISOString(),
      observedBy: 'low-watermark',
    },
  };
}
