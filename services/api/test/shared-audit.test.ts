// Several api instances behind one audit trail (shared-audit.ts), with the audit-topic consumer
// over a fake of kafkajs: an instance's own event goes to the topic and append resolves with the
// record once its consumer has chained it (whichever comes first, the producer's answer or the
// consumer), never before; two instances fed the same topic end with the same head; a repeated
// retention attestation (every instance attests) is chained once, on every instance alike.
import { createMemoryAuditLog, type AuditLog, type AuditRecord } from '@lethe/audit';
import type { Admin, Consumer, EachBatchPayload, Kafka, Producer } from '@lethe/kafka';
import { createLogger } from '@lethe/observability';
import { describe, expect, it } from 'vitest';
import { retentionAttested, routeRefused } from '../src/audit-events.ts';
import { startAuditTopicConsumer } from '../src/audit-topic-consumer.ts';
import { attestationRepeats, createSharedAudit } from '../src/shared-audit.ts';

const TOPIC = 'lethe.audit.v1';
const logger = createLogger({ service: 'api', level: 'silent' });
type RunConfig = NonNullable<Parameters<Consumer['run']>[0]>;

/** One partition of the audit topic, in memory: producers append, consumers get what they have not seen. */
function fakeTopic() {
  const values: string[] = [];
  const producer = {
    send: async ({ messages }: { messages: Array<{ value: string }> }) => {
      const offset = values.length;
      values.push(messages[0]!.value);
      return [{ topicName: TOPIC, partition: 0, errorCode: 0, baseOffset: String(offset) }];
    },
  } as unknown as Pick<Producer, 'send'>;
  /** An api instance's consumer: `poll` hands it the records it has not had yet. */
  async function consumerOf(log: AuditLog, onHandled?: (p: number, o: string, r: AuditRecord | undefined) => void) {
    let run: RunConfig | undefined;
    let next = 0;
    const consumer = {
      events: { CRASH: 'consumer.crash' },
      on: () => undefined,
      connect: async () => undefined,
      subscribe: async () => undefined,
      run: async (config: RunConfig) => void (run = config),
      seek: ({ offset }: { offset: string }) => void (next = Number(offset)),
      disconnect: async () => undefined,
    };
    const kafka = { consumer: () => consumer } as unknown as Pick<Kafka, 'consumer'>;
    const admin = {
      fetchTopicOffsets: async () => [{ partition: 0, low: '0', high: String(values.length), offset: String(values.length) }],
    } as unknown as Pick<Admin, 'fetchTopicOffsets'>;
    await startAuditTopicConsumer({
      kafka,
      admin,
      log,
      topic: TOPIC,
      groupId: 'g',
      logger,
      repeats: attestationRepeats(await log.records()),
      ...(onHandled ? { onHandled } : {}),
    });
    return async function poll() {
      const batch = values.slice(next).map((value, i) => ({ offset: String(next + i), value: Buffer.from(value) }));
      next = values.length;
      if (batch.length === 0) return;
      await run!.eachBatch!({
        batch: { topic: TOPIC, partition: 0, messages: batch },
        resolveOffset: () => undefined,
        heartbeat: async () => undefined,
        isRunning: () => true,
        isStale: () => false,
        commitOffsetsIfNecessary: async () => undefined,
      } as unknown as EachBatchPayload);
    };
  }
  return { values, producer, consumerOf };
}

const attestation = (topic: string) =>
  retentionAttested({
    topic,
    periodStart: Date.UTC(2026, 11, 6, 8),
    periodEnd: Date.UTC(2026, 11, 6, 8, 10),
    limitMs: 60_000,
    checks: 20,
    failedChecks: 0,
    withinLimit: true,
  });

