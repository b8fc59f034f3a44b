// The demo's configuration: one zod schema over the environment, like every service. Nothing is
// required; there is no password to set (the demo generates its secrets at start).
import { loadConfig, logLevel, port } from '@lethe/config';
import { z } from 'zod';

const DemoConfigSchema = z.object({
  /** Logs are JSON on stderr; stdout holds the startup text. `warn` keeps the terminal readable. */
  LOG_LEVEL: logLevel().default('warn'),
  /** The api and its pages. Loopback by default: the demo is for the person running it. */
  HTTP_HOST: z.string().default('127.0.0.1'),
  PORT: port().default(8080),
  /** The embedded MQTT broker, always on loopback; 0 picks a free port (printed at start). */
  MQTT_PORT: port().default(0),
  /** `demo`: a copy of seeds/policy.yaml with short windows (see demo-policy.ts); `shipped`: seeds/policy.yaml as is. */
  DEMO_POLICY: z.enum(['demo', 'shipped']).default('demo'),
  /** Another policy file altogether (overrides DEMO_POLICY). */
  POLICY_FILE: z.string().optional(),
  FLEET_FILE: z.string().optional(),
  SCENARIO: z.string().default('normal-day'),
  SEED: z.string().default('lethe-demo'),
  /** Readings per second for the whole fleet; default: every device every 5 s. 0 runs no simulator. */
  RATE: z.coerce.number().min(0).optional(),
  /** The gateway's key grace: how long a pseudonym key outlives its epoch for records in flight. */
  /** How long after its end a window waits for stragglers before it is closed. */
  WINDOW_GRACE_SECONDS: z.coerce.number().int().min(0).default(5),
  /** A status line on stdout this often; 0: none. */
  STATUS_SECONDS: z.coerce.number().int().min(0).default(60),
});

export type DemoConfig = z.infer<typeof DemoConfigSchema>;

export function loadDemoConfig(env: Record<string, string | undefined> = process.env): DemoConfig {
  return loadConfig('demo', DemoConfigSchema, env);
}
