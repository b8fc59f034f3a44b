// API entry point: read config, load the policy, fleet and requesters, open the audit log
// (it verifies the file and refuses a broken one), connect to InfluxDB (read-only token) and
// Kafka (audit topic consumer, scheduled retention check of the personal topics), then serve.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AddressInfo } from 'node:net';
import { InfluxDB } from '@influxdata/influxdb-client';
import { openFileAuditLog } from '@lethe/audit';
import { createKafka, ensureTopics, retryKafka } from '@lethe/kafka';
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

runService({ name: 'api', loadConfig: loadApiConfig, createMetrics: createApiMetrics }, async ({ config, logger, registry, metrics, lifecycle }) => {
  const policy = loadPolicy(config.POLICY_FILE ?? DEFAULT_POLICY_PATH);
  const catalogue = buildCatalogue(policy, loadFleet(config.FLEET_FILE ?? DEFAULT_FLEET_PATH), loadDistricts(config.DISTRICTS_FILE ?? DEFAULT_DISTRICTS_PATH));
  const requesters = createRequesterDirectory(loadRequesters(config.REQUESTERS_FILE ?? DEFAULT_REQUESTERS_PATH), config.REQUESTER_TOKENS);
  const openapi = loadOpenApiDocument();

  mkdirSync(dirname(config.AUDIT_LOG_FILE), { recursive: true, mode: 0o700 });
  const audit = await withRecordCache(await openFileAuditLog(config.AUDIT_LOG_FILE));
  const head = await audit.head();
  logger.info({ file: config.AUDIT_LOG_FILE, head: head ?? null }, 'audit log opened and verified');

  const store = createInfluxAggregateStore(
    new InfluxDB({ url: config.INFLUX_URL, token: config.INFLUX_TOKEN, timeout: 10_000 }).getQueryApi(config.INFLUX_ORG),
    config.INFLUX_BUCKET,
  );

  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID, logger });
  const admin = kafka.admin();
  await admin.connect();
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

  const app = createApp({
    policy,
    catalogue,
    requesters,
    store,
    liveFigures,
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
      log: audit,
      topic: TOPICS.audit,
      groupId: config.KAFKA_GROUP_ID,
      logger,
      onStored: () => metrics.auditTopicRecords.inc(),
    });
  }
  watch.start();

  lifecycle.onShutdown('stop consuming audit events', () => consumer?.stop());
  lifecycle.onShutdown('stop watching personal topics', () => watch.stop());
  lifecycle.onShutdown('close HTTP', () => new Promise<void>((resolve) => server.close(() => resolve())));
  lifecycle.onShutdown('disconnect Kafka admin', () => admin.disconnect());
  lifecycle.onShutdown('close audit log', () => audit.close());
  lifecycle.markReady();
  logger.info({ http: (server.address() as AddressInfo).port, requesters: requesters.requesters.length }, 'api started');
});
