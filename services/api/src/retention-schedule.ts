// The scheduled check that raw data dies on time (P2), and what of it is public (P9).
//
// Every `intervalMs`, at slots aligned to the clock (multiples of the interval, not "interval
// after the last check", so a check that took longer because there were records to look at
// does not shift the next one), each personal topic is checked: is every record on it younger
// than the limit (TTL + stated bound)? An empty topic passes. The check itself may look at
// exact offsets and timestamps — that is the operator's check — but only its outcome leaves.
//
// At the end of each period (the policy's TTL: in that time every record of the topic turns
// over) one `retention.deleted` audit event per topic attests "retention ran: N checks in
// [periodStart, periodEnd), every record within the limit". It is written whether or not
// anything was deleted, stamped with the period's end, and before the first check of the next
// period runs, so neither its presence, its time nor its position in the log depends on the
// data. It never holds a record count, an offset or a record's timestamp: each of those is an
// exact count of sightings or a person's time (issue 11, finding 4).
import type { AuditLog } from '@lethe/audit';
import type { Logger } from '@lethe/observability';
import { retentionAttested } from './audit-events.ts';

export type CheckOutcome = 'within_limit' | 'over_limit' | 'failed';

/** One scheduled check: per topic, whether every record was within the limit (null: the check failed). */
export interface RetentionCheck {
  /** The slot the check belongs to (a multiple of the interval), not when it ran or ended. */
  slot: number;
  topics: Array<{ topic: string; withinLimit: boolean | null }>;
}

/** What the live figures read: the recent checks, kept in memory only. */
export interface RetentionChecks {
  readonly topics: readonly string[];
  readonly intervalMs: number;
  /** Checks whose slot is in [from, to), oldest first. */
  between(from: number, to: number): RetentionCheck[];
}

export interface RetentionScheduleOptions {
  topics: readonly string[];
  /** True when every record of the topic is younger than limitMs at `at` (an empty topic is); throws when it cannot tell. */
  check: (topic: string, at: number) => Promise<boolean>;
  intervalMs: number;
  /** One attestation per topic per period (the policy's raw-data TTL). */
  periodMs: number;
  limitMs: number;
  audit: Pick<AuditLog, 'append'>;
  /** The actor of the attestations: the api, or the demo standing in for it. */
  actor?: string;
  logger: Logger;
  now?: () => number;
  /** Checks kept for the live figures. */
  keep?: number;
  /**
   * Runs at every slot before the topics are checked (the api reads the topics' replication
   * here, topic-replication.ts): one schedule of Kafka reads. It runs first, so when it is done
   * does not depend on how long the checks took (which can depend on the data, P9); its failure
   * is its own and does not count as a failed check.
   */
  beforeChecks?: (slot: number) => Promise<void>;
  onCheck?: (topic: string, outcome: CheckOutcome) => void;
  onAppend?: (type: string) => void;
}

export interface RetentionSchedule extends RetentionChecks {
  /** Attests the periods that ended by `slot`, then checks every topic for it. */
  runSlot(slot: number): Promise<void>;
  /** runSlot for the slot of now. */
  poll(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

interface TopicTally {
  checks: number;
  failed: number;
  overLimit: number;
}

const errorFields = (err: unknown) => ({ name: (err as Error).name, message: (err as Error).message });

export function createRetentionSchedule(options: RetentionScheduleOptions): RetentionSchedule {
  const { topics, check, intervalMs, periodMs, limitMs, audit, actor = 'api', now = Date.now, keep = 1000, onCheck, onAppend, beforeChecks } = options;
  const log = options.logger.child({ component: 'retention-schedule' });
  const slotOf = (t: number) => Math.floor(t / intervalMs) * intervalMs;
  const periodOf = (t: number) => Math.floor(t / periodMs) * periodMs;
  const history: RetentionCheck[] = [];
  let open: { start: number; tally: Map<string, TopicTally> } | undefined;
  let lastSlot = -Infinity;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = true;

  async function attest(period: { start: number; tally: Map<string, TopicTally> }): Promise<void> {
    for (const topic of topics) {
      const t = period.tally.get(topic)!;
      const ok = t.checks - t.failed;
      const event = retentionAttested({
        topic,
        periodStart: period.start,
        periodEnd: period.start + periodMs,
        limitMs,
        checks: t.checks,
        failedChecks: t.failed,
        withinLimit: ok === 0 ? null : t.overLimit === 0,
        actor,
      });
      try {
        await audit.append(event);
        onAppend?.(event.type);
      } catch (err) {
        log.error({ topic, err: errorFields(err) }, 'could not record the retention attestation');
      }
    }
  }

  async function runSlot(slot: number): Promise<void> {
    if (slot <= lastSlot) return;
    lastSlot = slot;
    const start = periodOf(slot);
    if (open && open.start < start) await attest(open);
    if (!open || open.start < start) open = { start, tally: new Map(topics.map((t) => [t, { checks: 0, failed: 0, overLimit: 0 }])) };
    const tally = open.tally;
    if (beforeChecks) await beforeChecks(slot).catch((err: unknown) => log.warn({ err: errorFields(err) }, 'the work before the retention checks failed'));
    const result: RetentionCheck = { slot, topics: [] };
    for (const topic of topics) {
      const t = tally.get(topic)!;
      t.checks++;
      let withinLimit: boolean | null = null;
      try {
        withinLimit = await check(topic, now());
        if (!withinLimit) {
          t.overLimit++;
          log.error(
            { topic, limitSeconds: limitMs / 1000 },
            'a personal topic holds a record older than the raw-data limit (TTL + stated bound): retention is not working',
          );
        }
      } catch (err) {
        t.failed++;
        log.warn({ topic, err: errorFields(err) }, 'could not check the retention of a personal topic');
      }
      onCheck?.(topic, withinLimit === null ? 'failed' : withinLimit ? 'within_limit' : 'over_limit');
      result.topics.push({ topic, withinLimit });
    }
    history.push(result);
    if (history.length > keep) history.splice(0, history.length - keep);
  }

  function schedule(): void {
    if (stopped) return;
    const t = now();
    // The slot is fixed here, not read from the clock when the timer fires: a timer may fire a
    // millisecond early, and the slot must not be skipped for it.
    const slot = slotOf(t) + intervalMs;
    timer = setTimeout(() => {
      running = runSlot(slot)
        .catch((err: unknown) => log.error({ err: errorFields(err) }, 'retention check failed'))
        .finally(() => {
          running = undefined;
          schedule();
        });
    }, slot - t);
  }

  return {
    topics,
    intervalMs,
    between: (from, to) => history.filter((c) => c.slot >= from && c.slot < to),
    runSlot: (slot) => (running ??= runSlot(slot).finally(() => (running = undefined))),
    poll() {
      return this.runSlot(slotOf(now()));
    },
    start() {
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running?.catch(() => undefined);
    },
  };
}
