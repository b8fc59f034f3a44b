import { describe, expect, it } from 'vitest';
import { registerSummary } from '../src/commands/register.ts';

const d = (ms: number) => ({ ms, text: `${ms}ms` });
const base = {
  policy: { id: 'p', version: 1 },
  controller: 'City',
  contact: 'privacy@city.example',
  rawData: { ttl: d(900_000) },
  aggregates: { retention: d(86_400_000) },
  sensors: [],
  live: null,
};

describe('lethe register', () => {
  it('says how many copies of the records about people Kafka keeps, as its servers report them, and when that is not known', () => {
    const lines = registerSummary({
      ...base,
      topics: [
        { topic: 'lethe.sightings.v1', personal: true, replication: { state: 'read', replicas: 3, minInsyncReplicas: 2, uncleanLeaderElection: false } },
        { topic: 'lethe.rejected.v1', personal: true, replication: { state: 'read', replicas: 2, minInsyncReplicas: 1, uncleanLeaderElection: true } },
        {
          topic: 'lethe.partials.v1',
          personal: true,
          replication: { state: 'read-failed', replicas: null, minInsyncReplicas: null, uncleanLeaderElection: null },
        },
        { topic: 'lethe.aggregates.v1', personal: false, replication: { state: 'read', replicas: 3, minInsyncReplicas: 2, uncleanLeaderElection: false } },
      ],
    });
    const line = lines.find((l) => l.startsWith('Copies of records about people'));
    expect(line).toBe(
      'Copies of records about people (as the Kafka servers report them): lethe.sightings.v1 3 (a record counts as written once 2 have it), ' +
        'lethe.rejected.v1 2 (a record counts as written once 1 has it; a copy that missed records MAY take over), lethe.partials.v1 not known right now',
    );
  });

  it('prints no copies line for a register without replication (an older api)', () => {
    const lines = registerSummary({ ...base, topics: [{ topic: 'lethe.sightings.v1', personal: true }] });
    expect(lines.some((l) => l.startsWith('Copies'))).toBe(false);
  });
});
