// Retries a Kafka admin call while the broker answers with a retriable error. kafkajs retries
// produce and fetch requests itself but not every admin call: on a fresh broker, for example,
// `fetchOffsets` fails with "This is not the correct coordinator for this group" until the
// group coordinator has loaded, and a service must wait rather than exit.
import type { Consumer, ConsumerSubscribeTopics } from 'kafkajs';
import type { Logger } from 'pino';

export interface RetryOptions {
  /** Give up after this long (default 60 s). */
  deadlineMs?: number;
  logger?: Logger;
  /** What is being retried, for the log. */
  what: string;
  sleep?: (ms: number) => Promise<void>;
}

/** kafkajs marks errors the broker may stop returning on their own as `retriable`. */
export function isRetriable(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { retriable?: unknown }).retriable === true;
}

export async function retryKafka<T>(
  call: () => Promise<T>,
  { deadlineMs = 60_000, logger, what, sleep = (ms) => new Promise((r) => setTimeout(r, ms)) }: RetryOptions,
): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  let delay = 200;
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (!isRetriable(err) || Date.now() + delay > deadline) throw err;
      logger?.warn({ err: { message: (err as Error).message }, retryInMs: delay }, `${what} failed with a retriable error; retrying`);
      await sleep(delay);
      delay = Math.min(delay * 2, 5_000);
    }
  }
}

/**
 * `consumer.subscribe`, retried while a broker does not know the topics yet. A broker learns of a
 * topic created a moment ago (by this service's own ensureTopics, say) from the controller's
 * metadata log and answers UNKNOWN_TOPIC_OR_PARTITION until then; kafkajs's subscribe gives up on
 * that at once (BrokerPool.refreshMetadata retries LEADER_NOT_AVAILABLE only), so a service
 * starting on a fresh cluster exited with "This server does not host this topic-partition".
 */
export function subscribeRetrying(
  consumer: Pick<Consumer, 'subscribe'>,
  subscription: ConsumerSubscribeTopics,
  options: Omit<RetryOptions, 'what'> = {},
): Promise<void> {
  return retryKafka(() => consumer.subscribe(subscription), { ...options, what: `subscribing to ${subscription.topics.join(', ')}` });
}
