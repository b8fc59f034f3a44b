import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createPseudonymizer } from '../src/pseudonymizer.ts';
import { createRemoteKeyProvider, KeyServiceError } from '../src/remote-key-provider.ts';

const MAC = '02:1A:2B:3C:4D:5E';
const EPOCH = 15 * 60_000;
const KEY = Buffer.alloc(32, 3);

/** A fake key service: answers as the contract says, and remembers what it was sent. */
function service(answer?: (body: { kind: string; epoch: number; messages: string[] }) => Response) {
  const calls: Array<{ url: string; auth: string | null; body: { kind: string; epoch: number; messages: string[] } }> = [];
  const fetch = (async (url: string | URL | Request, init?: RequestInit) => {
    const body = JSON.parse(String(init!.body)) as { kind: string; epoch: number; messages: string[] };
    calls.push({ url: String(url), auth: new Headers(init!.headers).get('authorization'), body });
    if (answer) return answer(body);
    return Response.json({ epoch: body.epoch, hmacs: body.messages.map((m) => createHmac('sha256', KEY).update(m).digest('base64')) });
  }) as typeof globalThis.fetch;
  return { calls, fetch };
}

describe('the remote pseudonym key provider', () => {
  it('asks the key service for HMACs under the epoch key of its kind, with its bearer token', async () => {
    const { calls, fetch } = service();
    const provider = createRemoteKeyProvider({ url: 'http://keyring:9464/', token: 't'.repeat(32), kind: 'lamppost', fetch });
    const result = await createPseudonymizer(provider, EPOCH).pseudonymize('wifi', 5 * EPOCH, [MAC]);
    expect(calls).toEqual([
      { url: 'http://keyring:9464/v1/hmac', auth: `Bearer ${'t'.repeat(32)}`, body: { kind: 'lamppost', epoch: 5, messages: [`wifi:${MAC}`] } },
    ]);
    expect(result!.pseudonyms[0]).toBe(createHmac('sha256', KEY).update(`wifi:${MAC}`).digest().subarray(0, 16).toString('base64url'));
    // Keys live in the service: nothing to rotate or destroy here.
    expect(provider.rotate()).toEqual([]);
    expect(provider.liveEpochs()).toEqual([]);
  });

  it('treats 410 as a destroyed epoch key: the sightings cannot be pseudonymized any more', async () => {
    const { fetch } = service(() => Response.json({ error: 'EPOCH_UNAVAILABLE' }, { status: 410 }));
    const provider = createRemoteKeyProvider({ url: 'http://keyring:9464', token: 't'.repeat(32), kind: 'lamppost', fetch });
    expect(await provider.hmac(1, [`wifi:${MAC}`])).toBeUndefined();
  });

  it('waits out a 429 (over the gateway budget) and asks again, within a bound', async () => {
    let refusals = 2;
    const { calls, fetch } = service((body) =>
      refusals-- > 0
        ? Response.json({ error: 'RATE_LIMITED', retryAfterMs: 250 }, { status: 429, headers: { 'retry-after': '1' } })
        : Response.json({ epoch: body.epoch, hmacs: body.messages.map(() => 'AA==') }),
    );
    const waits: number[] = [];
    const sleep = async (ms: number) => void waits.push(ms);
    const provider = createRemoteKeyProvider({ url: 'http://keyring:9464', token: 't'.repeat(32), kind: 'traffic-light', fetch, sleep, maxThrottleMs: 1_000 });
    expect(await provider.hmac(1, ['plate:AB1234'])).toHaveLength(1);
    expect(calls).toHaveLength(3);
    // The body's retryAfterMs is finer than Retry-After's whole seconds.
    expect(waits).toEqual([250, 250]);

    const always = service(() => Response.json({ error: 'RATE_LIMITED', retryAfterMs: 400 }, { status: 429 }));
    const throttled = createRemoteKeyProvider({
      url: 'http://keyring:9464',
      token: 't'.repeat(32),
      kind: 'traffic-light',
      fetch: always.fetch,
      sleep,
      maxThrottleMs: 1_000,
    });
    const err = await throttled.hmac(1, ['plate:AB1234']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeyServiceError);
    expect((err as KeyServiceError).status).toBe(429);
    expect(always.calls).toHaveLength(3);
  });

  it('says which setting to check when the key service refuses the token', async () => {
    const { fetch } = service(() => Response.json({ error: 'UNAUTHORIZED' }, { status: 401 }));
    const err = await createRemoteKeyProvider({ url: 'http://keyring:9464', token: 't'.repeat(32), kind: 'lamppost', fetch })
      .hmac(1, [`wifi:${MAC}`])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeyServiceError);
    expect((err as Error).message).toContain('KEYRING_TOKEN');
  });

  it('fails on any other answer or a broken link, without quoting an identifier', async () => {
    const cases: Array<typeof globalThis.fetch> = [
      service(() => new Response('oops', { status: 500 })).fetch,
      service(() => Response.json({ epoch: 1, hmacs: [] })).fetch,
      (async () => {
        throw new TypeError(`fetch failed for ${MAC}`);
      }) as typeof globalThis.fetch,
    ];
    for (const fetch of cases) {
      const provider = createRemoteKeyProvider({ url: 'http://keyring:9464', token: 't'.repeat(32), kind: 'lamppost', fetch });
      const err = await provider.hmac(1, [`wifi:${MAC}`]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KeyServiceError);
      expect((err as Error).message).not.toContain(MAC);
      expect(JSON.stringify(err, Object.getOwnPropertyNames(err))).not.toContain(MAC);
    }
  });

  it('with several key services sharing keys, skips one that cannot answer and stays with the one that did', async () => {
    const down = new Set(['http://a:9470/v1/hmac']);
    const { calls, fetch: ok } = service();
    const fetch = (async (url: string | URL | Request, init?: RequestInit) => {
      if (down.has(String(url))) throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
      if (String(url) === 'http://b:9470/v1/hmac' && down.has('b-503')) return Response.json({ error: 'NOT_READY' }, { status: 503 });
      return ok(url, init);
    }) as typeof globalThis.fetch;
    const provider = createRemoteKeyProvider({ url: ['http://a:9470', 'http://b:9470', 'http://c:9470'], token: 't'.repeat(32), kind: 'lamppost', fetch });
    expect(await provider.hmac(1, ['x'])).toHaveLength(1);
    down.delete('http://a:9470/v1/hmac');
    await provider.hmac(1, ['y']);
    expect(
      calls.map((c) => c.url),
      'a was down, b answered and is asked first from then on',
    ).toEqual(['http://b:9470/v1/hmac', 'http://b:9470/v1/hmac']);
    down.add('b-503');
    await provider.hmac(1, ['z']);
    expect(calls.at(-1)!.url, 'b answered 503: on to c').toBe('http://c:9470/v1/hmac');
    down.add('http://a:9470/v1/hmac').add('http://c:9470/v1/hmac');
    const err = await provider.hmac(1, [`wifi:${MAC}`]).catch((e: unknown) => e as KeyServiceError);
    expect(err).toBeInstanceOf(KeyServiceError);
    expect(String((err as Error).message)).toMatch(
      /no key service answered: http:\/\/c:9470\/v1\/hmac could not be reached \(ECONNREFUSED\); http:\/\/a.*; http:\/\/b:9470\/v1\/hmac answered 503/,
    );
    expect(String((err as Error).message)).not.toContain(MAC);
  });
});
