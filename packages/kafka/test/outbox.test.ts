import { describe, expect, it } from 'vitest';
import type { OutgoingRecord } from '../src/batching-producer.ts';
import { createOutbox } from '../src/outbox.ts';

const record = (key: string): OutgoingRecord => ({ topic: 't', key, value: key });

describe('the outbox', () => {
  it('sends what is queued in one batch, and puts it back in front, in order, when the send fails', async () => {
    const sent: string[][] = [];
    let fail = true;
    const outbox = createOutbox({
      send: async (records) => {
        if (fail) throw new Error('broker down');
        sent.push(records.map((r) => r.key));
      },
    });
    expect(await outbox.flush()).toBe(0);
    outbox.push(record('a'));
    outbox.push(record('b'));
    await expect(outbox.flush()).rejects.toThrow('broker down');
    outbox.push(record('c'));
    fail = false;
    expect(await outbox.flush()).toBe(3);
    expect(sent).toEqual([['a', 'b', 'c']]);
    outbox.push(record('d'));
    outbox.clear();
    expect(await outbox.flush()).toBe(0);
  });
});
