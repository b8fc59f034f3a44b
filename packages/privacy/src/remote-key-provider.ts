// A PseudonymKeyProvider whose keys live in another process, so N gateways give a phone or a
// plate the same pseudonym within an epoch. The contract, the same as HashiCorp Vault's transit
// engine with one HMAC key per epoch (`transit/hmac/<key>`, the key deleted at rotation):
//
//   POST <url>/v1/hmac   Authorization: Bearer <token>
//   { "kind": "lamppost", "epoch": 1994882, "messages": ["wifi:02:1A:…", …] }
//   200 { "epoch": 1994882, "hmacs": ["<base64 HMAC-SHA-256>", …] }   one per message, in order
//   410 { "error": "EPOCH_UNAVAILABLE" }   the epoch's key is destroyed (or does not exist yet)
//
// No call returns a key. services/keyring is the reference implementation. The messages carry
// raw identifiers: the link must stay on loopback or a private network (or use TLS), and the
// key service is inside the gateway's trust boundary. Errors never quote a message.
import type { PseudonymKeyProvider } from './key-provider.ts';

export interface RemoteKeyProviderOptions {
  /** Base URL of the key service, e.g. http://127.0.0.1:9470. */
  url: string;
  /** Bearer token the key service requires. */
  token: string;
  /** Name of the key set: one per device kind, as the in-memory providers are. */
  kind: string;
  /** Transport, injected by tests; global fetch by default. */
  fetch?: typeof fetch;
  /** Per request (default 5 s). */
  timeoutMs?: number;
}

export class KeyServiceError extends Error {
  readonly status: number | undefined;
  constructor(message: string, status?: number) {
    super(message);
    this.name = 'KeyServiceError';
    this.status = status;
  }
}

export function createRemoteKeyProvider({ url, token, kind, fetch: transport = globalThis.fetch, timeoutMs = 5_000 }: RemoteKeyProviderOptions): PseudonymKeyProvider {
  if (!token) throw new Error('The key service needs a bearer token (KEYRING_TOKEN).');
  const endpoint = new URL('v1/hmac', url.endsWith('/') ? url : `${url}/`).toString();
  return {
    async hmac(epoch, messages) {
      if (messages.length === 0) return [];
      let res: Response;
      try {
        res = await transport(endpoint, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ kind, epoch, messages }),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        // Only the error's code: nothing of the request (which holds identifiers) goes into it.
        const code = (err as { cause?: { code?: unknown } }).cause?.code ?? (err as Error).name;
        throw new KeyServiceError(`the key service at ${endpoint} could not be reached (${typeof code === 'string' ? code : 'error'})`);
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
