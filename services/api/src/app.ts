// The public API, assembled. Nothing here can return an individual-level record: none is stored,
// and every request that looks for one is refused (403, or 405), audited and counted before any
// other handler sees it (routes/individual.ts). Routing and validation come from
// docs/openapi.yaml through express-openapi-validator: each documented operation is served by
// the handler of the same operationId in routes/*.ts, its parameters and body are checked
// against the document first, unknown paths answer 404 and undocumented methods 405 with Allow.
// Every data request and its decision, every refusal and every export of open data is appended
// to the audit log before the answer leaves; if the log cannot take it, nothing is served (503).
import express, { type Express, type Request, type RequestHandler } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import { buildRegister } from '@lethe/privacy';
import { matchPattern, normalizePath } from './identifying-params.ts';
import { aggregatesRoutes } from './routes/aggregates.ts';
import { auditRoutes } from './routes/audit.ts';
import { createRouteContext, type ApiDeps, type RouteGroup } from './routes/context.ts';
import { dataRequestRoutes } from './routes/data-requests.ts';
import { errorHandler } from './routes/errors.ts';
import { healthRoutes } from './routes/health.ts';
import { individualRequests, individualRoutes, routeTable } from './routes/individual.ts';
import { pageRoutes } from './routes/pages.ts';
import { registerRoutes } from './routes/register.ts';
import { documentedOperations, documentWords, unknownQueryParameters } from './routes/validation.ts';

export type { ApiDeps } from './routes/context.ts';

const HEALTH_PATHS = new Set(['/livez', '/readyz', '/metrics']);
const BODY_LIMIT = '16kb';

export function createApp(deps: ApiDeps): Express {
  const ctx = createRouteContext(deps);
  const { metrics } = ctx;
  const register = buildRegister(deps.policy);
  const table = routeTable(deps.openapi);
  const words = documentWords(deps.openapi);
  const groups: RouteGroup[] = [
    healthRoutes(ctx),
    pageRoutes(ctx, register),
    registerRoutes(ctx, register),
    aggregatesRoutes(ctx),
    dataRequestRoutes(ctx),
    auditRoutes(ctx),
    individualRoutes(ctx),
  ];
  const handlers = new Map<string, RequestHandler>();
  for (const group of groups) {
    for (const [operationId, handler] of Object.entries(group.handlers)) {
      if (handlers.has(operationId)) throw new Error(`two route groups serve operation ${operationId}`);
      handlers.set(operationId, handler);
    }
  }
  // Every documented operation has a handler and every handler an operation, checked at start.
  const operations = documentedOperations(deps.openapi);
  const missing = [...operations.keys()].filter((id) => !handlers.has(id));
  const undocumented = [...handlers.keys()].filter((id) => !operations.has(id));
  if (missing.length > 0 || undocumented.length > 0)
    throw new Error(
      `docs/openapi.yaml and the route groups disagree: no handler for ${missing.join(', ') || '-'}; not documented: ${undocumented.join(', ') || '-'}`,
    );

  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');

  // Metrics by route pattern: the pattern Express matched, never the path (which may hold an id).
  app.use((req, res, next) => {
    const started = performance.now();
    const method = req.method;
    res.on('finish', () => {
      const path = req.path;
      const route = HEALTH_PATHS.has(path)
        ? path
        : typeof req.route?.path === 'string'
          ? (req.route.path as string)
          : typeof res.locals.route === 'string'
            ? (res.locals.route as string)
            : 'unmatched';
      metrics.httpRequests.inc({ route, method, status: String(res.statusCode) });
      metrics.httpDuration.observe({ route }, (performance.now() - started) / 1000);
    });
    next();
  });
  app.use((req, _res, next) => {
    // HEAD is answered as GET without a body (Node drops it for a HEAD request); the document
    // lists GET only, and the validator would otherwise answer 405.
    if (req.method === 'HEAD') {
      (req as Request & { originalMethod?: string }).originalMethod = 'HEAD';
      req.method = 'GET';
    }
    next();
  });
  app.use((_req, res, next) => {
    res.set('x-content-type-options', 'nosniff');
    next();
  });
  // Open data and transparency may be read from any origin, errors and refusals included.
  const openPaths = [...operations.values()]
    .filter((op) => op.method === 'get' && (op.tags.includes('open-data') || op.tags.includes('transparency') || op.path === '/openapi.json'))
    .map((op) => op.path);
  app.use((req, res, next) => {
    const { segments } = normalizePath(req.path);
    if (openPaths.some((path) => matchPattern(path, segments))) res.set('access-control-allow-origin', '*');
    next();
  });
  // First: a request that looks for a person is audited, counted and answered here, whatever
  // would have answered it otherwise.
  app.use(individualRequests(ctx, table));
  app.use(express.json({ limit: BODY_LIMIT, type: 'application/json' }));
  for (const group of groups) if (group.beforeValidation) app.use(group.beforeValidation);
  app.use(
    OpenApiValidator.middleware({
      apiSpec: structuredClone(deps.openapi) as never,
      validateApiSpec: true,
      // Unknown query parameters are reported with every other problem (unknownQueryParameters),
      // never by name: a name can be anything a caller typed.
      validateRequests: { allowUnknownQueryParameters: true, allErrors: true },
      validateResponses: false,
      validateSecurity: false,
      validateFormats: true,
      ignoreUndocumented: false,
      operationHandlers: {
        basePath: '/',
        resolver: (
          _basePath: string,
          route: { openApiRoute: string; method: string },
          apiDoc: { paths: Record<string, Record<string, { operationId?: string }>> },
        ) => {
          const operationId = apiDoc.paths[route.openApiRoute]?.[route.method.toLowerCase()]?.operationId;
          const handler = operationId === undefined ? undefined : handlers.get(operationId);
          if (!handler) throw new Error(`no handler for ${route.method} ${route.openApiRoute}`);
          return [unknownQueryParameters(operations.get(operationId!)!), handler];
        },
      } as never,
    }),
  );

  app.use(errorHandler(ctx, operations, words));
  return app;
}
