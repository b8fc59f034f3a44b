import { createMemoryAuditLog, type AuditEvent, type AuditLog } from '@lethe/audit';
import { DEFAULT_POLICY_PATH, loadPolicy, rawDataLimit, type Policy } from '@lethe/privacy';
import type { AggregateRecord } from '@lethe/schemas';
import { describe, expect, it } from 'vitest';
import { createMemoryAggregateStore, type AggregateStore } from '../src/aggregate-store.ts';
import { retentionAttested } from '../src/audit-events.ts';
import { createLiveFigures, figuresAsOf, SETTLE_MS, type LiveFiguresOptions, type LiveFiguresSnapshot } from '../src/live-figures.ts';
import type { RetentionCheck, RetentionChecks } from '../src/retention-schedule.ts';

const policy = loadPolicy(DEFAULT_POLICY_PATH);
const MIN = 60_000;
const NOW = Date.UTC(2025, 5, 2, 10, 5, 30);
const store = { epsilonToday: async () => [{ stream: 'vehicles', spentToday: 3, budgetToday: 1440, asOf: new Date(NOW - 20_000).toISOString() }] };

function checksAllWithin(topics: string[]): RetentionChecks {
  return {
    topics,
    intervalMs: 30_000,
    between: (from, to) => {
      const out = [];
      for (let slot = Math.ceil(from / 30_000) * 30_000; slot < to; slot += 30_000)
        out.push({ slot, topics: topics.map((topic) => ({ topic, withinLimit: true })) });
      return out;
    },
  };
}

async function snapshotWith(events: AuditEvent[]) {
  const audit = createMemoryAuditLog();
  for (const e of events) await audit.append(e);
  return createLiveFigures({ policy, audit, store, checks: checksAllWithin(['lethe.sightings.v1']), now: () => NOW, cacheMs: 0 }).snapshot();
}

const keyEvent = (epochEnd: number, at: number): AuditEvent => ({
  type: 'key.destroyed',
  actor: 'gateway',
  at,
  data: { kind: 'traffic-light', epoch: epochEnd / (15 * MIN) - 1, epochEnd: new Date(epochEnd).toISOString() },
});

describe('the live figures', () => {
  it('are given as of a multiple of the window at least SETTLE_MS back', () => {
    expect(figuresAsOf(policy, NOW)).toBe(Date.UTC(2025, 5, 2, 10, 5, 0));
    expect(figuresAsOf(policy, Date.UTC(2025, 5, 2, 10, 5, 14))).toBe(Date.UTC(2025, 5, 2, 10, 4, 0));
    expect(NOW - figuresAsOf(policy, NOW)).toBeGreaterThanOrEqual(SETTLE_MS);
  });

  it('count a key by the epoch it ended, not by when its event was written (which a sighting can move)', async () => {
    // An epoch that ended more than an epoch (15 min) plus the grace before asOf: counted.
    const end = Date.UTC(2025, 5, 2, 9, 45, 0);
    // The gateway destroys a key at its next rotation tick after end + grace, or earlier when a
    // sighting makes it rotate: the two worlds' events differ by less than a second.
    const [timer, sighting] = await Promise.all([snapshotWith([keyEvent(end, end + 60_950)]), snapshotWith([keyEvent(end, end + 60_010)])]);
    expect(sighting.keysDestroyed).toEqual(timer.keysDestroyed);
    expect(timer.keysDestroyed).toEqual({ total: 1, latestEpochEnd: new Date(end).toISOString() });
  });

  it('show retention as scheduled attestations only: the counts and offsets of earlier versions are not read', async () => {
    const old: AuditEvent = {
      type: 'retention.deleted',
      actor: 'api',
      at: NOW - 10 * MIN,
      data: { topic: 'lethe.sightings.v1', partition: 0, fromOffset: 0, toOffset: 1, records: 1, oldestRemainingAt: null, observedBy: 'low-watermark' },
    };
    const attestation = (end: number, withinLimit: boolean): AuditEvent => ({
      type: 'retention.deleted',
      actor: 'api',
      at: end,
      data: {
        topic: 'lethe.sightings.v1',
        periodStart: new Date(end - 15 * MIN).toISOString(),
        periodEnd: new Date(end).toISOString(),
        limitSeconds: 1066,
        checks: 30,
        failedChecks: 0,
        withinLimit,
        observedBy: 'scheduled-check',
      },
    });
    const live = await snapshotWith([old, attestation(Date.UTC(2025, 5, 2, 10, 0, 0), true), attestation(Date.UTC(2025, 5, 2, 10, 15, 0), false)]);
    // The one that ends after asOf is not shown yet, whatever it says.
    expect(live.retention).toEqual({ periods: 1, allWithinLimit: true, latestPeriodEnd: new Date(Date.UTC(2025, 5, 2, 10, 0, 0)).toISOString() });
    expect(JSON.stringify(live)).not.toMatch(/records|Offset|oldest|ageSeconds/);
  });

  it('publish the configured limit and the checks outcome, and ε without a window time of its own', async () => {
    const live = await snapshotWith([]);
    const limit = rawDataLimit(policy);
    expect(live.rawData).toEqual({
      ttlSeconds: limit.ttlMs / 1000,
      boundSeconds: limit.boundMs / 1000,
      limitSeconds: limit.limitMs / 1000,
      checkEverySeconds: 30,
      topics: [{ topic: 'lethe.sightings.v1', withinLimit: true, checks: 2 }],
    });
    expect(live.epsilonToday).toEqual([{ stream: 'vehicles', spentToday: 3, budgetToday: 1440 }]);
  });
});

