// Least-privilege Kafka ACLs for Lethe's services, for a broker with SASL/SCRAM users and an
// authorizer (infra/local/kafka.sh with LETHE_KAFKA_SASL_PORT runs this after start). Each
// service is its own SCRAM user, lethe-<service>, with its password in the secrets directory
// (kafka-<service>-password, from setup-secrets.ts --kafka-sasl). Idempotent: the table below is
// the whole truth for those users (missing bindings are created, others deleted).
//
//   node scripts/kafka-acls.ts --bootstrap 127.0.0.1:19092      # as a super user (the loopback PLAINTEXT listener)
//
// Topic configuration (retention of personal data) is the gateway's alone: the others may
// create a missing topic with the policy's configs and read configs back, never change them.
import { parseArgs } from 'node:util';
import { type AclSpec, createKafka, ensureAcls } from '@lethe/kafka';
import { createLogger } from '@lethe/observability';
import { TOPICS } from '@lethe/schemas';

/** The services that talk to Kafka; each one's SCRAM user is `lethe-<service>`. */
export const KAFKA_SERVICES = ['gateway', 'processor', 'writer', 'api'] as const;
export type KafkaService = (typeof KAFKA_SERVICES)[number];
export const kafkaUser = (service: KafkaService) => `lethe-${service}`;

/**
 * Consumer groups: the services' default KAFKA_GROUP_ID. The processor's is a prefix: its
 * second stage (the releaser) has its own group, `<KAFKA_GROUP_ID>-releaser` by default.
 */
const GROUPS = { processor: 'lethe-processor', writer: 'lethe-writer', api: 'lethe-api-audit' } as const;
const ALL_TOPICS = Object.values(TOPICS);

export function letheAcls(): AclSpec[] {
  const topics = (service: KafkaService, names: readonly string[], operations: AclSpec['operations']): AclSpec[] =>
    names.map((name) => ({ principal: `User:${kafkaUser(service)}`, resourceType: 'topic', name, operations }));
  const group = (service: keyof typeof GROUPS, prefixed = false): AclSpec => ({
    principal: `User:${kafkaUser(service)}`,
    resourceType: 'group',
    name: GROUPS[service],
    prefixed,
    operations: ['READ'],
  });
  return [
    // Every service ensures the policy's topics at start (ensureTopics): it lists them and reads their configs back.
    ...topics('gateway', ALL_TOPICS, ['DESCRIBE', 'DESCRIBE_CONFIGS', 'CREATE', 'ALTER_CONFIGS']),
    ...topics('gateway', [TOPICS.readings, TOPICS.sightings, TOPICS.rejected, TOPICS.audit], ['WRITE']),
    ...topics('processor', ALL_TOPICS, ['DESCRIBE', 'DESCRIBE_CONFIGS', 'CREATE']),
    ...topics('processor', [TOPICS.readings, TOPICS.sightings, TOPICS.partials, TOPICS.ledger], ['READ']),
    // lethe.partials.v1 is the processor's own stage-1 → stage-2 topic; lethe.ledger.v1 its release ledger.
    ...topics('processor', [TOPICS.partials, TOPICS.aggregates, TOPICS.ledger], ['WRITE']),
    group('processor', true),
    ...topics('writer', ALL_TOPICS, ['DESCRIBE', 'DESCRIBE_CONFIGS', 'CREATE']),
    ...topics('writer', [TOPICS.aggregates], ['READ']),
    group('writer'),
    // The register states every topic's replication as the brokers report it (metadata and configs, no record).
    ...topics('api', ALL_TOPICS, ['DESCRIBE', 'DESCRIBE_CONFIGS']),
    ...topics('api', [TOPICS.audit], ['CREATE', 'READ']),
    // The scheduled retention check of the personal topics needs only their offsets and timestamps
    // (ListOffsets, under the Describe above), never their records.
    group('api'),
  ];
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { bootstrap: { type: 'string' } } });
  if (!values.bootstrap) throw new Error('usage: node scripts/kafka-acls.ts --bootstrap HOST:PORT (a listener where this client is a super user)');
  const logger = createLogger({ service: 'kafka-acls', level: 'warn' });
  const admin = createKafka({ brokers: values.bootstrap.split(','), clientId: 'lethe-kafka-acls', logger }).admin();
  await admin.connect();
  try {
    const { created, deleted } = await ensureAcls(admin, letheAcls());
    console.log(`Kafka ACLs for ${KAFKA_SERVICES.map(kafkaUser).join(', ')}: ${created} created, ${deleted} deleted`);
  } finally {
    await admin.disconnect();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error(`kafka-acls: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
