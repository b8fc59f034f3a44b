import { createLogger } from '@lethe/observability';
import { describe, expect, it } from 'vitest';
import { createTopicReplicationReader, type ReplicationAdmin } from '../src/topic-replication.ts';

const logger = createLogger({ service: 'test', level: 'silent' });
const TOPICS = ['lethe.sightings.v1', 'lethe.readings.v1', 'lethe.audit.v1'];

interface FakeTopic {
  /** Replicas per partition. */
  replicas: number[];
  configs: Record<string, string>;
}

/** A cluster's metadata and configs answers; `fail` makes every call reject (brokers unreachable). */
function fakeAdmin(topics: Record<string, FakeTopic>, state = { fail: false }): ReplicationAdmin {
  const check = () => {
    if (state.fail) throw new Error('Connection error: connect ECONNREFUSED 127.0.0.1:19092');
  };
  const admin = {
    listTopics: async () => (check(), Object.keys(topics)),
    fetchTopicMetadata: async ({ topics: names }: { topics: string[] }) => {
      check();
      return {
        topics: names.map((name) => {
          const t = topics[name];
          if (!t) throw new Error('This server does not host this topic-partition');
          const nodes = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
          return {
            name,
            partitions: t.replicas.map((n, partitionId) => ({
              partitionId,
              partitionErrorCode: 0,
              leader: 1,
              replicas: nodes(n),
              isr: nodes(n),
              offlineReplicas: [],
            })),
          };
        }),
      };
    },
    describeConfigs: async ({ resources }: { resources: Array<{ name: string; configNames?: string[] }> }) => {
      check();
      return {
        throttleTime: 0,
        resources: resources.map((r) => ({
          errorCode: 0,
          errorMessage: null,
          resourceType: 2,
          resourceName: r.name,
          configEntries: Object.entries(topics[r.name]!.configs)
            .filter(([name]) => r.configNames?.includes(name) ?? true)
            .map(([configName, configValue]) => ({ configName, configValue, readOnly: false, isDefault: false, configSource: 5, isSensitive: false })),
        })),
      };
    },
  };
  return admin as unknown as ReplicationAdmin;
}

const CLUSTER = { 'min.insync.replicas': '2', 'unclean.leader.election.enable': 'false' };
const read = (replicas: number, minInsyncReplicas: number, uncleanLeaderElection: boolean) => ({
  state: 'read',
  replicas,
  minInsyncReplicas,
  uncleanLeaderElection,
});
const unknown = (state: string) => ({ state, replicas: null, minInsyncReplicas: null, uncleanLeaderElection: null });

describe('the topics’ replication as the register states it', () => {
  it('states nothing before the first read', () => {
    const reader = createTopicReplicationReader({ admin: fakeAdmin({}), topics: TOPICS, logger });
    for (const topic of TOPICS) expect(reader.of(topic)).toEqual(unknown('not-read'));
  });

  it('states the replicas of the least replicated partition, min.insync.replicas and unclean election as the cluster reports them', async () => {
    const admin = fakeAdmin({
      'lethe.sightings.v1': { replicas: [3, 3, 3], configs: CLUSTER },
      // A partition being reassigned may have fewer replicas than the others: the register states the fewest.
      'lethe.readings.v1': { replicas: [3, 2, 3], configs: { 'min.insync.replicas': '1', 'unclean.leader.election.enable': 'true' } },
      'lethe.audit.v1': { replicas: [1], configs: { 'min.insync.replicas': '1', 'unclean.leader.election.enable': 'false' } },
    });
    const reader = createTopicReplicationReader({ admin, topics: TOPICS, logger });
    await reader.refresh();
    expect(reader.of('lethe.sightings.v1')).toEqual(read(3, 2, false));
    expect(reader.of('lethe.readings.v1')).toEqual(read(2, 1, true));
    expect(reader.of('lethe.audit.v1')).toEqual(read(1, 1, false));
    expect(reader.of('lethe.elsewhere.v1'), 'a topic it was not asked to read').toEqual(unknown('not-read'));
  });

  it('says a topic the cluster has not got yet is not there, and still reads the others', async () => {
    const reader = createTopicReplicationReader({
      admin: fakeAdmin({ 'lethe.sightings.v1': { replicas: [3], configs: CLUSTER } }),
      topics: TOPICS,
      logger,
    });
    await reader.refresh();
    expect(reader.of('lethe.sightings.v1')).toEqual(read(3, 2, false));
    expect(reader.of('lethe.readings.v1')).toEqual(unknown('no-such-topic'));
    expect(reader.of('lethe.audit.v1')).toEqual(unknown('no-such-topic'));
  });

  it('never fills in a figure the cluster did not give: a missing or unreadable config makes the read fail', async () => {
    const unreadable: Array<Record<string, string>> = [
      { 'unclean.leader.election.enable': 'false' },
      { 'min.insync.replicas': '2' },
      { 'min.insync.replicas': 'two', 'unclean.leader.election.enable': 'false' },
      { 'min.insync.replicas': '2', 'unclean.leader.election.enable': '' },
    ];
    for (const configs of unreadable) {
      const reader = createTopicReplicationReader({ admin: fakeAdmin({ 'lethe.sightings.v1': { replicas: [3], configs } }), topics: TOPICS, logger });
      await reader.refresh();
      for (const topic of TOPICS) expect(reader.of(topic), JSON.stringify(configs)).toEqual(unknown('read-failed'));
    }
    const noPartitions = createTopicReplicationReader({
      admin: fakeAdmin({ 'lethe.sightings.v1': { replicas: [], configs: CLUSTER } }),
      topics: ['lethe.sightings.v1'],
      logger,
    });
    await noPartitions.refresh();
    expect(noPartitions.of('lethe.sightings.v1')).toEqual(unknown('read-failed'));
  });

  it('states the latest read only: when the cluster stops answering the figures become unknown, not the earlier ones, and come back with it', async () => {
    const state = { fail: false };
    const topics = Object.fromEntries(TOPICS.map((t) => [t, { replicas: [3, 3], configs: CLUSTER }]));
    const reader = createTopicReplicationReader({ admin: fakeAdmin(topics, state), topics: TOPICS, logger });
    await reader.refresh();
    expect(reader.of('lethe.sightings.v1')).toEqual(read(3, 2, false));
    state.fail = true;
    await expect(reader.refresh(), 'a failed read does not reject').resolves.toBeUndefined();
    for (const topic of TOPICS) expect(reader.of(topic)).toEqual(unknown('read-failed'));
    state.fail = false;
    await reader.refresh();
    for (const topic of TOPICS) expect(reader.of(topic)).toEqual(read(3, 2, false));
  });

  it('reads once for callers that ask while a read is under way, and hands out copies', async () => {
    let lists = 0;
    const base = fakeAdmin({ 'lethe.sightings.v1': { replicas: [3], configs: CLUSTER } });
    const admin = { ...base, listTopics: () => (lists++, base.listTopics()) } as ReplicationAdmin;
    const reader = createTopicReplicationReader({ admin, topics: ['lethe.sightings.v1'], logger });
    await Promise.all([reader.refresh(), reader.refresh(), reader.refresh()]);
    expect(lists).toBe(1);
    const a = reader.of('lethe.sightings.v1');
    a.replicas = 99;
    expect(reader.of('lethe.sightings.v1').replicas).toBe(3);
  });
});
