// Processor entry point: read config, load the policy, restore where the last run stopped
// emitting, then consume readings and sightings and emit aggregates as windows close.
import { createBatchingProducer, createKafka, ensureTopics, retryKafka } from '@lethe/kafka';
import { createLifecycle, createLogger, createMetricsRegistry, startHealthServer } from '@lethe/observability';
import { createNoiseSource, DEFAULT_POLICY_PATH, loadPolicy, systemClock, topicSpecs } from '@lethe/privacy';
import { TOPICS } from '@lethe/schemas';
import { loadProcessorConfig } from './config.ts';
import { createProcessorMetrics } from './metrics.ts';
import { createProcessor, decodeMetadata } from './processor.ts';

async function main(): Promise<void> {
  const config = loadProcessorConfig();
  const logger = createLogger({ service: 'processor', level: config.LOG_LEVEL });
  const registry = createMetricsRegistry('processor');
  const metrics = createProcessorMetrics(registry);
  const lifecycle = createLifecycle({ logger });
  lifecycle.handleSignals();
  const health = await startHealthServer({ host: config.HTTP_HOST, port: config.HTTP_PORT, registry, lifecycle });
  const policy = loadPolicy(config.POLICY_FILE ?? DEFAULT_POLICY_PATH);
  metrics.rawTtl.set(policy.rawData.ttl / 1000);

  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID, logger });
  const admin = kafka.admin();
  await admin.connect();
  await retryKafka(() => ensureTopics(admin, topicSpecs(policy), logger), { what: 'creating the topics', logger });
  const inputs = [TOPICS.readings, TOPICS.sightings];
  const committed = await retryKafka(() => admin.fetchOffsets({ groupId: config.KAFKA_GROUP_ID, topics: inputs }), { what: 'reading the committed offsets', logger });
  await admin.disconnect();

  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const batching = createBatchingProducer({ producer });
  const consumer = kafka.consumer({ groupId: config.KAFKA_GROUP_ID, allowAutoTopicCreation: false });
  const noise = createNoiseSource(config.NOISE_KEY);
  const processor = createProcessor({ policy, consumer, producer: batching, metrics, logger, graceMs: config.WINDOW_GRACE_SECONDS * 1000, clock: systemClock, noise });

  // Windows the previous run emitted must not be emitted again from replayed records, and
  // the ε it spent today stays spent.
  const previous = committed.flatMap((t) => t.partitions.filter((p) => p.offset !== '-1').map((p) => decodeMetadata(p.metadata)));
  if (previous.length > 0) {
    processor.restore(previous);
    logger.info({ closedUpTo: new Date(processor.closedUpTo).toISOString() }, 'resuming after the last emitted windows');
  }

  await consumer.connect();
  consumer.on(consumer.events.GROUP_JOIN, () => processor.resetOffsets());
  await consumer.subscribe({ topics: inputs, fromBeginning: true });
  await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: 1, eachBatch: processor.eachBatch });

  const timer = setInterval(() => {
    processor.tick().catch((err: unknown) => logger.error({ err }, 'emitting windows failed; will retry'));
  }, config.TICK_MS);

  lifecycle.onShutdown('emit due windows and commit', async () => {
    clearInterval(timer);
    // Commit while still a group member; open windows are replayed by the next run.
    await processor.tick();
  });
  lifecycle.onShutdown('stop consuming', () => consumer.disconnect());
  lifecycle.onShutdown('flush Kafka', async () => {
    await batching.flush();
    await producer.disconnect();
  });
  lifecycle.onShutdown('close HTTP', () => health.close());
  lifecycle.markReady();
  logger.info({ http: health.port, inputs }, 'processor started');
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
