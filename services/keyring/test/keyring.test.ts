// The keyring over real HTTP (an in-process server on a loopback port), used through the same
// remote provider the gateways use: two clients get the same pseudonyms, old epochs are
// refused once their key is zeroed, and no request can get a key out.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger, createMetricsRegistry } from '@lethe/observability';
import { createPseudonymizer, createRemoteKeyProvider, DEFAULT_POLICY_PATH, KeyServiceError, loadPolicy, ManualClock } from '@lethe/privacy';
import { afterEach, describe, expect, it } from 'vitest';
import { createKeyring, keyringHandler } from '../src/keyring.ts';
import { createKeyringMetrics } from '../src/metrics.ts';

const policy = loadPolicy(DEFAULT_POLICY_PATH);
const EPOCH = policy.kinds.lamppost.epoch;
const GRACE = 60_000;
const TOKEN = randomBytes(24).toString('hex');
const MAC = '02:1A:2B:3C:4D:5E';
let server: Server | undefined;

afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function start() {
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 8, 0, 0));
  const keys: Buffer[] = [];
  const destroyed: Array<[string, number]> = [];
  const registry = createMetricsRegistry('keyring-test');
  const keyring = createKeyring({
    policy,
    graceMs: GRACE,
    clock,
    generateKey: () => {
      const key = randomBytes(32);
      keys.push(key);
      return key;
    },
    onDestroy: (kind, epoch) => destroyed.push([kind, epoch]),
  });
  const handle = keyringHandler({ keyring, token: TOKEN, maxMessages: 100, metrics: createKeyringMetrics(registry), logger: createLogger({ service: 'test', level: 'silent' }) });
  server = createServer((req, res) => {
    if (!handle(req, res)) res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
  const gateway = (token = TOKEN) => createPseudonymizer(createRemoteKeyProvider({ url, token, kind: 'lamppost' }), EPOCH);
  return { clock, keys, destroyed, keyring, registry, url, gateway };
}

describe('the keyring (shared pseudonym keys for N gateways)', () => {
  it('gives two gateways the same pseudonyms within an epoch, and different ones in the next', async () => {
    const { clock, gateway } = await start();
    const [a, b] = [gateway(), gateway()];
    const first = await a.pseudonymize('wifi', clock.now(), [MAC, '02-1a-2b-3c-4d-5e', 'AA:BB:CC:DD:EE:01']);
    const second = await b.pseudonymize('wifi', clock.now(), [MAC]);
    expect(first!.pseudonyms[0]).toBe(first!.pseudonyms[1]);
    expect(second).toEqual({ epoch: first!.epoch, pseudonyms: [first!.pseudonyms[0]] });
    expect(first!.pseudonyms[2]).not.toBe(first!.pseudonyms[0]);
    clock.advance(EPOCH);
    const next = await b.pseudonymize('wifi', clock.now(), [MAC]);
    expect(next!.epoch).toBe(first!.epoch + 1);
    expect(next!.pseudonyms[0]).not.toBe(first!.pseudonyms[0]);
  });

  it('keeps forward security: after the grace period the old key is zeroed and its epoch refused', async () => {
    const { clock, keys, destroyed, keyring, gateway } = await start();
    const g = gateway();
    const ts = clock.now();
    const before = await g.pseudonymize('wifi', ts, [MAC]);
    clock.advance(EPOCH + GRACE / 2);
    expect(await g.pseudonymize('wifi', ts, [MAC]), 'within the grace period').toEqual(before);
    clock.advance(GRACE);
    keyring.rotate();
    expect(destroyed).toEqual([['lamppost', before!.epoch]]);
    expect(keys[0]!.equals(Buffer.alloc(32))).toBe(true);
    expect(await g.pseudonymize('wifi', ts, [MAC]), 'a destroyed epoch').toBeUndefined();
    // Nor can a key be made for it again.
    expect(await g.pseudonymize('wifi', ts + 1, [MAC])).toBeUndefined();
  });

  it('refuses a caller without the token, reads nothing it sends, and has no route that returns a key', async () => {
    const { clock, url, gateway, registry } = await start();
    await expect(gateway('not-the-token'.padEnd(40, 'x')).pseudonymize('wifi', clock.now(), [MAC])).rejects.toThrow(KeyServiceError);
    const bare = await fetch(`${url}/v1/hmac`, { method: 'POST', body: JSON.stringify({ kind: 'lamppost', epoch: 1, messages: [MAC] }) });
    expect(bare.status).toBe(401);
    expect(bare.headers.get('www-authenticate')).toBe('Bearer');
    for (const path of ['/v1/keys', '/v1/keys/lamppost', '/v1/hmac/export', '/v1/export']) {
      expect((await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, path).toBe(404);
    }
    expect((await fetch(`${url}/v1/hmac`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(405);
    expect(await registry.getSingleMetricAsString('lethe_keyring_requests_total')).toMatch(/outcome="unauthorized",service="keyring-test"} 2/);
  });

  it('answers malformed requests with 400 and a reason that quotes no value', async () => {
    const { url } = await start();
    const post = (body: unknown) => fetch(`${url}/v1/hmac`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(body) });
    for (const body of [{ kind: 'lamppost', epoch: -1, messages: [MAC] }, { kind: 'doorbell', epoch: 1, messages: [MAC] }, { kind: 'lamppost', epoch: 1, messages: [MAC.repeat(30)] }, { kind: 'lamppost', epoch: 1, messages: Array(101).fill(MAC) }]) {
      const res = await post(body);
      expect(res.status).toBe(400);
      expect(await res.text()).not.toContain(MAC);
    }
  });
});
