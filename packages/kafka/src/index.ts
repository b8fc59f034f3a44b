export { createKafka } from './client.ts';
export type { Admin, Consumer, EachBatchPayload, Kafka, KafkaClientOptions, KafkaMessage, Producer } from './client.ts';
export { createBatchingProducer } from './batching-producer.ts';
export type { BatchingProducer, BatchingProducerOptions, OutgoingRecord } from './batching-producer.ts';
export { isRetriable, retryKafka } from './retry.ts';
export type { RetryOptions } from './retry.ts';
export { describeTopicConfigs, ensureTopics } from './topics.ts';
export type { TopicSpec } from './topics.ts';
