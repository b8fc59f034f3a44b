// Kafka's opt-in SASL/SCRAM listener with per-service users and least-privilege ACLs, on a
// private broker started here the way a user starts it (infra/local/up.sh with
// LETHE_KAFKA_SASL_PORT: SCRAM-SHA-512 credentials from the secrets directory, StandardAuthorizer,
// the ACL table of scripts/kafka-acls.ts). The shared broker of the other suites stays plain.
// The real gateway, processor, writer and api then start on the SCRAM listener with their own
// users, and a reading published over MQTT reaches Kafka through the gateway's user.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { devicePassword } from '@lethe/config';
import { createKafka, ensureAcls, ensureTopics, kafkaSaslFromEnv, type Kafka } from '@lethe/kafka';
import { createLogger } from '@lethe/observability';
import { DEFAULT_POLICY_PATH, loadPolicy, topicSpecs } from '@lethe/privacy';
import { readingTopic, TOPICS } from '@lethe/schemas';
import kafkajs from 'kafkajs';
import { connectAsync } from 'mqtt';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { kafkaUser, letheAcls, type KafkaService } from '../../scripts/kafka-acls.ts';
import { startOptInInfra, type OptInInfra } from '../support/opt-in-infra.ts';
import { influxEnv, startService, type RunningService } from '../support/services.ts';
import { readTopic } from '../support/topic-reader.ts';

const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ConfigResourceTypes, ResourcePatternTypes } = kafkajs;
const infra = inject('infra');
const logger = createLogger({ service: 'test', level: 'silent' });
const policy = loadPolicy(DEFAULT_POLICY_PATH);
const RUN = randomBytes(4).toString('hex');
const NO_RETRY = { retry: { retries: 0, initialRetryTime: 100 }, connectionTimeout: 5000, authenticationTimeout: 5000 };

let broker: OptInInfra;
let saslBrokers: string[];
let plainBrokers: string[];
const services: RunningService[] = [];
const dir = mkdtempSync(join(tmpdir(), 'lethe-security-kafka-'));

const password = (service: KafkaService) => broker.secret(`kafka-${service}-password`);
/** A client as the service's SCRAM user; `failFast` for the checks that a connection is refused. */
const asService = (service: KafkaService, { pw = password(service), failFast = false } = {}): Kafka =>
  createKafka({
    brokers: saslBrokers,
    clientId: `sec-${service}-${RUN}`,
    logger,
    sasl: { mechanism: 'scram-sha-512', username: kafkaUser(service), password: pw },
    ...(failFast ? { overrides: NO_RETRY } : {}),
  });

/** The environment a service needs to use its SCRAM user (the password as a *_FILE, as in compose). */
function saslEnv(service: KafkaService): Record<string, string> {
  return {
    KAFKA_BROKERS: saslBrokers.join(','),
    KAFKA_SASL_USERNAME: kafkaUser(service),
    KAFKA_SASL_PASSWORD_FILE: join(broker.secretsDir, `kafka-${service}-password`),
  };
}

/** Kafka's authorizer logs every denial (kafka.authorizer.logger, INFO) into the broker log. */
function denials(principal: string): string[] {
  return readFileSync(join(broker.localDir, 'logs/kafka.log'), 'utf8')
    .split('\n')
    .filter((l) => l.includes(`Principal = User:${principal} is Denied`))
    .map((l) => /Denied operation = (\w+) .* on resource = (\S+)/.exec(l)?.slice(1, 3).join(' ') ?? l);
}

/** Consumes from the beginning until `until` holds or the consumer fails; returns what happened. */
async function consume(
  kafka: Kafka,
  groupId: string,
  topic: string,
  until: (values: string[]) => boolean,
  timeoutMs = 20_000,
): Promise<{ values: string[]; error?: Error }> {
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
  const values: string[] = [];
  let error: Error | undefined;
  consumer.on(consumer.events.CRASH, (e) => (error = e.payload.error));
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void values.push(message.value?.toString() ?? '') });
    const deadline = Date.now() + timeoutMs;
    while (!until(values) && error === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  } catch (e) {
    error = e as Error;
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
  return error === undefined ? { values } : { values, error };
}

beforeAll(async () => {
  broker = await startOptInInfra(['kafka']);
  saslBrokers = [broker.endpoints.KAFKA_SASL_BROKERS!];
  plainBrokers = [broker.endpoints.KAFKA_BROKERS!];
}, 180_000);

