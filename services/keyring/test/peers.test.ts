// Keyring instances sharing their keys (peers.ts) over real HTTP on loopback: a joining instance
// takes a running one's chains and both answer every HMAC alike; the hand-over goes only to the
// peer token and never before a chain exists; only the founder founds, and only when no peer
// answers; a peer whose chain starts in the future is refused.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger, createMetricsRegistry } from '@lethe/observability';
import { DEFAULT_POLICY_PATH, epochOf, loadPolicy, ManualClock } from '@lethe/privacy';
import { DEVICE_KINDS } from '@lethe/schemas';
import { afterEach, describe, expect, it } from 'vitest';
import { createKeyring, type Keyring } from '../src/keyring.ts';
import { createKeyringMetrics } from '../src/metrics.ts';
import { foundRatchets, joinOrFound, peerHandler, type RatchetStates } from '../src/peers.ts';

const policy = loadPolicy(DEFAULT_POLICY_PATH);
const PEER_TOKEN = randomBytes(24).toString('hex');
const logger = createLogger({ service: 'keyring-test', level: 'silent' });
const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

/** A keyring's peer route on a loopback port; `keyring` may come later (503 until then). */
async function servePeer(get: () => Keyring | undefined) {
  const metrics = createKeyringMetrics(createMetricsRegistry('keyring-test'));
  const route = peerHandler({ states: () => get()?.ratchetStates(), peerToken: PEER_TOKEN, metrics });
  const server = createServer((req, res) => {
    if (!route(req, res)) res.writeHead(404).end();
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, metrics };
}

const macs = async (k: Keyring, epoch: number) =>
  Promise.all(DEVICE_KINDS.map(async (kind) => (await k.hmac(kind, epoch, ['02:1A:2B:3C:4D:5E']))?.[0]?.toString('hex')));
const join = (peers: string[], extra: Partial<Parameters<typeof joinOrFound>[0]> = {}) =>
  joinOrFound({ peers, peerToken: PEER_TOKEN, founder: false, joinMs: 50, policy, logger, sleep: async () => undefined, ...extra });

describe('keyring peers', () => {
  it('a joining instance takes a running one’s chains: both answer every kind’s HMAC alike, and the handed-in copies are zeroed', async () => {
    const clock = new ManualClock(Date.now());
    const first = createKeyring({ policy, clock, ratchets: foundRatchets(policy, clock.now()) });
    const peer = await servePeer(() => first);
    const joined = await join(['http://127.0.0.1:9/unreachable', peer.url]);
    expect(joined.from).toBe(peer.url);
    const handed: RatchetStates = { ...joined.states };
    const second = createKeyring({ policy, clock, ratchets: joined.states });
    expect(
      Object.values(handed).every((s) => s.secret.every((b) => b === 0)),
      'createKeyring zeroes the states it was given',
    ).toBe(true);
    const epoch = epochOf(clock.now(), policy.kinds.lamppost.epoch);
    expect(await macs(second, epoch)).toEqual(await macs(first, epoch));
    expect(await macs(second, epoch + 1)).toEqual(await macs(first, epoch + 1));
    const separate = createKeyring({ policy, clock, ratchets: foundRatchets(policy, clock.now()) });
    expect(await macs(separate, epoch)).not.toEqual(await macs(first, epoch));
    expect((await peer.metrics.peerRequests.get()).values.find((v) => v.labels.outcome === 'ok')?.value).toBe(1);
  });

  it('hands nothing to a caller without the peer token, nor before this instance has a chain', async () => {
    const holder: { keyring?: Keyring } = {};
    const peer = await servePeer(() => holder.keyring);
    const ask = (authorization?: string) => fetch(`${peer.url}/v1/ratchet`, { method: 'POST', headers: authorization ? { authorization } : {} });
    expect((await ask()).status).toBe(401);
    expect((await ask(`Bearer ${randomBytes(24).toString('hex')}`)).status).toBe(401);
    const early = await ask(`Bearer ${PEER_TOKEN}`);
    expect(early.status).toBe(503);
    expect(early.headers.get('cache-control')).toBe('no-store');
    holder.keyring = createKeyring({ policy, ratchets: foundRatchets(policy) });
    const ok = await ask(`Bearer ${PEER_TOKEN}`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('cache-control')).toBe('no-store');
    const values = (await peer.metrics.peerRequests.get()).values.map((v) => [v.labels.outcome, v.value]);
    expect(Object.fromEntries(values)).toEqual({ unauthorized: 2, not_ready: 1, ok: 1 });
  });

  it('only the founder founds, and only after no peer answered within its wait; the others wait for a peer', async () => {
    const start = Date.now();
    let now = start;
    const clock = { now: () => now, sleep: async (ms: number) => void (now += ms) };
    const founded = await join(['http://127.0.0.1:9'], { founder: true, joinMs: 5_000, now: clock.now, sleep: clock.sleep });
    expect(founded.from).toBe('founded');
    expect(now - start, 'waited for a peer first').toBeGreaterThanOrEqual(5_000);

    // A non-founder keeps asking: it joins the peer that comes up after a while.
    let keyring: Keyring | undefined;
    const peer = await servePeer(() => keyring);
    now = start;
    const waiting = join([peer.url], {
      now: clock.now,
      sleep: async (ms) => {
        now += ms;
        if (now - start > 60_000) keyring ??= createKeyring({ policy, ratchets: foundRatchets(policy) });
        await new Promise((r) => setTimeout(r, 1));
      },
    });
    expect((await waiting).from).toBe(peer.url);
    expect(now - start).toBeGreaterThan(60_000);
  });

  it('refuses a peer whose chain starts in the future (clocks that disagree)', async () => {
    const ahead = createKeyring({ policy, ratchets: foundRatchets(policy, Date.now() + 3 * policy.kinds.lamppost.epoch) });
    const peer = await servePeer(() => ahead);
    const founded = await join([peer.url], { founder: true, joinMs: 0 });
    expect(founded.from).toBe('founded');
  });
});
