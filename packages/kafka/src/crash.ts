// What a service does when one of its kafkajs consumers stops for good. kafkajs restarts a
// consumer after a retriable error, but after any other error thrown in eachBatch it disconnects
// the consumer and only emits CRASH: the process stays up, healthy to a supervisor, and consumes
// nothing (the writer did exactly that after a Kafka restart; docs/faults.md). So the process
// exits instead; its supervisor (compose `restart: unless-stopped`, systemd) starts it again,
// and it continues from its committed offsets like after any crash.
import type { Consumer } from 'kafkajs';
import type { Logger } from 'pino';

export interface ExitOnCrashOptions {
  /** Which consumer, for the log line. */
  name: string;
  logger: Logger;
  /** Ends the process (replaced in tests). */
  exit?: (code: number) => void;
}

export function exitOnConsumerCrash(
  consumer: Pick<Consumer, 'on' | 'events'>,
  { name, logger, exit = (code) => process.exit(code) }: ExitOnCrashOptions,
): void {
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    // Only the error's name and message: kafkajs's own name brokers, groups and topics, and what
    // our eachBatch handlers throw never carries record contents (bad records are counted, not thrown).
    const err = { name: payload.error.name, message: payload.error.message };
    if (payload.restart) {
      logger.warn({ consumer: name, err }, 'Kafka consumer crashed; kafkajs restarts it');
      return;
    }
    logger.fatal({ consumer: name, err }, 'Kafka consumer stopped for good; exiting so that the service is restarted');
    // Let the log line reach its destination first.
    setTimeout(() => exit(70), 100);
  });
}
