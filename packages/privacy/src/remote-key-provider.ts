// A PseudonymKeyProvider whose keys live in another process, so N gateways give a phone or a
// plate the same pseudonym within an epoch. The contract, the same as HashiCorp Vault's transit
// engine with one HMAC key per epoch (`transit/hmac/<key>`, the key deleted at rotation):
//
//   POST <url>/v1/hmac   Authorization: Bearer <this gateway's own token>
//   { "kind": "lamppost", "epoch": 1994882, "messages": ["wifi:02:1A:…", …] }
//   200 { "epoch": 1994882, "hmacs": ["<base64 HMAC-SHA-256>", …] }   one per message, in order
//   410 { "error": "EPOCH_UNAVAILABLE" }   the epoch's key is destroyed (or does not exist yet)
//   429 { "error": "RATE_LIMITED", "retryAfterMs": 120 }   over this gateway's budget; Retry-After
//
// No call returns a key. services/keyring is the reference implementation: it answers only
// gateways, each with its own token and a budget of messages per second derived from the fleet
// (whoever can call it can compute pseudonyms). A 429 is waited out here (bounded), so a burst
// slows the gateway down instead of failing its readings. The messages carry raw identifiers:
// the link must stay on loopback or a private network (or use TLS), and the key service is
// inside the gateway's trust boundary. Errors never quote a message.
// Several key services that share their keys (keyring instances with peers) may be listed: a
// call goes to the one that answered last, and to the next when it cannot be reached or answers
// 5xx, so one instance's death costs a gateway one failed attempt, not its readings.
import type { PseudonymKeyProvider } from './key-provider.ts';

export interface RemoteKeyProviderOptions {
  /** Base URL of the key service, e.g. http://127.0.0.1:9470, or several that serve the same keys. */
  url: string | readonly string[];
  /** This gateway's own bearer token (the key service knows its hash). */
  token: string;
  /** Name of the key set: one per device kind, as the in-memory providers are. */
  kind: string;
  /** Transport, injected by tests; global fetch by default. */
  fetch?: typeof fetch;
  /** Per request (default 5 s). */
  timeoutMs?: number;
  /** How long one call may wait out 429s in total before it fails (default 30 s). */
  maxThrottleMs?: number;
  /** Waits; injected by tests. */
  sleep?: (ms: number) => Promise<void>;
}

/** The wait a 429 asks for: the body's retryAfterMs, else Retry-After in seconds, else 1 s. */
async function retryAfterMs(res: Response): Promise<number> {
  const body = (await res.json().catch(() => ({}))) as { retryAfterMs?: unknown };
  if (typeof body.retryAfterMs === 'number' && Number.isFinite(body.retryAfterMs) && body.retryAfterMs >= 0) return body.retryAfterMs;
  const header = Number(res.headers.get('retry-after'));
  return Number.isFinite(header) && header >= 0 ? header * 1000 : 1000;
}

export class KeyServiceError extends Error {
  readonly status: number | undefined;
  constructor(message: string, status?: number) {
    super(message);
    this.name = 'KeyServiceError';
    this.status = status;
  }
}

export function createRemoteKeyProvider({
  url,
  token,
  kind,
  fetch: transport = globalThis.fetch,
  timeoutMs = 5_000,
  maxThrottleMs = 30_000,
  sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
}: RemoteKeyProviderOptions): PseudonymKeyProvider {
  if (!token) throw new Error('The key service needs a bearer token (KEYRING_TOKEN).');
  const endpoints = (typeof url === 'string' ? [url] : [...url]).map((u) => new URL('v1/hmac', u.endsWith('/') ? u : `${u}/`).toString());
  if (endpoints.length === 0) throw new Error('The key service needs at least one URL (KEYRING_URL).');
  /** The endpoint that answered last: calls start there. */
  let preferred = 0;

  /** One POST, to the preferred endpoint or, when it cannot answer, to each of the others in turn. */
  async function post(body: string): Promise<Response> {
    const failures: string[] = [];
    let status: number | undefined;
    for (let i = 0; i < endpoints.length; i++) {
      const at = (preferred + i) % endpoints.length;
      try {
        const res = await transport(endpoints[at]!, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(timeoutMs),
        });
        if (res.status >= 500) {
          await res.body?.cancel();
          failures.push(`${endpoints[at]} answered ${res.status}`);
          status = res.status;
          continue;
        }
        preferred = at;
        return res;
      } catch (err) {
        // Only the error's code: nothing of the request (which holds identifiers) goes into it.
        const code = (err as { cause?: { code?: unknown } }).cause?.code ?? (err as Error).name;
        failures.push(`${endpoints[at]} could not be reached (${typeof code === 'string' ? code : 'error'})`);
      }
    }
    throw new KeyServiceError(`no key service answered: ${failures.join('; ')}`, status);
  }

  return {
    async hmac(epoch, messages) {
      if (messages.length === 0) return [];
      let res: Response;
      let waited = 0;
      for (;;) {
        res = await post(JSON.stringify({ kind, epoch, messages }));
        if (res.status !== 429) break;
        const wait = await retryAfterMs(res);
        if (waited + wait > maxThrottleMs)
          throw new KeyServiceError(`the key service kept refusing this gateway over its budget (429) for ${Math.round(waited / 1000)} s`, 429);
        waited += wait;
        await sleep(wait);
      }
      if (res.status === 401) {
        await res.body?.cancel();
        throw new KeyServiceError(`the key service refused this gateway's token (401): check KEYRING_TOKEN`, 401);
      }
      if (res.status === 410) {
        await res.body?.cancel();
        return undefined;
      }
      if (!res.ok) {
        await res.body?.cancel();
        throw new KeyServiceError(`the key service answered ${res.status}`, res.status);
      }
      const body = (await res.json()) as { epoch?: unknown; hmacs?: unknown };
      if (body.epoch !== epoch || !Array.isArray(body.hmacs) || body.hmacs.length !== messages.length || !body.hmacs.every((h) => typeof h === 'string')) {
        throw new KeyServiceError('the key service answered with a malformed body');
      }
      return (body.hmacs as string[]).map((h) => Buffer.from(h, 'base64'));
    },
    // Keys live and die in the key service, on the same schedule as the in-memory provider's.
    rotate: () => [],
    liveEpochs: () => [],
    destroyAll: () => undefined,
  };
}
