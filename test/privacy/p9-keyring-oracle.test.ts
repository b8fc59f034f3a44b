// P9 — No side channel: the keyring is no pseudonym oracle for whoever asks.
//
// The keyring computes the current epoch's HMAC of any input for whoever it answers, so a
// caller can enumerate an identifier space and invert every pseudonym of the epoch. This runs
// the real keyring process and attacks it:
//   (a) with no token, or a made-up one, (b) with a revoked gateway token — all refused and
//   counted; the HMAC route is not served on the health/metrics port at all;
//   (c) with a stolen gateway token, enumerating the simulator's plate space as fast as it can
//   for a bounded time. It prints the identifiers hashed per second it achieved and the share
//   of the plate space that rate covers within one epoch plus the key grace, and asserts the
//   share stays below THRESHOLD, that the refusal counter moved, and that the other gateways
//   were still served.
// The same attack runs first against a keyring whose budget is lifted (headroom 10^6: today's
// behaviour before budgets, on the same machine) for the "before" figure.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createPseudonymizer, createRemoteKeyProvider, DEFAULT_POLICY_PATH, loadPolicy } from '@lethe/privacy';
import { afterAll, describe, expect, it } from 'vitest';
import { gatewayTokensFile } from '../../services/keyring/src/gateway-tokens.ts';
import { freePort, startService, type RunningService } from '../support/services.ts';
import { counter, samples, scrape } from '../support/prom-text.ts';

/** Largest share of the plate space a stolen gateway token may cover per epoch + key grace (docs/privacy.md, P9). */
const THRESHOLD = 0.1;
const ATTACK_MS = 10_000;
const BEFORE_MS = 5_000;
/** Batches in flight at once: the attacker's parallelism. */
const CONCURRENCY = 4;
const GRACE_MS = 60_000;

const policy = loadPolicy(DEFAULT_POLICY_PATH);
const EPOCH_MS = policy.kinds['traffic-light'].epoch;
const STOLEN = randomBytes(32).toString('base64url');
const OTHER = randomBytes(32).toString('base64url');
const REVOKED = randomBytes(32).toString('base64url');
/** The token file after gateway-c's token was revoked (setup-secrets --revoke-keyring-gateway rewrites it without it). */
const TOKENS = gatewayTokensFile({ 'gateway-a': STOLEN, 'gateway-b': OTHER });
/** A plate the attacker will have covered early in its enumeration (the simulator's format). */
const VICTIM = 'AA 777';

/** The simulator's plate format, read from its source: two letters of an alphabet, then a number in a range. */
function plateFormat(): { letters: string; min: number; max: number; size: number } {
  const source = readFileSync(new URL('../../services/simulator/src/city.ts', import.meta.url), 'utf8');
  const fn = /function randomPlate[\s\S]*?\n}/.exec(source)?.[0] ?? '';
  const letters = /const letters = '([A-Z]+)'/.exec(fn)?.[1];
  const range = /random\.int\((\d+), (\d+)\)\}`/.exec(fn);
  if (!letters || !range || !fn.includes('${letters[random.int(0, letters.length - 1)]}${letters[random.int(0, letters.length - 1)]} ${random.int(')) {
    throw new Error('the simulator plate format changed (services/simulator/src/city.ts randomPlate); update this test');
  }
  const [min, max] = [Number(range[1]), Number(range[2])];
  return { letters, min, max, size: letters.length ** 2 * (max - min + 1) };
}
const FORMAT = plateFormat();

/** The i-th plate of the space, as the gateway's pseudonymizer hashes it (`plate:` + normalized plate). */
function plateMessage(i: number): string {
  const per = FORMAT.max - FORMAT.min + 1;
  const n = FORMAT.min + (i % per);
  const pair = Math.floor(i / per);
  const l = FORMAT.letters;
  return `plate:${l[Math.floor(pair / l.length) % l.length]}${l[pair % l.length]}${n}`;
}

interface Keyring {
  service: RunningService;
  hmacUrl: string;
  metricsUrl: string;
}
const started: RunningService[] = [];

async function startKeyring(extra: Record<string, string> = {}): Promise<Keyring> {
  const hmacPort = await freePort();
  const service = await startService('keyring', { KEYRING_GATEWAY_TOKENS: TOKENS, HMAC_HOST: '127.0.0.1', HMAC_PORT: String(hmacPort), ...extra });
  started.push(service);
  return { service, hmacUrl: `http://127.0.0.1:${hmacPort}`, metricsUrl: `http://127.0.0.1:${service.port}` };
}

afterAll(async () => {
  await Promise.all(started.map((s) => s.stop()));
});

