import type { Producer } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { chunkByBytes, createBatchingProducer, type OutgoingRecord } from '../src/batching-producer.ts';

const record = (key: string, bytes: number): OutgoingRecord => ({ topic: 't', key, value: 'x'.repeat(bytes) });

/** A kafkajs producer stand-in that records each request's keys and can fail the n-th request. */
function fakeProducer(failAt?: number) {
  const requests: string[][] = [];
  const producer = {
    sendBatch: async ({ topicMessages }: { topicMessages: Array<{ messages: Array<{ key: string }> }> }) => {
      if (requests.length + 1 === failAt) {
        requests.push([]);
        throw new Error('MESSAGE_TOO_LARGE');
      }
      requests.push(topicMessages.flatMap((t) => t.messages.map((m) => m.key)));
      return [];
    },
  } as unknown as Producer;
  return { producer, requests };
}

describe('the batching producer', () => {
  it('splits records into consecutive chunks under the byte bound; a record over it goes alone', () => {
    const records = [record('a', 400), record('b', 400), record('c', 2000), record('d', 100), record('e', 100)];
    expect(chunkByBytes(records, 1000).map((c) => c.map((r) => r.key))).toEqual([['a', 'b'], ['c'], ['d', 'e']]);
    expect(chunkByBytes([], 1000)).toEqual([]);
  });

  it('sends one large batch as several bounded requests, in order, and resolves once all are acknowledged', async () => {
    const { producer, requests } = fakeProducer();
    const batching = createBatchingProducer({ producer, lingerMs: 1, maxRequestBytes: 10_000 });
    const keys = Array.from({ length: 50 }, (_, i) => `k${i}`);
    await batching.send(keys.map((k) => record(k, 1_000)));
    expect(requests.length).toBeGreaterThan(1);
    expect(requests.flat()).toEqual(keys);
  });

  it('rejects every caller of a batch when one of its requests fails, so nothing is acknowledged that Kafka may not have', async () => {
    const { producer } = fakeProducer(2);
    const batching = createBatchingProducer({ producer, lingerMs: 1, maxRequestBytes: 10_000 });
    const first = batching.send(Array.from({ length: 10 }, (_, i) => record(`a${i}`, 1_000)));
    const second = batching.send(Array.from({ length: 10 }, (_, i) => record(`b${i}`, 1_000)));
    await expect(first).rejects.toThrow('MESSAGE_TOO_LARGE');
    await expect(second).rejects.toThrow('MESSAGE_TOO_LARGE');
  });

  it('rejects every caller of a batch Kafka does not acknowledge within the deadline (one timer per batch), and goes on with the next', async () => {
    let hang = true;
    const producer = {
      sendBatch: () => (hang ? new Promise(() => undefined) : Promise.resolve([])),
    } as unknown as Producer;
    const batching = createBatchingProducer({ producer, lingerMs: 1, timeoutMs: 50 });
    const callers = Array.from({ length: 100 }, (_, i) => batching.send([record(`k${i}`, 10)]));
    const timers = (process as unknown as { getActiveResourcesInfo(): string[] }).getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    expect(timers, 'the linger timer, not one per caller').toBeLessThan(5);
    for (const caller of callers) await expect(caller).rejects.toThrow('Kafka did not acknowledge within 50 ms');
    hang = false;
    await expect(batching.send([record('after', 10)])).resolves.toBeUndefined();
  });

  it('keeps one batch in flight: what is sent meanwhile waits and goes out as the next batch, after it', async () => {
    const calls: string[][] = [];
    let concurrent = 0;
    let maxConcurrent = 0;
    const releases: Array<() => void> = [];
    const producer = {
      sendBatch: async ({ topicMessages }: { topicMessages: Array<{ messages: Array<{ key: string }> }> }) => {
        calls.push(topicMessages.flatMap((t) => t.messages.map((m) => m.key)));
        maxConcurrent = Math.max(maxConcurrent, ++concurrent);
        await new Promise<void>((r) => releases.push(r));
        concurrent--;
        return [];
      },
    } as unknown as Producer;
    const batching = createBatchingProducer({ producer, lingerMs: 1, maxBatchRecords: 2 });
    const first = batching.send([record('a', 10), record('b', 10)]);
    await new Promise((r) => setTimeout(r, 5));
    const later = [batching.send([record('c', 10), record('d', 10)]), batching.send([record('e', 10)])];
    await new Promise((r) => setTimeout(r, 5));
    expect(calls).toEqual([['a', 'b']]);
    releases.shift()!();
    await first;
    await new Promise((r) => setTimeout(r, 5));
    expect(calls).toEqual([
      ['a', 'b'],
      ['c', 'd', 'e'],
    ]);
    releases.shift()!();
    await Promise.all(later);
    expect(maxConcurrent).toBe(1);
  });
});