// ---------------------------------------------------------------------------------------------
// The public functions with in-memory inputs: figuresAsOf, and createLiveFigures(...).snapshot()
// with a memory audit log, a memory aggregate store and a recorded history of retention checks.

/** A time on 2 June 2025 (UTC), the day of NOW (10:05:30, so asOf is 10:05:00). */
const utc = (h: number, m: number, s = 0, ms = 0) => Date.UTC(2025, 5, 2, h, m, s, ms);
const isoUtc = (h: number, m: number, s = 0, ms = 0) => new Date(utc(h, m, s, ms)).toISOString();
const SIGHTINGS = 'lethe.sightings.v1';
const PARTIALS = 'lethe.partials.v1';
const REJECTED = 'lethe.rejected.v1';

/** The same policy with other windows or epochs for some kinds. */
function policyWith(kinds: Partial<Record<keyof Policy['kinds'], { window?: number; epoch?: number }>>): Policy {
  const out = structuredClone(policy);
  for (const [kind, change] of Object.entries(kinds)) Object.assign(out.kinds[kind as keyof Policy['kinds']], change);
  return out;
}

/** Recorded checks, answered as the retention schedule answers them (slots in [from, to)); the calls are kept. */
function recordedChecks(topics: string[], intervalMs: number, history: RetentionCheck[]) {
  const calls: Array<[number, number]> = [];
  const checks: RetentionChecks = {
    topics,
    intervalMs,
    between: (from, to) => {
      calls.push([from, to]);
      return history.filter((c) => c.slot >= from && c.slot < to);
    },
  };
  return { checks, calls };
}

const check = (slot: number, results: Record<string, boolean | null>): RetentionCheck => ({
  slot,
  topics: Object.entries(results).map(([topic, withinLimit]) => ({ topic, withinLimit })),
});

const keyDestroyed = (kind: string, epochEnd: number | undefined, at: number): AuditEvent => ({
  type: 'key.destroyed',
  actor: 'gateway',
  at,
  data:
    epochEnd === undefined
      ? { kind, epoch: 7 }
      : { kind, epoch: 7, epochStart: new Date(epochEnd - 15 * MIN).toISOString(), epochEnd: new Date(epochEnd).toISOString() },
});

