// SASL credentials for Kafka clients, from the environment of every service that uses Kafka:
// KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE, as Docker secrets
// are mounted), KAFKA_SASL_MECHANISM (scram-sha-512). Unset, clients connect without SASL
// (the PLAINTEXT listener the default stacks use). Kafka's SCRAM listener and its per-service
// users and ACLs: infra/local/kafka.sh (LETHE_KAFKA_SASL_PORT) and scripts/kafka-acls.ts.
import { ConfigError, loadConfig } from '@lethe/config';
import { z } from 'zod';

export type KafkaSasl = ({ mechanism: 'scram-sha-512' } | { mechanism: 'scram-sha-256' }) & { username: string; password: string };

const KafkaSaslSchema = z.object({
  KAFKA_SASL_MECHANISM: z.enum(['scram-sha-512', 'scram-sha-256']).default('scram-sha-512'),
  KAFKA_SASL_USERNAME: z.string().min(1).optional(),
  KAFKA_SASL_PASSWORD: z.string().min(1).optional(),
});

/** The SASL credentials the environment names, or undefined when it names none. */
export function kafkaSaslFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): KafkaSasl | undefined {
  const config = loadConfig('kafka client', KafkaSaslSchema, env);
  const { KAFKA_SASL_USERNAME: username, KAFKA_SASL_PASSWORD: password } = config;
  if (username === undefined && password === undefined) return undefined;
  if (username === undefined || password === undefined) {
    throw new ConfigError('kafka client', ['KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE) must be set together']);
  }
  return config.KAFKA_SASL_MECHANISM === 'scram-sha-256'
    ? { mechanism: 'scram-sha-256', username, password }
    : { mechanism: 'scram-sha-512', username, password };
}
