// The api's building blocks for composing it in another process (the one-process demo): the
// app factory, its injectable stores and live sources with their in-memory implementations.
export { createMemoryAggregateStore } from './aggregate-store.ts';
export type { MemoryAggregateStore } from './aggregate-store.ts';
export { createApp } from './app.ts';
export { buildCatalogue, DEFAULT_DISTRICTS_PATH, loadDistricts } from './catalogue.ts';
export { createLiveFigures } from './live-figures.ts';
export { createRetentionSchedule } from './retention-schedule.ts';
export { createApiMetrics } from './metrics.ts';
export { loadOpenApiDocument } from './openapi.ts';
export { createRequesterDirectory, DEFAULT_REQUESTERS_PATH, loadRequesters } from './requesters.ts';
export type { Requester } from './requesters.ts';
