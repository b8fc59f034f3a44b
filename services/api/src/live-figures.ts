// The register's live figures: how old the oldest per-person record is right now (against the
// TTL), how many pseudonym keys have been destroyed, how much of today's privacy budget each
// stream has spent, and how many data requests were refused. Each comes from a small source
// interface, so the Kafka/InfluxDB implementations and in-memory ones are interchangeable; a
// source that fails is reported as unavailable instead of failing the page.
import type { AuditLog } from '@lethe/audit';
import type { Policy } from '@lethe/privacy';
import type { AggregateStore, EpsilonFigure } from './aggregate-store.ts';

/** The oldest record of each partition of a personal topic (no value, only its timestamp). */
export interface RawRecordAge {
  topic: string;
  partition: number;
  /** Timestamp of the record at the partition's low watermark; null when the partition is empty. */
  oldestRecordAt: number | null;
  /** When this was observed. */
  observedAt: number;
}

export interface RawDataAges {
  /** The latest observation per partition of each personal topic; empty until the first one. */
  current(): RawRecordAge[];
}

export interface LiveFiguresSnapshot {
  at: string;
  rawData: {
    ttlSeconds: number;
    topics: Array<{ topic: string; oldestRecordAt: string | null; ageSeconds: number | null; observedAt: string }>;
  } | null;
  keysDestroyed: { total: number; lastAt: string | null };
  epsilonToday: EpsilonFigure[] | null;
  requests: { received: number; answered: number; refused: number; refusedToday: number };
  routesRefused: number;
  retentionDeletions: { total: number; records: number; lastAt: string | null };
  /** Sources that did not answer; their figures are null. */
  unavailable: string[];
}

export interface LiveFigures {
  snapshot(): Promise<LiveFiguresSnapshot>;
}

export interface LiveFiguresOptions {
  policy: Policy;
  audit: Pick<AuditLog, 'records'>;
  store: Pick<AggregateStore, 'epsilonToday'>;
  rawAges: RawDataAges;
  now?: () => number;
  /** A snapshot is reused for this long, so a busy page does not reread the log each time. */
  cacheMs?: number;
  onError?: (source: string, err: unknown) => void;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** An in-memory RawDataAges (tests, the one-process demo). */
export function createStaticRawDataAges(ages: RawRecordAge[] = []): RawDataAges & { set(ages: RawRecordAge[]): void } {
  let current = ages;
  return { current: () => current, set: (next) => void (current = next) };
}

export function createLiveFigures({ policy, audit, store, rawAges, now = Date.now, cacheMs = 2_000, onError }: LiveFiguresOptions): LiveFigures {
  let cached: { at: number; value: Promise<LiveFiguresSnapshot> } | undefined;

  async function compute(): Promise<LiveFiguresSnapshot> {
    const t = now();
    const today = iso(t).slice(0, 10);
    const unavailable: string[] = [];
    const [records, epsilon] = await Promise.all([
      audit.records().catch((err: unknown) => {
        onError?.('audit-log', err);
        unavailable.push('audit-log');
        return undefined;
      }),
      store.epsilonToday(new Date(t)).catch((err: unknown) => {
        onError?.('aggregate-store', err);
        unavailable.push('aggregate-store');
        return null;
      }),
    ]);
    const keys = { total: 0, lastAt: null as string | null };
    const requests = { received: 0, answered: 0, refused: 0, refusedToday: 0 };
    const deletions = { total: 0, records: 0, lastAt: null as string | null };
    let routesRefused = 0;
    for (const r of records ?? []) {
      if (r.type === 'key.destroyed') {
        keys.total++;
        keys.lastAt = iso(r.at);
      } else if (r.type === 'request.received') requests.received++;
      else if (r.type === 'request.answered') requests.answered++;
      else if (r.type === 'request.refused') {
        requests.refused++;
        if (iso(r.at).startsWith(today)) requests.refusedToday++;
      } else if (r.type === 'route.refused') routesRefused++;
      else if (r.type === 'retention.deleted') {
        deletions.total++;
        deletions.records += typeof r.data.records === 'number' ? r.data.records : 0;
        deletions.lastAt = iso(r.at);
      }
    }
    const ages = rawAges.current();
    if (ages.length === 0) unavailable.push('kafka');
    // Per topic, the oldest record over its partitions.
    const byTopic = new Map<string, RawRecordAge>();
    for (const a of ages) {
      const current = byTopic.get(a.topic);
      if (!current || (a.oldestRecordAt !== null && (current.oldestRecordAt === null || a.oldestRecordAt < current.oldestRecordAt))) byTopic.set(a.topic, a);
    }
    return {
      at: iso(t),
      rawData:
        ages.length === 0
          ? null
          : {
              ttlSeconds: policy.rawData.ttl / 1000,
              topics: [...byTopic.values()]
                .sort((a, b) => (a.topic < b.topic ? -1 : 1))
                .map((a) => ({
                  topic: a.topic,
                  oldestRecordAt: a.oldestRecordAt === null ? null : iso(a.oldestRecordAt),
                  ageSeconds: a.oldestRecordAt === null ? null : Math.max(0, Math.round((t - a.oldestRecordAt) / 1000)),
                  observedAt: iso(a.observedAt),
                })),
            },
      keysDestroyed: records ? keys : { total: 0, lastAt: null },
      epsilonToday: epsilon,
      requests,
      routesRefused,
      retentionDeletions: deletions,
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