describe('one audit trail for several api instances', () => {
  it('an append resolves with the record its own consumer chained from the topic, not before', async () => {
    const topic = fakeTopic();
    const file = createMemoryAuditLog();
    const shared = createSharedAudit({ log: file, producer: topic.producer, topic: TOPIC });
    const poll = await topic.consumerOf(file, shared.handled);
    let resolved: AuditRecord | undefined;
    const pending = shared.log.append(routeRefused(1, '/v1/people', 'GET', [])).then((r) => (resolved = r));
    await new Promise((r) => setTimeout(r, 10));
    expect(resolved, 'not before the consumer chained it').toBeUndefined();
    expect(await file.records()).toEqual([]);
    await poll();
    await pending;
    expect(resolved).toMatchObject({ seq: 0, type: 'route.refused', data: { source: `${TOPIC}/0@0` } });
    expect((await file.records()).map((r) => r.hash)).toEqual([resolved!.hash]);
  });

  it('also when the consumer chains it before the producer answers', async () => {
    const topic = fakeTopic();
    const file = createMemoryAuditLog();
    let poll: () => Promise<void> = async () => undefined;
    const slow = {
      send: async (m: Parameters<Producer['send']>[0]) => {
        const meta = await topic.producer.send(m);
        await poll();
        return meta;
      },
    } as Pick<Producer, 'send'>;
    const shared = createSharedAudit({ log: file, producer: slow, topic: TOPIC });
    poll = await topic.consumerOf(file, shared.handled);
    expect(await shared.log.append(routeRefused(1, '/v1/people', 'GET', []))).toMatchObject({ seq: 0 });
  });

  it('two instances fed the same topic chain the same records to the same head; a repeated attestation is chained once on each', async () => {
    const topic = fakeTopic();
    const files = [createMemoryAuditLog(), createMemoryAuditLog()];
    const shares = files.map((log) => createSharedAudit({ log, producer: topic.producer, topic: TOPIC }));
    const polls = await Promise.all(files.map((log, i) => topic.consumerOf(log, shares[i]!.handled)));
    const pollAll = () => Promise.all(polls.map((p) => p()));
    const appends = [
      shares[0]!.log.append(routeRefused(1, '/v1/people', 'GET', [])),
      shares[1]!.log.append(routeRefused(2, '/v1/sightings', 'GET', ['plate'])),
      shares[0]!.log.append(attestation('lethe.sightings.v1')),
      shares[1]!.log.append(attestation('lethe.sightings.v1')),
      shares[1]!.log.append(attestation('lethe.readings.v1')),
    ];
    await new Promise((r) => setTimeout(r, 10));
    await pollAll();
    const records = await Promise.all(appends);
    expect(records[3]!.hash, 'the second attestation of a period resolves with the first').toBe(records[2]!.hash);
    const [a, b] = await Promise.all(files.map((f) => f.records()));
    expect(a!.map((r) => r.type)).toEqual(['route.refused', 'route.refused', 'retention.deleted', 'retention.deleted']);
    expect(b!.map((r) => r.hash)).toEqual(a!.map((r) => r.hash));
    expect(await files[1]!.head()).toEqual(await files[0]!.head());
    expect((await Promise.all(files.map((f) => f.verify()))).every((v) => v.ok)).toBe(true);
    expect(topic.values, 'both attestations are on the topic').toHaveLength(5);
  });

  it('fails an append that its consumer does not chain in time, and one the consumer skips', async () => {
    const topic = fakeTopic();
    const file = createMemoryAuditLog();
    const shared = createSharedAudit({ log: file, producer: topic.producer, topic: TOPIC, timeoutMs: 20 });
    await expect(shared.log.append(routeRefused(1, '/v1/people', 'GET', []))).rejects.toThrow(/not in this instance's log after 20 ms/);
    const skipping = createSharedAudit({ log: file, producer: topic.producer, topic: TOPIC });
    const pending = skipping.log.append(routeRefused(1, '/v1/people', 'GET', []));
    skipping.handled(0, '1', undefined);
    await expect(pending).rejects.toThrow(/was not chained/);
  });
});
