import { commaList, commonFields, flag, loadConfig, port, positiveInt } from '@lethe/config';
import { z } from 'zod';

const ApiConfigSchema = z.object({
  ...commonFields,
  HTTP_PORT: port().default(8080),
  INFLUX_URL: z.url(),
  INFLUX_ORG: z.string().min(1),
  INFLUX_BUCKET: z.string().min(1),
  /** Read-only token for the aggregates bucket. */
  INFLUX_TOKEN: z.string().min(1),
  /** Audit topic consumer and the retention check of the personal topics. */
  KAFKA_BROKERS: commaList(),
  KAFKA_CLIENT_ID: z.string().default('lethe-api'),
  /** Consumer group of the audit topic; the log's own record of Kafka positions decides where reading resumes. */
  KAFKA_GROUP_ID: z.string().default('lethe-api-audit'),
  /** The api's hash-chained audit log (JSON Lines); its directory must be writable and kept (a volume). */
  AUDIT_LOG_FILE: z.string().min(1),
  /** JSON {"version":1,"tokens":{"<requester id>":"<hex sha-256 of its token>"}} — usually REQUESTER_TOKENS_FILE (secrets/api-requester-tokens). */
  REQUESTER_TOKENS: z.string().min(1),
  REQUESTERS_FILE: z.string().optional(),
  POLICY_FILE: z.string().optional(),
  FLEET_FILE: z.string().optional(),
  DISTRICTS_FILE: z.string().optional(),
  /** How often the personal topics are checked: every record younger than TTL + the stated bound (retention-schedule.ts). */
  WATCH_INTERVAL_SECONDS: positiveInt().default(30),
  /** Consume lethe.audit.v1 into the log (off: the log holds only the api's own events). */
  AUDIT_TOPIC: flag().default(true),
  /**
   * Several api instances, one audit trail (shared-audit.ts): this instance puts its own events
   * on the audit topic and its file becomes a copy of the topic, identical on every instance.
   */
  AUDIT_SHARED: flag().default(false),
});

export type ApiConfig = z.infer<typeof ApiConfigSchema>;

const WithSharedAudit = ApiConfigSchema.refine((c) => !c.AUDIT_SHARED || c.AUDIT_TOPIC, {
  path: ['AUDIT_SHARED'],
  message: 'needs AUDIT_TOPIC=true: the shared trail is the audit topic',
});

export function loadApiConfig(env: Record<string, string | undefined> = process.env): ApiConfig {
  return loadConfig('api', WithSharedAudit, env);
}
