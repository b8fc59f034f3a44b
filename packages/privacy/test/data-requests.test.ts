import { describe, expect, it } from 'vitest';
import {
  decideDataRequest,
  effectiveLevel,
  INDIVIDUAL_DATA,
  OPEN_DATA_MEASUREMENTS,
  OTHER_PURPOSES,
  policyPurposes,
  REFUSAL_REASONS,
  type DataRequest,
} from '../src/data-requests.ts';
import { DEFAULT_POLICY_PATH, loadPolicy, parsePolicy } from '../src/policy.ts';

const policy = loadPolicy(DEFAULT_POLICY_PATH);
const MIN = 60_000;
const EPOCH = policy.kinds['traffic-light'].epoch;
/** Five minutes into an epoch (well past the key grace of the previous one). */
const NOW = Date.UTC(2025, 5, 2, 10, 0) + 5 * MIN;
const EPOCH_START = Math.floor(NOW / EPOCH) * EPOCH;

function request(overrides: Partial<DataRequest>): DataRequest {
  return { subject: { type: 'city' }, level: 'aggregate', data: [], purpose: 'traffic-signal-optimisation', from: NOW - 10 * MIN, to: NOW, ...overrides };
}
const decide = (r: DataRequest, now = NOW) => decideDataRequest(r, { policy, now });

