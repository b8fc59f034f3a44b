import { commaList, commonFields, loadConfig, positiveInt, topicPrefix } from '@lethe/config';
import { z } from 'zod';

const GatewayConfigSchema = z.object({
  ...commonFields,
  MQTT_URL: z.url(),
  MQTT_USERNAME: z.string().min(1),
  MQTT_PASSWORD: z.string().min(1),
  /** Prefix of the persistent MQTT sessions; each connection appends its index. */
  MQTT_CLIENT_ID: z.string().default('lethe-gateway'),
  /** The shared subscription group ($share/<group>/…) of every gateway of this pipeline: each reading goes to one of them. */
  MQTT_SHARE_GROUP: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .default('lethe-gateway'),
  /** Parallel MQTT connections sharing one subscription ($share): mqtt.js handles a connection's messages one at a time. */
  MQTT_CONNECTIONS: positiveInt().default(4),
  /**
   * Set under Docker Compose to the gateway's service name (`gateway`) for `--scale gateway=N`:
   * each replica then takes client ids of its own, `<MQTT_CLIENT_ID>-<n>-<connection>`, n being its
   * Compose replica number (from the reverse DNS of its address, stable when the container is
   * re-created), and drains the sessions of replicas scaled away (src/orphan-session.ts).
   */
  REPLICAS_DNS_NAME: z
    .string()
    .regex(/^[A-Za-z0-9.-]+$/)
    .optional(),
  /** Replica numbers above this are refused, and the sessions of those up to it are looked after. */
  MAX_REPLICAS: positiveInt().max(64).default(8),
  /** How often a replica looks for replicas gone; one is drained after two looks without it. */
  REPLICAS_CHECK_SECONDS: positiveInt().default(30),
  KAFKA_BROKERS: commaList(),
  KAFKA_CLIENT_ID: z.string().default('lethe-gateway'),
  KAFKA_LINGER_MS: z.coerce.number().int().min(0).default(5),
  /** Partitions of the readings and sightings topics (default 3); set the same value on every service. */
  KAFKA_PARTITIONS: positiveInt().optional(),
  /** Prefix of every topic name, for a pipeline that shares a Kafka cluster. */
  KAFKA_TOPIC_PREFIX: topicPrefix().default(''),
  /**
   * A shared key service (services/keyring, or one with the same contract) for the pseudonym
   * keys, so several gateways give a phone or plate the same pseudonym; unset, this gateway keeps
   * its own keys in memory (right for one gateway). Several comma-separated URLs for keyring
   * instances that share their keys (KEYRING_PEERS): one that cannot answer is skipped.
   */
  KEYRING_URL: commaList().pipe(z.array(z.url())).optional(),
  /**
   * This gateway's own token for the key service (usually KEYRING_TOKEN_FILE, e.g.
   * secrets/keyring-token-gateway from scripts/setup-secrets.ts; the keyring keeps only its
   * hash, and knows the gateway by it); required with KEYRING_URL.
   */
  KEYRING_TOKEN: z.string().trim().min(32, 'must be at least 32 characters').optional(),
  POLICY_FILE: z.string().optional(),
  FLEET_FILE: z.string().optional(),
  MAX_PAYLOAD_BYTES: positiveInt().default(64 * 1024),
});

export type GatewayConfig = z.infer<typeof GatewayConfigSchema>;

const WithKeyring = GatewayConfigSchema.refine((c) => c.KEYRING_URL === undefined || c.KEYRING_TOKEN !== undefined, {
  path: ['KEYRING_TOKEN'],
  message: 'is required with KEYRING_URL',
});

export function loadGatewayConfig(env: Record<string, string | undefined> = process.env): GatewayConfig {
  return loadConfig('gateway', WithKeyring, env);
}
