// Open data: GET /v1/aggregates. Parameters are checked against docs/openapi.yaml first (types,
// patterns, bounds), then against the catalogue here: a figure the open data does not have
// answers 404, figures about people per device 403 (audited), anything else is served and
// recorded as an export before it leaves.
import { nextPageLink, parseAggregatesQuery } from '../aggregates-query.ts';
import { exported, queryEcho } from '../audit-events.ts';
import type { RouteContext, RouteGroup } from './context.ts';

export function aggregatesRoutes(ctx: RouteContext): RouteGroup {
  const { catalogue, store, logger, metrics } = ctx;
  return {
    handlers: {
      getAggregates: async (req, res) => {
        const parsed = parseAggregatesQuery(req.query as Record<string, unknown>, catalogue, ctx.now());
        if (!parsed.ok) {
          if (parsed.status === 403) await ctx.refuse(req, res, { route: '/v1/aggregates', params: parsed.params, explanation: parsed.explanation });
          else if (parsed.status === 404) res.status(404).json({ error: 'the open data has no such figure', problems: parsed.problems });
          else res.status(400).json({ error: 'invalid query', problems: parsed.problems });
          return;
        }
        const q = parsed.query;
        let result;
        if (q.start.getTime() >= q.stop.getTime()) result = { rows: [], more: false };
        else {
          try {
            result = await store.query(q);
          } catch (err) {
            logger.error({ err: { name: (err as Error).name, message: (err as Error).message } }, 'aggregate query failed');
            res.status(502).json({ error: 'the aggregate store did not answer; try again later' });
            return;
          }
        }
        await ctx.record(exported(ctx.now(), '/v1/aggregates', q, result.rows.length));
        metrics.exportedRows.inc({ measurement: q.measurement }, result.rows.length);
        res.json({
          query: queryEcho(q),
          data: result.rows,
          page: { limit: q.limit, offset: q.offset, returned: result.rows.length, next: result.more ? nextPageLink('/v1/aggregates', q) : null },
        });
      },
    },
  };
}