afterAll(async () => {
  await Promise.allSettled(services.map((s) => s.stop()));
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('Kafka SASL/SCRAM listener (opt-in, private broker)', () => {
  it('lets a service user with the right password create the topics, produce and consume', async () => {
    const gateway = asService('gateway').admin();
    await gateway.connect();
    await ensureTopics(gateway, topicSpecs(policy), logger);
    await gateway.disconnect();
    // The processor may check the topics but not change them: they exist with the policy's configs.
    const processorAdmin = asService('processor').admin();
    await processorAdmin.connect();
    expect(await ensureTopics(processorAdmin, topicSpecs(policy), logger)).toEqual([]);
    await processorAdmin.disconnect();

    const producer = asService('gateway').producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({ topic: TOPICS.sightings, acks: -1, messages: [{ key: RUN, value: `sighting-${RUN}` }] });
    await producer.disconnect();
    const got = await consume(asService('processor'), 'lethe-processor', TOPICS.sightings, (v) => v.includes(`sighting-${RUN}`));
    expect(got.error).toBeUndefined();
    expect(got.values).toContain(`sighting-${RUN}`);
  });

  it('refuses a wrong password, an unknown user and a client without SASL', async () => {
    await expect(asService('writer', { pw: 'wrong-password', failFast: true }).admin().connect()).rejects.toThrow(/SASL SCRAM SHA512 authentication failed/i);
    await expect(
      asService('writer', { pw: password('gateway'), failFast: true })
        .admin()
        .connect(),
    ).rejects.toThrow(/authentication failed/i);
    const stranger = createKafka({
      brokers: saslBrokers,
      clientId: 'stranger',
      logger,
      sasl: { mechanism: 'scram-sha-512', username: 'lethe-stranger', password: password('writer') },
      overrides: NO_RETRY,
    });
    await expect(stranger.admin().connect()).rejects.toThrow(/authentication failed/i);
    const noSasl = createKafka({ brokers: saslBrokers, clientId: 'no-sasl', logger, overrides: NO_RETRY }).admin();
    await expect(noSasl.connect().then(() => noSasl.listTopics())).rejects.toThrow();
    await noSasl.disconnect();
  });

  it('gives each service only what it needs: the writer cannot read personal data or write aggregates, the processor cannot lengthen retention', async () => {
    const writerRead = await consume(asService('writer'), 'lethe-writer', TOPICS.sightings, () => false, 15_000);
    expect(writerRead.values).toEqual([]);
    expect(writerRead.error?.message).toMatch(/not authorized/i);

    const writerProducer = asService('writer').producer();
    await writerProducer.connect();
    await expect(writerProducer.send({ topic: TOPICS.aggregates, messages: [{ value: 'forged' }] })).rejects.toThrow(/not authorized/i);
    await writerProducer.disconnect();

    const processor = asService('processor').admin();
    await processor.connect();
    await expect(
      processor.alterConfigs({
        validateOnly: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: TOPICS.sightings, configEntries: [{ name: 'retention.ms', value: '-1' }] }],
      }),
    ).rejects.toThrow(/authoriz/i);
    await processor.disconnect();
    // Another service's consumer group is not the processor's either (kafkajs reports the denied
    // FindCoordinator only as "Failed to find group coordinator"; the broker says why).
    const stolenGroup = await consume(asService('processor'), 'lethe-writer', TOPICS.readings, () => false, 10_000);
    expect(stolenGroup.error).toBeDefined();

    const api = await consume(asService('api'), 'lethe-api-audit', TOPICS.sightings, () => false, 10_000);
    expect(api.error?.message).toMatch(/not authorized/i);

    await new Promise((r) => setTimeout(r, 500)); // log4j flushes each line; give it a moment
    expect(denials(kafkaUser('writer'))).toEqual(
      expect.arrayContaining([`READ Topic:LITERAL:${TOPICS.sightings}`, `WRITE Topic:LITERAL:${TOPICS.aggregates}`]),
    );
    expect(denials(kafkaUser('processor'))).toEqual(
      expect.arrayContaining([`ALTER_CONFIGS Topic:LITERAL:${TOPICS.sightings}`, 'DESCRIBE Group:LITERAL:lethe-writer']),
    );
    expect(denials(kafkaUser('api'))).toEqual(expect.arrayContaining([`READ Topic:LITERAL:${TOPICS.sightings}`]));
  });

  it('keeps the loopback PLAINTEXT listener working without credentials (the default setup)', async () => {
    const admin = createKafka({ brokers: plainBrokers, clientId: 'plain', logger }).admin();
    await admin.connect();
    expect(await admin.listTopics()).toEqual(expect.arrayContaining(topicSpecs(policy).map((t) => t.topic)));
    await admin.disconnect();
  });

  it('keeps the ACLs to the table: re-applying changes nothing, a binding added by hand is removed', async () => {
    const admin = createKafka({ brokers: plainBrokers, clientId: 'acl-drift', logger }).admin();
    await admin.connect();
    try {
      expect(await ensureAcls(admin, letheAcls())).toEqual({ created: 0, deleted: 0 });
      const drift = {
        resourceType: AclResourceTypes.TOPIC,
        resourceName: TOPICS.sightings,
        resourcePatternType: ResourcePatternTypes.PREFIXED,
        principal: `User:${kafkaUser('writer')}`,
        host: '*',
        operation: AclOperationTypes.READ,
        permissionType: AclPermissionTypes.ALLOW,
      };
      await admin.createAcls({ acl: [drift] });
      expect(await ensureAcls(admin, letheAcls())).toEqual({ created: 0, deleted: 1 });
      const { resources } = await admin.describeAcls({
        ...drift,
        resourceType: AclResourceTypes.ANY,
        resourcePatternType: ResourcePatternTypes.ANY,
        operation: AclOperationTypes.READ,
      });
      expect(resources.filter((r) => r.resourceName === TOPICS.sightings)).toEqual([]);
    } finally {
      await admin.disconnect();
    }
  });

  it('reads the credentials from KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD_FILE', async () => {
    const file = join(dir, 'password');
    writeFileSync(file, `${password('writer')}\n`);
    const sasl = kafkaSaslFromEnv({ KAFKA_SASL_USERNAME: 'lethe-writer', KAFKA_SASL_PASSWORD_FILE: file });
    const admin = createKafka({ brokers: saslBrokers, clientId: 'from-env', logger, sasl, overrides: NO_RETRY }).admin();
    await admin.connect();
    expect(await admin.listTopics()).toContain(TOPICS.aggregates);
    await admin.disconnect();
  });

  it('runs the real gateway, processor, writer and api as their own users; a reading published over MQTT reaches Kafka', async () => {
    // The production MQTT client ids, as in the e2e test: other ids would leave persistent
    // sessions in the shared subscription group of the shared broker.
    services.push(
      await startService('gateway', { ...saslEnv('gateway'), MQTT_URL: infra.mqttUrl, MQTT_USERNAME: 'lethe-gateway', MQTT_PASSWORD: infra.gatewayPassword }),
    );
    services.push(await startService('processor', { ...saslEnv('processor'), NOISE_KEY: randomBytes(32).toString('hex') }));
    services.push(
      await startService('writer', {
        ...saslEnv('writer'),
        ...influxEnv(infra.influx, 'writer'),
      }),
    );
    const tokens = join(dir, 'api-requester-tokens');
    writeFileSync(tokens, JSON.stringify({ version: 1, tokens: {} }));
    services.push(
      await startService('api', {
        ...saslEnv('api'),
        ...influxEnv(infra.influx, 'api'),
        AUDIT_LOG_FILE: join(dir, 'audit', 'api.jsonl'),
        REQUESTER_TOKENS_FILE: tokens,
      }),
    );

    const seq = Math.floor(Date.now() / 1000);
    const reader = await readTopic(plainBrokers, TOPICS.readings, (v) => {
      const r = v as { deviceId?: string; seq?: number };
      return r.deviceId === 'SW-0004' && r.seq === seq ? r : undefined;
    });
    const device = await connectAsync(infra.mqttUrl, { username: 'SW-0004', password: devicePassword(infra.fleetSecret, 'SW-0004'), reconnectPeriod: 0 });
    const reading = { deviceId: 'SW-0004', seq, ts: new Date().toISOString(), levelCm: 42.5, flowLps: 160, h2sPpm: 1.2, temperatureC: 22.4, overflow: false };
    await device.publishAsync(readingTopic('sewer', 'SW-0004'), JSON.stringify(reading), { qos: 1 });
    await device.endAsync();
    try {
      // Up to a minute more if the reading falls in the first minute of an epoch (the write mix, P9).
      await reader.until((records) => records.length > 0, 100_000);
    } finally {
      await reader.stop();
    }
    for (const s of services) expect(s.output(), `${s.name} logged an authorization error`).not.toMatch(/not authorized|AUTHORIZATION_FAILED/i);
  }, 240_000);
});
