// The public API. For now: health and open-data aggregates. Nothing here can return an
// individual-level record, because nothing individual-level is stored.
import express, { type Express } from 'express';
import type { QueryApi } from '@influxdata/influxdb-client';
import { healthHandler, type Lifecycle, type Logger, type Registry } from '@lethe/observability';
import { AggregatesQuerySchema, queryAggregates } from './aggregates-query.ts';

export interface ApiDeps {
  queryApi: QueryApi;
  bucket: string;
  registry: Registry;
  lifecycle: Pick<Lifecycle, 'ready'>;
  logger: Logger;
}

export function createApp({ queryApi, bucket, registry, lifecycle, logger }: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  const health = healthHandler({ registry, lifecycle });
  app.use((req, res, next) => {
    if (!health(req, res)) next();
  });

  app.get('/v1/aggregates', async (req, res) => {
    const parsed = AggregatesQuerySchema.safeParse(req.query);
    if (!parsed.success) {
      res.status(400).json({ error: 'invalid query', problems: parsed.error.issues.map((i) => `${i.path.join('.') || '(query)'}: ${i.message}`) });
      return;
    }
    try {
      res.json({ data: await queryAggregates(queryApi, bucket, parsed.data) });
    } catch (err) {
      logger.error({ err: { message: (err as Error).message } }, 'aggregate query failed');
      res.status(502).json({ error: 'the aggregate store did not answer' });
    }
  });

  app.use((_req, res) => {
    res.status(404).json({ error: 'not found' });
  });
  return app;
}
