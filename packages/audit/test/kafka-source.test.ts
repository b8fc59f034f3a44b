import { AuditEventRecordSchema, TOPICS } from '@lethe/schemas';
import { describe, expect, it } from 'vitest';
import { appendFromTopic, formatSource, lastSourceOffset, parseSource, toAuditEventRecord } from '../src/kafka-source.ts';
import { createMemoryAuditLog } from '../src/memory-audit-log.ts';
import { event } from './fixtures.ts';

const wire = (i: number) => JSON.parse(JSON.stringify(toAuditEventRecord(event(i)))) as unknown;

describe('audit events from Kafka', () => {
  it('makes Kafka records that the topic’s schema accepts, and refuses personal data where the event is made', () => {
    const record = toAuditEventRecord(event(0));
    expect(record).toEqual({ v: 1, ...event(0) });
    expect(AuditEventRecordSchema.parse(record)).toEqual(record);
    expect(() => toAuditEventRecord({ ...event(0), data: { plate: 'AB 1234' } })).toThrow(expect.objectContaining({ code: 'PERSONAL_DATA' }));
    expect(() => toAuditEventRecord({ ...event(0), data: { source: 'x' } })).toThrow(expect.objectContaining({ code: 'INVALID_EVENT' }));
  });

  it('stores each event with its Kafka position, and finds the last position per topic and partition', async () => {
    const log = createMemoryAuditLog();
    expect(lastSourceOffset(await log.records(), TOPICS.audit, 0)).toBeUndefined();
    const stored = await appendFromTopic(log, wire(0), { topic: TOPICS.audit, partition: 0, offset: '41' });
    expect(stored.data.source).toBe('lethe.audit.v1/0@41');
    expect(stored).toMatchObject({ type: event(0).type, actor: 'gateway', at: event(0).at });
    await appendFromTopic(log, wire(1), { topic: TOPICS.audit, partition: 0, offset: 42n });
    await appendFromTopic(log, wire(2), { topic: TOPICS.audit, partition: 1, offset: 7 });
    await log.append(event(3)); // the api's own event, no source
    const records = await log.records();
    expect(lastSourceOffset(records, TOPICS.audit, 0)).toBe('42');
    expect(lastSourceOffset(records, TOPICS.audit, 1)).toBe('7');
    expect(lastSourceOffset(records, 'lethe.other.v1', 0)).toBeUndefined();
  });

  it('lets a consumer resume exactly once after a restart: redelivered offsets are skipped', async () => {
    const topic = [0, 1, 2, 3, 4, 5].map((offset) => ({ offset: String(offset), value: wire(offset) }));
    const log = createMemoryAuditLog();
    // First run: stores offsets 0–3, then the process dies before committing anything.
    for (const m of topic.slice(0, 4)) await appendFromTopic(log, m.value, { topic: TOPICS.audit, partition: 0, offset: m.offset });
    // Restart: Kafka redelivers from the last commit (nothing), the log says where it really was.
    const last = lastSourceOffset(await log.records(), TOPICS.audit, 0);
    for (const m of topic) {
      if (last !== undefined && BigInt(m.offset) <= BigInt(last)) continue;
      await appendFromTopic(log, m.value, { topic: TOPICS.audit, partition: 0, offset: m.offset });
    }
    const sources = (await log.records()).map((r) => r.data.source);
    expect(sources).toEqual(topic.map((m) => `lethe.audit.v1/0@${m.offset}`));
    expect(await log.verify()).toMatchObject({ ok: true, records: 6 });
  });

  it('refuses values that are not version 1 audit events, personal data, and a preset source, storing nothing', async () => {
    const log = createMemoryAuditLog();
    const at = { topic: TOPICS.audit, partition: 0, offset: 9 };
    await expect(appendFromTopic(log, 'hello', at)).rejects.toMatchObject({ code: 'INVALID_EVENT', message: expect.stringContaining('lethe.audit.v1/0@9') });
    await expect(appendFromTopic(log, { ...event(0), v: 2 }, at)).rejects.toMatchObject({ code: 'INVALID_EVENT' });
    await expect(appendFromTopic(log, { v: 1, ...event(0), data: { mac: '02:00:5E:10:00:01' } }, at)).rejects.toMatchObject({ code: 'PERSONAL_DATA' });
    await expect(appendFromTopic(log, { v: 1, ...event(0), data: { source: 'lethe.audit.v1/0@99999' } }, at)).rejects.toMatchObject({ code: 'INVALID_EVENT' });
    expect(await log.records()).toEqual([]);
  });

  it('drops unknown top-level fields, as consumers of every topic do', async () => {
    const log = createMemoryAuditLog();
    const stored = await appendFromTopic(log, { ...(wire(0) as object), extra: 'ignored' }, { topic: TOPICS.audit, partition: 0, offset: 0 });
    expect(stored).not.toHaveProperty('extra');
  });

  it('formats and parses positions', () => {
    expect(formatSource({ topic: TOPICS.audit, partition: 3, offset: '9007199254740993' })).toBe('lethe.audit.v1/3@9007199254740993');
    expect(parseSource('lethe.audit.v1/3@9007199254740993')).toEqual({ topic: 'lethe.audit.v1', partition: 3, offset: '9007199254740993' });
    expect(parseSource('nonsense')).toBeUndefined();
  });
});
