// Writer entry point: Kafka aggregates in, InfluxDB points out, offsets committed after each write.
import { InfluxDB } from '@influxdata/influxdb-client';
import { createKafka, CONSUMER_TIMEOUTS, ensureTopics, exitOnConsumerCrash, retryKafka, subscribeRetrying } from '@lethe/kafka';
import { runService, startHealthServer } from '@lethe/observability';
import { DEFAULT_POLICY_PATH, loadPolicy, topicSpecs } from '@lethe/privacy';
import { topicNames } from '@lethe/schemas';
import { loadWriterConfig } from './config.ts';
import { createWriterMetrics } from './metrics.ts';
import { createWriter, writeApiSink } from './writer.ts';

runService({ name: 'writer', loadConfig: loadWriterConfig, createMetrics: createWriterMetrics }, async ({ config, logger, registry, metrics, lifecycle }) => {
  const health = await startHealthServer({ host: config.HTTP_HOST, port: config.HTTP_PORT, registry, lifecycle });

  const influx = new InfluxDB({ url: config.INFLUX_URL, token: config.INFLUX_TOKEN, timeout: 10_000 });
  // The client's own batching (60 s flush, internal retry buffer that can drop lines) is
  // switched off: we flush per Kafka batch and retry ourselves before committing.
  const writeApiOptions = { batchSize: config.INFLUX_BATCH_SIZE, flushInterval: 0, maxRetries: 0, maxBufferLines: 1_000_000 };
  const newWriteApi = () => influx.getWriteApi(config.INFLUX_ORG, config.INFLUX_BUCKET, 'ms', writeApiOptions);
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID, logger });
  // Whichever service starts first creates the topics, configured from the policy.
  const admin = kafka.admin();
  await admin.connect();
  const specs = topicSpecs(loadPolicy(config.POLICY_FILE ?? DEFAULT_POLICY_PATH), { prefix: config.KAFKA_TOPIC_PREFIX });
  await retryKafka(() => ensureTopics(admin, specs, logger), { what: 'creating the topics', logger });
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: config.KAFKA_GROUP_ID, allowAutoTopicCreation: false, ...CONSUMER_TIMEOUTS });
  const writer = createWriter({
    sink: writeApiSink(newWriteApi),
    commit: (topic, partition, offset) => consumer.commitOffsets([{ topic, partition, offset }]),
    metrics,
    logger,
  });
  exitOnConsumerCrash(consumer, { name: 'aggregates', logger });
  await consumer.connect();
  await subscribeRetrying(consumer, { topics: [topicNames(config.KAFKA_TOPIC_PREFIX).aggregates], fromBeginning: true }, { logger });
  await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: writer.eachBatch });

  lifecycle.onShutdown('stop consuming', () => consumer.disconnect());
  lifecycle.onShutdown('close HTTP', () => health.close());
  lifecycle.markReady();
  logger.info({ http: health.port }, 'writer started');
});
