import { commaList, commonFields, loadConfig, positiveInt, topicPrefix } from '@lethe/config';
import { z } from 'zod';

const WriterConfigSchema = z.object({
  ...commonFields,
  KAFKA_BROKERS: commaList(),
  KAFKA_CLIENT_ID: z.string().default('lethe-writer'),
  KAFKA_GROUP_ID: z.string().default('lethe-writer'),
  /** Prefix of every topic name, as the other services' KAFKA_TOPIC_PREFIX (a pipeline that shares a Kafka cluster). */
  KAFKA_TOPIC_PREFIX: topicPrefix().default(''),
  POLICY_FILE: z.string().optional(),
  INFLUX_URL: z.url(),
  INFLUX_ORG: z.string().min(1),
  INFLUX_BUCKET: z.string().min(1),
  /** Write-only token for the aggregates bucket. */
  INFLUX_TOKEN: z.string().min(1),
  INFLUX_MAX_RETRIES: z.coerce.number().int().min(0).default(5),
  INFLUX_BATCH_SIZE: positiveInt().default(5000),
});

export type WriterConfig = z.infer<typeof WriterConfigSchema>;

export function loadWriterConfig(env: Record<string, string | undefined> = process.env): WriterConfig {
  return loadConfig('writer', WriterConfigSchema, env);
}
