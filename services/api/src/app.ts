// The public API. Nothing here can return an individual-level record: none is stored, and the
// routes and parameters that would ask for one exist only to refuse (403, audited). Every data
// request and its decision, every refusal and every export of open data is appended to the
// audit log before the answer leaves; if the log cannot take it, nothing is served (503).
import { randomUUID } from 'node:crypto';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { AuditEvent, AuditLog } from '@lethe/audit';
import { healthHandler, type Lifecycle, type Logger, type Registry } from '@lethe/observability';
import { buildRegister, decideDataRequest, effectiveLevel, type Policy } from '@lethe/privacy';
import type { AggregateStore } from './aggregate-store.ts';
import { nextPageLink, parseAggregatesQuery } from './aggregates-query.ts';
import { exported, requestDecided, requestReceived, routeRefused } from './audit-events.ts';
import type { Catalogue } from './catalogue.ts';
import { CITY_SCRIPT, cityPage, type CityPageOptions } from './city-page.ts';
import { parseDataRequest } from './data-request-body.ts';
import { PAGE_HEADERS, STYLESHEET } from './html.ts';
import { identifyingParams, REFUSED_ROUTE_EXPLANATION, REFUSED_ROUTES } from './identifying-params.ts';
import type { LiveFigures } from './live-figures.ts';
import type { ApiMetrics } from './metrics.ts';
import { registerPage } from './register-page.ts';
import type { RequesterDirectory } from './requesters.ts';
import { buildTransparencyReport, REPORT_PERIODS, type ReportPeriod } from './transparency-report.ts';

export interface ApiDeps {
  policy: Policy;
  catalogue: Catalogue;
  requesters: RequesterDirectory;
  store: AggregateStore;
  liveFigures: LiveFigures;
  audit: AuditLog;
  /** The OpenAPI document served at /openapi.json. */
  openapi: unknown;
  registry: Registry;
  metrics: ApiMetrics;
  lifecycle: Pick<Lifecycle, 'ready'>;
  logger: Logger;
  now?: () => number;
  /** The gateway's key grace (KEY_GRACE_SECONDS), for UNLINKABLE. */
  keyGraceMs?: number;
  city?: Partial<CityPageOptions>;
}

type Handler = (req: Request, res: Response) => Promise<void> | void;
interface Route {
  method: 'get' | 'post';
  path: string;
  handler: Handler;
  /** Open data: any origin may read it. */
  cors?: boolean;
}

const HEALTH_PATHS = new Set(['/livez', '/readyz', '/metrics']);
const CITY_RANGE = /^-\d{1,4}(s|m|h)$/;

class AuditUnavailable extends Error {}

