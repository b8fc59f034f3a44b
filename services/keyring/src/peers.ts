// Several keyring instances serving the same keys: they share one forward-only ratchet per device
// kind (packages/privacy/src/key-ratchet.ts), handed over in memory, never stored.
//
//   POST /v1/ratchet   Authorization: Bearer <the keyrings' peer token>
//   200 { "version": 1, "kinds": { "lamppost": { "epoch": 1994880, "secret": "<base64>" }, … } }
//   401 UNAUTHORIZED   503 NOT_READY (this instance has not joined or founded a chain yet)
//
// At start an instance with peers (KEYRING_PEERS) asks each of them in turn for its ratchets and
// takes the first answer. Only the founder (KEYRING_FOUNDER) may start a new chain, and only when
// no peer has answered within KEYRING_JOIN_SECONDS: if every instance could found, two started at
// once would each found their own and give a phone two pseudonyms in one epoch. The others wait
// (not ready) until a peer answers. What is handed over is each chain's oldest live secret, from
// which the receiver computes that epoch's key and later ones, never an earlier one. The answer is
// a secret: it goes to the peer token's holder only, is never logged, and is not cached.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { bearerTokenCheck, tokenHash } from '@lethe/config';
import type { Logger } from '@lethe/observability';
import { epochOf, foundRatchet, type Policy, type RatchetState } from '@lethe/privacy';
import { DEVICE_KINDS, type DeviceKind } from '@lethe/schemas';
import { z } from 'zod';
import type { KeyringMetrics } from './metrics.ts';

export type RatchetStates = Record<DeviceKind, RatchetState>;

const StateSchema = z.strictObject({
  epoch: z.number().int().nonnegative(),
  secret: z.base64().refine((s) => Buffer.from(s, 'base64').length === 32, 'must be 32 bytes'),
});
const AnswerSchema = z.strictObject({ version: z.literal(1), kinds: z.record(z.enum(DEVICE_KINDS), StateSchema) });

/** New chains for every kind, each starting at the oldest epoch whose key may exist now. */
export function foundRatchets(policy: Policy, now = Date.now()): RatchetStates {
  return Object.fromEntries(
    DEVICE_KINDS.map((kind) => [kind, foundRatchet(epochOf(now - policy.rawData.keyGrace, policy.kinds[kind].epoch))]),
  ) as RatchetStates;
}

export interface PeerRouteOptions {
  /** The current ratchet states (copies), or undefined before this instance has a chain. */
  states: () => RatchetStates | undefined;
  peerToken: string;
  metrics: KeyringMetrics;
}

/** The peer route; returns false for any other path. */
export function peerHandler({ states, peerToken, metrics }: PeerRouteOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const isPeer = bearerTokenCheck([{ hash: tokenHash(peerToken), holder: true }]);
  const send = (res: ServerResponse, status: number, body: string) =>
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(body);
  return (req, res) => {
    if ((req.url ?? '/').split('?')[0] !== '/v1/ratchet') return false;
    req.resume();
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      send(res, 405, '{"error":"METHOD_NOT_ALLOWED"}');
      return true;
    }
    if (!isPeer(req.headers.authorization)) {
      metrics.peerRequests.labels('unauthorized').inc();
      metrics.refused.labels('unauthorized').inc();
      send(res, 401, '{"error":"UNAUTHORIZED","detail":"only keyring peers may ask, with the peer token"}');
      return true;
    }
    const current = states();
    if (!current) {
      metrics.peerRequests.labels('not_ready').inc();
      send(res, 503, '{"error":"NOT_READY","detail":"this keyring has no keys yet"}');
      return true;
    }
    metrics.peerRequests.labels('ok').inc();
    const kinds = Object.fromEntries(Object.entries(current).map(([kind, s]) => [kind, { epoch: s.epoch, secret: s.secret.toString('base64') }]));
    for (const s of Object.values(current)) s.secret.fill(0);
    send(res, 200, JSON.stringify({ version: 1, kinds }));
    return true;
  };
}

export interface JoinOptions {
  peers: readonly string[];
  peerToken: string;
  /** May found a new chain when no peer answered within `joinMs`. */
  founder: boolean;
  joinMs: number;
  policy: Policy;
  logger: Logger;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/** Asks one peer; undefined when it cannot answer (down, not ready, refused, malformed). */
async function askPeer(
  url: string,
  { peerToken, policy, logger, fetch: transport = globalThis.fetch, now = Date.now }: JoinOptions,
): Promise<RatchetStates | undefined> {
  const endpoint = new URL('v1/ratchet', url.endsWith('/') ? url : `${url}/`).toString();
  let res: Response;
  try {
    res = await transport(endpoint, { method: 'POST', headers: { authorization: `Bearer ${peerToken}` }, signal: AbortSignal.timeout(5_000) });
  } catch (err) {
    const code = (err as { cause?: { code?: unknown } }).cause?.code ?? (err as Error).name;
    logger.debug({ peer: endpoint, code }, 'keyring peer not reachable');
    return undefined;
  }
  if (res.status !== 200) {
    await res.body?.cancel();
    if (res.status === 401) logger.error({ peer: endpoint }, 'a keyring peer refused the peer token: check KEYRING_PEER_TOKEN on both');
    return undefined;
  }
  const parsed = AnswerSchema.safeParse(await res.json().catch(() => undefined));
  if (!parsed.success) {
    logger.error({ peer: endpoint }, 'a keyring peer answered with a malformed body');
    return undefined;
  }
  // A chain from a peer whose clock runs far ahead would start past epochs this one still needs.
  for (const kind of DEVICE_KINDS) {
    const current = epochOf(now(), policy.kinds[kind].epoch);
    if (parsed.data.kinds[kind].epoch > current + 1) {
      logger.error({ peer: endpoint, kind, peerEpoch: parsed.data.kinds[kind].epoch, current }, 'a keyring peer’s chain starts in the future: clocks disagree');
      return undefined;
    }
  }
  return Object.fromEntries(
    Object.entries(parsed.data.kinds).map(([kind, s]) => [kind, { epoch: s.epoch, secret: Buffer.from(s.secret, 'base64') }]),
  ) as RatchetStates;
}

/**
 * The ratchets this instance starts with: a peer's, or new ones (the founder, when no peer
 * answered in time). A non-founder waits for a peer as long as it takes, saying so every 10 s.
 */
export async function joinOrFound(options: JoinOptions): Promise<{ states: RatchetStates; from: string | 'founded' }> {
  const { peers, founder, joinMs, policy, logger, sleep = (ms) => new Promise((r) => setTimeout(r, ms)), now = Date.now } = options;
  const started = now();
  let lastSaid = started;
  for (let round = 0; ; round++) {
    for (const peer of peers) {
      const states = await askPeer(peer, options);
      if (states) return { states, from: peer };
    }
    if (founder && now() - started >= joinMs) return { states: foundRatchets(policy, now()), from: 'founded' };
    if (now() - lastSaid >= 10_000) {
      lastSaid = now();
      logger.warn({ peers: peers.length, waitedSeconds: Math.round((now() - started) / 1000), founder }, 'no keyring peer has answered yet; waiting');
    }
    await sleep(Math.min(250 * 2 ** round, 2_000));
  }
}
