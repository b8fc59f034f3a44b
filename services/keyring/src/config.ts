import { commaList, commonFields, loadConfig, positiveInt } from '@lethe/config';
import { z } from 'zod';

const KeyringConfigSchema = z.object({
  ...commonFields,
  /** Loopback by default: the requests carry raw identifiers, so only the gateways' host or private network may reach it. */
  HTTP_HOST: z.string().default('127.0.0.1'),
  /** Bearer token the gateways present (usually KEYRING_TOKEN_FILE); at least 32 characters. */
  KEYRING_TOKEN: z.string().trim().min(32, 'must be at least 32 characters; generate one with `pnpm secrets`'),
  POLICY_FILE: z.string().optional(),
  /** How long a pseudonym key outlives its epoch, for records still in flight (as the gateway's KEY_GRACE_SECONDS). */
  KEY_GRACE_SECONDS: z.coerce.number().int().min(0).default(60),
  /** Messages per request at most. */
  MAX_MESSAGES: positiveInt().default(1000),
  /** Optional: where to send `key.destroyed` audit events (guarantee P8); without it they are only logged. */
  KAFKA_BROKERS: commaList().optional(),
  KAFKA_CLIENT_ID: z.string().default('lethe-keyring'),
  /** Prefix of the audit topic name, as the other services' KAFKA_TOPIC_PREFIX. */
  KAFKA_TOPIC_PREFIX: z.string().regex(/^[A-Za-z0-9._-]*$/).default(''),
});

export type KeyringConfig = z.infer<typeof KeyringConfigSchema>;

export function loadKeyringConfig(env: Record<string, string | undefined> = process.env): KeyringConfig {
  return loadConfig('keyring', KeyringConfigSchema, env);
}