export function createApp(deps: ApiDeps): Express {
  const { policy, catalogue, requesters, store, liveFigures, audit, metrics, logger, now = Date.now } = deps;
  const register = buildRegister(policy);
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  const health = healthHandler({ registry: deps.registry, lifecycle: deps.lifecycle });

  async function record(event: AuditEvent): Promise<void> {
    try {
      await audit.append(event);
      metrics.auditAppends.inc({ type: event.type });
    } catch (err) {
      metrics.auditAppendFailures.inc();
      logger.error({ err: { name: (err as Error).name, code: (err as { code?: string }).code, message: (err as Error).message }, type: event.type }, 'audit append failed');
      throw new AuditUnavailable('the audit log did not take the event');
    }
  }

  /** 403 for an attempt at individual-level data; audited by route pattern and parameter names. */
  async function refuse(req: Request, res: Response, route: string, params: readonly string[], explanation = REFUSED_ROUTE_EXPLANATION): Promise<void> {
    metrics.routesRefused.inc({ route });
    try {
      await record(routeRefused(now(), route, req.method, params));
    } catch {
      // Still refuse: a failed log must not turn a refusal into an answer.
    }
    res.status(403).json({ error: 'individual-level data is not available', explanation, see: '/register', ...(params.length > 0 ? { params } : {}) });
  }

  // Metrics by route pattern: the pattern Express matched, never the path (which may hold an id).
  app.use((req, res, next) => {
    const started = performance.now();
    res.on('finish', () => {
      const path = req.path;
      const route = HEALTH_PATHS.has(path) ? path : typeof req.route?.path === 'string' ? (req.route.path as string) : 'unmatched';
      metrics.httpRequests.inc({ route, method: req.method, status: String(res.statusCode) });
      metrics.httpDuration.observe({ route }, (performance.now() - started) / 1000);
    });
    next();
  });
  app.use((req, res, next) => {
    if (!health(req, res)) next();
  });
  app.use((_req, res, next) => {
    res.set('x-content-type-options', 'nosniff');
    next();
  });

  const routes: Route[] = [
    { method: 'get', path: '/', handler: (_req, res) => res.redirect(302, '/register') },
    { method: 'get', path: '/assets/lethe.css', handler: (_req, res) => void res.type('text/css').set('cache-control', 'public, max-age=300').send(STYLESHEET) },
    { method: 'get', path: '/assets/city.js', handler: (_req, res) => void res.type('text/javascript').set('cache-control', 'public, max-age=300').send(CITY_SCRIPT) },
    { method: 'get', path: '/openapi.json', cors: true, handler: (_req, res) => void res.json(deps.openapi) },

    {
      method: 'get',
      path: '/register',
      handler: async (_req, res) => {
        const live = await liveFigures.snapshot().catch(() => undefined);
        res.status(200).set(PAGE_HEADERS).send(registerPage(register, live));
      },
    },
    {
      method: 'get',
      path: '/city',
      handler: (req, res) => {
        const problems: string[] = [];
        const refresh = req.query.refresh === undefined ? (deps.city?.refreshSeconds ?? 30) : Number(req.query.refresh);
        const range = req.query.range === undefined ? (deps.city?.range ?? '-10m') : req.query.range;
        if (!Number.isInteger(refresh) || refresh < 5 || refresh > 3600) problems.push('refresh: must be a whole number of seconds from 5 to 3600');
        if (typeof range !== 'string' || !CITY_RANGE.test(range)) problems.push('range: must be a duration before now like -10m or -1h');
        if (problems.length > 0) {
          res.status(400).json({ error: 'invalid query', problems });
          return;
        }
        res.status(200).set(PAGE_HEADERS).send(cityPage(catalogue.districts, { refreshSeconds: refresh, range: range as string }));
      },
    },

    {
      method: 'get',
      path: '/v1/aggregates',
      cors: true,
      handler: async (req, res) => {
        const parsed = parseAggregatesQuery(req.query as Record<string, unknown>, catalogue, now());
        if (!parsed.ok) {
          if (parsed.status === 403) await refuse(req, res, '/v1/aggregates', parsed.params, parsed.explanation);
          else res.status(400).json({ error: 'invalid query', problems: parsed.problems });
          return;
        }
        const q = parsed.query;
        let result;
        try {
          result = await store.query(q);
        } catch (err) {
          logger.error({ err: { name: (err as Error).name, message: (err as Error).message } }, 'aggregate query failed');
          res.status(502).json({ error: 'the aggregate store did not answer; try again later' });
          return;
        }
        await record(exported(now(), '/v1/aggregates', q, result.rows.length));
        metrics.exportedRows.inc({ measurement: q.measurement }, result.rows.length);
        res.json({
          query: {
            measurement: q.measurement,
            scope: q.scope ?? null,
            district: q.district ?? null,
            device: q.device ?? null,
            field: q.field ?? null,
            start: q.start.toISOString(),
            stop: q.stop.toISOString(),
            window: q.window?.text ?? null,
            aggregate: q.window ? q.aggregate : null,
          },
          data: result.rows,
          page: { limit: q.limit, offset: q.offset, returned: result.rows.length, next: result.more ? nextPageLink('/v1/aggregates', q) : null },
        });
      },
    },
    {
      method: 'get',
      path: '/v1/register',
      cors: true,
      handler: async (_req, res) => {
        const live = await liveFigures.snapshot().catch(() => null);
        res.json({ ...register, live });
      },
    },
    { method: 'get', path: '/v1/policy', cors: true, handler: (_req, res) => void res.json(policy) },
    {
      method: 'post',
      path: '/v1/data-requests',
      handler: async (req, res) => {
        res.set('cache-control', 'no-store');
        const requester = requesters.authenticate(req.get('authorization'));
        if (!requester) {
          metrics.authFailures.inc();
          res
            .status(401)
            .set('www-authenticate', 'Bearer realm="lethe-data-requests"')
            .json({ error: 'authentication required', explanation: 'Data requests are filed by registered requesters with their bearer token (Authorization: Bearer <token>). Anyone can read the open data and the transparency report without one.' });
          return;
        }
        if (!req.is('application/json')) {
          res.status(415).json({ error: 'the body must be JSON (content-type: application/json)' });
          return;
        }
        const parsed = parseDataRequest(req.body, policy, catalogue);
        if (!parsed.ok) {
          res.status(400).json({ error: 'invalid data request', problems: parsed.problems });
          return;
        }
        const { request } = parsed;
        const requestId = randomUUID();
        const receivedAt = now();
        await record(requestReceived(receivedAt, requestId, requester, request, effectiveLevel(request)));
        const decision = decideDataRequest(request, { policy, now: receivedAt, ...(deps.keyGraceMs === undefined ? {} : { keyGraceMs: deps.keyGraceMs }) });
        await record(requestDecided(now(), requestId, requester, decision));
        metrics.dataRequests.inc({ requester_type: requester.type, decision: decision.decision });
        if (decision.decision === 'refused') for (const reason of decision.reasons) metrics.refusals.inc({ reason });
        res.status(200).json({
          requestId,
          receivedAt: new Date(receivedAt).toISOString(),
          requester: { id: requester.id, type: requester.type },
          ...decision,
          report: '/v1/transparency-report',
        });
      },
    },
    {
      method: 'get',
      path: '/v1/transparency-report',
      cors: true,
      handler: async (req, res) => {
        const period = req.query.period ?? 'month';
        if (typeof period !== 'string' || !(REPORT_PERIODS as readonly string[]).includes(period)) {
          res.status(400).json({ error: 'invalid query', problems: [`period: must be one of ${REPORT_PERIODS.join(', ')}`] });
          return;
        }
        const unknown = Object.keys(req.query).filter((k) => k !== 'period');
        if (unknown.length > 0) {
          res.status(400).json({ error: 'invalid query', problems: ['unknown parameters; the only parameter is period'] });
          return;
        }
        const [records, head] = await Promise.all([audit.records(), audit.head()]);
        res.json(buildTransparencyReport(records, head, { period: period as ReportPeriod, now: now() }));
      },
    },
    {
      method: 'get',
      path: '/v1/audit/verify',
      cors: true,
      handler: async (_req, res) => {
        const result = await audit.verify();
        res.status(200).json(result);
      },
    },
  ];

  const wrap = (handler: Handler) => (req: Request, res: Response, next: NextFunction) => {
    Promise.resolve()
      .then(() => handler(req, res))
      .catch(next);
  };
  /** Refuses any route when a query parameter names an identifier (?plate=, ?mac=, …). */
  const guard = (path: string) => (req: Request, res: Response, next: NextFunction) => {
    const params = identifyingParams(Object.keys(req.query as object));
    if (params.length === 0) return next();
    refuse(req, res, path, params).catch(next);
  };

  for (const route of routes) {
    const handlers = [guard(route.path), ...(route.method === 'post' ? [express.json({ limit: '16kb', type: 'application/json' })] : []), wrap(route.handler)];
    if (route.cors) {
      handlers.unshift((_req: Request, res: Response, next: NextFunction) => {
        res.set('access-control-allow-origin', '*');
        next();
      });
    }
    app[route.method](route.path, ...handlers);
  }
  // Known paths, other methods.
  for (const path of new Set(routes.map((r) => r.path))) {
    const allowed = routes.filter((r) => r.path === path).map((r) => r.method.toUpperCase());
    if (allowed.includes('GET')) allowed.push('HEAD');
    app.all(path, (_req, res) => {
      res.status(405).set('allow', allowed.join(', ')).json({ error: 'method not allowed', allow: allowed });
    });
  }
  for (const path of REFUSED_ROUTES) {
    app.all(path, wrap((req, res) => refuse(req, res, path, identifyingParams(Object.keys(req.query as object)))));
  }

  app.use(
    wrap(async (req, res) => {
      const params = identifyingParams(Object.keys(req.query as object));
      if (params.length > 0) return refuse(req, res, 'unmatched', params);
      res.status(404).json({ error: 'not found', see: '/openapi.json' });
    }),
  );

  // Errors: never repeat a message that may quote the request (a JSON syntax error quotes the body).
  app.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    void next;
    const type = (err as { type?: string }).type;
    if (type === 'entity.parse.failed') {
      res.status(400).json({ error: 'invalid data request', problems: ['(body): is not valid JSON'] });
    } else if (type === 'entity.too.large') {
      res.status(413).json({ error: 'the body is too large (at most 16 kB)' });
    } else if ((type !== undefined && type.startsWith('encoding')) || type === 'charset.unsupported') {
      res.status(415).json({ error: 'the body must be UTF-8 JSON' });
    } else if (err instanceof AuditUnavailable) {
      res.status(503).json({ error: 'the audit log is not available, so nothing was served; try again later' });
    } else {
      logger.error({ err: { name: (err as Error).name, message: (err as Error).message } }, 'request failed');
      res.status(500).json({ error: 'internal error' });
    }
  });
  return app;
}