const post = (url: string, body: unknown, authorization?: string) =>
  fetch(`${url}/v1/hmac`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    body: JSON.stringify(body),
  });

async function metric(k: Keyring, name: string, labels: Record<string, string>): Promise<number> {
  const text = await scrape(k.metricsUrl);
  if (!samples(text, name).some((s) => Object.entries(labels).every(([l, v]) => s.labels[l] === v)))
    throw new Error(`${name} ${JSON.stringify(labels)} is not exported`);
  return counter(text, name, labels);
}

interface AttackResult {
  hashed: number;
  refused: number;
  seconds: number;
  /** Identifiers hashed after the first 2 s (past any initial burst), per second. */
  sustainedPerSecond: number;
  /** Identifiers hashed in the first 2 s. */
  first2s: number;
  found: Map<string, string>;
}

/** Enumerates the plate space from its start with a stolen token, batches of `batch`, as fast as the keyring answers. */
async function enumerate(k: Keyring, ms: number, batch: number, watch: readonly string[]): Promise<AttackResult> {
  const epoch = Math.floor(Date.now() / EPOCH_MS);
  const start = performance.now();
  let next = 0;
  let hashed = 0;
  let first2s = 0;
  let refused = 0;
  const found = new Map<string, string>();
  const wanted = new Set(watch);
  async function worker(): Promise<void> {
    while (performance.now() - start < ms) {
      const from = next;
      next += batch;
      const messages = Array.from({ length: batch }, (_, j) => plateMessage(from + j));
      const res = await post(k.hmacUrl, { kind: 'traffic-light', epoch, messages }, `Bearer ${STOLEN}`);
      if (res.status === 200) {
        const { hmacs } = (await res.json()) as { hmacs: string[] };
        hashed += hmacs.length;
        if (performance.now() - start < 2_000) first2s += hmacs.length;
        messages.forEach((m, j) => wanted.has(m) && found.set(m, Buffer.from(hmacs[j]!, 'base64').subarray(0, 16).toString('base64url')));
      } else {
        expect(res.status).toBe(429);
        await res.body?.cancel();
        refused++;
        // Not refused for good: try the same batch again at once (as fast as it can).
        next = Math.min(next, from);
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - start) / 1000;
  return { hashed, refused, seconds, first2s, sustainedPerSecond: (hashed - first2s) / Math.max(seconds - 2, 0.001), found };
}

/** The share of the plate space the attacker covers within one epoch plus the key grace, at the rate it achieved. */
const coverage = (r: AttackResult) => Math.min(1, (r.first2s + (r.sustainedPerSecond * (EPOCH_MS + GRACE_MS - 2_000)) / 1000) / FORMAT.size);
const pct = (x: number) => `${(100 * x).toFixed(2)} %`;

describe('P9: the keyring answers only gateways, each within a budget matched to the fleet', () => {
  let before: AttackResult;

  it('before: with the budget lifted, a stolen token inverts the plate space within an epoch', async () => {
    const k = await startKeyring({ KEYRING_HEADROOM: '1000000' });
    const victim = await createPseudonymizer(createRemoteKeyProvider({ url: k.hmacUrl, token: OTHER, kind: 'traffic-light' }), EPOCH_MS).pseudonymize(
      'plate',
      Date.now(),
      [VICTIM],
    );
    before = await enumerate(k, BEFORE_MS, 500, ['plate:AA777']);
    const rate = before.hashed / before.seconds;
    console.log(
      `[p9 keyring] before (no budget): ${before.hashed} plates hashed in ${before.seconds.toFixed(1)} s = ${Math.round(rate)}/s; ` +
        `the whole plate space (${FORMAT.size}) in ${(FORMAT.size / rate).toFixed(0)} s; coverage per epoch + grace ${pct(coverage(before))}`,
    );
    // The attack is real: the victim's pseudonym, as a gateway made it, is among those computed.
    expect(before.found.get('plate:AA777')).toBe(victim!.pseudonyms[0]);
    expect(before.refused).toBe(0);
    await k.service.stop();
  }, 120_000);

  it('after: refuses callers without a valid gateway token, and serves no HMAC on the metrics port', async () => {
    const k = await startKeyring();
    const epoch = Math.floor(Date.now() / EPOCH_MS);
    const body = { kind: 'traffic-light', epoch, messages: ['plate:AA777'] };
    const attempts: Array<[string, string | undefined]> = [
      ['no token', undefined],
      ['a made-up token', `Bearer ${randomBytes(32).toString('base64url')}`],
      ['a token in the wrong scheme', `Basic ${STOLEN}`],
      ['a revoked gateway token', `Bearer ${REVOKED}`],
      ["the token file's hash as a token", `Bearer ${JSON.parse(TOKENS).tokens['gateway-a']}`],
    ];
    for (const [what, auth] of attempts) {
      const res = await post(k.hmacUrl, body, auth);
      expect(res.status, what).toBe(401);
      expect(await res.json(), what).toMatchObject({ error: 'UNAUTHORIZED' });
    }
    expect(await metric(k, 'lethe_keyring_refused_total', { reason: 'unauthorized' })).toBe(attempts.length);
    // The health and metrics listener (which Prometheus reaches) is no way in, even with a valid token.
    expect((await post(k.metricsUrl, body, `Bearer ${STOLEN}`)).status).toBe(404);
    await k.service.stop();
  });

  it(`after: a stolen gateway token covers less than ${pct(THRESHOLD)} of the plate space per epoch, is refused and counted, and spares the other gateways`, async () => {
    const k = await startKeyring();
    const victim = await createPseudonymizer(createRemoteKeyProvider({ url: k.hmacUrl, token: OTHER, kind: 'traffic-light' }), EPOCH_MS).pseudonymize(
      'plate',
      Date.now(),
      [VICTIM],
    );
    const budget = await metric(k, 'lethe_keyring_budget_messages_per_second', { kind: 'traffic-light' });
    const refusedBefore = await metric(k, 'lethe_keyring_refused_total', { reason: 'rate_limited' });
    // A batch above one reading's identifiers is refused outright.
    const big = await post(
      k.hmacUrl,
      { kind: 'traffic-light', epoch: Math.floor(Date.now() / EPOCH_MS), messages: Array.from({ length: 501 }, (_, i) => plateMessage(i)) },
      `Bearer ${STOLEN}`,
    );
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ error: 'BATCH_TOO_LARGE', batchCap: 500 });

    const other = createPseudonymizer(createRemoteKeyProvider({ url: k.hmacUrl, token: OTHER, kind: 'traffic-light', maxThrottleMs: 0 }), EPOCH_MS);
    const [after, otherServed] = await Promise.all([
      enumerate(k, ATTACK_MS, 500, ['plate:AA777']),
      // Another gateway goes on pseudonymizing its readings meanwhile, from its own budget.
      (async () => {
        let served = 0;
        for (let i = 0; i < 8; i++) {
          await new Promise((r) => setTimeout(r, ATTACK_MS / 10));
          if (await other.pseudonymize('plate', Date.now(), ['ZZ 9999']).then(Boolean, () => false)) served++;
        }
        return served;
      })(),
    ]);
    const refusedNow = await metric(k, 'lethe_keyring_refused_total', { reason: 'rate_limited' });
    const rate = after.hashed / after.seconds;
    console.log(
      `[p9 keyring] after (budget ${Math.round(budget)}/s per gateway for plates): ${after.hashed} plates hashed in ${after.seconds.toFixed(1)} s = ${Math.round(rate)}/s ` +
        `(${Math.round(after.sustainedPerSecond)}/s after the first 2 s), ${after.refused} requests refused (429); ` +
        `coverage of the plate space (${FORMAT.size}) per epoch + grace (${(EPOCH_MS + GRACE_MS) / 60_000} min): ${pct(coverage(after))} (threshold ${pct(THRESHOLD)}); ` +
        `before: ${Math.round(before.hashed / before.seconds)}/s, ${pct(coverage(before))}`,
    );
    // The bound for any attacker, whatever its batching: the whole budget for the whole epoch + grace, after a full burst.
    const bound = Math.min(1, (after.first2s + (budget * (EPOCH_MS + GRACE_MS)) / 1000) / FORMAT.size);
    console.log(`[p9 keyring] bound for an attacker using the whole budget all epoch: ${pct(bound)} of the plate space`);
    expect(coverage(after)).toBeLessThan(THRESHOLD);
    expect(bound).toBeLessThan(THRESHOLD);
    // The limit, not the machine, held the attacker back.
    expect(after.refused).toBeGreaterThan(0);
    expect(refusedNow - refusedBefore).toBe(after.refused);
    expect(after.sustainedPerSecond).toBeLessThanOrEqual(budget * 1.05);
    expect(before.hashed / before.seconds).toBeGreaterThan(10 * rate);
    expect(otherServed).toBe(8);
    // Within its budget, a stolen token still computes real pseudonyms: the limit bounds how many, not whether.
    expect(after.found.get('plate:AA777')).toBe(victim!.pseudonyms[0]);
    // The keyring logged neither the plates nor the tokens.
    for (const secret of ['AA777', 'AA 777', STOLEN, OTHER]) expect(k.service.output()).not.toContain(secret);
  }, 120_000);
});