describe('data requests: individual-level data is always refused', () => {
  it("refuses a police request for a plate's movements last week with every reason that applies", () => {
    const decision = decide(
      request({
        subject: { type: 'plate' },
        level: 'individual',
        data: ['movements'],
        purpose: 'criminal-investigation',
        from: NOW - 7 * 86_400_000,
        to: NOW - 6 * 86_400_000,
      }),
    );
    expect(decision.decision).toBe('refused');
    if (decision.decision !== 'refused') return;
    expect(decision.level).toBe('individual');
    expect(decision.reasons).toEqual(['NOT_COLLECTED', 'EXPIRED', 'UNLINKABLE', 'OUT_OF_PURPOSE']);
    expect(decision.details.map((d) => d.reason)).toEqual(decision.reasons);
    for (const d of decision.details) expect(d.explanation.length).toBeGreaterThan(20);
  });

  it("refuses a plate's movements in the current epoch too: out of purpose, and a raw plate is never stored", () => {
    const decision = decide(
      request({ subject: { type: 'plate' }, level: 'individual', data: ['movements'], purpose: 'criminal-investigation', from: EPOCH_START, to: NOW }),
    );
    expect(decision).toMatchObject({ decision: 'refused', reasons: ['NOT_COLLECTED', 'OUT_OF_PURPOSE'] });
  });

  it('says exactly what can be found by a plate, by whom, and until when (no claim that nothing can)', () => {
    const decision = decide(
      request({ subject: { type: 'plate' }, level: 'individual', data: ['movements'], purpose: 'criminal-investigation', from: EPOCH_START, to: NOW }),
    );
    const text = decision.decision === 'refused' ? decision.details.find((d) => d.reason === 'NOT_COLLECTED')!.explanation : '';
    expect(text).not.toMatch(/no record can be found/);
    expect(text).toContain('never stored, so no record holds it');
    // Within the epoch and its key grace, whoever holds the key could recompute the pseudonym…
    expect(text).toContain(`every ${EPOCH / MIN}m`);
    expect(text).toMatch(/whoever holds that key — the gateway, or the keyring that serves several gateways — could recompute this licence plate's pseudonym/);
    expect(text).toContain(
      `since ${new Date(EPOCH_START).toISOString().slice(0, 19)}Z, until ${new Date(EPOCH_START + EPOCH + MIN).toISOString().slice(0, 19)}Z at the latest`,
    );
    // …and after the key is destroyed, nothing links it.
    expect(text).toContain("Once a period's key is destroyed, nothing links the licence plate to any record of that period");
    // In the key grace of the previous epoch, that epoch's records are still findable by the key holder.
    const inGrace = decide(
      request({
        subject: { type: 'mac' },
        level: 'individual',
        data: ['movements'],
        purpose: 'criminal-investigation',
        from: EPOCH_START,
        to: EPOCH_START + 10_000,
      }),
      EPOCH_START + 30_000,
    );
    const graceText = inGrace.decision === 'refused' ? inGrace.details.find((d) => d.reason === 'NOT_COLLECTED')!.explanation : '';
    expect(graceText).toContain(`since ${new Date(EPOCH_START - policy.kinds.lamppost.epoch).toISOString().slice(0, 19)}Z`);
  });

  it('says which part of the range is unlinkable and why', () => {
    const past = decide(
      request({ subject: { type: 'plate' }, level: 'individual', data: ['movements'], purpose: 'criminal-investigation', from: EPOCH_START - EPOCH, to: NOW }),
    );
    const text = past.decision === 'refused' ? past.details.find((d) => d.reason === 'UNLINKABLE')!.explanation : '';
    expect(text).toContain(`destroyed 1m after the period ends`);
    expect(text).toContain(`before ${new Date(EPOCH_START).toISOString().slice(0, 19)}Z, whose keys are destroyed`);
    const future = decide(
      request({
        subject: { type: 'plate' },
        level: 'individual',
        data: ['movements'],
        purpose: 'criminal-investigation',
        from: EPOCH_START,
        to: EPOCH_START + 2 * EPOCH,
      }),
    );
    expect(future.decision === 'refused' && future.details.find((d) => d.reason === 'UNLINKABLE')!.explanation).toContain('do not exist yet');
  });

  it('treats a request about a person as individual even when it claims to be aggregate', () => {
    for (const type of ['plate', 'mac', 'pseudonym'] as const) {
      expect(effectiveLevel({ subject: { type }, level: 'aggregate', data: [] })).toBe('individual');
      expect(decide(request({ subject: { type }, level: 'aggregate', purpose: 'travel-time-information' })).decision).toBe('refused');
    }
    expect(effectiveLevel({ subject: { type: 'city' }, level: 'aggregate', data: ['images'] })).toBe('individual');
  });

  it('refuses individual data even for a purpose of the policy, and says so', () => {
    const decision = decide(
      request({
        subject: { type: 'district', district: 'wan-chai' },
        level: 'individual',
        data: ['sightings'],
        purpose: 'pedestrian-flow-planning',
        from: EPOCH_START,
        to: NOW,
      }),
    );
    expect(decision).toMatchObject({ decision: 'refused', reasons: ['OUT_OF_PURPOSE'] });
    if (decision.decision === 'refused') expect(decision.details[0]!.explanation).toContain("none of the policy's purposes");
  });

  it('says NOT_COLLECTED for every field the policy drops, from the policy', () => {
    for (const name of ['images', 'wifi-networks', 'signal-strength', 'loop-speeds', 'identity', 'raw-readings'] as const) {
      const decision = decide(request({ subject: { type: 'city' }, level: 'individual', data: [name], purpose: 'research', from: EPOCH_START, to: NOW }));
      expect(decision.decision === 'refused' && decision.reasons, name).toEqual(['NOT_COLLECTED', 'OUT_OF_PURPOSE']);
    }
    // Individual vehicle speeds are kept (pseudonymously, for the TTL): collected, still refused.
    const speeds = decide(
      request({ subject: { type: 'city' }, level: 'individual', data: ['vehicle-speeds'], purpose: 'research', from: EPOCH_START, to: NOW }),
    );
    expect(speeds).toMatchObject({ decision: 'refused', reasons: ['OUT_OF_PURPOSE'] });
  });

  it('derives NOT_COLLECTED from the policy, not from a fixed list', () => {
    const doc = structuredClone(policy) as unknown as Record<string, unknown>;
    // A policy that (hypothetically) kept loop speeds would have collected them.
    const kinds = doc.kinds as Record<string, { fields: Record<string, { treatment: string; class: string }> }>;
    kinds['traffic-light']!.fields.meanSpeedKmh!.treatment = 'keep';
    const text = (ms: number) => `${ms / 1000}s`;
    const reparsed = parsePolicy({
      ...doc,
      aggregates: { retention: text(policy.aggregates.retention) },
      rawData: { ttl: text(policy.rawData.ttl), segment: text(policy.rawData.segment), maxLateness: text(policy.rawData.maxLateness) },
      kinds: Object.fromEntries(
        Object.entries(policy.kinds).map(([k, v]) => [k, { ...v, fields: kinds[k]!.fields, window: text(v.window), epoch: text(v.epoch) }]),
      ),
    });
    const decision = decideDataRequest(request({ level: 'individual', data: ['loop-speeds'], purpose: 'research', from: EPOCH_START, to: NOW }), {
      policy: reparsed,
      now: NOW,
    });
    expect(decision).toMatchObject({ decision: 'refused', reasons: ['OUT_OF_PURPOSE'] });
  });

  it('says NOT_COLLECTED for sightings at a sensor that sees no personal data', () => {
    const decision = decide(
      request({
        subject: { type: 'device', deviceId: 'SW-0001', kind: 'sewer', district: 'wan-chai' },
        level: 'individual',
        data: ['sightings'],
        purpose: 'flood-warning',
        from: EPOCH_START,
        to: NOW,
      }),
    );
    expect(decision).toMatchObject({ decision: 'refused', reasons: ['NOT_COLLECTED', 'OUT_OF_PURPOSE'] });
  });

  it('says EXPIRED as soon as any part of the range is older than the raw TTL', () => {
    const ttl = policy.rawData.ttl;
    const inside = decide(request({ level: 'individual', purpose: 'research', from: NOW - ttl + 1000, to: NOW }));
    const outside = decide(request({ level: 'individual', purpose: 'research', from: NOW - ttl - 1000, to: NOW }));
    expect(inside.decision === 'refused' && inside.reasons).not.toContain('EXPIRED');
    expect(outside.decision === 'refused' && outside.reasons).toContain('EXPIRED');
  });

  it('says UNLINKABLE for any range beyond the current epoch, past or future, allowing the key grace', () => {
    const reasons = (from: number, to: number, now = NOW) => {
      const d = decide(request({ level: 'individual', purpose: 'research', from, to }), now);
      return d.decision === 'refused' ? d.reasons : [];
    };
    expect(reasons(EPOCH_START, NOW)).not.toContain('UNLINKABLE');
    expect(reasons(EPOCH_START - 1, NOW)).toContain('UNLINKABLE');
    expect(reasons(EPOCH_START, EPOCH_START + EPOCH + 1)).toContain('UNLINKABLE');
    // 30 s into an epoch the previous key still exists (grace 60 s); after it, it is gone.
    expect(reasons(EPOCH_START - MIN, EPOCH_START + 30_000, EPOCH_START + 30_000)).not.toContain('UNLINKABLE');
    expect(reasons(EPOCH_START - MIN, EPOCH_START + 90_000, EPOCH_START + 90_000)).toContain('UNLINKABLE');
  });
});

describe('data requests: aggregates for a purpose of the policy are answered from the open data', () => {
  it('answers a district request with links into /v1/aggregates for the measurements serving the purpose', () => {
    const decision = decide(request({ subject: { type: 'district', district: 'wan-chai' }, purpose: 'pedestrian-flow-planning' }));
    expect(decision.decision).toBe('answered');
    if (decision.decision !== 'answered') return;
    expect(decision.from).toBe('open-data');
    const measurements = decision.links.map((l) => new URL(l, 'http://x').searchParams.get('measurement'));
    expect(measurements.sort()).toEqual(['dwell', 'lamppost', 'pedestrians']);
    for (const link of decision.links) {
      const url = new URL(link, 'http://x');
      expect(url.pathname).toBe('/v1/aggregates');
      expect(url.searchParams.get('district')).toBe('wan-chai');
      expect(url.searchParams.get('scope')).toBe(url.searchParams.get('measurement') === 'dwell' ? 'cell' : 'district');
      expect(url.searchParams.get('start')).toBe(new Date(NOW - 10 * MIN).toISOString());
      expect(url.searchParams.get('stop')).toBe(new Date(NOW).toISOString());
    }
  });

  it('links a device to its own readings, and its person-derived figures to the cells of its district', () => {
    const decision = decide(
      request({
        subject: { type: 'device', deviceId: 'LP-0001', kind: 'lamppost', district: 'central-western' },
        purpose: 'pedestrian-flow-planning',
        data: ['lamppost', 'pedestrians'],
      }),
    );
    expect(decision.decision).toBe('answered');
    if (decision.decision !== 'answered') return;
    const [readings, people] = decision.links.map((l) => new URL(l, 'http://x').searchParams);
    expect(readings!.get('device')).toBe('LP-0001');
    expect(people!.get('device')).toBeNull();
    expect(people!.get('scope')).toBe('cell');
    expect(people!.get('district')).toBe('central-western');
  });

  it('refuses aggregates for a purpose outside the policy, or of sensors that do not serve it', () => {
    expect(decide(request({ purpose: 'marketing' }))).toMatchObject({ decision: 'refused', level: 'aggregate', reasons: ['OUT_OF_PURPOSE'] });
    expect(decide(request({ purpose: 'flood-warning', data: ['pedestrians'] }))).toMatchObject({ decision: 'refused', reasons: ['OUT_OF_PURPOSE'] });
    expect(decide(request({ purpose: 'flood-warning', data: ['sewer'] }))).toMatchObject({ decision: 'answered' });
  });

  it('refuses aggregates entirely older than their retention and clamps a range that is partly so', () => {
    const retention = policy.aggregates.retention;
    expect(decide(request({ from: NOW - retention - 2 * MIN, to: NOW - retention - MIN }))).toMatchObject({ decision: 'refused', reasons: ['EXPIRED'] });
    const partly = decide(request({ from: NOW - retention - MIN, to: NOW }));
    expect(partly.decision).toBe('answered');
    if (partly.decision === 'answered') {
      expect(new URL(partly.links[0]!, 'http://x').searchParams.get('start')).toBe(new Date(NOW - retention).toISOString());
      expect(partly.notes.join(' ')).toContain('30d');
    }
  });
});

describe('data requests: the vocabulary', () => {
  it('keeps the other purposes apart from the policy purposes', () => {
    for (const p of OTHER_PURPOSES) expect(policyPurposes(policy)).not.toContain(p);
  });

  it('names only policy fields that exist', () => {
    for (const [name, category] of Object.entries(INDIVIDUAL_DATA)) {
      for (const ref of category.fields) {
        const [kind, field] = ref.split(':') as [keyof typeof policy.kinds, string];
        expect(policy.kinds[kind].fields[field], `${name}: ${ref}`).toBeDefined();
      }
    }
    for (const m of Object.values(OPEN_DATA_MEASUREMENTS)) expect(policy.kinds).toHaveProperty(m.kind);
    expect(REFUSAL_REASONS).toEqual(['NOT_COLLECTED', 'EXPIRED', 'UNLINKABLE', 'OUT_OF_PURPOSE']);
  });

  it('never echoes anything the requester wrote into a decision', () => {
    // The input holds no identifier by construction; free text never reaches the explanations.
    const decision = decide(request({ subject: { type: 'plate' }, level: 'individual', purpose: 'CZ9 AB123 was here', from: NOW - 86_400_000, to: NOW }));
    expect(JSON.stringify(decision)).not.toContain('CZ9');
  });
});
