// A kafkajs client whose logs go to the service's pino logger. kafkajs is CommonJS: in ESM
// import the default export and destructure (named imports fail at runtime).
import kafkajs from 'kafkajs';
import type { Kafka as KafkaType, KafkaConfig, logCreator } from 'kafkajs';
import type { Logger } from 'pino';
import { fastDefaultPartitioner } from './partitioner.ts';
import { kafkaSaslFromEnv, type KafkaSasl } from './sasl.ts';

const { Kafka, logLevel } = kafkajs;

export interface KafkaClientOptions {
  brokers: string[];
  clientId: string;
  logger: Logger;
  /** SASL credentials; by default from KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD(_FILE) (sasl.ts), none when unset. */
  sasl?: KafkaSasl | undefined;
  /** Extra kafkajs options (SSL, retry). */
  overrides?: Partial<KafkaConfig>;
}

function pinoLogCreator(logger: Logger): logCreator {
  const child = logger.child({ component: 'kafkajs' });
  return () =>
    ({ level, log }) => {
      const { message, ...extra } = log;
      // kafkajs logs broker metadata and errors, never message values, so the extra fields are safe to keep.
      const target =
        level === logLevel.ERROR
          ? child.error.bind(child)
          : level === logLevel.WARN
            ? child.warn.bind(child)
            : level === logLevel.INFO
              ? child.info.bind(child)
              : child.debug.bind(child);
      target(extra, message);
    };
}

export function createKafka({ brokers, clientId, logger, sasl = kafkaSaslFromEnv(), overrides }: KafkaClientOptions): KafkaType {
  return new Kafka({
    clientId,
    brokers,
    logLevel: logLevel.WARN,
    logCreator: pinoLogCreator(logger),
    // Backoff capped at 5 s (kafkajs's default cap is 30 s): after a broker restart the
    // clients are back within seconds of it, instead of sleeping out a long backoff.
    retry: { initialRetryTime: 300, maxRetryTime: 5_000, retries: 10 },
    ...(sasl === undefined ? {} : { sasl }),
    ...overrides,
  });
}

/**
 * Group membership timeouts of every Lethe consumer. A member that dies without leaving the
 * group (SIGKILL, a lost host) holds its partitions until its session times out, and its
 * restarted successor cannot join before that: kafkajs's 30 s default made every crash a 30 s
 * stall (measured by the fault suite). 10 s still allows a paused process or a GC pause to come
 * back without a rebalance; every eachBatch of ours heartbeats at least once per batch.
 */
export const CONSUMER_TIMEOUTS = { sessionTimeout: 10_000, heartbeatInterval: 1_000 } as const;

/**
 * Options of every Lethe producer: idempotent with one request in flight, so a retried send
 * is neither duplicated nor reordered; and Kafka's default partitioning, computed faster
 * (partitioner.ts).
 */
export const PRODUCER_OPTIONS = { idempotent: true, maxInFlightRequests: 1, createPartitioner: fastDefaultPartitioner } as const;

export type { Kafka, Consumer, Producer, Admin, EachBatchPayload, KafkaMessage } from 'kafkajs';
