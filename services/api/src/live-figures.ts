// The register's live figures: that raw data dies on time (the configured limit, and whether the
// scheduled checks found every record within it), that retention ran (attestations), how many
// pseudonym keys have been destroyed, how much of today's privacy budget each stream has spent,
// and how many data requests were refused.
//
// Guarantee P9: a public figure about personal data never tells whether anyone was there or
// how many. So nothing here is read from the data itself — no record count, offset, oldest
// record time or "empty" — only the configuration, the schedule and outcomes that are the same
// whoever was seen (a check passing, a key destroyed at its epoch's end, an attestation at its
// period's end). And every such figure is given as of `asOf`: a time at least SETTLE_MS ago,
// rounded down to the policy's window, counting only what the schedule put before it. By then
// everything scheduled before it is in, so the figures do not change with how long a check
// or a release happened to take (which can depend on the data), and no time finer than the
// schedule's is shown. Request counts are about requesters, not sightings, and stay live.
import type { AuditLog } from '@lethe/audit';
import { rawDataLimit, type Policy } from '@lethe/privacy';
import type { AggregateStore } from './aggregate-store.ts';
import type { RetentionChecks } from './retention-schedule.ts';

/** How far behind now the figures about personal data are given, at least. */
export const SETTLE_MS = 15_000;

export interface LiveFiguresSnapshot {
  /** When this snapshot was made. */
  at: string;
  /** The figures about personal data are as of this time (a multiple of the policy's window). */
  asOf: string;
  rawData: {
    ttlSeconds: number;
    /** The stated bound on top of the TTL (packages/privacy/src/raw-data-limit.ts). */
    boundSeconds: number;
    /** TTL + bound: no record about a person stays on disk longer. */
    limitSeconds: number;
    checkEverySeconds: number;
    /** Per personal topic, the checks of the window before asOf: every record within the limit (an empty topic is); null: not checked. */
    topics: Array<{ topic: string; withinLimit: boolean | null; checks: number }>;
  };
  /** Retention attestations of the periods that ended by asOf. */
  /** allWithinLimit: false if any period found a record held too long; null if that is not known (the audit log did not answer, or a period had no successful check). */
  retention: { periods: number; allWithinLimit: boolean | null; latestPeriodEnd: string | null };
  /** Keys of the epochs that ended (plus the key grace) by asOf. */
  keysDestroyed: { total: number; latestEpochEnd: string | null };
  /** Latest figures of the windows that started before asOf. */
  epsilonToday: Array<{ stream: string; spentToday: number; budgetToday: number }> | null;
  requests: { received: number; answered: number; refused: number; refusedToday: number };
  routesRefused: number;
  /** Sources that did not answer; their figures are null or empty. */
  unavailable: string[];
}

export interface LiveFigures {
  snapshot(): Promise<LiveFiguresSnapshot>;
}

