// The api in-process with in-memory stores, on an ephemeral port, for tests that speak HTTP to
// it: a memory audit log, a memory aggregate store with a small known city, fixed live sources,
// a requester directory with one known token per requester, and a captured log.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Writable } from 'node:stream';
import { createMemoryAuditLog, type AuditLog } from '@lethe/audit';
import { createLifecycle, createLogger, createMetricsRegistry, type Registry } from '@lethe/observability';
import { DEFAULT_POLICY_PATH, loadPolicy, type Policy } from '@lethe/privacy';
import { DEFAULT_FLEET_PATH, loadFleet, type AggregateRecord } from '@lethe/schemas';
import { createMemoryAggregateStore, type AggregateStore, type MemoryAggregateStore } from '../src/aggregate-store.ts';
import { createApp, type ApiDeps } from '../src/app.ts';
import { buildCatalogue, DEFAULT_DISTRICTS_PATH, loadDistricts, type Catalogue } from '../src/catalogue.ts';
import { createLiveFigures } from '../src/live-figures.ts';
import type { RetentionChecks } from '../src/retention-schedule.ts';
import { createApiMetrics } from '../src/metrics.ts';
import { loadOpenApiDocument } from '../src/openapi.ts';
import { tokenHash } from '@lethe/config';
import { createRequesterDirectory, DEFAULT_REQUESTERS_PATH, loadRequesters, type Requester } from '../src/requesters.ts';

export const MIN = 60_000;
/** The tests' "now": 10:05:30 UTC, five and a half minutes into a 15-minute epoch. */
export const NOW = Date.UTC(2025, 5, 2, 10, 5, 30);
export const policy: Policy = loadPolicy(DEFAULT_POLICY_PATH);
export const fleet = loadFleet(DEFAULT_FLEET_PATH);
export const catalogue: Catalogue = buildCatalogue(policy, fleet, loadDistricts(DEFAULT_DISTRICTS_PATH));
export const requesters: Requester[] = loadRequesters(DEFAULT_REQUESTERS_PATH);
/** A fixed token per requester (tests only). */
export const tokenOf = (id: string) => `test-token-${id}-0123456789abcdef`;

const w = (minutesBefore: number) => Math.floor((NOW - minutesBefore * MIN) / MIN) * MIN;

/** A small city: two districts, a few windows of people, air and sewer figures, and ε figures. */
export function sampleRecords(): AggregateRecord[] {
  const out: AggregateRecord[] = [];
  const rec = (measurement: string, tags: Record<string, string>, fields: Record<string, number>, start: number): AggregateRecord => ({
    v: 1,
    measurement,
    tags,
    fields,
    windowStart: start,
    windowEnd: start + MIN,
  });
  for (const m of [5, 4, 3, 2]) {
    const start = w(m);
    out.push(rec('pedestrians', { scope: 'district', district: 'wan-chai' }, { people: 40 + m }, start));
    out.push(rec('pedestrians', { scope: 'district', district: 'central-western' }, { people: 20 + m }, start));
    out.push(rec('pedestrians', { scope: 'cell', district: 'wan-chai', device: 'LP-0007' }, { people: 12 + m }, start));
    out.push(rec('vehicles', { scope: 'district', district: 'wan-chai' }, { people: 30 + m, speed_mean_kmh: 35, speed_p85_kmh: 50 }, start));
    out.push(rec('lamppost', { scope: 'district', district: 'wan-chai' }, { readings: 12, pm25_mean: 10 + m, pm25_max: 20 + m }, start));
    out.push(rec('lamppost', { scope: 'device', district: 'central-western', device: 'LP-0001' }, { readings: 6, pm25_mean: 8 + m, pm25_max: 9 + m }, start));
    out.push(rec('sewer', { scope: 'district', district: 'wan-chai' }, { readings: 6, level_cm_mean: 40, level_cm_max: 50 + m }, start));
    out.push(
      rec('travel_times', { from: 'TL-0001', from_district: 'central-western', to: 'TL-0002', to_district: 'wan-chai' }, { trips: 9, median_s: 240 }, start),
    );
    out.push(rec('privacy', { stream: 'pedestrians' }, { epsilon_spent_today: 600 - m, epsilon_budget_today: 1440, released: 3 }, start));
  }
  return out;
}

export interface TestApi {
  url: string;
  audit: AuditLog;
  store: MemoryAggregateStore;
  registry: Registry;
  logs: () => string;
  setNow: (ms: number) => void;
  close: () => Promise<void>;
}

export interface TestApiOptions {
  audit?: AuditLog;
  store?: AggregateStore;
  /** Each topic's replication as last read; null: no source (as in the demo). Default: TEST_REPLICATION. */
  topicReplication?: ApiDeps['topicReplication'] | null;
}

/** Three replicas, min.insync.replicas 2, no unclean election, except the ledger topic, not created yet (both shapes of the schema). */
export const TEST_REPLICATION: NonNullable<ApiDeps['topicReplication']> = {
  of: (topic) =>
    topic === 'lethe.ledger.v1'
      ? { state: 'no-such-topic', replicas: null, minInsyncReplicas: null, uncleanLeaderElection: null }
      : { state: 'read', replicas: 3, minInsyncReplicas: 2, uncleanLeaderElection: false },
};

export async function startTestApi(options: TestApiOptions = {}): Promise<TestApi> {
  let logs = '';
  const logger = createLogger({
    service: 'api',
    level: 'debug',
    destination: new Writable({ write: (chunk: Buffer, _e, cb) => void ((logs += chunk.toString()), cb()) }),
  });
  const registry = createMetricsRegistry('api');
  const metrics = createApiMetrics(registry);
  const lifecycle = createLifecycle({ logger });
  lifecycle.markReady();
  const audit = options.audit ?? createMemoryAuditLog();
  const store = createMemoryAggregateStore(sampleRecords());
  let now = NOW;
  // Checks every 30 s, the sightings topic within the limit, the rejected one not reachable.
  const checks: RetentionChecks = {
    topics: ['lethe.sightings.v1', 'lethe.rejected.v1'],
    intervalMs: 30_000,
    between: (from, to) => {
      const out = [];
      for (let slot = Math.ceil(from / 30_000) * 30_000; slot < to; slot += 30_000) {
        out.push({
          slot,
          topics: [
            { topic: 'lethe.sightings.v1', withinLimit: true },
            { topic: 'lethe.rejected.v1', withinLimit: null },
          ],
        });
      }
      return out;
    },
  };
  const liveFigures = createLiveFigures({ policy, audit, store: options.store ?? store, checks, now: () => now, cacheMs: 0 });
  const tokens = JSON.stringify({ version: 1, tokens: Object.fromEntries(requesters.map((r) => [r.id, tokenHash(tokenOf(r.id))])) });
  const app = createApp({
    policy,
    catalogue,
    requesters: createRequesterDirectory(requesters, tokens),
    store: options.store ?? store,
    liveFigures,
    ...(options.topicReplication === null ? {} : { topicReplication: options.topicReplication ?? TEST_REPLICATION }),
    audit,
    openapi: loadOpenApiDocument(),
    registry,
    metrics,
    lifecycle,
    logger,
    now: () => now,
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    audit,
    store,
    registry,
    logs: () => logs,
    setNow: (ms) => void (now = ms),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** POST /v1/data-requests as a requester (or with the given Authorization header). */
export function fileRequest(api: TestApi, body: unknown, as: string | { authorization?: string } = 'hk-police-force'): Promise<Response> {
  const authorization = typeof as === 'string' ? `Bearer ${tokenOf(as)}` : as.authorization;
  return fetch(`${api.url}/v1/data-requests`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}
