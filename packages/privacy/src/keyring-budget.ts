// How many pseudonyms a gateway may ask the keyring for. The keyring answers an HMAC for any
// input, so whoever holds a gateway's credential can compute pseudonyms: at an unlimited rate
// that inverts every pseudonym of an epoch (the simulator's whole plate space, 5.3 M plates,
// takes well under a minute). A gateway itself never needs more than its devices can carry, so
// each gateway gets a budget of HMAC messages per second and per device kind derived from the
// fleet, a batch cap of one reading's identifiers, and a token bucket that enforces both.
//
//   rate(kind)  = devices of the kind × identifiers per reading ÷ reading interval × headroom
//   burst(kind) = rate × reading interval (every device of the kind reporting at once),
//                 at least one full reading
//   batch(kind) = the most identifiers one reading can carry (the reading schema's array cap)
//
// Identifiers per reading is a figure of the deployment (how many phones a lamppost can hear,
// how many plates a camera reads, in one interval), capped by the schema; the schema's cap
// alone (500) would let a stolen credential try 3,600 plates a second with the shipped fleet.
import type { DeviceKind, Fleet } from '@lethe/schemas';
import { DEVICE_KINDS, READING_SCHEMAS } from '@lethe/schemas';
import { z } from 'zod';
import { systemClock, type Clock } from './clock.ts';
import { SIGHTING_FIELDS } from './ingest.ts';
import type { Policy } from './policy.ts';

/**
 * Default identifiers per reading: above the most the simulated fleet produces in any scenario
 * over a day at 5 s readings (39 plates at a junction in rush hour, 82 phones at a lamppost in
 * the festival crowd), so the fleet never waits for the bucket.
 */
export const DEFAULT_IDENTIFIERS_PER_READING: Readonly<Partial<Record<DeviceKind, number>>> = { lamppost: 100, 'traffic-light': 40 };
/** Default headroom over the derived rate: for bursts, and a backlog drained after an outage. */
export const DEFAULT_HEADROOM = 1.5;

export interface KindBudget {
  kind: DeviceKind;
  devices: number;
  /** Identifiers one reading may carry for the rate (the configured figure, capped by the schema). */
  identifiersPerReading: number;
  /** HMAC messages per second one gateway may ask for (the bucket's refill rate). */
  messagesPerSecond: number;
  /** The bucket's size: what a gateway may ask for at once after a quiet spell. */
  burst: number;
  /** Messages per request at most: the most identifiers one reading of the kind can carry. */
  batchCap: number;
}

export type KeyringBudgets = Readonly<Record<DeviceKind, KindBudget>>;

export interface KeyringBudgetOptions {
  policy: Policy;
  fleet: Fleet;
  /** Milliseconds between two readings of one device (the simulator's and demo's default: 5 s). */
  readingIntervalMs: number;
  identifiersPerReading?: Readonly<Partial<Record<DeviceKind, number>>>;
  headroom?: number;
}

/** The reading schema's array cap of each pseudonymized identifier field of a kind: its largest (0 if it has none). */
export function identifierCap(policy: Policy, kind: DeviceKind): number {
  const schema = z.toJSONSchema(READING_SCHEMAS[kind], { io: 'input' }) as { properties?: Record<string, { maxItems?: number }> };
  let cap = 0;
  for (const [field, { identifier }] of Object.entries(SIGHTING_FIELDS)) {
    if (policy.kinds[kind].fields[`${field}.${identifier}`]?.treatment !== 'pseudonymize') continue;
    const maxItems = schema.properties?.[field]?.maxItems;
    if (maxItems === undefined) continue;
    cap = Math.max(cap, maxItems);
  }
  return cap;
}