export interface LiveFiguresOptions {
  policy: Policy;
  audit: Pick<AuditLog, 'records'>;
  store: Pick<AggregateStore, 'epsilonToday'>;
  checks: RetentionChecks;
  /** The gateway's key grace: a key is destroyed this long after its epoch ends. */
  keyGraceMs?: number;
  now?: () => number;
  /** A snapshot is reused for this long, so a busy page does not reread the log each time. */
  cacheMs?: number;
  onError?: (source: string, err: unknown) => void;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The time the figures about personal data are given as of, for `now`. */
export function figuresAsOf(policy: Pick<Policy, 'kinds'>, now: number): number {
  const resolution = Math.max(...Object.values(policy.kinds).map((k) => k.window));
  return Math.floor((now - SETTLE_MS) / resolution) * resolution;
}

/** Epoch length of a kind named in an audit event (the longest, for an unknown kind). */
function epochOf(policy: Pick<Policy, 'kinds'>, kind: unknown): number {
  const kinds = policy.kinds as Record<string, { epoch: number }>;
  return typeof kind === 'string' && kinds[kind] ? kinds[kind].epoch : Math.max(...Object.values(kinds).map((k) => k.epoch));
}

const timeOf = (value: unknown): number | undefined => (typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? Date.parse(value) : undefined);

export function createLiveFigures({
  policy,
  audit,
  store,
  checks,
  keyGraceMs = policy.rawData.keyGrace,
  now = Date.now,
  cacheMs = 2_000,
  onError,
}: LiveFiguresOptions): LiveFigures {
  const limit = rawDataLimit(policy);
  const resolution = Math.max(...Object.values(policy.kinds).map((k) => k.window));
  let cached: { at: number; value: Promise<LiveFiguresSnapshot> } | undefined;

  const epochOfKind = (kind: unknown) => epochOf(policy, kind);

  async function compute(): Promise<LiveFiguresSnapshot> {
    const t = now();
    const asOf = figuresAsOf(policy, t);
    const today = iso(t).slice(0, 10);
    const unavailable: string[] = [];
    const [records, epsilon] = await Promise.all([
      audit.records().catch((err: unknown) => {
        onError?.('audit-log', err);
        unavailable.push('audit-log');
        return undefined;
      }),
      // As of the last instant before asOf: the windows that started before it, all released by now.
      store.epsilonToday(new Date(asOf - 1)).catch((err: unknown) => {
        onError?.('aggregate-store', err);
        unavailable.push('aggregate-store');
        return null;
      }),
    ]);
    const keys = { total: 0, latestEpochEnd: null as number | null };
    const retention = { periods: 0, allWithinLimit: (records === undefined ? null : true) as boolean | null, latestPeriodEnd: null as number | null };
    const requests = { received: 0, answered: 0, refused: 0, refusedToday: 0 };
    let routesRefused = 0;
    for (const r of records ?? []) {
      if (r.type === 'key.destroyed') {
        // By the epoch it ended, which the schedule fixes; not by when the event was written. And
        // one epoch further back than the other figures: a destruction reaches this log through
        // the gateway's rotation tick, Kafka and the audit consumer, and a figure that counted it
        // only once it arrived would move with that delay on a loaded machine.
        const end = timeOf(r.data.epochEnd);
        const epochMs = end === undefined ? 0 : epochOfKind(r.data.kind);
        if (end === undefined ? r.at > asOf : end + keyGraceMs + epochMs > asOf) continue;
        keys.total++;
        if (end !== undefined) keys.latestEpochEnd = Math.max(keys.latestEpochEnd ?? end, end);
      } else if (r.type === 'retention.deleted') {
        // Scheduled attestations only; events of earlier versions carried counts and are not shown.
        const end = timeOf(r.data.periodEnd);
        if (r.data.observedBy !== 'scheduled-check' || end === undefined || end > asOf) continue;
        retention.periods++;
        if (r.data.withinLimit === false) retention.allWithinLimit = false;
        // A period with no successful check proves nothing either way.
        else if (r.data.withinLimit !== true && retention.allWithinLimit === true) retention.allWithinLimit = null;
        retention.latestPeriodEnd = Math.max(retention.latestPeriodEnd ?? end, end);
      } else if (r.type === 'request.received') requests.received++;
      else if (r.type === 'request.answered') requests.answered++;
      else if (r.type === 'request.refused') {
        requests.refused++;
        if (iso(r.at).startsWith(today)) requests.refusedToday++;
      } else if (r.type === 'route.refused') routesRefused++;
    }
    const recent = checks.between(asOf - Math.max(resolution, checks.intervalMs), asOf);
    if (recent.length === 0) unavailable.push('retention-check');
    const topics = checks.topics.map((topic) => {
      const results = recent.map((c) => c.topics.find((x) => x.topic === topic)?.withinLimit).filter((x): x is boolean => typeof x === 'boolean');
      return { topic, withinLimit: results.length === 0 ? null : results.every(Boolean), checks: results.length };
    });
    return {
      at: iso(t),
      asOf: iso(asOf),
      rawData: {
        ttlSeconds: limit.ttlMs / 1000,
        boundSeconds: limit.boundMs / 1000,
        limitSeconds: limit.limitMs / 1000,
        checkEverySeconds: checks.intervalMs / 1000,
        topics: topics.sort((a, b) => (a.topic < b.topic ? -1 : 1)),
      },
      retention: { ...retention, latestPeriodEnd: retention.latestPeriodEnd === null ? null : iso(retention.latestPeriodEnd) },
      keysDestroyed: { total: keys.total, latestEpochEnd: keys.latestEpochEnd === null ? null : iso(keys.latestEpochEnd) },
      epsilonToday: epsilon === null ? null : epsilon.map(({ stream, spentToday, budgetToday }) => ({ stream, spentToday, budgetToday })),
      requests,
      routesRefused,
      unavailable,
    };
  }

  return {
    snapshot() {
      const t = now();
      if (!cached || t - cached.at >= cacheMs) {
        const value = compute();
        cached = { at: t, value };
        value.catch(() => (cached = undefined));
      }
      return cached.value;
    },
  };
}
