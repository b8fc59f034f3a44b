// Records waiting for the next send. A stage queues what it produced and sends it in one
// batch when it is ready to commit; if the send fails, the records go back in front of
// anything queued meanwhile, so nothing is lost or reordered and the next attempt retries them.
import type { BatchingProducer, OutgoingRecord } from './batching-producer.ts';

export interface Outbox {
  push(record: OutgoingRecord): void;
  /** Sends everything queued; resolves with how many records were sent (0: nothing was queued). */
  flush(): Promise<number>;
  /** Drops everything queued, e.g. after a rebalance (it will be produced again). */
  clear(): void;
}

export function createOutbox(producer: Pick<BatchingProducer, 'send'>): Outbox {
  let queued: OutgoingRecord[] = [];
  return {
    push: (record) => void queued.push(record),
    async flush() {
      const sending = queued;
      queued = [];
      if (sending.length === 0) return 0;
      try {
        await producer.send(sending);
      } catch (err) {
        queued = [...sending, ...queued];
        throw err;
      }
      return sending.length;
    },
    clear: () => void (queued = []),
  };
}
