// The keyring over real HTTP (an in-process server on a loopback port), used through the same
// remote provider the gateways use: two clients get the same pseudonyms, old epochs are
// refused once their key is zeroed, no request can get a key out, only gateways with their own
// token are answered, each within its budget, and every refusal is counted.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger, createMetricsRegistry } from '@lethe/observability';
import {
  createKeyringLimiter,
  createPseudonymizer,
  createRemoteKeyProvider,
  DEFAULT_POLICY_PATH,
  KeyServiceError,
  keyringBudgets,
  loadPolicy,
  ManualClock,
} from '@lethe/privacy';
import { DEFAULT_FLEET_PATH, loadFleet } from '@lethe/schemas';
import { afterEach, describe, expect, it } from 'vitest';
import { createGatewayDirectory, gatewayTokensFile } from '../src/gateway-tokens.ts';
import { createKeyring, keyringHandler } from '../src/keyring.ts';
import { createKeyringMetrics } from '../src/metrics.ts';

const policy = loadPolicy(DEFAULT_POLICY_PATH);
const EPOCH = policy.kinds.lamppost.epoch;
const GRACE = policy.rawData.keyGrace;
const TOKEN = randomBytes(24).toString('hex');
const OTHER_TOKEN = randomBytes(24).toString('hex');
const budgets = keyringBudgets({
  policy,
  fleet: loadFleet(DEFAULT_FLEET_PATH),
  readingIntervalMs: 5_000,
  identifiersPerReading: { lamppost: 100, 'traffic-light': 40 },
  headroom: 1.5,
});
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
    clock,
    generateKey: () => {
      const key = randomBytes(32);
      keys.push(key);
      return key;
    },
    onDestroy: (kind, epoch) => destroyed.push([kind, epoch]),
  });
  const gateways = createGatewayDirectory(gatewayTokensFile({ gateway: TOKEN, 'gateway-2': OTHER_TOKEN }));
  const limiter = createKeyringLimiter(budgets, clock);
  const handle = keyringHandler({
    keyring,
    gateways,
    limiter,
    metrics: createKeyringMetrics(registry),
    logger: createLogger({ service: 'test', level: 'silent' }),
  });
  server = createServer((req, res) => {
    if (!handle(req, res)) res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
  const gateway = (token = TOKEN) => createPseudonymizer(createRemoteKeyProvider({ url, token, kind: 'lamppost' }), EPOCH);
  return { clock, keys, destroyed, keyring, registry, url, gateway };
}

const post = (url: string, body: unknown, token = TOKEN) =>
  fetch(`${url}/v1/hmac`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
async function metricLine(registry: ReturnType<typeof createMetricsRegistry>, name: string, labels: string): Promise<number> {
  const line = (await registry.getSingleMetricAsString(name)).split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return Number(line?.split(' ').at(-1) ?? NaN);
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
    expect(await metricLine(registry, 'lethe_keyring_refused_total', 'reason="unauthorized"')).toBe(2);
  });

  it('answers malformed requests with 400 and a reason that quotes no value', async () => {
    const { url } = await start();
    for (const body of [
      { kind: 'lamppost', epoch: -1, messages: [MAC] },
      { kind: 'doorbell', epoch: 1, messages: [MAC] },
      { kind: 'lamppost', epoch: 1, messages: [MAC.repeat(30)] },
      { kind: 'lamppost', epoch: 1, messages: [] },
    ]) {
      const res = await post(url, body);
      expect(res.status).toBe(400);
      expect(await res.text()).not.toContain(MAC);
    }
  });

  it('caps a request at one reading of identifiers, and answers nothing for a kind without any', async () => {
    const { url, registry, clock } = await start();
    const epoch = Math.floor(clock.now() / EPOCH);
    const over = await post(url, { kind: 'lamppost', epoch, messages: Array(501).fill(MAC) });
    expect(over.status).toBe(413);
    expect(await over.json()).toMatchObject({ error: 'BATCH_TOO_LARGE', batchCap: 500 });
    expect((await post(url, { kind: 'sewer', epoch, messages: ['x'] })).status).toBe(413);
    expect((await post(url, { kind: 'lamppost', epoch, messages: Array(500).fill(MAC) })).status).toBe(200);
    expect(await metricLine(registry, 'lethe_keyring_refused_total', 'reason="batch_too_large"')).toBe(2);
  });

  it("refuses a gateway over its budget with 429 and Retry-After, counts it, and spares the other gateways' budgets", async () => {
    const { url, registry, clock } = await start();
    const epoch = Math.floor(clock.now() / EPOCH);
    const { burst, messagesPerSecond } = budgets['traffic-light'];
    const batch = Array.from({ length: 500 }, (_, i) => `plate:AB${i}`);
    let granted = 0;
    for (;;) {
      const res = await post(url, { kind: 'traffic-light', epoch, messages: batch });
      if (res.status !== 200) {
        expect(res.status).toBe(429);
        const body = (await res.json()) as { error: string; retryAfterMs: number; detail: string };
        expect(body.error).toBe('RATE_LIMITED');
        expect(body.retryAfterMs).toBe(Math.ceil(((500 - (burst - granted)) * 1000) / messagesPerSecond));
        expect(res.headers.get('retry-after')).toBe(String(Math.ceil(body.retryAfterMs / 1000)));
        expect(JSON.stringify(body)).not.toContain('AB');
        break;
      }
      granted += 500;
    }
    expect(granted).toBe(Math.floor(burst / 500) * 500);
    expect(await metricLine(registry, 'lethe_keyring_refused_total', 'reason="rate_limited"')).toBe(1);
    // HMACs computed move with people: exported in whole blocks (P9).
    expect(await metricLine(registry, 'lethe_keyring_messages_total', 'gateway="gateway",kind="traffic-light"')).toBe(Math.floor(granted / 1000) * 1000);
    // Another gateway's token has its own bucket; time refills this one.
    expect((await post(url, { kind: 'traffic-light', epoch, messages: batch }, OTHER_TOKEN)).status).toBe(200);
    clock.advance(Math.ceil((500 * 1000) / messagesPerSecond));
    expect((await post(url, { kind: 'traffic-light', epoch, messages: batch })).status).toBe(200);
  });

  it('lets the gateway client wait out a 429 instead of failing the reading', async () => {
    const { url, clock } = await start();
    const provider = createRemoteKeyProvider({ url, token: TOKEN, kind: 'traffic-light', sleep: async (ms) => clock.advance(ms) });
    const epoch = Math.floor(clock.now() / EPOCH);
    const batch = Array.from({ length: 500 }, (_, i) => `plate:CD${i}`);
    for (let i = 0; i < Math.ceil(budgets['traffic-light'].burst / 500) + 2; i++) expect(await provider.hmac(epoch, batch)).toHaveLength(500);
  });
});
