// The patched kafkajs request queue (patches/kafkajs@2.2.4.patch; upstream issues #1556, #1704):
// upstream re-armed a 1 ms timer after every check of the queue, pending requests or not, so
// every broker connection woke its process a thousand times a second for good. Patched, a timer
// is armed only for a request waiting (in flight limit or throttle) and the queue stays quiet
// otherwise, while a waiting request is still sent.
import { createRequire } from 'node:module';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const require = createRequire(import.meta.url);
interface Queue {
  push(r: { entry: Record<string, unknown>; expectResponse: boolean; sendRequest: () => void }): void;
  fulfillRequest(r: { correlationId: number; payload: Buffer; size: number }): void;
  maybeThrottle(ms: number): void;
  checkPendingRequests(): void;
  destroy(): void;
}
const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as new (o: Record<string, unknown>) => Queue;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

function queue() {
  const q = new RequestQueue({ maxInFlightRequests: 1, requestTimeout: 30_000, enforceRequestTimeout: false, clientId: 't', broker: 'b:1', logger: quiet });
  const sent: number[] = [];
  const push = (correlationId: number) =>
    q.push({
      entry: { correlationId, apiKey: 0, apiName: 'Produce', apiVersion: 3, resolve() {}, reject() {} },
      expectResponse: true,
      sendRequest: () => sent.push(correlationId),
    });
  const answer = (correlationId: number) => q.fulfillRequest({ correlationId, payload: Buffer.alloc(0), size: 0 });
  return { q, sent, push, answer };
}

describe('the patched kafkajs request queue', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('arms no timer once nothing waits: no 1 ms loop per connection', () => {
    const { push, answer, sent } = queue();
    push(1);
    answer(1);
    expect(sent).toEqual([1]);
    expect(vi.getTimerCount()).toBe(0);
    // Upstream's loop would run a thousand checks in a second; nothing runs now.
    vi.advanceTimersByTime(1000);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('still sends a request that waited for the one in flight, when that one is answered', () => {
    const { push, answer, sent } = queue();
    push(1);
    push(2);
    expect(sent).toEqual([1]);
    answer(1);
    expect(sent).toEqual([1, 2]);
    answer(2);
    // The check armed while 2 waited runs once more, finds nothing, and arms no other.
    vi.advanceTimersByTime(20);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('sends a request queued behind a throttle once the throttle ends, then goes quiet', () => {
    const { q, push, answer, sent } = queue();
    push(1);
    q.maybeThrottle(50);
    answer(1);
    push(2);
    expect(sent).toEqual([1]);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(60);
    expect(sent).toEqual([1, 2]);
    answer(2);
    vi.advanceTimersByTime(1000);
    expect(vi.getTimerCount()).toBe(0);
  });
});
