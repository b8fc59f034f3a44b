import { commaList, commonFields, loadConfig, positiveInt } from '@lethe/config';
import { z } from 'zod';

const GatewayConfigSchema = z.object({
  ...commonFields,
  MQTT_URL: z.url(),
  MQTT_USERNAME: z.string().min(1),
  MQTT_PASSWORD: z.string().min(1),
  /** Prefix of the persistent MQTT sessions; each connection appends its index. */
  MQTT_CLIENT_ID: z.string().default('lethe-gateway'),
  /** Parallel MQTT connections sharing one subscription ($share): mqtt.js handles a connection's messages one at a time. */
  MQTT_CONNECTIONS: positiveInt().default(4),
  KAFKA_BROKERS: commaList(),
  KAFKA_CLIENT_ID: z.string().default('lethe-gateway'),
  KAFKA_LINGER_MS: z.coerce.number().int().min(0).default(5),
  POLICY_FILE: z.string().optional(),
  FLEET_FILE: z.string().optional(),
  /** How long a pseudonym key outlives its epoch, for records still in flight. */
  KEY_GRACE_SECONDS: z.coerce.number().int().min(0).default(60),
  MAX_PAYLOAD_BYTES: positiveInt().default(64 * 1024),
  MAX_FUTURE_SKEW_SECONDS: z.coerce.number().int().min(0).default(30),
});

export type GatewayConfig = z.infer<typeof GatewayConfigSchema>;

export function loadGatewayConfig(env: Record<string, string | undefined> = process.env): GatewayConfig {
  return loadConfig('gateway', GatewayConfigSchema, env);
}
