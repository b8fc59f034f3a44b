import { describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { retryKafka, subscribeRetrying } from '../src/retry.ts';

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

describe('subscribeRetrying', () => {
  it('subscribes once a broker that did not know the topic yet knows it, and passes the subscription on unchanged', async () => {
    // What kafkajs's subscribe throws while the broker's metadata lacks a just-created topic.
    const unknownTopic = new kafkajs.KafkaJSProtocolError(
      Object.assign(new Error('This server does not host this topic-partition'), { type: 'UNKNOWN_TOPIC_OR_PARTITION', code: 3, retriable: true }),
    );
    const asked: unknown[] = [];
    const consumer = {
      subscribe: async (subscription: unknown) => {
        asked.push(subscription);
        if (asked.length < 3) throw unknownTopic;
      },
    };
    await subscribeRetrying(consumer, { topics: ['lethe.aggregates.v1'], fromBeginning: true }, { sleep: noSleep });
    expect(asked).toEqual(Array.from({ length: 3 }, () => ({ topics: ['lethe.aggregates.v1'], fromBeginning: true })));
  });

  it('gives up at once on a subscription error that is not retriable', async () => {
    const denied = new kafkajs.KafkaJSProtocolError(
      Object.assign(new Error('Not authorized to access topics'), { type: 'TOPIC_AUTHORIZATION_FAILED', code: 29, retriable: false }),
    );
    await expect(subscribeRetrying({ subscribe: () => Promise.reject(denied) }, { topics: ['t'] }, { sleep: noSleep })).rejects.toThrow('Not authorized');
  });
});
