// HMAC as a service for N gateways (the contract in packages/privacy/src/remote-key-provider.ts,
// the same as Vault's transit engine with one HMAC key per epoch):
//
//   POST /v1/hmac   Authorization: Bearer <the gateway's own token>
//   { "kind": "lamppost", "epoch": 1994882, "messages": ["wifi:02:1A:…", …] }
//   200 { "epoch": 1994882, "hmacs": ["<base64>", …] }   410 { "error": "EPOCH_UNAVAILABLE" }
//   401 UNAUTHORIZED   413 BATCH_TOO_LARGE   429 RATE_LIMITED (Retry-After)
//
// Whoever can call it can compute pseudonyms, so it is an oracle: it answers only gateways
// (each with its own token, gateway-tokens.ts), each within a budget derived from the fleet
// (packages/privacy/src/keyring-budget.ts), and counts every refusal (the alarm metric).
//
// Keys are the gateway's own in-memory providers (createKindKeyProviders), one per device
// kind: created on first use, held in memory only, zeroed and dropped at the end of their epoch
// plus the grace period. With ratchets (peers.ts), they come from a forward-only chain shared with
// the other keyring instances, so every instance holds the same keys. No route returns a key, and nothing here logs a message: the messages
// carry raw identifiers.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '@lethe/observability';
import { createKeyRatchet, createKindKeyProviders, type Clock, type KeyringLimiter, type Policy, type PseudonymKeyProvider } from '@lethe/privacy';
import { DEVICE_KINDS, type DeviceKind } from '@lethe/schemas';
import { z } from 'zod';
import type { GatewayDirectory } from './gateway-tokens.ts';
import type { KeyringMetrics, RefusalReason } from './metrics.ts';
import type { RatchetStates } from './peers.ts';

export interface KeyringOptions {
  /** Epochs and the key grace come from it (packages/privacy createKindKeyProviders), as in the gateway. */
  policy: Policy;
  clock?: Clock;
  onDestroy?: (kind: DeviceKind, epoch: number) => void;
  /** Injected by tests that check keys are zeroed. */
  generateKey?: () => Buffer;
  /** Keys from these chains (a peer's, or founded: peers.ts) instead of fresh random keys. */
  ratchets?: RatchetStates;
}

export interface Keyring {
  hmac(kind: DeviceKind, epoch: number, messages: readonly string[]): Promise<Buffer[] | undefined>;
  rotate(): void;
  liveKeys(): number;
  destroyAll(): void;
  /** Copies of the chains' current states, for a joining peer; undefined without ratchets. */
  ratchetStates(): RatchetStates | undefined;
}

export function createKeyring({ policy, clock, onDestroy, generateKey, ratchets }: KeyringOptions): Keyring {
  const chains =
    ratchets &&
    (Object.fromEntries(DEVICE_KINDS.map((kind) => [kind, createKeyRatchet(ratchets[kind])])) as Record<DeviceKind, ReturnType<typeof createKeyRatchet>>);
  const providers = new Map<DeviceKind, PseudonymKeyProvider>(
    Object.entries(
      createKindKeyProviders(policy, {
        ...(clock ? { clock } : {}),
        ...(onDestroy ? { onDestroy } : {}),
        ...(generateKey ? { generateKey } : {}),
        ...(chains ? { keySources: chains } : {}),
      }),
    ) as Array<[DeviceKind, PseudonymKeyProvider]>,
  );
  // The states handed in are copies the chains no longer need.
  if (ratchets) for (const kind of DEVICE_KINDS) ratchets[kind].secret.fill(0);
  return {
    hmac: (kind, epoch, messages) => providers.get(kind)!.hmac(epoch, messages),
    rotate: () => providers.forEach((p) => p.rotate()),
    liveKeys: () => [...providers.values()].reduce((n, p) => n + p.liveEpochs().length, 0),
    destroyAll: () => providers.forEach((p) => p.destroyAll()),
    ratchetStates: () => chains && (Object.fromEntries(DEVICE_KINDS.map((kind) => [kind, chains[kind].state()])) as RatchetStates),
  };
}

// The array's own bound only keeps parsing bounded; the batch cap per kind is the limiter's.
const RequestSchema = z.object({
  kind: z.enum(DEVICE_KINDS),
  epoch: z.number().int().nonnegative(),
  messages: z.array(z.string().min(1).max(256)).min(1).max(4096),
});