const attested = (periodEnd: number, withinLimit: boolean | null, writtenAt = periodEnd): AuditEvent => ({
  ...retentionAttested({
    topic: SIGHTINGS,
    periodStart: periodEnd - 15 * MIN,
    periodEnd,
    limitMs: rawDataLimit(policy).limitMs,
    checks: 30,
    failedChecks: 0,
    withinLimit,
  }),
  at: writtenAt,
});

const privacyRecord = (stream: string, windowStart: number, spent: number): AggregateRecord => ({
  v: 1,
  measurement: 'privacy',
  tags: { stream },
  fields: { epsilon_spent_today: spent, epsilon_budget_today: 1440, released: 1 },
  windowStart,
  windowEnd: windowStart + MIN,
});

async function auditWith(events: AuditEvent[]): Promise<AuditLog> {
  const audit = createMemoryAuditLog();
  for (const e of events) await audit.append(e);
  return audit;
}

/** A snapshot at `now`, without a cache, with every source answering unless given. */
async function figuresAt(now: number, options: Partial<LiveFiguresOptions> & { events?: AuditEvent[] } = {}): Promise<LiveFiguresSnapshot> {
  const { events = [], ...rest } = options;
  return createLiveFigures({
    policy,
    audit: await auditWith(events),
    store: createMemoryAggregateStore(),
    checks: checksAllWithin([SIGHTINGS]),
    now: () => now,
    cacheMs: 0,
    ...rest,
  }).snapshot();
}

/** Every ISO time in a value, with where it is. */
function timesIn(value: unknown, path = ''): Array<[string, string]> {
  if (typeof value === 'string') return /^\d{4}-\d{2}-\d{2}T/.test(value) ? [[path, value]] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => timesIn(v, `${path}[${i}]`));
  if (typeof value === 'object' && value !== null) return Object.entries(value).flatMap(([k, v]) => timesIn(v, path ? `${path}.${k}` : k));
  return [];
}

describe('figuresAsOf', () => {
  it('is the last multiple of the window at least SETTLE_MS (15 s) before now, boundaries included', () => {
    expect(SETTLE_MS).toBe(15_000);
    expect(figuresAsOf(policy, utc(10, 5, 15))).toBe(utc(10, 5));
    expect(figuresAsOf(policy, utc(10, 5, 14, 999))).toBe(utc(10, 4));
    expect(figuresAsOf(policy, utc(10, 5, 0))).toBe(utc(10, 4));
    expect(figuresAsOf(policy, utc(10, 5, 59, 999))).toBe(utc(10, 5));
    expect(figuresAsOf(policy, utc(0, 0, 14, 999))).toBe(Date.UTC(2025, 5, 1, 23, 59));
  });

  it("rounds to the longest window of the policy's kinds", () => {
    const fiveMinutes = policyWith({ sewer: { window: 5 * MIN, epoch: 15 * MIN } });
    expect(figuresAsOf(fiveMinutes, utc(10, 9, 30))).toBe(utc(10, 5));
    expect(figuresAsOf(fiveMinutes, utc(10, 5, 15))).toBe(utc(10, 5));
    expect(figuresAsOf(fiveMinutes, utc(10, 5, 14, 999))).toBe(utc(10, 0));
  });
});

