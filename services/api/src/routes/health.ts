// Operations: /livez, /readyz, /metrics (the shared health handler of @lethe/observability) and
// this api's OpenAPI document at /openapi.json.
import { healthHandler } from '@lethe/observability';
import type { RouteContext, RouteGroup } from './context.ts';

export function healthRoutes(ctx: RouteContext): RouteGroup {
  const health = healthHandler({ registry: ctx.registry, lifecycle: ctx.lifecycle });
  const serve = (req: Parameters<typeof health>[0], res: Parameters<typeof health>[1]) => void health(req, res);
  return {
    handlers: {
      livez: serve,
      readyz: serve,
      metrics: serve,
      openapi: (_req, res) => {
        res.json(ctx.openapi);
      },
    },
  };
}