export interface HandlerOptions {
  keyring: Keyring;
  gateways: GatewayDirectory;
  limiter: KeyringLimiter;
  metrics: KeyringMetrics;
  logger: Logger;
}

const MAX_BODY_BYTES = 1024 * 1024;

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers }).end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The key service's one route; returns false for any other path (health and metrics are served beside it). */
export function keyringHandler({ keyring, gateways, limiter, metrics, logger }: HandlerOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const lastWarned = new Map<string, number>();
  async function hmac(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const outcome = (name: string) => metrics.requests.labels(name).inc();
    const refuse = (reason: RefusalReason, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}) => {
      outcome(reason);
      metrics.refused.labels(reason).inc();
      send(res, status, body, headers);
    };
    const gateway = gateways.authenticate(req.headers.authorization);
    if (gateway === undefined) {
      // Read nothing from an unauthenticated caller.
      req.resume();
      return refuse(
        'unauthorized',
        401,
        { error: 'UNAUTHORIZED', detail: 'only gateways may ask for pseudonyms, each with its own token' },
        { 'www-authenticate': 'Bearer' },
      );
    }
    const body = await readBody(req);
    if (body === undefined) return refuse('too_large', 413, { error: 'TOO_LARGE', detail: `at most ${MAX_BODY_BYTES} bytes` });
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      return refuse('bad_request', 400, { error: 'BAD_REQUEST', detail: 'the body is not JSON' });
    }
    const parsed = RequestSchema.safeParse(json);
    if (!parsed.success) {
      // Paths and expectations only: a zod message never quotes the value it refused.
      return refuse('bad_request', 400, {
        error: 'BAD_REQUEST',
        detail: parsed.error.issues
          .map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`)
          .join('; ')
          .slice(0, 500),
      });
    }
    const { kind, epoch, messages } = parsed.data;
    const charged = limiter.charge(gateway, kind, messages.length);
    if (!charged.ok && charged.reason === 'batch_too_large') {
      return refuse('batch_too_large', 413, {
        error: 'BATCH_TOO_LARGE',
        detail: `at most ${charged.batchCap} messages per request for ${kind} (one reading's identifiers)`,
        batchCap: charged.batchCap,
      });
    }
    if (!charged.ok) {
      const budget = limiter.budgets[kind].messagesPerSecond;
      // One line per gateway and kind every 10 s at most: an attacker at full speed must not flood the log.
      const key = `${gateway}/${kind}`;
      const now = Date.now();
      if ((lastWarned.get(key) ?? -Infinity) < now - 10_000) {
        lastWarned.set(key, now);
        logger.warn({ gateway, kind }, 'refusing HMAC requests over the gateway budget (a stolen token, or a budget too small for the fleet)');
      }
      return refuse(
        'rate_limited',
        429,
        {
          error: 'RATE_LIMITED',
          detail: `over this gateway's budget of ${Math.round(budget)} ${kind} messages per second`,
          retryAfterMs: charged.retryAfterMs,
        },
        { 'retry-after': String(Math.max(1, Math.ceil(charged.retryAfterMs / 1000))) },
      );
    }
    const macs = await keyring.hmac(kind, epoch, messages);
    metrics.liveKeys.set(keyring.liveKeys());
    if (!macs) {
      outcome('epoch_unavailable');
      return send(res, 410, { error: 'EPOCH_UNAVAILABLE', detail: `the key of ${kind} epoch ${epoch} does not exist (destroyed, or not yet)` });
    }
    outcome('ok');
    metrics.messages.labels(gateway, kind).inc(messages.length);
    send(res, 200, { epoch, hmacs: macs.map((m) => m.toString('base64')) });
  }

  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/v1/hmac') return false;
    if (req.method !== 'POST') {
      send(res, 405, { error: 'METHOD_NOT_ALLOWED' }, { allow: 'POST' });
      return true;
    }
    hmac(req, res).catch((err: unknown) => {
      logger.error({ err: { message: (err as Error).message } }, 'hmac request failed');
      if (!res.headersSent) send(res, 500, { error: 'INTERNAL' });
    });
    return true;
  };
}
