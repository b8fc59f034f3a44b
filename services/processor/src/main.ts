// Processor entry point: read config, load the policy, ensure the topics, then run both stages
// in this process:
//   stage 1 (consumer group KAFKA_GROUP_ID): windows over the input partitions this instance is
//     assigned → window partials on the partials topic;
//   stage 2 (group KAFKA_RELEASER_GROUP_ID): the one instance holding the partials partition
//     merges the partials of every input partition → k-anonymity, noise, ε ledger → aggregates,
//     each release first claimed on the release ledger topic, which every releaser follows
//     whatever its group or noise key (ledger-topic.ts).
// With N instances the input partitions are shared among them and one releaser is active; the
// aggregates are the same as with one instance (docs/privacy.md, "Scale-out").
import { createBatchingProducer, createKafka, CONSUMER_TIMEOUTS, ensureTopics, exitOnConsumerCrash, PRODUCER_OPTIONS, retryKafka } from '@lethe/kafka';
import { runService, startHealthServer } from '@lethe/observability';
import { createNoiseSource, DEFAULT_POLICY_PATH, loadPolicy, noiseKeyFingerprint, systemClock, topicSpecs } from '@lethe/privacy';
import { TOPICS, topicNames } from '@lethe/schemas';
import { loadProcessorConfig } from './config.ts';
import { startConsuming } from './consume.ts';
import { createLedgerTopic } from './ledger-topic.ts';
import { createProcessorMetrics } from './metrics.ts';
import { createProcessor } from './processor.ts';
import { createReleaserRunner } from './releaser.ts';

runService(
  { name: 'processor', loadConfig: loadProcessorConfig, createMetrics: createProcessorMetrics },
  async ({ config, logger, registry, metrics, lifecycle }) => {
    const health = await startHealthServer({ host: config.HTTP_HOST, port: config.HTTP_PORT, registry, lifecycle });
    const policy = loadPolicy(config.POLICY_FILE ?? DEFAULT_POLICY_PATH);
    metrics.rawTtl.set(policy.rawData.ttl / 1000);

    const inputPrefix = config.KAFKA_INPUT_TOPIC_PREFIX ?? config.KAFKA_TOPIC_PREFIX;
    const inputs = topicNames(inputPrefix);
    const own = topicNames(config.KAFKA_TOPIC_PREFIX);
    const topics = { readings: inputs.readings, sightings: inputs.sightings, partials: own.partials, aggregates: own.aggregates };
    const releaserGroupId = config.KAFKA_RELEASER_GROUP_ID ?? `${config.KAFKA_GROUP_ID}-releaser`;
    const partitions = { readings: config.KAFKA_PARTITIONS, sightings: config.KAFKA_PARTITIONS };
    // The release ledger guards the input data, so it goes with the input topics: a processor that
    // reads production input under its own output prefix still finds production's claims.
    const ledgerTopicName = inputs.ledger;
    const isInput = (name: string) => name === TOPICS.readings || name === TOPICS.sightings || name === TOPICS.ledger;
    const specs = [
      ...topicSpecs(policy, { ...partitions, prefix: inputPrefix }).filter((s) => isInput(s.topic.slice(inputPrefix.length))),
      ...topicSpecs(policy, { ...partitions, prefix: config.KAFKA_TOPIC_PREFIX }).filter((s) => !isInput(s.topic.slice(config.KAFKA_TOPIC_PREFIX.length))),
    ];

    const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID, logger });
    const admin = kafka.admin();
    await admin.connect();
    await retryKafka(() => ensureTopics(admin, specs, logger), { what: 'creating the topics', logger });

    const producer = kafka.producer(PRODUCER_OPTIONS);
    await producer.connect();
    const batching = createBatchingProducer({ producer });
    const noise = createNoiseSource(config.NOISE_KEY);
    const ledgerTopic = createLedgerTopic({
      kafka,
      producer,
      admin,
      topic: ledgerTopicName,
      groupPrefix: `${releaserGroupId}-ledger`,
      logger: logger.child({ component: 'ledger' }),
    });
    const graceMs = config.WINDOW_GRACE_SECONDS * 1000;
    const maxWaitMs = config.WINDOW_MAX_WAIT_SECONDS === undefined ? policy.rawData.maxLateness : config.WINDOW_MAX_WAIT_SECONDS * 1000;

    const stageConsumer = kafka.consumer({
      groupId: config.KAFKA_GROUP_ID,
      allowAutoTopicCreation: false,
      minBytes: config.KAFKA_FETCH_MIN_BYTES,
      maxWaitTimeInMs: config.KAFKA_FETCH_MAX_WAIT_MS,
      ...CONSUMER_TIMEOUTS,
    });
    const releaserConsumer = kafka.consumer({ groupId: releaserGroupId, allowAutoTopicCreation: false, ...CONSUMER_TIMEOUTS });
    const releaser = createReleaserRunner({
      policy,
      consumer: releaserConsumer,
      producer: batching,
      admin,
      groupId: releaserGroupId,
      topics,
      ledgerTopic,
      fingerprint: noiseKeyFingerprint(config.NOISE_KEY, policy),
      metrics,
      logger: logger.child({ component: 'releaser' }),
      clock: systemClock,
      noise,
    });
    const stage1 = createProcessor({
      policy,
      consumer: stageConsumer,
      producer: batching,
      admin,
      groupId: config.KAFKA_GROUP_ID,
      topics,
      metrics,
      logger: logger.child({ component: 'stage1' }),
      graceMs,
      maxWaitMs,
      clock: systemClock,
    });
    exitOnConsumerCrash(stageConsumer, { name: 'stage 1', logger });
    exitOnConsumerCrash(releaserConsumer, { name: 'releaser', logger });
    exitOnConsumerCrash(ledgerTopic.consumer, { name: 'release ledger', logger });
    await ledgerTopic.start();
    await startConsuming(stageConsumer, [topics.readings, topics.sightings], stage1, { partitionsConsumedConcurrently: 1, logger });
    await startConsuming(releaserConsumer, [topics.partials], releaser, { logger });

    const timer = setInterval(() => {
      stage1.tick().catch((err: unknown) => logger.error({ err }, 'emitting partials failed; will retry'));
      releaser.tick().catch((err: unknown) => logger.error({ err }, 'releasing aggregates failed; will retry'));
    }, config.TICK_MS);

    lifecycle.onShutdown('emit due windows and commit', async () => {
      clearInterval(timer);
      // Commit while still a group member; open windows are replayed by the next run.
      await stage1.tick();
      await releaser.tick();
    });
    lifecycle.onShutdown('stop consuming', async () => {
      await stageConsumer.disconnect();
      await releaserConsumer.disconnect();
      await ledgerTopic.stop();
    });
    lifecycle.onShutdown('flush Kafka', async () => {
      await batching.flush();
      await producer.disconnect();
      await admin.disconnect();
    });
    lifecycle.onShutdown('close HTTP', () => health.close());
    lifecycle.markReady();
    logger.info(
      {
        http: health.port,
        inputs: [topics.readings, topics.sightings],
        partials: topics.partials,
        aggregates: topics.aggregates,
        ledger: ledgerTopicName,
        group: config.KAFKA_GROUP_ID,
        releaserGroup: releaserGroupId,
      },
      'processor started',
    );
  },
);