describe('the live figures about personal data (P9)', () => {
  it('stay the same all through a window and show no time finer than the schedule, nor any event time', async () => {
    const events = [
      keyDestroyed('traffic-light', utc(9, 30), utc(9, 31, 0, 437)),
      keyDestroyed('lamppost', utc(9, 45), utc(9, 46, 7, 219)),
      attested(utc(10, 0), true, utc(10, 0, 3, 917)),
    ];
    const snapshots = await Promise.all([utc(10, 5, 15), utc(10, 5, 40, 123), utc(10, 6, 14, 999)].map((now) => figuresAt(now, { events })));
    const [first, ...others] = snapshots.map(({ at: _at, ...figures }) => figures);
    for (const other of others) expect(other).toEqual(first);
    expect(first).toMatchObject({
      asOf: isoUtc(10, 5),
      keysDestroyed: { total: 2, latestEpochEnd: isoUtc(9, 45) },
      retention: { periods: 1, allWithinLimit: true, latestPeriodEnd: isoUtc(10, 0) },
      unavailable: [],
    });
    expect(snapshots.map((s) => s.at)).toEqual([isoUtc(10, 5, 15), isoUtc(10, 5, 40, 123), isoUtc(10, 6, 14, 999)]);
    // Apart from when the snapshot was made, every time is a multiple of the one-minute window.
    const times = timesIn(snapshots[1]).filter(([path]) => path !== 'at');
    expect(times.map(([path]) => path).sort()).toEqual(['asOf', 'keysDestroyed.latestEpochEnd', 'retention.latestPeriodEnd']);
    for (const [, time] of times) expect(Date.parse(time) % MIN).toBe(0);
    expect(JSON.stringify(snapshots[1])).not.toMatch(/09:31:00\.437|09:46:07|10:00:03/);
  });

  it('count a destroyed key once its epoch, the key grace and one more epoch have passed: not before', async () => {
    const events = [keyDestroyed('traffic-light', utc(9, 45), utc(9, 46, 0, 500))];
    // 09:45 + 60 s grace + a 15-minute epoch = 10:01, which is asOf from 10:01:15.
    expect((await figuresAt(utc(10, 1, 14, 999), { events })).keysDestroyed).toEqual({ total: 0, latestEpochEnd: null });
    expect((await figuresAt(utc(10, 1, 15), { events })).keysDestroyed).toEqual({ total: 1, latestEpochEnd: isoUtc(9, 45) });
    // A longer grace delays it by as much.
    expect((await figuresAt(utc(10, 1, 15), { events, keyGraceMs: 5 * MIN })).keysDestroyed).toEqual({ total: 0, latestEpochEnd: null });
    expect((await figuresAt(utc(10, 5, 15), { events, keyGraceMs: 5 * MIN })).keysDestroyed).toEqual({ total: 1, latestEpochEnd: isoUtc(9, 45) });
  });

  it("wait one epoch of the key's kind (the longest for an unknown kind), and count a key without an epoch end by its event time", async () => {
    const shortLamppostEpoch = policyWith({ lamppost: { epoch: 5 * MIN } });
    const events = [
      keyDestroyed('lamppost', utc(9, 55), utc(9, 56)), // 09:55 + 1 + 5 = 10:01: counted
      keyDestroyed('traffic-light', utc(9, 55), utc(9, 56)), // 09:55 + 1 + 15 = 10:11: not yet
      keyDestroyed('bus-stop', utc(9, 45), utc(9, 46)), // unknown kind, 15-minute epoch: 10:01, counted
      keyDestroyed('bus-stop', utc(9, 50), utc(9, 51)), // 10:06 (it would be 09:56 with the lamppost's epoch)
      keyDestroyed('sewer', undefined, utc(10, 0, 59)), // no epoch end: by its time, before asOf
      keyDestroyed('sewer', undefined, utc(10, 1, 0, 1)), // after asOf
    ];
    const live = await figuresAt(utc(10, 1, 15), { policy: shortLamppostEpoch, events });
    expect(live.asOf).toBe(isoUtc(10, 1));
    expect(live.keysDestroyed).toEqual({ total: 3, latestEpochEnd: isoUtc(9, 55) });
  });

  it("show retention by the attested period's end, not by when the attestation was written; one over the limit shows", async () => {
    const events = [
      attested(utc(9, 30), true),
      // Written late (a slow check of many records): counted all the same, by its period.
      attested(utc(9, 45), false, utc(10, 5, 20)),
      attested(utc(10, 0), true),
      // Ends after asOf: not shown yet, whatever it says.
      attested(utc(10, 15), false, utc(10, 5, 29)),
    ];
    expect((await figuresAt(NOW, { events })).retention).toEqual({ periods: 3, allWithinLimit: false, latestPeriodEnd: isoUtc(10, 0) });
    const allWithin = [attested(utc(9, 45), true, utc(10, 5, 20)), attested(utc(10, 0), true)];
    expect((await figuresAt(NOW, { events: allWithin })).retention).toEqual({ periods: 2, allWithinLimit: true, latestPeriodEnd: isoUtc(10, 0) });
    expect((await figuresAt(NOW, { events: [attested(utc(10, 15), false)] })).retention).toEqual({ periods: 0, allWithinLimit: true, latestPeriodEnd: null });
    // A period none of whose checks succeeded proves nothing: not known, unless another found a record too old.
    expect((await figuresAt(NOW, { events: [attested(utc(9, 45), true), attested(utc(10, 0), null)] })).retention).toEqual({
      periods: 2,
      allWithinLimit: null,
      latestPeriodEnd: isoUtc(10, 0),
    });
    expect((await figuresAt(NOW, { events: [attested(utc(9, 45), false), attested(utc(10, 0), null)] })).retention.allWithinLimit).toBe(false);
  });

  it('give per personal topic the outcome of the checks of the window before asOf; a failed check is no check', async () => {
    const history = [
      check(utc(10, 3, 30), { [SIGHTINGS]: false, [REJECTED]: false }), // before the window
      check(utc(10, 4, 0), { [SIGHTINGS]: true, [REJECTED]: null }),
      check(utc(10, 4, 30), { [SIGHTINGS]: true, [REJECTED]: null }),
      check(utc(10, 5, 0), { [SIGHTINGS]: false, [REJECTED]: false }), // at asOf: not shown yet
    ];
    const { checks, calls } = recordedChecks([SIGHTINGS, REJECTED, PARTIALS], 30_000, history);
    const live = await figuresAt(NOW, { checks });
    expect(calls).toEqual([[utc(10, 4), utc(10, 5)]]);
    expect(live.rawData).toEqual({
      ttlSeconds: 900,
      boundSeconds: rawDataLimit(policy).boundMs / 1000,
      limitSeconds: 900 + rawDataLimit(policy).boundMs / 1000,
      checkEverySeconds: 30,
      // Sorted by topic; a topic no check mentions is not checked.
      topics: [
        { topic: PARTIALS, withinLimit: null, checks: 0 },
        { topic: REJECTED, withinLimit: null, checks: 0 },
        { topic: SIGHTINGS, withinLimit: true, checks: 2 },
      ],
    });
    expect(live.unavailable).toEqual([]);

    // One check over the limit in the window is enough.
    const over = recordedChecks([SIGHTINGS], 30_000, [check(utc(10, 4, 0), { [SIGHTINGS]: true }), check(utc(10, 4, 30), { [SIGHTINGS]: false })]);
    expect((await figuresAt(NOW, { checks: over.checks })).rawData.topics).toEqual([{ topic: SIGHTINGS, withinLimit: false, checks: 2 }]);
  });

  it('look back one check interval when the checks are further apart than the window', async () => {
    const { checks, calls } = recordedChecks([SIGHTINGS], 2 * MIN, [check(utc(10, 2), { [SIGHTINGS]: false }), check(utc(10, 4), { [SIGHTINGS]: true })]);
    const live = await figuresAt(NOW, { checks });
    expect(calls).toEqual([[utc(10, 3), utc(10, 5)]]);
    expect(live.rawData.checkEverySeconds).toBe(120);
    expect(live.rawData.topics).toEqual([{ topic: SIGHTINGS, withinLimit: true, checks: 1 }]);
  });

  it('give ε per stream from the store as of the last instant before asOf, without a window time of its own', async () => {
    const store = createMemoryAggregateStore([
      privacyRecord('vehicles', utc(10, 3), 300),
      privacyRecord('vehicles', utc(10, 4), 301),
      privacyRecord('vehicles', utc(10, 5), 302), // starts at asOf: not counted yet
      privacyRecord('pedestrians', utc(10, 2), 411),
      privacyRecord('pedestrians', utc(10, 4), 412),
      privacyRecord('travel-times', utc(10, 5), 7), // only at asOf: not shown
      privacyRecord('dwell-times', Date.UTC(2025, 5, 1, 23, 59), 1440), // yesterday's
    ]);
    const asked: Date[] = [];
    const spy: Pick<AggregateStore, 'epsilonToday'> = { epsilonToday: (at) => (asked.push(at), store.epsilonToday(at)) };
    const live = await figuresAt(NOW, { store: spy });
    expect(asked).toEqual([new Date(utc(10, 4, 59, 999))]);
    expect(live.epsilonToday).toEqual([
      { stream: 'pedestrians', spentToday: 412, budgetToday: 1440 },
      { stream: 'vehicles', spentToday: 301, budgetToday: 1440 },
    ]);
    for (const figure of live.epsilonToday ?? []) expect(Object.keys(figure).sort()).toEqual(['budgetToday', 'spentToday', 'stream']);
  });

  it('give ε as of asOf across midnight (yesterday until asOf passes it), while refusals today follow the live day', async () => {
    // 00:00:10: asOf is still 23:59 of the day before.
    const now = Date.UTC(2025, 5, 3, 0, 0, 10);
    const store = createMemoryAggregateStore([privacyRecord('vehicles', utc(23, 58), 1439), privacyRecord('vehicles', utc(23, 59), 1440)]);
    const refused = (at: number): AuditEvent => ({ type: 'request.refused', actor: 'api', at, data: { requestId: `req-${at}`, reasons: ['UNLINKABLE'] } });
    const events = [refused(utc(23, 30)), refused(utc(23, 59, 59, 999)), refused(Date.UTC(2025, 5, 3, 0, 0, 5))];
    const live = await figuresAt(now, { store, events });
    expect(live.at).toBe('2025-06-03T00:00:10.000Z');
    expect(live.asOf).toBe('2025-06-02T23:59:00.000Z');
    expect(live.epsilonToday).toEqual([{ stream: 'vehicles', spentToday: 1439, budgetToday: 1440 }]);
    expect(live.requests).toEqual({ received: 0, answered: 0, refused: 3, refusedToday: 1 });
  });

  it('count requests and refused routes live (they are about requesters), refusals today by the UTC day of now', async () => {
    const request = (type: AuditEvent['type'], at: number, data: AuditEvent['data'] = {}): AuditEvent => ({
      type,
      actor: 'api',
      at,
      data: { requestId: `req-${at}`, ...data },
    });
    const events = [
      request('request.received', utc(9, 0)),
      request('request.received', utc(10, 0)),
      request('request.received', utc(10, 5, 29)), // after asOf: counted all the same
      request('request.answered', utc(10, 0, 1), { links: 2 }),
      request('request.refused', Date.UTC(2025, 5, 1, 23, 59, 59, 999), { reasons: ['EXPIRED'] }),
      request('request.refused', utc(0, 0), { reasons: ['OUT_OF_PURPOSE'] }),
      { type: 'route.refused', actor: 'api', at: utc(10, 1), data: { route: '/v1/people', method: 'GET', params: ['mac'] } },
      { type: 'route.refused', actor: 'api', at: utc(10, 5, 25), data: { route: '/v1/aggregates', method: 'GET', params: ['plate'] } },
      { type: 'export', actor: 'api', at: utc(10, 2), data: { route: '/v1/aggregates', rows: 3 } },
      { type: 'policy.loaded', actor: 'gateway', at: utc(8, 0), data: { policyHash: 'abc' } },
    ] satisfies AuditEvent[];
    const live = await figuresAt(NOW, { events });
    expect(live.requests).toEqual({ received: 3, answered: 1, refused: 2, refusedToday: 1 });
    expect(live.routesRefused).toBe(2);
    expect(live.keysDestroyed).toEqual({ total: 0, latestEpochEnd: null });
    expect(live.retention).toEqual({ periods: 0, allWithinLimit: true, latestPeriodEnd: null });
  });

  it('say which sources did not answer, with their figures null or empty, and still give the configuration', async () => {
    const auditDown = new Error('audit log down');
    const storeDown = new Error('influx down');
    const errors: Array<[string, unknown]> = [];
    const live = await figuresAt(NOW, {
      audit: { records: () => Promise.reject(auditDown) },
      store: { epsilonToday: () => Promise.reject(storeDown) },
      checks: recordedChecks([SIGHTINGS], 30_000, []).checks,
      onError: (source, err) => errors.push([source, err]),
    });
    expect([...live.unavailable].sort()).toEqual(['aggregate-store', 'audit-log', 'retention-check']);
    expect(errors.sort(([a], [b]) => (a < b ? -1 : 1))).toEqual([
      ['aggregate-store', storeDown],
      ['audit-log', auditDown],
    ]);
    expect(live.epsilonToday).toBeNull();
    expect(live.keysDestroyed).toEqual({ total: 0, latestEpochEnd: null });
    // Not known, so not claimed: no "all within the limit" from a log that did not answer.
    expect(live.retention).toEqual({ periods: 0, allWithinLimit: null, latestPeriodEnd: null });
    expect(live.requests).toEqual({ received: 0, answered: 0, refused: 0, refusedToday: 0 });
    expect(live.routesRefused).toBe(0);
    expect(live.rawData.topics).toEqual([{ topic: SIGHTINGS, withinLimit: null, checks: 0 }]);
    expect(live.rawData.limitSeconds).toBe(rawDataLimit(policy).limitMs / 1000);
    expect(live.asOf).toBe(isoUtc(10, 5));

    // One source down: only it is named.
    const storeOnly = await figuresAt(NOW, { store: { epsilonToday: () => Promise.reject(storeDown) }, events: [attested(utc(10, 0), true)] });
    expect(storeOnly.unavailable).toEqual(['aggregate-store']);
    expect(storeOnly.retention.periods).toBe(1);
  });

  it('reuse a snapshot for cacheMs (2 s by default), and do not keep a failed one', async () => {
    let t = NOW;
    let reads = 0;
    const audit = await auditWith([attested(utc(10, 0), true)]);
    const counting = { records: () => (reads++, audit.records()) };
    const live = createLiveFigures({ policy, audit: counting, store: createMemoryAggregateStore(), checks: checksAllWithin([SIGHTINGS]), now: () => t });
    const first = live.snapshot();
    t = NOW + 1999;
    expect(live.snapshot()).toBe(first);
    expect((await first).at).toBe(new Date(NOW).toISOString());
    expect(reads).toBe(1);
    t = NOW + 2000;
    expect((await live.snapshot()).at).toBe(new Date(NOW + 2000).toISOString());
    expect(reads).toBe(2);

    let failures = 1;
    const flaky: RetentionChecks = {
      topics: [SIGHTINGS],
      intervalMs: 30_000,
      between: (from, to) => {
        if (failures-- > 0) throw new Error('history unreadable');
        return checksAllWithin([SIGHTINGS]).between(from, to);
      },
    };
    const retried = createLiveFigures({ policy, audit, store: createMemoryAggregateStore(), checks: flaky, now: () => NOW, cacheMs: 60_000 });
    await expect(retried.snapshot()).rejects.toThrow('history unreadable');
    expect((await retried.snapshot()).rawData.topics).toEqual([{ topic: SIGHTINGS, withinLimit: true, checks: 2 }]);
  });
});
