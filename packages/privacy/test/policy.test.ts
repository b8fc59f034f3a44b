import { READING_SCHEMAS, DEVICE_KINDS } from '@lethe/schemas';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import { DEFAULT_POLICY_PATH, loadPolicy, parsePolicy, PolicyError } from '../src/policy.ts';
import { SIGHTING_FIELDS } from '../src/ingest.ts';

interface PolicyDoc {
  rawData: { ttl: string };
  kinds: Record<string, { window: string; fields: Record<string, Record<string, unknown> & { treatment: string }> }>;
}
const shipped = () => parse(readFileSync(DEFAULT_POLICY_PATH, 'utf8')) as PolicyDoc;

describe('the privacy policy', () => {
  it('loads the shipped policy with durations in milliseconds', () => {
    const policy = loadPolicy(DEFAULT_POLICY_PATH);
    expect(policy.rawData.ttl).toBe(15 * 60_000);
    expect(policy.kinds.lamppost.window).toBe(60_000);
    expect(policy.kinds.lamppost.fields['wifiProbes.mac']).toMatchObject({ class: 'direct-identifier', treatment: 'pseudonymize' });
  });

  it('names every field of every payload schema, so nothing passes minimization by omission', () => {
    const policy = loadPolicy(DEFAULT_POLICY_PATH);
    for (const kind of DEVICE_KINDS) {
      const shape = READING_SCHEMAS[kind].shape as Record<string, unknown>;
      for (const field of Object.keys(shape)) {
        const sighting = SIGHTING_FIELDS[field];
        if (sighting) expect(policy.kinds[kind].fields[`${field}.${sighting.identifier}`], `${kind}.${field}`).toBeDefined();
        else expect(policy.kinds[kind].fields[field], `${kind}.${field}`).toBeDefined();
      }
    }
  });

  it('refuses a policy that keeps a direct identifier, listing every problem with its location', () => {
    const doc = shipped();
    doc.kinds.lamppost!.fields['wifiProbes.mac']!.treatment = 'keep';
    doc.rawData.ttl = 'forever';
    try {
      parsePolicy(doc, 'test.yaml');
      expect.unreachable('the policy should have been refused');
    } catch (err) {
      expect(err).toBeInstanceOf(PolicyError);
      const problems = (err as PolicyError).problems.join('\n');
      expect(problems).toContain('kinds.lamppost.fields.wifiProbes.mac: a direct identifier must be pseudonymized or dropped');
      expect(problems).toContain('rawData.ttl: must be a duration');
    }
  });

  it('refuses a count of people or vehicles marked environmental, whatever the field is called (P9)', () => {
    for (const unit of ['vehicles', 'people', 'Phones', ' cars ', 'pedestrian']) {
      const doc = shipped();
      doc.kinds['traffic-light']!.fields.queueLength = { class: 'environmental', treatment: 'keep', unit };
      expect(() => parsePolicy(doc), unit).toThrow(/kinds.traffic-light.fields.queueLength.class: a field counted in .* varies with the people present/);
    }
    const doc = shipped();
    doc.kinds['traffic-light']!.fields.queueLength = { class: 'environmental', treatment: 'keep', unit: 'm' };
    expect(() => parsePolicy(doc)).not.toThrow();
  });

  it('needs the sensitivity and range of a kept presence-dependent field, and publishes it as a mean only', () => {
    const doc = shipped();
    doc.kinds.lamppost!.fields.dimmingPct = { class: 'presence-dependent', treatment: 'keep', aggregate: ['max'], range: [100, 0] };
    doc.kinds.lamppost!.fields.pm25 = { class: 'environmental', treatment: 'keep', perPerson: 1 };
    try {
      parsePolicy(doc);
      expect.unreachable('the policy should have been refused');
    } catch (err) {
      const problems = (err as PolicyError).problems.join('\n');
      expect(problems).toContain('kinds.lamppost.fields.dimmingPct.perPerson: a kept presence-dependent field needs perPerson');
      expect(problems).toContain('kinds.lamppost.fields.dimmingPct.range: must be [min, max] with min < max');
      expect(problems).toContain('kinds.lamppost.fields.dimmingPct.aggregate: a presence-dependent field is published as a noisy district mean only');
      expect(problems).toContain('kinds.lamppost.fields.pm25: perPerson and range apply to presence-dependent fields only');
    }
  });

  it('classes the shipped fields that move with presence as presence-dependent (adaptive lighting, queues, energy)', () => {
    const policy = loadPolicy(DEFAULT_POLICY_PATH);
    for (const [kind, field] of [
      ['lamppost', 'dimmingPct'],
      ['lamppost', 'energyWh'],
      ['lamppost', 'lux'],
      ['lamppost', 'noiseDba'],
      ['traffic-light', 'queueLength'],
      ['traffic-light', 'occupancyPct'],
    ] as const) {
      expect(policy.kinds[kind].fields[field]?.class, `${kind}.${field}`).toBe('presence-dependent');
    }
  });

  it('refuses windows that would span two pseudonym epochs', () => {
    const doc = shipped();
    doc.kinds.sewer!.window = '7m';
    expect(() => parsePolicy(doc)).toThrow(/kinds.sewer.epoch: must be a whole number of windows/);
  });
});
