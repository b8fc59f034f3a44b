// API entry point.
import type { AddressInfo } from 'node:net';
import { InfluxDB } from '@influxdata/influxdb-client';
import { createLifecycle, createLogger, createMetricsRegistry } from '@lethe/observability';
import { createApp } from './app.ts';
import { loadApiConfig } from './config.ts';

async function main(): Promise<void> {
  const config = loadApiConfig();
  const logger = createLogger({ service: 'api', level: config.LOG_LEVEL });
  const registry = createMetricsRegistry('api');
  const lifecycle = createLifecycle({ logger });
  lifecycle.handleSignals();
  const queryApi = new InfluxDB({ url: config.INFLUX_URL, token: config.INFLUX_TOKEN, timeout: 10_000 }).getQueryApi(config.INFLUX_ORG);
  const app = createApp({ queryApi, bucket: config.INFLUX_BUCKET, registry, lifecycle, logger });
  const server = app.listen(config.HTTP_PORT, config.HTTP_HOST);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  lifecycle.onShutdown('close HTTP', () => new Promise<void>((resolve) => server.close(() => resolve())));
  lifecycle.markReady();
  logger.info({ http: (server.address() as AddressInfo).port }, 'api started');
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
