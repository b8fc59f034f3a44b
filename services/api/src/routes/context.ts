// What every route group shares: the api's dependencies, the one way to append to the audit log
// (a failed append is AuditUnavailable, answered 503: nothing is served unrecorded), and the
// one way to refuse a request for individual-level data (403, audited by route pattern and
// categories, never by value).
import type { AuditEvent, AuditLog } from '@lethe/audit';
import type { Lifecycle, Logger, Registry } from '@lethe/observability';
import type { Policy } from '@lethe/privacy';
import type { Request, RequestHandler, Response } from 'express';
import type { AggregateStore } from '../aggregate-store.ts';
import { routeRefused } from '../audit-events.ts';
import type { Catalogue } from '../catalogue.ts';
import type { CityPageOptions } from '../city-page.ts';
import { REFUSED_ROUTE_EXPLANATION } from '../identifying-params.ts';
import type { LiveFigures } from '../live-figures.ts';
import type { ApiMetrics } from '../metrics.ts';
import type { RequesterDirectory } from '../requesters.ts';
import type { TopicReplicationReader } from '../topic-replication.ts';

export interface ApiDeps {
  policy: Policy;
  catalogue: Catalogue;
  requesters: RequesterDirectory;
  store: AggregateStore;
  liveFigures: LiveFigures;
  /** Each topic's replication as last read from the brokers; absent (the demo, without Kafka): the register states it as not read. */
  topicReplication?: Pick<TopicReplicationReader, 'of'>;
  audit: AuditLog;
  /** The OpenAPI document served at /openapi.json; it also drives routing and validation. */
  openapi: unknown;
  registry: Registry;
  metrics: ApiMetrics;
  lifecycle: Pick<Lifecycle, 'ready'>;
  logger: Logger;
  now?: () => number;
  /** The policy's key grace (`rawData.keyGrace`), for UNLINKABLE. */
  keyGraceMs?: number;
  city?: Partial<CityPageOptions>;
}

export class AuditUnavailable extends Error {}

export interface RouteContext extends Omit<ApiDeps, 'now'> {
  now: () => number;
  /** Appends to the audit log; throws AuditUnavailable when the log does not take it. */
  record(event: AuditEvent): Promise<void>;
  /**
   * Audits and counts a request for individual-level data, then answers it `status` (403, or
   * 405 with `allow`). Categories and the route pattern are the api's words, never the caller's.
   */
  refuse(req: Request, res: Response, refusal: Refusal): Promise<void>;
  /**
   * Audits (route.refused) and counts an attempt at individual-level data that ends in another
   * answer (401, 400, 404…). A failed append is logged and counted, not thrown: the answer
   * serves nothing either way.
   */
  auditAttempt(req: Request, route: string, params: readonly string[]): Promise<void>;
}

export interface Refusal {
  route: string;
  params: readonly string[];
  explanation?: string;
  status?: 403 | 405;
  /** For 405: the methods the route answers. */
  allow?: readonly string[];
}

/** A route group: handlers by operationId of docs/openapi.yaml, and middleware that must run before validation. */
export interface RouteGroup {
  /** Express 5 hands a handler's rejected promise to the error handler (routes/errors.ts): async handlers need no wrapper. */
  handlers: Record<string, RequestHandler>;
  /** Runs before the OpenAPI validator (after body parsing), for every request. */
  beforeValidation?: RequestHandler;
}

export function createRouteContext(deps: ApiDeps): RouteContext {
  const { audit, metrics, logger } = deps;
  const now = deps.now ?? Date.now;
  async function record(event: AuditEvent): Promise<void> {
    try {
      await audit.append(event);
      metrics.auditAppends.inc({ type: event.type });
    } catch (err) {
      metrics.auditAppendFailures.inc();
      logger.error(
        { err: { name: (err as Error).name, code: (err as { code?: string }).code, message: (err as Error).message }, type: event.type },
        'audit append failed',
      );
      throw new AuditUnavailable('the audit log did not take the event');
    }
  }
  async function auditAttempt(req: Request, route: string, params: readonly string[]): Promise<void> {
    metrics.routesRefused.inc({ route });
    try {
      await record(routeRefused(now(), route, originalMethod(req), params));
    } catch {
      // Still refuse: a failed log must not turn a refusal into an answer.
    }
  }
  async function refuse(
    req: Request,
    res: Response,
    { route, params, explanation = REFUSED_ROUTE_EXPLANATION, status = 403, allow = [] }: Refusal,
  ): Promise<void> {
    res.locals.route = route;
    await auditAttempt(req, route, params);
    if (status === 405) {
      res
        .status(405)
        .set('allow', allow.join(', '))
        .json({ error: 'method not allowed', allow: [...allow] });
      return;
    }
    res
      .status(403)
      .json({ error: 'individual-level data is not available', explanation, see: '/register', ...(params.length > 0 ? { params: [...params] } : {}) });
  }
  return { ...deps, now, record, refuse, auditAttempt };
}

/** The method the client sent (HEAD is routed as GET, see app.ts). */
export const originalMethod = (req: Request): string => (req as Request & { originalMethod?: string }).originalMethod ?? req.method;
