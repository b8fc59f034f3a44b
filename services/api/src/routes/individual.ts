// The first thing the api does with a request: if it is individual-looking (see
// identifying-params.ts), it is audited (route.refused, by route pattern and categories), counted
// (lethe_api_routes_refused_total) and answered here — 403, or 405 with Allow for a method the
// route does not have — before health, body parsing, the OpenAPI validator or any handler can
// answer it. So no status (400, 404, 405, 413…) can let such a request go uncounted.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { classifyRequest, matchPattern, normalizePath } from '../identifying-params.ts';
import type { RouteContext, RouteGroup } from './context.ts';
import { originalMethod } from './context.ts';

/** Methods a refused route answers 403 to; any other gets 405 (still audited). */
export const REFUSED_ROUTE_METHODS = ['GET', 'HEAD'] as const;

/** The documented operations as the classifier needs them: path templates and their methods. */
export interface RouteTable {
  paths: ReadonlyArray<{ template: string; pattern: string; methods: readonly string[] }>;
  /** Every literal segment of a documented path, lower case: never read as an identifier. */
  segments: ReadonlySet<string>;
}

export function routeTable(openapi: unknown): RouteTable {
  const documented = (openapi as { paths?: Record<string, Record<string, unknown>> }).paths ?? {};
  const paths = Object.entries(documented).map(([template, ops]) => {
    const methods = Object.keys(ops)
      .filter((m) => ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'].includes(m))
      .map((m) => m.toUpperCase());
    if (methods.includes('GET') && !methods.includes('HEAD')) methods.push('HEAD');
    return { template, pattern: template.replace(/\{[^}]+\}/g, ':param'), methods };
  });
  const segments = new Set(
    paths.flatMap((p) =>
      p.template
        .split('/')
        .filter((s) => s !== '' && !s.startsWith('{'))
        .map((s) => s.toLowerCase()),
    ),
  );
  return { paths, segments };
}

/** The route pattern of a documented path (`/v1/devices/:id/sightings`), for labels. */
const label = (template: string) => template.replace(/\{([^}]+)\}/g, ':$1');

export function individualRequests(ctx: RouteContext, table: RouteTable): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const rawPath = req.originalUrl.split('?')[0] ?? '/';
    const { categories, refusedRoute } = classifyRequest(rawPath, req.query as Record<string, unknown>, table.segments);
    if (categories.length === 0 && refusedRoute === undefined) return next();
    const method = originalMethod(req);
    const { segments } = normalizePath(rawPath);
    const documented = table.paths.find((p) => matchPattern(p.pattern, segments));
    let route: string;
    let allow: readonly string[];
    if (refusedRoute !== undefined) {
      route = refusedRoute;
      allow = REFUSED_ROUTE_METHODS;
    } else if (documented) {
      route = label(documented.template);
      allow = documented.methods;
    } else {
      // Looks for a person on no route of the api (`/v1//sightings`, `/api/plates/…`): refused as unmatched.
      route = 'unmatched';
      allow = REFUSED_ROUTE_METHODS;
    }
    const status = allow.includes(method) ? 403 : 405;
    // A refused route's pattern already says what was looked for; its path words are not repeated.
    const params = refusedRoute === undefined ? categories : categories.filter((c) => !c.startsWith('path:'));
    ctx.refuse(req, res, { route, params, status, allow }).catch(next);
  };
}

export function individualRoutes(ctx: RouteContext): RouteGroup {
  return {
    handlers: {
      // Never reached in practice: individualRequests answers first. Kept so the document's
      // operation has its handler whatever the classifier says.
      refusedDeviceSightings: (req, res) => ctx.refuse(req, res, { route: '/v1/devices/:id/sightings', params: [] }),
    },
  };
}
