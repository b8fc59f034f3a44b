// Keyring entry point: the shared pseudonym keys of N gateways (keyring.ts). Reads the policy
// for each kind's epoch, serves POST /v1/hmac beside /livez, /readyz and /metrics, rotates keys
// every second even without traffic, and zeroes every key at shutdown. With KAFKA_BROKERS it
// records each key destruction (never the key) in the audit topic, as a gateway with its own
// keys does.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBatchingProducer, createKafka, PRODUCER_OPTIONS, type BatchingProducer } from '@lethe/kafka';
import { createLifecycle, createLogger, createMetricsRegistry, healthHandler } from '@lethe/observability';
import { DEFAULT_POLICY_PATH, loadPolicy } from '@lethe/privacy';
import { AuditEventRecordSchema, topicNames, type DeviceKind } from '@lethe/schemas';
import { loadKeyringConfig } from './config.ts';
import { createKeyring, keyringHandler } from './keyring.ts';
import { createKeyringMetrics } from './metrics.ts';

async function main(): Promise<void> {
  const config = loadKeyringConfig();
  const logger = createLogger({ service: 'keyring', level: config.LOG_LEVEL });
  const registry = createMetricsRegistry('keyring');
  const metrics = createKeyringMetrics(registry);
  const lifecycle = createLifecycle({ logger });
  lifecycle.handleSignals();
  const policy = loadPolicy(config.POLICY_FILE ?? DEFAULT_POLICY_PATH);

  let audit: BatchingProducer | undefined;
  let disconnect = async () => undefined as void;
  if (config.KAFKA_BROKERS) {
    const producer = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID, logger }).producer(PRODUCER_OPTIONS);
    await producer.connect();
    audit = createBatchingProducer({ producer });
    disconnect = () => producer.disconnect();
  }
  const auditTopic = topicNames(config.KAFKA_TOPIC_PREFIX).audit;
  const onDestroy = (kind: DeviceKind, epoch: number) => {
    metrics.keysDestroyed.inc();
    logger.info({ kind, epoch }, 'pseudonym key destroyed');
    if (!audit) return;
    const epochMs = policy.kinds[kind].epoch;
    const event = AuditEventRecordSchema.parse({
      v: 1,
      type: 'key.destroyed',
      actor: 'keyring',
      at: Date.now(),
      data: { kind, epoch, epochStart: new Date(epoch * epochMs).toISOString(), epochEnd: new Date((epoch + 1) * epochMs).toISOString() },
    });
    audit.send([{ topic: auditTopic, key: 'keyring', value: JSON.stringify(event) }]).catch((err: unknown) => logger.error({ err }, 'could not publish an audit event'));
  };

  const keyring = createKeyring({ policy, graceMs: config.KEY_GRACE_SECONDS * 1000, onDestroy });
  const api = keyringHandler({ keyring, token: config.KEYRING_TOKEN, maxMessages: config.MAX_MESSAGES, metrics, logger });
  const health = healthHandler({ registry, lifecycle });
  const server = createServer((req, res) => {
    if (!api(req, res) && !health(req, res)) res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"NOT_FOUND"}');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.HTTP_PORT, config.HTTP_HOST, () => resolve());
  });
  // Keys die on time even when no request arrives to trigger a rotation.
  const rotation = setInterval(() => {
    keyring.rotate();
    metrics.liveKeys.set(keyring.liveKeys());
  }, 1000);

  lifecycle.onShutdown('stop serving', () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Gateways keep connections alive: idle ones close now, busy ones after their request.
      server.closeIdleConnections();
      setTimeout(() => server.closeAllConnections(), 2_000).unref();
    }),
  );
  lifecycle.onShutdown('destroy keys', () => {
    clearInterval(rotation);
    // Keys die with the process; zero them first so no copy lingers in a core dump.
    keyring.destroyAll();
  });
  lifecycle.onShutdown('flush Kafka', async () => {
    await audit?.flush();
    await disconnect();
  });
  lifecycle.markReady();
  logger.info({ http: (server.address() as AddressInfo).port, host: config.HTTP_HOST, audit: audit ? auditTopic : null }, 'keyring started');
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
