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
    : {
        type: 'request.answered',
        actor: ACTOR,
        at,
        data: { requestId, ...requesterData(requester), level: decision.level, from: decision.from, links: decision.links.length },
      };
}

export function routeRefused(at: number, route: string, method: string, params: readonly string[]): AuditEvent {
  return { type: 'route.refused', actor: ACTOR, at, data: { route, method, params: [...params] } };
}

/** An open-data query as its answer echoes it and its audit record keeps it. */
export function queryEcho(q: AggregateQuery) {
  return {
    measurement: q.measurement,
    scope: q.scope ?? null,
    district: q.district ?? null,
    device: q.device ?? null,
    field: q.field ?? null,
    start: q.start.toISOString(),
    stop: q.stop.toISOString(),
    window: q.window?.text ?? null,
    aggregate: q.window ? q.aggregate : null,
  };
}

export function exported(at: number, route: string, q: AggregateQuery, rows: number): AuditEvent {
  return {
    type: 'export',
    actor: ACTOR,
    at,
    data: {
      route,
      ...queryEcho(q),
      limit: q.limit,
      offset: q.offset,
      rows,
    },
  };
}

/**
 * A period's retention attestation for one personal topic (P2, P8). Stamped with the period's
 * end and written for every period whether or not anything was deleted; it never holds a record
 * count, an offset or a record's timestamp — each is an exact count of sightings or a person's
 * time (P9). Only the schedule, the configured limit and the outcome of the checks.
 */
export interface RetentionAttestation {
  topic: string;
  periodStart: number;
  periodEnd: number;
  limitMs: number;
  /** Scheduled checks in the period (fewer than the schedule's only after a start or an outage). */
  checks: number;
  failedChecks: number;
  /** Every successful check found every record younger than the limit; null when none succeeded. */
  withinLimit: boolean | null;
  actor?: string;
}

export function retentionAttested(o: RetentionAttestation): AuditEvent {
  return {
    type: 'retention.deleted',
    actor: o.actor ?? ACTOR,
    at: o.periodEnd,
    data: {
      topic: o.topic,
      periodStart: new Date(o.periodStart).toISOString(),
      periodEnd: new Date(o.periodEnd).toISOString(),
      limitSeconds: o.limitMs / 1000,
      checks: o.checks,
      failedChecks: o.failedChecks,
      withinLimit: o.withinLimit,
      observedBy: 'scheduled-check',
    },
  };
}
