// The api's consumer of lethe.audit.v1 (audit-topic-consumer.ts) over a fake of kafkajs: events
// stored in the order of their batch, each with its position; offsets resolved only once stored
// and committed after the batch; a restart resuming from the positions in the log, not the
// group's offsets; bad records skipped by position; a failing log thrown back to kafkajs (which
// retries the batch); and stop. (On a real broker: test/integration.)
import { Writable } from 'node:stream';
import { appendFromTopic, createMemoryAuditLog, toAuditEventRecord, type AuditEvent, type AuditLog } from '@lethe/audit';
import type { Admin, Consumer, EachBatchPayload, Kafka } from '@lethe/kafka';
import { createLogger } from '@lethe/observability';
import { describe, expect, it } from 'vitest';
import { startAuditTopicConsumer } from '../src/audit-topic-consumer.ts';

const TOPIC = 'lethe.audit.v1';
const PLATE = 'CZ9 QK417';

const event = (i: number): AuditEvent => ({
  type: 'key.destroyed',
  actor: 'gateway',
  at: Date.UTC(2026, 11, 6, 8, 0, i),
  data: { kind: 'lamppost', epoch: 1000 + i, epochStart: '2026-12-06T08:00:00.000Z', epochEnd: '2026-12-06T08:15:00.000Z' },
});
const wire = (i: number) => JSON.stringify(toAuditEventRecord(event(i)));
type RunConfig = NonNullable<Parameters<Consumer['run']>[0]>;

/** A kafkajs consumer that records what is done to it and lets the test hand it batches. */
function fakeKafka(partitions: Array<{ partition: number; low: string; high: string }> = [{ partition: 0, low: '0', high: '0' }]) {
  const steps: string[] = [];
  let run: RunConfig | undefined;
  const consumer = {
    events: { CRASH: 'consumer.crash' },
    on: () => undefined,
    connect: async () => void steps.push('connect'),
    subscribe: async ({ topics, fromBeginning }: { topics: string[]; fromBeginning: boolean }) =>
      void steps.push(`subscribe ${topics.join(',')} fromBeginning=${fromBeginning}`),
    run: async (config: RunConfig) => void ((run = config), steps.push(`run autoCommit=${config.autoCommit}`)),
    seek: ({ partition, offset }: { partition: number; offset: string }) => void steps.push(`seek ${partition}@${offset}`),
    disconnect: async () => void steps.push('disconnect'),
  };
  const kafka = { consumer: () => consumer } as unknown as Pick<Kafka, 'consumer'>;
  const admin = { fetchTopicOffsets: async () => partitions.map((p) => ({ ...p, offset: p.high })) } as unknown as Pick<Admin, 'fetchTopicOffsets'>;

  /** Hands kafkajs's next batch to the consumer; `running` says for how many records it keeps running. */
  async function deliver(partition: number, messages: Array<{ offset: number; value: string | null }>, { running = Infinity, commitFails = false } = {}) {
    let checks = 0;
    await run!.eachBatch!({
      batch: {
        topic: TOPIC,
        partition,
        messages: messages.map(({ offset, value }) => ({ offset: String(offset), value: value === null ? null : Buffer.from(value) })),
      },
      resolveOffset: (offset: string) => void steps.push(`resolve ${partition}@${offset}`),
      heartbeat: async () => undefined,
      isRunning: () => checks++ < running,
      isStale: () => false,
      commitOffsetsIfNecessary: async () => {
        steps.push('commit');
        if (commitFails) throw new Error('The coordinator is not aware of this member');
      },
    } as unknown as EachBatchPayload);
  }
  return { kafka, admin, steps, deliver };
}

/** The log, with each append it stores recorded among the consumer's steps. */
function recordedLog(steps: string[], log: AuditLog = createMemoryAuditLog()): AuditLog {
  return {
    ...log,
    append: async (e) => {
      const stored = await log.append(e);
      steps.push(`append ${String(stored.data.source)}`);
      return stored;
    },
  };
}

async function start(fake: ReturnType<typeof fakeKafka>, log: AuditLog, counts = { stored: 0, skipped: 0 }) {
  let logs = '';
  const logger = createLogger({
    service: 'api',
    level: 'debug',
    destination: new Writable({ write: (chunk: Buffer, _e, cb) => void ((logs += chunk), cb()) }),
  });
  const consumer = await startAuditTopicConsumer({
    kafka: fake.kafka,
    admin: fake.admin,
    log,
    topic: TOPIC,
    groupId: 'lethe-api-audit',
    logger,
    onStored: () => void counts.stored++,
    onSkipped: () => void counts.skipped++,
  });
  return { consumer, counts, logs: () => logs };
}

