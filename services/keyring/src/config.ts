import { commonFields, commaList, flag, loadConfig, port, topicPrefix } from '@lethe/config';
import { DEVICE_KINDS, type DeviceKind } from '@lethe/schemas';
import { z } from 'zod';

/** `lamppost=100,traffic-light=40` → { lamppost: 100, 'traffic-light': 40 }. */
const perKind = () =>
  z.string().transform((s, ctx) => {
    const out: Partial<Record<DeviceKind, number>> = {};
    for (const part of s
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)) {
      const [kind, value] = part.split('=').map((x) => x.trim());
      const n = Number(value);
      if (!DEVICE_KINDS.includes(kind as DeviceKind) || !Number.isInteger(n) || n < 0) {
        ctx.addIssue({ code: 'custom', message: `must be a list like lamppost=100,traffic-light=40 (kinds: ${DEVICE_KINDS.join(', ')})` });
        return z.NEVER;
      }
      out[kind as DeviceKind] = n;
    }
    return out;
  });

const KeyringConfigSchema = z.object({
  ...commonFields,
  /** Loopback by default: the requests carry raw identifiers, so only the gateways' host or private network may reach it. */
  HTTP_HOST: z.string().default('127.0.0.1'),
  /**
   * Optional: serve POST /v1/hmac on its own listener (host and port), and only there; the
   * HTTP_HOST/HTTP_PORT listener then serves health and metrics alone. In compose the host is an
   * alias on a network only the gateways share, so nothing else can reach the HMAC route.
   */
  HMAC_HOST: z.string().optional(),
  HMAC_PORT: port().optional(),
  /**
   * The gateways' token hashes (usually KEYRING_GATEWAY_TOKENS_FILE=secrets/keyring-gateway-tokens,
   * written by scripts/setup-secrets.ts): JSON `{ "version": 1, "tokens": { "<gateway id>": "<hex SHA-256>" } }`.
   */
  KEYRING_GATEWAY_TOKENS: z.string().min(1),
  POLICY_FILE: z.string().optional(),
  /** The fleet the budgets are derived from (default seeds/fleet.json). */
  FLEET_FILE: z.string().optional(),
  /** Seconds between two readings of one device, for the budgets (the simulator's and demo's default is 5). */
  KEYRING_READING_INTERVAL_SECONDS: z.coerce.number().positive().default(5),
  /** Identifiers one reading may carry, per kind, for the budgets; capped by the reading schema (default lamppost=100,traffic-light=40). */
  KEYRING_IDENTIFIERS_PER_READING: perKind().optional(),
  /** Headroom over the fleet-derived rate (default 1.5). */
  KEYRING_HEADROOM: z.coerce.number().min(1).default(1.5),
  /**
   * Other keyring instances (base URLs of their HMAC listeners), to share keys with them
   * (peers.ts): at start this instance takes their ratchets, and hands its own to them.
   */
  KEYRING_PEERS: commaList().pipe(z.array(z.url())).optional(),
  /** The secret every instance presents to the others (usually KEYRING_PEER_TOKEN_FILE); required with KEYRING_PEERS. */
  KEYRING_PEER_TOKEN: z.string().trim().min(32, 'must be at least 32 characters').optional(),
  /** May start a new chain of keys when no peer answers within KEYRING_JOIN_SECONDS; exactly one instance should. */
  KEYRING_FOUNDER: flag().default(false),
  KEYRING_JOIN_SECONDS: z.coerce.number().positive().default(10),
  /** Optional: where to send `key.destroyed` audit events (guarantee P8); without it they are only logged. */
  KAFKA_BROKERS: commaList().optional(),
  KAFKA_CLIENT_ID: z.string().default('lethe-keyring'),
  /** Prefix of the audit topic name, as the other services' KAFKA_TOPIC_PREFIX. */
  KAFKA_TOPIC_PREFIX: topicPrefix().default(''),
});

export type KeyringConfig = z.infer<typeof KeyringConfigSchema>;

const WithHmacListener = KeyringConfigSchema.refine((c) => (c.HMAC_HOST === undefined) === (c.HMAC_PORT === undefined), {
  path: ['HMAC_PORT'],
  message: 'HMAC_HOST and HMAC_PORT go together',
}).refine((c) => c.KEYRING_PEERS === undefined || c.KEYRING_PEER_TOKEN !== undefined, {
  path: ['KEYRING_PEER_TOKEN'],
  message: 'is required with KEYRING_PEERS',
});

export function loadKeyringConfig(env: Record<string, string | undefined> = process.env): KeyringConfig {
  return loadConfig('keyring', WithHmacListener, env);
}