export function keyringBudgets({
  policy,
  fleet,
  readingIntervalMs,
  identifiersPerReading = DEFAULT_IDENTIFIERS_PER_READING,
  headroom = DEFAULT_HEADROOM,
}: KeyringBudgetOptions): KeyringBudgets {
  if (!(readingIntervalMs > 0)) throw new Error('the reading interval must be positive');
  if (!(headroom >= 1)) throw new Error('the headroom must be at least 1');
  const seconds = readingIntervalMs / 1000;
  const entries = DEVICE_KINDS.map((kind): [DeviceKind, KindBudget] => {
    const batchCap = identifierCap(policy, kind);
    const devices = fleet.ofKind(kind).length;
    const perReading = Math.min(identifiersPerReading[kind] ?? batchCap, batchCap);
    const messagesPerSecond = (devices * perReading * headroom) / seconds;
    // A kind without identifiers, or without devices, gets nothing: its key has no use.
    const burst = messagesPerSecond === 0 ? 0 : Math.max(batchCap, Math.ceil(messagesPerSecond * seconds));
    return [kind, { kind, devices, identifiersPerReading: perReading, messagesPerSecond, burst, batchCap: messagesPerSecond === 0 ? 0 : batchCap }];
  });
  return Object.fromEntries(entries) as Record<DeviceKind, KindBudget>;
}

export type TakeResult = { ok: true } | { ok: false; retryAfterMs: number };

export interface TokenBucket {
  /** Takes n tokens if there are that many; otherwise takes none and says when there will be. */
  take(n: number): TakeResult;
  /** Tokens available now. */
  level(): number;
}

/** A token bucket that starts full and refills continuously; time comes from the clock. */
export function createTokenBucket({ ratePerSecond, capacity, clock = systemClock }: { ratePerSecond: number; capacity: number; clock?: Clock }): TokenBucket {
  let tokens = capacity;
  let last = clock.now();
  const refill = () => {
    const now = clock.now();
    // A clock that steps back gives nothing (and takes nothing).
    if (now > last) tokens = Math.min(capacity, tokens + ((now - last) * ratePerSecond) / 1000);
    last = Math.max(last, now);
  };
  return {
    take(n) {
      refill();
      if (n <= tokens) {
        tokens -= n;
        return { ok: true };
      }
      // More than the bucket holds can never be granted.
      if (n > capacity || ratePerSecond <= 0) return { ok: false, retryAfterMs: Number.POSITIVE_INFINITY };
      return { ok: false, retryAfterMs: Math.ceil(((n - tokens) * 1000) / ratePerSecond) };
    },
    level() {
      refill();
      return tokens;
    },
  };
}

export type LimitOutcome =
  { ok: true } | { ok: false; reason: 'batch_too_large'; batchCap: number } | { ok: false; reason: 'rate_limited'; retryAfterMs: number };

export interface KeyringLimiter {
  readonly budgets: KeyringBudgets;
  /** Charges `messages` HMACs of a kind to a gateway's bucket, or says why not. */
  charge(gateway: string, kind: DeviceKind, messages: number): LimitOutcome;
}

/** One bucket per gateway and kind: a stolen credential spends its own gateway's budget only. */
export function createKeyringLimiter(budgets: KeyringBudgets, clock: Clock = systemClock): KeyringLimiter {
  const buckets = new Map<string, TokenBucket>();
  return {
    budgets,
    charge(gateway, kind, messages) {
      const budget = budgets[kind];
      if (messages > budget.batchCap) return { ok: false, reason: 'batch_too_large', batchCap: budget.batchCap };
      const key = `${kind}\u0000${gateway}`;
      let bucket = buckets.get(key);
      if (!bucket) buckets.set(key, (bucket = createTokenBucket({ ratePerSecond: budget.messagesPerSecond, capacity: budget.burst, clock })));
      const taken = bucket.take(messages);
      return taken.ok ? taken : { ok: false, reason: 'rate_limited', retryAfterMs: taken.retryAfterMs };
    },
  };
}

/**
 * The share of an identifier space that `messagesPerSecond` (after an initial `burst`) covers
 * within one epoch plus the key grace: how much of it an attacker could invert per epoch.
 */
export function coverageOfSpace({
  messagesPerSecond,
  burst = 0,
  epochMs,
  graceMs,
  space,
}: {
  messagesPerSecond: number;
  burst?: number;
  epochMs: number;
  graceMs: number;
  space: number;
}): number {
  return Math.min(1, (burst + (messagesPerSecond * (epochMs + graceMs)) / 1000) / space);
}
