import { commaList, commonFields, loadConfig } from '@lethe/config';
import { z } from 'zod';

const ProcessorConfigSchema = z.object({
  ...commonFields,
  KAFKA_BROKERS: commaList(),
  KAFKA_CLIENT_ID: z.string().default('lethe-processor'),
  KAFKA_GROUP_ID: z.string().default('lethe-processor'),
  POLICY_FILE: z.string().optional(),
  /** How long after its end a window waits for stragglers before it is closed and emitted. */
  WINDOW_GRACE_SECONDS: z.coerce.number().min(0).default(5),
  /** How often open windows are checked for closing. */
  TICK_MS: z.coerce.number().int().positive().default(500),
});

export type ProcessorConfig = z.infer<typeof ProcessorConfigSchema>;

export function loadProcessorConfig(env: Record<string, string | undefined> = process.env): ProcessorConfig {
  return loadConfig('processor', ProcessorConfigSchema, env);
}
