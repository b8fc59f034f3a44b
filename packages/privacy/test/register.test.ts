import { readFileSync } from 'node:fs';
import { DEVICE_KINDS, PERSONAL_TOPICS, TOPICS } from '@lethe/schemas';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEFAULT_POLICY_PATH, loadPolicy, parsePolicy } from '../src/policy.ts';
import { buildRegister, withReplication, type RegisterReplication } from '../src/register.ts';
import { aggregateRetentionSeconds, topicSpecs } from '../src/topic-configs.ts';

const policy = loadPolicy(DEFAULT_POLICY_PATH);

describe('the transparency register', () => {
  it('names the controller, the contact and the policy it was built from', () => {
    const register = buildRegister(policy);
    expect(register.controller).toBe('Lethe Reference City — Digital Infrastructure Office');
    expect(register.contact).toBe('privacy@lethe.example');
    expect(register.policy).toEqual({ id: 'lethe-reference-city', version: 1 });
  });

  it('states the raw-data TTL, segment and aggregates retention in exact and readable form', () => {
    const register = buildRegister(policy);
    expect(register.rawData.ttl).toEqual({ ms: 15 * 60_000, text: '15m' });
    expect(register.rawData.segment).toEqual({ ms: 60_000, text: '1m' });
    expect(register.aggregates).toEqual({ store: 'InfluxDB', retention: { ms: 30 * 86_400_000, text: '30d' } });
  });

  it('lists every Kafka topic with exactly the configs the services apply to the broker', () => {
    const register = buildRegister(policy);
    const specs = topicSpecs(policy);
    expect(register.topics.map((t) => t.topic)).toEqual(specs.map((s) => s.topic));
    for (const spec of specs) {
      const topic = register.topics.find((t) => t.topic === spec.topic)!;
      expect(topic.configs).toEqual(spec.configs);
      expect(topic.retention.ms).toBe(Number(spec.configs['retention.ms']));
      expect(topic.segment?.ms).toBe(spec.configs['segment.ms'] === undefined ? undefined : Number(spec.configs['segment.ms']));
      expect(topic.holds.length).toBeGreaterThan(10);
    }
    for (const name of PERSONAL_TOPICS) {
      const topic = register.topics.find((t) => t.topic === name)!;
      expect(topic.personal).toBe(true);
      expect(topic.retention).toEqual(register.rawData.ttl);
      expect(topic.segment).toEqual(register.rawData.segment);
    }
    expect(register.topics.find((t) => t.topic === TOPICS.aggregates)!.personal).toBe(false);
  });

  it("states every topic's on-disk lifetime: retention + segment roll + retention check (10 s) + delete delay (1 s)", () => {
    const register = buildRegister(policy);
    for (const t of register.topics) {
      expect(t.configs['segment.ms'], `${t.topic} has its own segment.ms`).toBeDefined();
      expect(t.lifetime.ms, t.topic).toBe(t.retention.ms + t.segment.ms + 10_000 + 1_000);
    }
    const text = Object.fromEntries(register.topics.map((t) => [t.topic, t.lifetime.text]));
    // The aggregates are kept a day: on disk a day and an hour at most, not a day and the broker's 7-day segment.
    expect(text[TOPICS.aggregates]).toBe('1d 1h 11s');
    expect(text[TOPICS.sightings]).toBe('16m 11s');
    expect(text[TOPICS.ledger]).toBe('2d 1h 11s');
    expect(text[TOPICS.audit]).toBe('401d 11s');
  });

  it('describes each sensor kind: purposes, legal basis and what it measures with units', () => {
    const register = buildRegister(policy);
    expect(register.sensors.map((s) => s.kind)).toEqual([...DEVICE_KINDS]);
    const lamppost = register.sensors.find((s) => s.kind === 'lamppost')!;
    expect(lamppost.title).toBe('Smart lamppost');
    expect(lamppost.purposes).toEqual(['air-quality-monitoring', 'street-lighting-control', 'pedestrian-flow-planning']);
    expect(lamppost.legalBasis).toMatch(/GDPR Art\. 6\(1\)\(e\)/);
    expect(lamppost.measures).toContainEqual({
      field: 'pm25',
      class: 'environmental',
      unit: 'µg/m³',
      description: 'Fine particulate matter PM2.5',
      published: expect.stringMatching(/exactly, per device and per district/),
    });
    // Adaptive lighting moves with the phones near the lamp: said, and how it is published.
    expect(lamppost.measures).toContainEqual(
      expect.objectContaining({
        field: 'dimmingPct',
        class: 'presence-dependent',
        published: expect.stringMatching(/only as a mean per district .* noise calibrated to the 2 % one person can change a reading.*never per device/),
      }),
    );
    expect(lamppost.operational).toEqual(['deviceId', 'seq', 'ts']);
    const traffic = register.sensors.find((s) => s.kind === 'traffic-light')!;
    expect(traffic.measures).toContainEqual({
      field: 'vehicleCount',
      class: 'person-derived',
      unit: 'vehicles',
      description: 'Vehicles counted by the loop since the last reading',
      published: expect.stringMatching(/groups of at least 5/),
    });
    expect(traffic.measures.map((m) => m.field)).not.toContain('occupancyPct');
    expect(traffic.processing.minimized).toContain('occupancyPct');
  });

  it('says which personal data each sensor sees and what the gateway does with it', () => {
    const register = buildRegister(policy);
    const lamppost = register.sensors.find((s) => s.kind === 'lamppost')!;
    expect(lamppost.personalData.map((p) => [p.field, p.class, p.treatment])).toEqual([
      ['wifiProbes.mac', 'direct-identifier', 'pseudonymize'],
      ['wifiProbes.rssi', 'quasi-identifier', 'drop'],
      ['wifiProbes.ssids', 'quasi-identifier', 'drop'],
    ]);
    expect(lamppost.personalData[0]!.handling).toMatch(/pseudonym.*every 15m.*destroyed/);
    expect(lamppost.personalData[1]!.handling).toMatch(/Removed at the gateway/);
    expect(lamppost.processing.pseudonymized).toEqual(['wifiProbes.mac']);
    expect(lamppost.processing.minimized).toEqual(['wifiProbes.rssi', 'wifiProbes.ssids']);

    const traffic = register.sensors.find((s) => s.kind === 'traffic-light')!;
    expect(traffic.personalData.map((p) => `${p.field}:${p.treatment}`)).toEqual(['plateReads.plate:pseudonymize', 'plateReads.imageRef:drop']);

    const sewer = register.sensors.find((s) => s.kind === 'sewer')!;
    expect(sewer.personalData).toEqual([]);
    expect(sewer.processing.pseudonymized).toEqual([]);
  });

  it('carries each kind’s window, epoch, k and ε exactly as the policy sets them', () => {
    const register = buildRegister(policy);
    for (const sensor of register.sensors) {
      const kind = policy.kinds[sensor.kind];
      expect(sensor.processing).toMatchObject({
        pseudonymEpoch: { ms: kind.epoch },
        window: { ms: kind.window },
        k: kind.k,
        epsilonPerRelease: kind.epsilonPerRelease,
        epsilonPerDay: kind.epsilonPerDay,
      });
      expect(sensor.rawDataTtl.ms).toBe(policy.rawData.ttl);
      expect(sensor.storage.aggregatesRetention.ms).toBe(aggregateRetentionSeconds(policy) * 1000);
    }
  });

  it('lists the sightings topic only for sensors that see identifiers', () => {
    const register = buildRegister(policy);
    const topicsOf = (kind: string) => register.sensors.find((s) => s.kind === kind)!.storage.topics.map((t) => t.topic);
    expect(topicsOf('lamppost')).toContain(TOPICS.sightings);
    expect(topicsOf('traffic-light')).toContain(TOPICS.sightings);
    expect(topicsOf('sewer')).not.toContain(TOPICS.sightings);
    expect(topicsOf('sewer')).toEqual(expect.arrayContaining([TOPICS.readings, TOPICS.rejected, TOPICS.aggregates]));
  });

  it('follows a change of the policy, so it cannot drift from what is enforced', () => {
    const doc = parse(readFileSync(DEFAULT_POLICY_PATH, 'utf8')) as {
      rawData: { ttl: string; segment: string };
      aggregates: { retention: string };
      kinds: { lamppost: { k: number; epsilonPerRelease: number } };
    };
    doc.rawData = { ...doc.rawData, ttl: '20m', segment: '30s' };
    doc.aggregates.retention = '90d';
    doc.kinds.lamppost.k = 10;
    doc.kinds.lamppost.epsilonPerRelease = 0.25;
    const register = buildRegister(parsePolicy(doc));
    expect(register.rawData.ttl.text).toBe('20m');
    expect(register.topics.find((t) => t.topic === TOPICS.sightings)!.configs).toMatchObject({ 'retention.ms': '1200000', 'segment.ms': '30000' });
    expect(register.aggregates.retention.text).toBe('90d');
    expect(register.sensors[0]!.processing).toMatchObject({ k: 10, epsilonPerRelease: 0.25 });
  });

  it('is plain data that serializes to JSON without loss', () => {
    const register = buildRegister(policy);
    expect(JSON.parse(JSON.stringify(register))).toEqual(register);
  });

  it('states no replication of its own: the policy does not decide it, so without a read from the brokers every figure is unknown', () => {
    const register = buildRegister(policy);
    const topics = [...register.topics, ...register.sensors.flatMap((s) => s.storage.topics)];
    for (const t of topics) expect(t.replication, t.topic).toEqual({ state: 'not-read', replicas: null, minInsyncReplicas: null, uncleanLeaderElection: null });
  });

  it('states each topic’s replication as read from the brokers, in the list of topics and in every sensor’s storage alike', () => {
    const register = buildRegister(policy);
    const read: RegisterReplication = { state: 'read', replicas: 3, minInsyncReplicas: 2, uncleanLeaderElection: false };
    const missing: RegisterReplication = { state: 'no-such-topic', replicas: null, minInsyncReplicas: null, uncleanLeaderElection: null };
    const stated = withReplication(register, (topic) => (topic === TOPICS.ledger ? missing : read));
    for (const t of stated.topics) expect(t.replication, t.topic).toEqual(t.topic === TOPICS.ledger ? missing : read);
    for (const sensor of stated.sensors) {
      for (const t of sensor.storage.topics) expect(t).toEqual(stated.topics.find((x) => x.topic === t.topic));
    }
    // Everything else is the policy's register, untouched.
    const strip = (r: typeof register) => JSON.parse(JSON.stringify(r, (k, v: unknown) => (k === 'replication' ? undefined : v))) as unknown;
    expect(strip(stated)).toEqual(strip(register));
    expect(register.topics[0]!.replication.state, 'the register it was given is not changed').toBe('not-read');
  });
});
