// Watches the personal topics (PERSONAL_TOPICS) with the Kafka admin client: every interval it
// reads each partition's low watermark and
//   - records a `retention.deleted` audit event when the watermark has moved (Kafka deleted the
//     records below it on schedule), resuming from the last such event after a restart;
//   - finds the timestamp of the oldest record still there, for the register's "oldest record
//     about a person" figure and the lethe_api_raw_record_age_seconds gauge.
//
// Least privilege: the timestamp is found without reading any record. ListOffsets by timestamp
// answers "the earliest offset whose timestamp is ≥ t", which is the low watermark exactly when
// t ≤ the oldest record's timestamp, so a search over t finds that timestamp (to a second,
// rounded down: the age shown is never less than the true one). The api therefore needs only
// Describe on these topics, never Read: it cannot see a pseudonym, let alone a record's value.
// The price is a few dozen small ListOffsets requests when a watermark moves (none otherwise).
import type { AuditLog } from '@lethe/audit';
import type { Admin } from '@lethe/kafka';
import type { Logger } from '@lethe/observability';
import { retentionDeleted } from './audit-events.ts';
import type { RawDataAges, RawRecordAge } from './live-figures.ts';

/** The admin calls the watch uses (kafkajs Admin has them). */
export type WatchAdmin = Pick<Admin, 'fetchTopicOffsets' | 'fetchTopicOffsetsByTimestamp'>;

export interface PersonalTopicWatchOptions {
  admin: WatchAdmin;
  topics: readonly string[];
  audit: Pick<AuditLog, 'append' | 'records'>;
  intervalMs: number;
  logger: Logger;
  now?: () => number;
  /** Called with the age in seconds (null: empty) of each topic's oldest record after each poll. */
  onAges?: (topic: string, ageSeconds: number | null) => void;
  onAppend?: (type: string) => void;
}

export interface PersonalTopicWatch extends RawDataAges {
  /** One round: watermarks, deletions, oldest timestamps. */
  poll(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

/** Search precision of the oldest timestamp. */
const PRECISION_MS = 1000;

export function createPersonalTopicWatch({ admin, topics, audit, intervalMs, logger, now = Date.now, onAges, onAppend }: PersonalTopicWatchOptions): PersonalTopicWatch {
  const log = logger.child({ component: 'personal-topic-watch' });
  /** Low watermark last recorded per topic:partition (undefined until read from the log). */
  let lastLow: Map<string, number> | undefined;
  /** Oldest timestamp per topic:partition:low — a record never changes, so neither does this. */
  const oldestAt = new Map<string, number>();
  let current: RawRecordAge[] = [];
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  async function restoreLastLow(): Promise<Map<string, number>> {
    const map = new Map<string, number>();
    for (const r of await audit.records()) {
      if (r.type !== 'retention.deleted' || typeof r.data.topic !== 'string' || typeof r.data.partition !== 'number' || typeof r.data.toOffset !== 'number') continue;
      map.set(`${r.data.topic}:${r.data.partition}`, r.data.toOffset);
    }
    return map;
  }

  async function offsetAt(topic: string, partition: number, ts: number): Promise<number> {
    const offsets = await admin.fetchTopicOffsetsByTimestamp(topic, ts);
    const found = offsets.find((o) => o.partition === partition);
    if (!found) throw new Error(`partition ${partition} of ${topic} vanished`);
    return Number(found.offset);
  }

  /** Largest t (to PRECISION_MS) with offsetAt(t) === low: the oldest record's timestamp, rounded down. */
  async function oldestTimestamp(topic: string, partition: number, low: number): Promise<number> {
    const key = `${topic}:${partition}:${low}`;
    const cached = oldestAt.get(key);
    if (cached !== undefined) return cached;
    const t = now();
    // Records may be stamped ahead of the clock; look a day ahead before assuming the past.
    let bad = t + 86_400_000;
    if ((await offsetAt(topic, partition, bad)) === low) return bad;
    // Exponential search backwards for a time at or before the oldest record.
    let good = t;
    for (let step = 60_000; (await offsetAt(topic, partition, good)) !== low; step *= 2) {
      bad = good;
      good = Math.max(0, t - step);
      if (good === 0) break;
    }
    while (bad - good > PRECISION_MS) {
      const mid = Math.floor((good + bad) / 2);
      if ((await offsetAt(topic, partition, mid)) === low) good = mid;
      else bad = mid;
    }
    // The watermark moved on: the timestamps of earlier ones are of no more use.
    for (const k of oldestAt.keys()) if (k.startsWith(`${topic}:${partition}:`)) oldestAt.delete(k);
    oldestAt.set(key, good);
    return good;
  }

  async function pollTopic(topic: string, lows: Map<string, number>): Promise<RawRecordAge[]> {
    const out: RawRecordAge[] = [];
    for (const p of await admin.fetchTopicOffsets(topic)) {
      const low = Number(p.low);
      const high = Number(p.high);
      const id = `${topic}:${p.partition}`;
      const oldest = low < high ? await oldestTimestamp(topic, p.partition, low) : null;
      const previous = lows.get(id) ?? 0;
      if (low > previous) {
        await audit.append(retentionDeleted(now(), { topic, partition: p.partition, fromOffset: previous, toOffset: low, oldestRemainingAt: oldest }));
        onAppend?.('retention.deleted');
        lows.set(id, low);
      } else if (low < previous) {
        // The topic was deleted and created again: its offsets start over.
        log.warn({ topic, partition: p.partition, low, previous }, 'low watermark went back; the topic was recreated');
        lows.set(id, low);
      }
      out.push({ topic, partition: p.partition, oldestRecordAt: oldest, observedAt: now() });
    }
    return out;
  }

  async function poll(): Promise<void> {
    lastLow ??= await restoreLastLow();
    const next: RawRecordAge[] = [];
    for (const topic of topics) {
      try {
        const ages = await pollTopic(topic, lastLow);
        next.push(...ages);
        const oldest = ages.map((a) => a.oldestRecordAt).filter((x): x is number => x !== null);
        onAges?.(topic, oldest.length === 0 ? null : Math.max(0, (now() - Math.min(...oldest)) / 1000));
      } catch (err) {
        log.warn({ topic, err: { name: (err as Error).name, message: (err as Error).message } }, 'could not read the low watermarks of a personal topic');
      }
    }
    current = next;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      running = poll()
        .catch((err: unknown) => log.error({ err: { name: (err as Error).name, message: (err as Error).message } }, 'personal topic watch failed'))
        .finally(() => {
          running = undefined;
          schedule();
        });
    }, intervalMs);
  }

  return {
    current: () => current,
    poll: () => (running ??= poll().finally(() => (running = undefined))),
    start() {
      stopped = false;
      void this.poll()
        .catch((err: unknown) => log.error({ err: { name: (err as Error).name, message: (err as Error).message } }, 'personal topic watch failed'))
        .finally(schedule);
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running?.catch(() => undefined);
    },
  };
}
