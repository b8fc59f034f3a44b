import { createMemoryAuditLog, type AuditEvent } from '@lethe/audit';
import { DEFAULT_POLICY_PATH, loadPolicy, rawDataLimit } from '@lethe/privacy';
import { describe, expect, it } from 'vitest';
import { createLiveFigures, figuresAsOf, SETTLE_MS } from '../src/live-figures.ts';
import type { RetentionChecks } from '../src/retention-schedule.ts';

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
