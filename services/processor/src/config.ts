import { commaList, commonFields, loadConfig } from '@lethe/config';
import { z } from 'zod';

const ProcessorConfigSchema = z.object({
  ...commonFields,
  KAFKA_BROKERS: commaList(),
  KAFKA_CLIENT_ID: z.string().default('lethe-processor'),
  KAFKA_GROUP_ID: z.string().default('lethe-processor'),
  POLICY_FILE: z.string().optional(),
  /**
   * Secret key of the differential-privacy noise (hex, ≥ 32 bytes; usually NOISE_KEY_FILE).
   * Noise is derived from it per figure, so a replay releases the same values; keep it
   * stable across restarts and never publish it (with it, the noise could be subtracted).
   */
  NOISE_KEY: z
    .string()
    .trim()
    .regex(/^[0-9a-fA-F]{64,}$/, 'must be at least 64 hex characters (32 bytes); generate one with `pnpm secrets`')
    .transform((hex) => Buffer.from(hex, 'hex')),
  /** How long after its end a window waits for stragglers before it is closed and emitted. */
  WINDOW_GRACE_SECONDS: z.coerce.number().min(0).default(5),
  /** How often open windows are checked for closing. */
  TICK_MS: z.coerce.number().int().positive().default(500),
});

export type ProcessorConfig = z.infer<typeof ProcessorConfigSchema>;

export function loadProcessorConfig(env: Record<string, string | undefined> = process.env): ProcessorConfig {
  return loadConfig('processor', ProcessorConfigSchema, env);
}
