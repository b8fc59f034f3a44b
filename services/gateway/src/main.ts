// Gateway entry point: read config, build the ingest stage from the policy and fleet,
// connect Kafka then MQTT, and shut down in order (stop input → destroy keys → flush Kafka →
// close HTTP). The policy it loaded and every key it destroys go to the audit topic (P8).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createBatchingProducer, createKafka, ensureTopics, partitionOf, PRODUCER_OPTIONS, type OutgoingRecord, retryKafka } from '@lethe/kafka';
import { runService, startHealthServer } from '@lethe/observability';
import {
  createIngestStage,
  createKindKeyProviders,
  createPseudonymizers,
  createRemoteKeyProvider,
  DEFAULT_POLICY_PATH,
  destroyedKeyData,
  loadPolicy,
  topicSpecs,
  type PseudonymKeyProvider,
} from '@lethe/privacy';
import {
  AuditEventRecordSchema,
  DEFAULT_FLEET_PATH,
  DEVICE_KINDS,
  loadFleet,
  READING_TOPIC_FILTER,
  TOPICS,
  topicNames,
  type AuditEventRecord,
  type DeviceKind,
} from '@lethe/schemas';
import { loadGatewayConfig } from './config.ts';
import { createGateway, SEND_TIMEOUT_MS } from './gateway.ts';
import { createGatewayMetrics } from './metrics.ts';
import { MAX_IN_FLIGHT, startMqttSource } from './mqtt-source.ts';
import { startOrphanWatch } from './orphan-session.ts';
import { ownReplica } from './replicas.ts';

