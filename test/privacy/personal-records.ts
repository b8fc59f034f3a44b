// Per-person records as Lethe's services write them, for the checks of their on-disk lifetime
// (P2, on one broker and on every copy in a cluster): the policy's personal topics created as
// the services create them (under temporary names), the records of one producer tick on each,
// a producer that writes them continuously, and the bound the running brokers state for them.
import { randomBytes } from 'node:crypto';
import { describeTopicConfigs, type Admin, type OutgoingRecord, type TopicSpec } from '@lethe/kafka';
import { isPersonalTopic, topicSpecs, type Policy } from '@lethe/privacy';
import { TOPICS } from '@lethe/schemas';
import kafkajs from 'kafkajs';
import { expect } from 'vitest';
import { sleep } from '../support/wait.ts';

const { ConfigResourceTypes } = kafkajs;

/** How often the producers below write a tick's records (ten times a second). */
export const PRODUCE_EVERY_MS = 100;
/** Scheduling slack on top of a broker's own delays in the P2 bound (a loaded CI machine, JVM pauses). */
export const P2_SLACK_MS = 3_000;

export interface PersonalTopics {
  sightings: string;
  rejected: string;
  partials: string;
}

/** The policy's personal topics exactly as the services configure them (topicSpecs), named `<topic>.<suffix>`. */
export function personalTopicSpecs(policy: Policy, suffix: string): { specs: TopicSpec[]; topics: PersonalTopics } {
  const specs = topicSpecs(policy)
    .filter((s) => isPersonalTopic(s.topic))
    .map((s) => ({ ...s, topic: `${s.topic}.${suffix}` }));
  const named = (name: string) => specs.find((s) => s.topic.startsWith(`${name}.`))!.topic;
  return { specs, topics: { sightings: named(TOPICS.sightings), rejected: named(TOPICS.rejected), partials: named(TOPICS.partials) } };
}

/**
 * One producer tick's records, each stamped `ts` as the services stamp theirs (event time): five
 * sightings of fresh pseudonyms (the gateway), a refusal (the gateway's rejected-messages record)
 * and a partial (the processor's stage 1, stamped with the end of its window).
 */
export function personalRecords(topics: PersonalTopics, ts: number, seq: number, epochMs: number): OutgoingRecord[] {
  const records: OutgoingRecord[] = Array.from({ length: 5 }, (_, index) => ({
    topic: topics.sightings,
    key: randomBytes(16).toString('hex'),
    value: JSON.stringify({
      v: 1,
      source: 'wifi',
      pseudonym: randomBytes(16).toString('hex'),
      epoch: Math.floor(ts / epochMs),
      kind: 'lamppost',
      deviceId: 'LP-0001',
      district: 'central-and-western',
      seq,
      index,
      ts,
    }),
    timestamp: ts,
  }));
  records.push({
    topic: topics.rejected,
    key: 'SCHEMA',
    value: JSON.stringify({ v: 1, reason: 'SCHEMA', detail: 'p2 test', topic: 'lethe/v1/lamppost/LP-0001/reading', excerpt: '{}', bytes: 2, receivedAt: ts }),
    timestamp: ts,
  });
  const window = { windowStart: ts - 10_000, windowEnd: ts, coversFrom: ts - 10_000 };
  records.push({
    topic: topics.partials,
    key: `sightings:wifi|${window.windowStart}`,
    value: JSON.stringify({
      v: 1,
      type: 'sightings',
      source: 'wifi',
      ...window,
      topic: topics.sightings,
      partition: 0,
      cells: [{ deviceId: 'LP-0001', district: 'central-and-western', people: 5 }],
      trips: [],
    }),
    timestamp: ts,
  });
  return records;
}

export interface Production {
  /** Records acknowledged so far. */
  readonly produced: number;
  /** The first failed send, if any (production stops at it). */
  readonly error: unknown;
  /** From the next tick on, nothing more is written to `topic` (it goes quiet). */
  quiet(topic: string): void;
  /** Stops and waits for the last send; rejects with the failure, if one stopped it. */
  stop(): Promise<void>;
}

