// HMAC as a service for N gateways (the contract in packages/privacy/src/remote-key-provider.ts,
// the same as Vault's transit engine with one HMAC key per epoch):
//
//   POST /v1/hmac   Authorization: Bearer <token>
//   { "kind": "lamppost", "epoch": 1994882, "messages": ["wifi:02:1A:…", …] }
//   200 { "epoch": 1994882, "hmacs": ["<base64>", …] }   410 { "error": "EPOCH_UNAVAILABLE" }
//
// Keys are the gateway's own in-memory providers (createInMemoryKeyProvider), one per device
// kind: created on first use, held in memory only, zeroed and dropped at the end of their epoch
// plus the grace period. No route returns a key, and nothing here logs a message: the messages
// carry raw identifiers.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '@lethe/observability';
import { createInMemoryKeyProvider, type Clock, type Policy, type PseudonymKeyProvider } from '@lethe/privacy';
import { DEVICE_KINDS, type DeviceKind } from '@lethe/schemas';
import { z } from 'zod';
import type { KeyringMetrics } from './metrics.ts';

export interface KeyringOptions {
  policy: Policy;
  graceMs: number;
  clock?: Clock;
  onDestroy?: (kind: DeviceKind, epoch: number) => void;
  /** Injected by tests that check keys are zeroed. */
  generateKey?: () => Buffer;
}

export interface Keyring {
  hmac(kind: DeviceKind, epoch: number, messages: readonly string[]): Promise<Buffer[] | undefined>;
  rotate(): void;
  liveKeys(): number;
  destroyAll(): void;
}

export function createKeyring({ policy, graceMs, clock, onDestroy, generateKey }: KeyringOptions): Keyring {
  const providers = new Map<DeviceKind, PseudonymKeyProvider>(
    DEVICE_KINDS.map((kind) => [
      kind,
      createInMemoryKeyProvider({
        epochMs: policy.kinds[kind].epoch,
        graceMs,
        ...(clock ? { clock } : {}),
        ...(generateKey ? { generateKey } : {}),
        onDestroy: (epoch) => onDestroy?.(kind, epoch),
      }),
    ]),
  );
  return {
    hmac: (kind, epoch, messages) => providers.get(kind)!.hmac(epoch, messages),
    rotate: () => providers.forEach((p) => p.rotate()),
    liveKeys: () => [...providers.values()].reduce((n, p) => n + p.liveEpochs().length, 0),
    destroyAll: () => providers.forEach((p) => p.destroyAll()),
  };
}

const RequestSchema = (maxMessages: number) =>
  z.object({
    kind: z.enum(DEVICE_KINDS),
    epoch: z.number().int().nonnegative(),
    messages: z.array(z.string().min(1).max(256)).min(1).max(maxMessages),
  });

export interface HandlerOptions {
  keyring: Keyring;
  token: string;
  maxMessages: number;
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
export function keyringHandler({ keyring, token, maxMessages, metrics, logger }: HandlerOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const expected = createHash('sha256').update(token).digest();
  const schema = RequestSchema(maxMessages);
  const authorized = (header: string | undefined) => {
    const match = /^Bearer (.+)$/.exec(header ?? '');
    // Equal-length digests, so the comparison takes the same time whatever was sent.
    return match !== null && timingSafeEqual(createHash('sha256').update(match[1]!).digest(), expected);
  };

  async function hmac(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const outcome = (name: string) => metrics.requests.labels(name).inc();
    if (!authorized(req.headers.authorization)) {
      outcome('unauthorized');
      // Read nothing from an unauthenticated caller.
      req.resume();
      return send(res, 401, { error: 'UNAUTHORIZED' }, { 'www-authenticate': 'Bearer' });
    }
    const body = await readBody(req);
    if (body === undefined) {
      outcome('too_large');
      return send(res, 413, { error: 'TOO_LARGE', detail: `at most ${MAX_BODY_BYTES} bytes` });
    }
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      outcome('bad_request');
      return send(res, 400, { error: 'BAD_REQUEST', detail: 'the body is not JSON' });
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      outcome('bad_request');
      // Paths and expectations only: a zod message never quotes the value it refused.
      return send(res, 400, { error: 'BAD_REQUEST', detail: parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ').slice(0, 500) });
    }
    const { kind, epoch, messages } = parsed.data;
    const macs = await keyring.hmac(kind, epoch, messages);
    metrics.liveKeys.set(keyring.liveKeys());
    if (!macs) {
      outcome('epoch_unavailable');
      return send(res, 410, { error: 'EPOCH_UNAVAILABLE', detail: `the key of ${kind} epoch ${epoch} does not exist (destroyed, or not yet)` });
    }
    outcome('ok');
    metrics.messages.inc(messages.length);
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
