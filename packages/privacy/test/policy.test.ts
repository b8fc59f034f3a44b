import { READING_SCHEMAS, DEVICE_KINDS } from '@lethe/schemas';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import { DEFAULT_POLICY_PATH, loadPolicy, parsePolicy, PolicyError } from '../src/policy.ts';
import { SIGHTING_FIELDS } from '../src/ingest.ts';

interface PolicyDoc {
  rawData: { ttl: string };
  kinds: Record<string, { window: string; fields: Record<string, { treatment: string }> }>;
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

  it('refuses windows that would span two pseudonym epochs', () => {
    const doc = shipped();
    doc.kinds.sewer!.window = '7m';
    expect(() => parsePolicy(doc)).toThrow(/kinds.sewer.epoch: must be a whole number of windows/);
  });
});
