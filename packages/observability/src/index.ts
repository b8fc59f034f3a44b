export { createLogger, REDACT_PATHS, scrubIdentifiers } from './logger.ts';
export type { Logger, LoggerConfig } from './logger.ts';
export { Counter, Gauge, Histogram, Registry, createMetricsRegistry } from './metrics.ts';
export { PRESENCE_BLOCK, presenceCounter, presenceGauge } from './presence-metrics.ts';
export type { PresenceCounter, PresenceCounterChild, PresenceGauge } from './presence-metrics.ts';
export { createLifecycle } from './lifecycle.ts';
export type { Lifecycle, LifecycleOptions } from './lifecycle.ts';
export { healthHandler, startHealthServer } from './health-server.ts';
export type { HealthOptions, HealthServer, HealthServerOptions } from './health-server.ts';