/** Writes `personalRecords` every `everyMs` through `send` (acknowledged before the next tick) until stopped. */
export function produceContinuously(
  send: (records: OutgoingRecord[]) => Promise<void>,
  topics: PersonalTopics,
  { everyMs = PRODUCE_EVERY_MS, epochMs }: { everyMs?: number; epochMs: number },
): Production {
  const quiet = new Set<string>();
  let producing = true;
  let produced = 0;
  let error: unknown;
  const loop = (async () => {
    for (let seq = 1; producing; seq++) {
      const records = personalRecords(topics, Date.now(), seq, epochMs).filter((r) => !quiet.has(r.topic));
      await send(records);
      produced += records.length;
      await sleep(everyMs);
    }
  })();
  loop.catch((err: unknown) => {
    error = err;
    producing = false;
  });
  return {
    get produced() {
      return produced;
    },
    get error() {
      return error;
    },
    quiet: (topic) => void quiet.add(topic),
    stop: async () => {
      producing = false;
      await loop;
    },
  };
}

export interface StatedBound {
  ttlMs: number;
  segmentMs: number;
  /** The brokers' log.retention.check.interval.ms (the largest, if they differ). */
  checkIntervalMs: number;
  /** The topics' file.delete.delay.ms (log.segment.delete.delay.ms). */
  deleteDelayMs: number;
  jitterMs: number;
  slackMs: number;
  /** segment.ms + check interval + delete delay + jitter + slack: how long past the TTL a record stamped on time may stay on disk. */
  boundMs: number;
}

/**
 * The P2 bound (packages/privacy/src/topic-configs.ts) as the running brokers enforce it, read back
 * rather than assumed: every topic's retention.ms, segment.ms, cleanup policy and timestamp type
 * must be the policy's, and every broker's retention check interval, the topics' delete delay and
 * segment jitter what infra/local/kafka.sh and docker-compose.yml set.
 */
export async function statedBound(admin: Admin, specs: readonly TopicSpec[], policy: Policy, slackMs = P2_SLACK_MS): Promise<StatedBound> {
  const ttlMs = policy.rawData.ttl;
  const segmentMs = policy.rawData.segment;
  const topicConfigs = await describeTopicConfigs(
    admin,
    specs.map((s) => s.topic),
  );
  const { brokers } = await admin.describeCluster();
  const brokerConfigs = await admin.describeConfigs({
    includeSynonyms: false,
    resources: brokers.map((b) => ({ type: ConfigResourceTypes.BROKER, name: String(b.nodeId), configNames: ['log.retention.check.interval.ms'] })),
  });
  const checkIntervalMs = Math.max(
    ...brokerConfigs.resources.map((r) => Number(r.configEntries.find((e) => e.configName === 'log.retention.check.interval.ms')?.configValue)),
  );
  let deleteDelayMs = 0;
  let jitterMs = 0;
  for (const spec of specs) {
    const actual = topicConfigs[spec.topic]!;
    expect(actual['retention.ms'], spec.topic).toBe(String(ttlMs));
    expect(actual['segment.ms'], spec.topic).toBe(String(segmentMs));
    expect(actual['cleanup.policy'], spec.topic).toBe('delete');
    // Retention compares record timestamps: with CreateTime they are the producer's (event) times.
    expect(actual['message.timestamp.type'], spec.topic).toBe('CreateTime');
    deleteDelayMs = Math.max(deleteDelayMs, Number(actual['file.delete.delay.ms'])); // topic view of log.segment.delete.delay.ms
    jitterMs = Math.max(jitterMs, Number(actual['segment.jitter.ms']));
  }
  // The values topic-configs.ts states and infra/local/kafka.sh and docker-compose.yml set.
  expect(checkIntervalMs, 'log.retention.check.interval.ms').toBeLessThanOrEqual(10_000);
  expect(deleteDelayMs, 'log.segment.delete.delay.ms').toBeLessThanOrEqual(1000);
  expect(jitterMs, 'segment.jitter.ms').toBe(0);
  return { ttlMs, segmentMs, checkIntervalMs, deleteDelayMs, jitterMs, slackMs, boundMs: segmentMs + checkIntervalMs + deleteDelayMs + jitterMs + slackMs };
}

export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
