// API entry point: read config, load the policy, fleet and requesters, open the audit log
// (it verifies the file and refuses a broken one), connect to InfluxDB (read-only token) and
// Kafka (audit topic consumer, scheduled retention check of the personal topics, the topics'
// replication for the register), then serve.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import { InfluxDB } from '@influxdata/influxdb-client';
import { openFileAuditLog } from '@lethe/audit';
import { createKafka, ensureTopics, PRODUCER_OPTIONS, retryKafka } from '@lethe/kafka';
import { runService } from '@lethe/observability';
import { DEFAULT_POLICY_PATH, loadPolicy, rawDataLimit, topicSpecs } from '@lethe/privacy';
import { DEFAULT_FLEET_PATH, loadFleet, PERSONAL_TOPICS, TOPICS } from '@lethe/schemas';
import { createInfluxAggregateStore } from './aggregate-store.ts';
import { createApp } from './app.ts';
import { startAuditTopicConsumer, type AuditTopicConsumer } from './audit-topic-consumer.ts';
import { withRecordCache } from './cached-audit-log.ts';
import { buildCatalogue, DEFAULT_DISTRICTS_PATH, loadDistricts } from './catalogue.ts';
import { loadApiConfig } from './config.ts';
import { createLiveFigures } from './live-figures.ts';
import { createApiMetrics } from './metrics.ts';
import { loadOpenApiDocument } from './openapi.ts';
import { createPersonalTopicWatch } from './personal-topic-watch.ts';
import { createRequesterDirectory, DEFAULT_REQUESTERS_PATH, loadRequesters } from './requesters.ts';
import { attestationRepeats, createSharedAudit, type SharedAudit } from './shared-audit.ts';
import { createTopicReplicationReader } from './topic-replication.ts';

runService({ name: 'api', loadConfig: loadApiConfig, createMetrics: createApiMetrics }, async ({ config, logger, registry, metrics, lifecycle }) => {
  const policy = loadPolicy(config.POLICY_FILE ?? DEFAULT_POLICY_PATH);
  const catalogue = buildCatalogue(policy, loadFleet(config.FLEET_FILE ?? DEFAULT_FLEET_PATH), loadDistricts(config.DISTRICTS_FILE ?? DEFAULT_DISTRICTS_PATH));
  const requesters = createRequesterDirectory(loadRequesters(config.REQUESTERS_FILE ?? DEFAULT_REQUESTERS_PATH), config.REQUESTER_TOKENS);
  const openapi = loadOpenApiDocument();

  mkdirSync(dirname(config.AUDIT_LOG_FILE), { recursive: true, mode: 0o700 });
  const fileAudit = await withRecordCache(await openFileAuditLog(config.AUDIT_LOG_FILE));
  const head = await fileAudit.head();
  logger.info({ file: config.AUDIT_LOG_FILE, head: head ?? null }, 'audit log opened and verified');

  const store = createInfluxAggregateStore(
    new InfluxDB({ url: config.INFLUX_URL, token: config.INFLUX_TOKEN, timeout: 10_000 }).getQueryApi(config.INFLUX_ORG),
    config.INFLUX_BUCKET,
  );

  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID, logger });
  const admin = kafka.admin();
  await admin.connect();
  // Alone, the api chains its own events into its file; with AUDIT_SHARED they go through the
  // audit topic, and every instance's file is the same copy of it (shared-audit.ts).
  let shared: SharedAudit | undefined;
  let disconnectProducer = async () => undefined as void;
  if (config.AUDIT_SHARED) {
    const producer = kafka.producer(PRODUCER_OPTIONS);
    await producer.connect();
    disconnectProducer = () => producer.disconnect();
    shared = createSharedAudit({ log: fileAudit, producer, topic: TOPICS.audit });
  }
  const audit = shared?.log ?? fileAudit;
  // Read now, so the register states it from the first request, and again at every check of the watch.
  const replication = createTopicReplicationReader({
    admin,
    topics: topicSpecs(policy).map((s) => s.topic),
    logger,
  });
  await replication.refresh();
  const watch = createPersonalTopicWatch({
    admin,
    topics: PERSONAL_TOPICS,
    audit,
    intervalMs: config.WATCH_INTERVAL_SECONDS * 1000,
    periodMs: policy.rawData.ttl,
    limitMs: rawDataLimit(policy).limitMs,
    logger,
    onCheck: (topic, outcome) => {
      metrics.retentionChecks.inc({ topic, outcome });
      if (outcome !== 'failed') metrics.rawDataWithinLimit.set({ topic }, outcome === 'within_limit' ? 1 : 0);
    },
    onAppend: (type) => metrics.auditAppends.inc({ type }),
    replication,
  });
  for (const topic of PERSONAL_TOPICS) for (const outcome of ['within_limit', 'over_limit', 'failed']) metrics.retentionChecks.inc({ topic, outcome }, 0);
  const liveFigures = createLiveFigures({
    policy,
    audit,
    store,
    checks: watch,
    keyGraceMs: policy.rawData.keyGrace,
    onError: (source, err) => logger.warn({ source, err: { name: (err as Error).name, message: (err as Error).message } }, 'a live figure is unavailable'),
  });

  let consumer: AuditTopicConsumer | undefined;
  if (config.AUDIT_TOPIC) {
    // The api reads the audit topic; the topic is created (with the policy's spec) if no producer has yet.
    await retryKafka(
      () =>
        ensureTopics(
          admin,
          topicSpecs(policy).filter((s) => s.topic === TOPICS.audit),
          logger,
        ),
      { what: 'creating the audit topic', logger },
    );
    consumer = await startAuditTopicConsumer({
      kafka,
      admin,
      log: fileAudit,
      topic: TOPICS.audit,
      // Each instance of a shared trail reads the whole topic: a group of its own (the positions in
      // its log, not the group's offsets, decide where it resumes).
      groupId: config.AUDIT_SHARED ? `${config.KAFKA_GROUP_ID}.${hostname()}.${config.HTTP_PORT}` : config.KAFKA_GROUP_ID,
      logger,
      onStored: () => metrics.auditTopicRecords.inc(),
      repeats: attestationRepeats(await fileAudit.records()),
      ...(shared ? { onHandled: shared.handled } : {}),
    });
  }
  const app = createApp({
    policy,
    catalogue,
    requesters,
    store,
    liveFigures,
    topicReplication: replication,
    audit,
    openapi,
    registry,
    metrics,
    lifecycle,
    logger,
    keyGraceMs: policy.rawData.keyGrace,
  });
  const server = app.listen(config.HTTP_PORT, config.HTTP_HOST);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });

  watch.start();

  lifecycle.onShutdown('stop consuming audit events', () => consumer?.stop());
  lifecycle.onShutdown('stop watching personal topics', () => watch.stop());
  lifecycle.onShutdown('close HTTP', () => new Promise<void>((resolve) => server.close(() => resolve())));
  lifecycle.onShutdown('disconnect Kafka admin', () => admin.disconnect());
  lifecycle.onShutdown('disconnect the audit producer', () => disconnectProducer());
  lifecycle.onShutdown('close audit log', () => fileAudit.close());
  lifecycle.markReady();
  logger.info({ http: (server.address() as AddressInfo).port, requesters: requesters.requesters.length }, 'api started');
});
