// The api's building blocks for composing it in another process (the one-process demo): the
// app factory, its injectable stores and live sources with their in-memory implementations.
export { createMemoryAggregateStore } from './aggregate-store.ts';
export type { AggregateQuery, AggregateRow, AggregateStore, EpsilonFigure, MemoryAggregateStore } from './aggregate-store.ts';
export { createApp } from './app.ts';
export type { ApiDeps } from './app.ts';
export { buildCatalogue, DEFAULT_DISTRICTS_PATH, loadDistricts } from './catalogue.ts';
export type { Catalogue, District } from './catalogue.ts';
export { CITY_METRICS } from './city-page.ts';
export type { CityPageOptions } from './city-page.ts';
export { createLiveFigures, figuresAsOf } from './live-figures.ts';
export type { LiveFigures, LiveFiguresSnapshot } from './live-figures.ts';
export { createRetentionSchedule } from './retention-schedule.ts';
export type { CheckOutcome, RetentionCheck, RetentionChecks, RetentionSchedule, RetentionScheduleOptions } from './retention-schedule.ts';
export { createApiMetrics } from './metrics.ts';
export type { ApiMetrics } from './metrics.ts';
export { loadOpenApiDocument } from './openapi.ts';
export { createRequesterDirectory, DEFAULT_REQUESTERS_PATH, loadRequesters, tokenHash } from './requesters.ts';
export type { Requester, RequesterDirectory, RequesterType } from './requesters.ts';