runService(
  { name: 'gateway', loadConfig: loadGatewayConfig, createMetrics: createGatewayMetrics },
  async ({ config, logger, registry, metrics, lifecycle }) => {
    const health = await startHealthServer({ host: config.HTTP_HOST, port: config.HTTP_PORT, registry, lifecycle });

    const policyPath = config.POLICY_FILE ?? DEFAULT_POLICY_PATH;
    const policy = loadPolicy(policyPath);
    const fleet = loadFleet(config.FLEET_FILE ?? DEFAULT_FLEET_PATH);
    // Audit events wait here until the producer is connected (keys exist only once readings
    // flow, so in practice none does); a send that fails is logged, as the producer retries.
    const auditBacklog: OutgoingRecord[] = [];
    let sendAudit = (record: OutgoingRecord) => void auditBacklog.push(record);
    const topics = topicNames(config.KAFKA_TOPIC_PREFIX);
    const audit = (type: AuditEventRecord['type'], data: AuditEventRecord['data']) =>
      sendAudit({
        topic: topics.audit,
        key: 'gateway',
        value: JSON.stringify(AuditEventRecordSchema.parse({ v: 1, type, actor: 'gateway', at: Date.now(), data })),
      });
    // N gateways share their keys through a key service (its keys die on the same schedule, and it
    // records their destruction); one gateway keeps its own in memory.
    const keyring = config.KEYRING_URL;
    const byKind = keyring
      ? (Object.fromEntries(DEVICE_KINDS.map((kind) => [kind, createRemoteKeyProvider({ url: keyring, token: config.KEYRING_TOKEN!, kind })])) as Record<
          DeviceKind,
          PseudonymKeyProvider
        >)
      : createKindKeyProviders(policy, {
          onDestroy: (kind, epoch) => {
            metrics.keysDestroyed.inc();
            logger.info({ kind, epoch }, 'pseudonym key destroyed');
            audit('key.destroyed', destroyedKeyData(policy, kind, epoch));
          },
        });
    const providers = Object.entries(byKind) as Array<[DeviceKind, PseudonymKeyProvider]>;
    const pseudonymizers = createPseudonymizers(policy, byKind);
    // Keys are destroyed on time even when no traffic arrives to trigger a rotation.
    const rotation = setInterval(() => {
      for (const [, provider] of providers) provider.rotate();
      metrics.liveKeys.set(providers.reduce((n, [, p]) => n + p.liveEpochs().length, 0));
    }, 1000);

    const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID, logger });
    const admin = kafka.admin();
    await admin.connect();
    const specs = topicSpecs(policy, { readings: config.KAFKA_PARTITIONS, sightings: config.KAFKA_PARTITIONS, prefix: config.KAFKA_TOPIC_PREFIX });
    await retryKafka(() => ensureTopics(admin, specs, logger), { what: 'creating the topics', logger });
    // The sightings topic may have more partitions than asked for (Kafka cannot remove them): its own count decides.
    const sightingsPartitions = await retryKafka(
      async () => {
        const count = (await admin.fetchTopicMetadata({ topics: [topics.sightings] })).topics[0]?.partitions.length;
        if (!count) throw new Error(`Kafka has no partitions for ${topics.sightings}`);
        return count;
      },
      { what: 'reading the partitions of the sightings topic', logger },
    );
    await admin.disconnect();
    const producer = kafka.producer(PRODUCER_OPTIONS);
    await producer.connect();
    const unprefixed = createBatchingProducer({ producer, lingerMs: config.KAFKA_LINGER_MS, timeoutMs: SEND_TIMEOUT_MS });
    // The ingest stage names the standard topics; a prefixed pipeline writes to its own.
    const prefixed = new Map<string, string>(Object.entries(TOPICS).map(([key, name]) => [name, topics[key as keyof typeof TOPICS]]));
    const batching: typeof unprefixed = config.KAFKA_TOPIC_PREFIX
      ? { send: (records) => unprefixed.send(records.map((r) => ({ ...r, topic: prefixed.get(r.topic) ?? r.topic }))), flush: () => unprefixed.flush() }
      : unprefixed;
    sendAudit = (record) => void batching.send([record]).catch((err: unknown) => logger.error({ err }, 'could not publish an audit event'));
    auditBacklog.splice(0).forEach(sendAudit);
    audit('policy.loaded', { policyId: policy.id, version: policy.version, sha256: createHash('sha256').update(readFileSync(policyPath)).digest('hex') });

    const ingest = createIngestStage({
      policy,
      fleet,
      pseudonymizers,
      maxPayloadBytes: config.MAX_PAYLOAD_BYTES,
      // A reading's sightings, one record per partition: each on the partition its pseudonym's key would take.
      sightingsPartition: (pseudonym) => partitionOf(pseudonym, sightingsPartitions),
    });
    // Half of what the connections may leave unacknowledged: Mosquitto shares readings out evenly, not exactly.
    const gateway = createGateway({ ingest, policy, producer: batching, metrics, logger, maxHeld: (config.MQTT_CONNECTIONS * MAX_IN_FLIGHT) / 2 });
    // Scaled by Compose: client ids of this replica's own, the same after the container is re-created.
    const replicas = config.REPLICAS_DNS_NAME;
    const replica = replicas ? await ownReplicaNumber(replicas, config.MAX_REPLICAS) : undefined;
    const clientIdPrefix = replica === undefined ? config.MQTT_CLIENT_ID : `${config.MQTT_CLIENT_ID}-${replica}`;
    const source = await startMqttSource({
      url: config.MQTT_URL,
      username: config.MQTT_USERNAME,
      password: config.MQTT_PASSWORD,
      clientIdPrefix,
      connections: config.MQTT_CONNECTIONS,
      topicFilter: READING_TOPIC_FILTER,
      shareGroup: config.MQTT_SHARE_GROUP,
      logger: logger.child({ component: 'mqtt' }),
      handle: gateway.handle,
      // Replica 1 is never scaled away: it stays in the group, so readings published while the
      // whole service is stopped queue for it. Any other replica's share goes to those running.
      leaveOnStop: replica !== undefined && replica !== 1,
    });

    const orphans =
      replicas && replica !== undefined
        ? startOrphanWatch({
            self: replica,
            serviceName: replicas,
            maxReplicas: config.MAX_REPLICAS,
            intervalMs: config.REPLICAS_CHECK_SECONDS * 1000,
            clientIdPrefix: config.MQTT_CLIENT_ID,
            connections: config.MQTT_CONNECTIONS,
            drain: {
              url: config.MQTT_URL,
              username: config.MQTT_USERNAME,
              password: config.MQTT_PASSWORD,
              filter: `$share/${config.MQTT_SHARE_GROUP}/${READING_TOPIC_FILTER}`,
              handle: gateway.handle,
              logger: logger.child({ component: 'replicas' }),
            },
            onDrained: () => metrics.orphanSessionsDrained.inc(),
          })
        : undefined;
    if (orphans) lifecycle.onShutdown('stop draining replicas gone', () => orphans.stop());
    lifecycle.onShutdown('stop MQTT input', () => source.stop());
    // Held readings are not acknowledged: Mosquitto delivers them again after the restart.
    lifecycle.onShutdown('give up the write mix', () => gateway.mix.stop());
    // Before the flush, so the audit events of the last keys still reach Kafka.
    lifecycle.onShutdown('stop key rotation', () => {
      clearInterval(rotation);
      // Keys die with the process; zero them first so no copy lingers in a core dump.
      for (const [, provider] of providers) provider.destroyAll();
    });
    lifecycle.onShutdown('flush Kafka', async () => {
      await batching.flush();
      await producer.disconnect();
    });
    lifecycle.onShutdown('close HTTP', () => health.close());
    lifecycle.markReady();
    logger.info(
      { http: health.port, kinds: DEVICE_KINDS.length, devices: fleet.devices.length, keys: keyring ? 'keyring' : 'in-memory', replica },
      'gateway started',
    );
  },
);

/** The replica number, retried a few times: a container's DNS records may lag its start by a moment. */
async function ownReplicaNumber(serviceName: string, max: number): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      const n = await ownReplica(serviceName);
      if (n > max)
        throw new Error(`this gateway is replica ${n}, above MAX_REPLICAS (${max}): raise MAX_REPLICAS on every gateway, or scale to at most ${max}`);
      return n;
    } catch (err) {
      if (attempt >= 5 || /MAX_REPLICAS/.test((err as Error).message)) throw err;
      await new Promise((r) => setTimeout(r, 1000 * attempt));
    }
  }
}
