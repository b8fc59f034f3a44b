import { describe, expect, it } from 'vitest';
import { retryKafka } from '../src/retry.ts';

const retriable = (message: string) => Object.assign(new Error(message), { retriable: true });
const noSleep = () => Promise.resolve();

describe('retryKafka', () => {
  it('retries a call that fails with retriable errors until it succeeds', async () => {
    let calls = 0;
    const result = await retryKafka(
      async () => {
        if (++calls < 3) throw retriable('This is not the correct coordinator for this group');
        return 'offsets';
      },
      { what: 'fetchOffsets', sleep: noSleep },
    );
    expect([result, calls]).toEqual(['offsets', 3]);
  });

  it('fails at once on an error that is not retriable, and at the deadline on one that is', async () => {
    await expect(retryKafka(() => Promise.reject(new Error('auth failed')), { what: 'x', sleep: noSleep })).rejects.toThrow('auth failed');
    await expect(retryKafka(() => Promise.reject(retriable('still loading')), { what: 'x', deadlineMs: 0, sleep: noSleep })).rejects.toThrow('still loading');
  });
});
