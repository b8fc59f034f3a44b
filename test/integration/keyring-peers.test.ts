// Several keyring processes serving the same keys (issue 14, item 4; services/keyring/src/peers.ts):
// a founder and a peer that joins it answer every HMAC alike; a gateway's key provider listing both
// goes on through the survivor when one is SIGKILLed; the killed one, restarted, joins the survivor
// and answers alike again; once an epoch's key is past its grace no instance answers for it, not
// even one that joined later (the chain handed over starts after it); and the secret handed over
// appears in no log. Keyrings need no broker: they run here without Kafka.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRemoteKeyProvider, epochOf, loadPolicy } from '@lethe/privacy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayTokensFile } from '../../services/keyring/src/gateway-tokens.ts';
import { policyCopy, shortWindows } from '../support/policy-copy.ts';
import { freePort, startService, type RunningService } from '../support/services.ts';
import { waitFor } from '../support/wait.ts';

const EPOCH_MS = 10_000;
const GRACE_MS = 2_000;
const policyFile = policyCopy((doc) => {
  shortWindows(doc, '5s', `${EPOCH_MS / 1000}s`);
  doc.rawData.keyGrace = `${GRACE_MS / 1000}s`;
});
const policy = loadPolicy(policyFile);
const GATEWAY_TOKEN = randomBytes(24).toString('hex');
const PEER_TOKEN = randomBytes(24).toString('hex');
const MAC = '02:1A:2B:3C:4D:5E';
const dir = mkdtempSync(join(tmpdir(), 'lethe-keyring-peers-'));
const tokensFile = join(dir, 'gateway-tokens.json');
writeFileSync(tokensFile, gatewayTokensFile({ gateway: GATEWAY_TOKEN }));

describe('keyring instances sharing their keys', () => {
  const ports: Record<'a' | 'b' | 'c', number> = { a: 0, b: 0, c: 0 };
  const running: RunningService[] = [];
  const url = (name: keyof typeof ports) => `http://127.0.0.1:${ports[name]}`;
  const start = (name: keyof typeof ports, peers: Array<keyof typeof ports>, founder: boolean) =>
    startService(
      'keyring',
      {
        KEYRING_GATEWAY_TOKENS_FILE: tokensFile,
        POLICY_FILE: policyFile,
        KEYRING_PEERS: peers.map(url).join(','),
        KEYRING_PEER_TOKEN: PEER_TOKEN,
        KEYRING_FOUNDER: String(founder),
        KEYRING_JOIN_SECONDS: '1',
      },
      { port: ports[name] },
    ).then((s) => (running.push(s), s));
  const provider = (...names: Array<keyof typeof ports>) =>
    createRemoteKeyProvider({ url: names.map(url), token: GATEWAY_TOKEN, kind: 'lamppost', timeoutMs: 10_000 });
  const mac = async (names: Array<keyof typeof ports>, epoch: number) => (await provider(...names).hmac(epoch, [`wifi:${MAC}`]))?.[0]?.toString('hex');
  const currentEpoch = () => epochOf(Date.now(), policy.kinds.lamppost.epoch);

  beforeAll(async () => {
    for (const name of ['a', 'b', 'c'] as const) ports[name] = await freePort();
  });
  afterAll(async () => {
    await Promise.all(running.map((s) => s.stop()));
  });

  it('a joining peer answers as the founder; one killed, the other answers; restarted, it joins and answers alike; a destroyed epoch stays destroyed on every instance', async () => {
    // The founder waits a second for a peer, finds none, and founds; b joins it.
    const a = await start('a', ['b'], true);
    const b = await start('b', ['a'], false);
    expect(a.output()).toMatch(/"chain":"founded here"/);
    expect(b.output()).toContain(`"chain":"from ${url('a')}"`);
    const e0 = currentEpoch();
    const fromA = await mac(['a'], e0);
    expect(fromA).toMatch(/^[0-9a-f]{64}$/);
    expect(await mac(['b'], e0)).toBe(fromA);
    expect(await mac(['b'], e0 + 1)).toBe(await mac(['a'], e0 + 1));

    // a dies without a word: a gateway listing both goes on through b, with the same key.
    a.process.kill('SIGKILL');
    await new Promise((r) => a.process.once('exit', r));
    expect(await mac(['a', 'b'], e0)).toBe(fromA);

    // a comes back, asks b first (it is the founder, but a chain exists), and answers alike.
    const a2 = await start('a', ['b'], true);
    expect(a2.output()).toContain(`"chain":"from ${url('b')}"`);
    expect(await mac(['a'], e0)).toBe(fromA);

    // The handed-over secret is in no log of any instance.
    const handed = (await (await fetch(`${url('b')}/v1/ratchet`, { method: 'POST', headers: { authorization: `Bearer ${PEER_TOKEN}` } })).json()) as {
      kinds: Record<string, { secret: string }>;
    };
    const secrets = Object.values(handed.kinds).map((k) => k.secret);
    expect(secrets).toHaveLength(3);

    // Past e0's grace: every instance refuses e0, and so does one that joins only now.
    await waitFor(`epoch ${e0} past its grace`, () => epochOf(Date.now() - GRACE_MS - 1_000, EPOCH_MS) > e0, 3 * (EPOCH_MS + GRACE_MS) + 10_000, {
      everyMs: 250,
    });
    const c = await start('c', ['b', 'a'], false);
    for (const name of ['a', 'b', 'c'] as const) expect(await mac([name], e0), `${name} for epoch ${e0}`).toBeUndefined();
    const e = currentEpoch();
    expect(await mac(['c'], e)).toBe(await mac(['a'], e));
    expect(await mac(['b'], e)).toBe(await mac(['a'], e));

    for (const s of [a, b, a2, c]) {
      const log = s.output();
      for (const secret of secrets) expect(log, `${s.name} log`).not.toContain(secret);
      expect(log).not.toContain(MAC);
    }
  }, 180_000);
});
