export { createLogger } from './logger.ts';
export type { Logger } from './logger.ts';
export { Counter, Gauge, Histogram, Registry, createMetricsRegistry } from './metrics.ts';
export { floorToBlock, PRESENCE_BLOCK, presenceCounter, presenceGauge } from './presence-metrics.ts';
// The services' metrics objects hold these: their declarations name them.
export type { PresenceCounter, PresenceCounterChild, PresenceGauge } from './presence-metrics.ts';
export { createLifecycle } from './lifecycle.ts';
export type { Lifecycle } from './lifecycle.ts';
export { healthHandler, startHealthServer } from './health-server.ts';
export { runService } from './service.ts';