describe('the audit topic consumer', () => {
  it('reads the topic from its start without committing on its own, stores a batch in order and resolves each record only once stored, then commits', async () => {
    const fake = fakeKafka();
    const { counts } = await start(fake, recordedLog(fake.steps));
    expect(fake.steps).toEqual(['connect', `subscribe ${TOPIC} fromBeginning=true`, 'run autoCommit=false', 'seek 0@0']);
    fake.steps.length = 0;
    await fake.deliver(
      0,
      [0, 1, 2].map((offset) => ({ offset, value: wire(offset) })),
    );
    expect(fake.steps).toEqual([`append ${TOPIC}/0@0`, 'resolve 0@0', `append ${TOPIC}/0@1`, 'resolve 0@1', `append ${TOPIC}/0@2`, 'resolve 0@2', 'commit']);
    expect(counts).toEqual({ stored: 3, skipped: 0 });
  });

  it('resumes after the last position stored in the log, per partition, and skips what Kafka delivers again', async () => {
    const log = createMemoryAuditLog();
    for (const offset of [0, 1]) await appendFromTopic(log, JSON.parse(wire(offset)), { topic: TOPIC, partition: 0, offset });
    const fake = fakeKafka([
      { partition: 0, low: '0', high: '4' },
      { partition: 1, low: '3', high: '3' },
    ]);
    await start(fake, recordedLog(fake.steps, log));
    // Partition 0 after its last stored event; partition 1, of which nothing is stored, from its start (retention moved it).
    expect(fake.steps.filter((s) => s.startsWith('seek'))).toEqual(['seek 0@2', 'seek 1@3']);
    fake.steps.length = 0;
    // The group had committed nothing: Kafka delivers offsets 0 and 1 again.
    await fake.deliver(
      0,
      [0, 1, 2, 3].map((offset) => ({ offset, value: wire(offset) })),
    );
    expect(fake.steps.filter((s) => s.startsWith('append'))).toEqual([`append ${TOPIC}/0@2`, `append ${TOPIC}/0@3`]);
    expect(fake.steps.filter((s) => s.startsWith('resolve'))).toEqual(['resolve 0@0', 'resolve 0@1', 'resolve 0@2', 'resolve 0@3']);
    expect((await log.records()).map((r) => r.data.source)).toEqual([0, 1, 2, 3].map((o) => `${TOPIC}/0@${o}`));
    expect(await log.verify()).toMatchObject({ ok: true, records: 4 });
  });

  it('skips and counts a record that is not a storable event, logging its position and never its content', async () => {
    const fake = fakeKafka();
    const log = createMemoryAuditLog();
    const { counts, logs } = await start(fake, log);
    const personal = JSON.stringify({ v: 1, ...event(1), data: { plate: PLATE } });
    await fake.deliver(0, [
      { offset: 0, value: 'not json' },
      { offset: 1, value: personal },
      { offset: 2, value: null },
      { offset: 3, value: wire(3) },
    ]);
    expect(counts).toEqual({ stored: 1, skipped: 3 });
    expect((await log.records()).map((r) => r.data.source)).toEqual([`${TOPIC}/0@3`]);
    expect(fake.steps.filter((s) => s.startsWith('resolve'))).toHaveLength(4);
    expect(logs()).toContain('"offset":"1"');
    expect(logs()).toContain('PERSONAL_DATA');
    expect(logs()).not.toContain(PLATE);
  });

  it('throws a failure of the log back to kafkajs, which retries the batch: nothing of it is resolved or committed, and the retry stores it once', async () => {
    const fake = fakeKafka();
    const log = createMemoryAuditLog();
    let failing = true;
    const flaky: AuditLog = { ...log, append: (e) => (failing ? Promise.reject(new Error('disk full')) : log.append(e)) };
    await start(fake, flaky);
    const batch = [0, 1].map((offset) => ({ offset, value: wire(offset) }));
    await expect(fake.deliver(0, batch)).rejects.toThrow('disk full');
    expect(fake.steps.filter((s) => s.startsWith('resolve') || s === 'commit')).toEqual([]);
    failing = false;
    await fake.deliver(0, batch);
    expect((await log.records()).map((r) => r.data.source)).toEqual([`${TOPIC}/0@0`, `${TOPIC}/0@1`]);
  });

  it('logs a refused commit instead of throwing it (the positions in the log decide where to resume)', async () => {
    const fake = fakeKafka();
    const { logs } = await start(fake, createMemoryAuditLog());
    await fake.deliver(0, [{ offset: 0, value: wire(0) }], { commitFails: true });
    expect(logs()).toContain('could not commit the audit topic offset');
  });

  it('stops in the middle of a batch when the consumer stops or the group rebalances, leaving the rest unresolved for the next run', async () => {
    const fake = fakeKafka();
    const log = createMemoryAuditLog();
    await start(fake, log);
    await fake.deliver(
      0,
      [0, 1, 2].map((offset) => ({ offset, value: wire(offset) })),
      { running: 1 },
    );
    expect((await log.records()).map((r) => r.data.source)).toEqual([`${TOPIC}/0@0`]);
    expect(fake.steps.filter((s) => s.startsWith('resolve'))).toEqual(['resolve 0@0']);
  });

  it('disconnects the consumer on stop', async () => {
    const fake = fakeKafka();
    const { consumer } = await start(fake, createMemoryAuditLog());
    await consumer.stop();
    expect(fake.steps.at(-1)).toBe('disconnect');
  });
});
