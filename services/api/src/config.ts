import { commonFields, loadConfig, port } from '@lethe/config';
import { z } from 'zod';

const ApiConfigSchema = z.object({
  ...commonFields,
  HTTP_PORT: port().default(8080),
  INFLUX_URL: z.url(),
  INFLUX_ORG: z.string().min(1),
  INFLUX_BUCKET: z.string().min(1),
  /** Read-only token for the aggregates bucket. */
  INFLUX_TOKEN: z.string().min(1),
});

export type ApiConfig = z.infer<typeof ApiConfigSchema>;

export function loadApiConfig(env: Record<string, string | undefined> = process.env): ApiConfig {
  return loadConfig('api', ApiConfigSchema, env);
}
