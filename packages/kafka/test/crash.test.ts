import { EventEmitter } from 'node:events';
import kafkajs from 'kafkajs';
import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { exitOnConsumerCrash } from '../src/crash.ts';

/** A consumer's instrumentation events, as kafkajs emits them. */
function fakeConsumer() {
  const emitter = new EventEmitter();
  const events = { CRASH: 'consumer.crash' } as unknown as kafkajs.ConsumerEvents;
  return {
    events,
    on: (event: string, listener: (e: unknown) => void) => (emitter.on(event, listener), () => emitter.off(event, listener)),
    crash: (restart: boolean, error: Error) => emitter.emit('consumer.crash', { payload: { error, restart, groupId: 'g' } }),
  };
}

describe('exitOnConsumerCrash', () => {
  it('ends the process when kafkajs gives a consumer up, and only then', async () => {
    vi.useFakeTimers();
    try {
      const consumer = fakeConsumer();
      const exit = vi.fn();
      const lines: string[] = [];
      const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
      exitOnConsumerCrash(consumer as never, { name: 'writer', logger, exit });
      consumer.crash(true, new Error('Connection timeout'));
      await vi.advanceTimersByTimeAsync(1_000);
      expect(exit).not.toHaveBeenCalled();
      consumer.crash(false, new Error('The coordinator is not aware of this member'));
      await vi.advanceTimersByTimeAsync(1_000);
      expect(exit).toHaveBeenCalledWith(70);
      expect(lines.map((l) => JSON.parse(l) as { msg: string; level: number }).map((l) => [l.level, l.msg])).toEqual([
        [40, 'Kafka consumer crashed; kafkajs restarts it'],
        [60, 'Kafka consumer stopped for good; exiting so that the service is restarted'],
      ]);
    } finally {
      vi.useRealTimers();
    }
  });
});
