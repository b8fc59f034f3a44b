import { describe, expect, it } from 'vitest';
import { verifyChain } from '../src/chain.ts';
import { createMemoryAuditLog } from '../src/memory-audit-log.ts';
import { chainOf, copy, event } from './fixtures.ts';

describe('the in-memory audit log', () => {
  it('chains appends and verifies, and its head is the newest record', async () => {
    const log = createMemoryAuditLog();
    expect(await log.head()).toBeUndefined();
    const first = await log.append(event(0));
    const second = await log.append(event(1));
    expect(second.prev).toBe(first.hash);
    expect(await log.head()).toEqual({ seq: 1, hash: second.hash });
    expect(await log.verify()).toEqual({ ok: true, records: 2, head: second.hash });
  });

  it('chains concurrent appends one after another, in call order', async () => {
    const log = createMemoryAuditLog();
    const records = await Promise.all(Array.from({ length: 50 }, (_, i) => log.append(event(i))));
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(verifyChain(await log.records())).toMatchObject({ ok: true, records: 50 });
  });

  it('continues a chain it is given, and refuses a broken one', async () => {
    const log = createMemoryAuditLog({ records: chainOf(3) });
    expect((await log.append(event(3))).seq).toBe(3);
    const broken = copy(chainOf(3));
    broken[1]!.actor = 'writer';
    expect(() => createMemoryAuditLog({ records: broken })).toThrow(
      expect.objectContaining({ code: 'BROKEN_CHAIN', message: expect.stringMatching(/record #1 \(seq 1\)/) }),
    );
  });

  it('rejects an invalid event without disturbing the chain', async () => {
    const log = createMemoryAuditLog();
    await log.append(event(0));
    await expect(log.append({ ...event(1), data: { plate: 'AB 1234' } })).rejects.toMatchObject({ code: 'PERSONAL_DATA' });
    expect((await log.append(event(2))).seq).toBe(1);
    expect(await log.verify()).toMatchObject({ ok: true, records: 2 });
  });
});
